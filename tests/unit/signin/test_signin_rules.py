"""The sign-in services against in-memory fakes: the account and linking rules, single-use states,
refusals that store nothing, rotation with reuse detection, sign-out, rate limits."""

from __future__ import annotations

import pytest

from integration_core.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized, Unprocessable
from integration_core.principal import Principal, Role
from integration_core.services.signin import accounts, links, sessions, start
from tests.unit.signin.conftest import REDIRECT, RETURN_TO

CLIENT = "203.0.113.7"


def begin(world, provider="google", **kwargs):
    return start.sign_in(provider, REDIRECT, kwargs.get("return_to"), CLIENT)


def sign_in(world, provider, external_id, **kwargs):
    begin(world, provider)
    code, state = world.providers[provider].consent(external_id)
    return accounts.authenticate(provider, code, state, REDIRECT, CLIENT, **kwargs)


def link(world, person, provider, external_id):
    start.link(Principal(person["user_id"], Role(person["role"])), provider, REDIRECT, None)
    code, state = world.providers[provider].consent(external_id)
    return accounts.authenticate(provider, code, state, REDIRECT, CLIENT, authorization=bearer(person))


def bearer(person) -> str:
    return f"Bearer {person['access_token']}"


def principal(person) -> Principal:
    return Principal(person["user_id"], Role(person["role"]))


def nothing_stored(world):
    return not world.store.identities and not world.store.person_links and not world.store.people


# ---------------------------------------------------------------- accounts
def test_a_first_sign_in_creates_a_student_with_the_verified_email_and_a_second_finds_them(world):
    world.account("google", "g-1", "ana@example.com")
    first = sign_in(world, "google", "g-1")
    assert first["is_new_user"] is True and first["user_id"].startswith("stu_") and first["role"] == "student"
    assert first["access_token"] == f"access:student:{first['user_id']}"
    [profile] = world.store.people.values()
    assert profile["email"] == "ana@example.com" and profile["id"] == first["user_id"]
    second = sign_in(world, "google", "g-1")
    assert second["is_new_user"] is False and second["user_id"] == first["user_id"]
    assert second["refresh_token"] != first["refresh_token"]


def test_the_role_of_a_new_account_is_configuration(world, monkeypatch):
    monkeypatch.setenv("SIGNIN_NEW_ACCOUNT_ROLE", "teacher")
    world.account("github", "1001", "tess@example.com")
    assert sign_in(world, "github", "1001")["user_id"].startswith("tch_")


def test_a_verified_email_of_an_existing_person_is_refused_and_nothing_is_stored(world):
    world.store.email_locks[("student", "ana@example.com")] = "stu_ana00001"
    world.account("google", "g-1", "ana@example.com")
    with pytest.raises(Conflict, match="an account with this email exists: sign in with the method you used before"):
        sign_in(world, "google", "g-1")
    assert nothing_stored(world)


def test_a_teachers_email_is_refused_too(world):
    world.store.email_locks[("teacher", "tess@example.com")] = "tch_tess00001"
    world.account("microsoft", "t.o", "tess@example.com")
    with pytest.raises(Conflict):
        sign_in(world, "microsoft", "t.o")


def test_an_unverified_email_matches_no_one_and_gets_a_placeholder(world):
    world.store.email_locks[("student", "ana@example.com")] = "stu_ana00001"
    world.account("google", "g-2", None)  # the adapter drops an unverified email
    signed = sign_in(world, "google", "g-2")
    assert signed["is_new_user"] is True and signed["email"] is None
    profile = world.store.people[f"STUDENT#{signed['user_id']}"]
    assert profile["email"].endswith("@no-verified-email.school.example")


def test_provider_tokens_are_sealed_for_the_person_and_never_answered(world):
    world.account("google", "g-1", "ana@example.com")
    signed = sign_in(world, "google", "g-1")
    row = world.store.link(signed["user_id"], "google")
    assert row["access_token"].startswith(f"sealed[{signed['user_id']}|signin-google-access]")
    assert row["refresh_token"].startswith(f"sealed[{signed['user_id']}|signin-google-refresh]")
    assert "google-access" not in str(signed) and "google-refresh" not in str(signed)


# ---------------------------------------------------------------- linking
def test_a_signed_in_link_lets_the_linked_provider_sign_in_the_same_person(world):
    world.account("github", "1001", "ana@example.com")
    world.account("google", "g-1", "ana@example.com")
    person = sign_in(world, "github", "1001")
    linked = link(world, person, "google", "g-1")
    assert linked["linked"] is True and linked["user_id"] == person["user_id"]
    assert sign_in(world, "google", "g-1")["user_id"] == person["user_id"]
    listed = links.linked_accounts(principal(person), person["user_id"])
    assert sorted(a["provider"] for a in listed["accounts"]) == ["github", "google"]


def test_a_link_needs_a_signed_in_person_and_binds_to_them(world):
    with pytest.raises(Forbidden):
        start.link(Principal("svc_reports01", Role.SERVICE), "google", REDIRECT, None)
    world.account("google", "g-1", "ana@example.com")
    world.account("github", "1001", "ben@example.com")
    ana = sign_in(world, "google", "g-1")
    ben = sign_in(world, "github", "1001")
    world.account("github", "1002", "ana@example.com")
    # a link Ana started, completed by someone without her token (or with Ben's), links no one
    for authorization in (None, bearer(ben)):
        start.link(principal(ana), "github", REDIRECT, None)
        code, state = world.providers["github"].consent("1002")
        with pytest.raises(Forbidden, match="the person who started it"):
            accounts.authenticate("github", code, state, REDIRECT, CLIENT, authorization=authorization)
        assert world.store.link(ana["user_id"], "github") is None
    start.link(principal(ana), "github", REDIRECT, None)
    code, state = world.providers["github"].consent("1002")
    linked = accounts.authenticate("github", code, state, REDIRECT, CLIENT, authorization=bearer(ana))
    assert linked["user_id"] == ana["user_id"]


def test_an_account_that_signs_in_someone_else_cannot_be_linked(world):
    world.account("google", "g-1", "ana@example.com")
    world.account("github", "1001", "ben@example.com")
    ana, ben = sign_in(world, "google", "g-1"), sign_in(world, "github", "1001")
    with pytest.raises(Conflict, match="signs in another person"):
        link(world, ben, "google", "g-1")
    assert sign_in(world, "google", "g-1")["user_id"] == ana["user_id"]


def test_a_second_account_of_a_linked_provider_is_refused(world):
    world.account("google", "g-1", "ana@example.com")
    world.account("google", "g-9", None)
    ana = sign_in(world, "google", "g-1")
    with pytest.raises(Conflict, match="unlink it first"):
        link(world, ana, "google", "g-9")
    assert world.store.identity("google", "g-9") is None


def test_unlinking_the_last_method_is_refused_and_another_may_go(world):
    world.account("google", "g-1", "ana@example.com")
    world.account("github", "1001", None)
    ana = sign_in(world, "google", "g-1")
    with pytest.raises(Conflict, match="last way"):
        links.unlink(principal(ana), ana["user_id"], "google")
    link(world, ana, "github", "1001")
    links.unlink(principal(ana), ana["user_id"], "google")
    assert world.providers["google"].revoked  # the grant is revoked at the provider too
    with pytest.raises(Conflict, match="last way"):
        links.unlink(principal(ana), ana["user_id"], "github")
    with pytest.raises(NotFound):
        links.unlink(principal(ana), ana["user_id"], "google")


def test_only_the_owner_or_an_admin_manages_links(world):
    world.account("google", "g-1", "ana@example.com")
    ana = sign_in(world, "google", "g-1")
    with pytest.raises(Forbidden):
        links.linked_accounts(Principal("stu_other001", Role.STUDENT), ana["user_id"])
    with pytest.raises(Forbidden):
        links.unlink(Principal("tch_other001", Role.TEACHER), ana["user_id"], "google")
    assert links.linked_accounts(Principal("adm_office", Role.ADMIN), ana["user_id"])["accounts"]


def test_provider_token_refresh_and_revoke(world):
    world.account("google", "g-1", "ana@example.com")
    ana = sign_in(world, "google", "g-1")
    refreshed = links.refresh_provider_token(principal(ana), ana["user_id"], "google")
    assert refreshed["refreshed"] is True and world.providers["google"].refreshed == 1
    assert "access" not in str({k: v for k, v in refreshed.items() if k != "access_expires_at"})
    revoked = links.revoke(principal(ana), ana["user_id"], "google")
    assert revoked["revoked"] is True and world.providers["google"].revoked
    assert "access_token" not in world.store.link(ana["user_id"], "google")
    with pytest.raises(Unprocessable, match="revoked"):
        links.refresh_provider_token(principal(ana), ana["user_id"], "google")


# ---------------------------------------------------------------- the callback's refusals
def test_a_state_serves_once_and_expires(world):
    world.account("google", "g-1", "ana@example.com")
    begin(world)
    code, state = world.providers["google"].consent("g-1")
    accounts.authenticate("google", code, state, REDIRECT, CLIENT)
    with pytest.raises(Unprocessable) as reused:
        accounts.authenticate("google", code, state, REDIRECT, CLIENT)
    assert reused.value.errors[0]["field"] == "state"
    begin(world)
    code, state = world.providers["google"].consent("g-1")
    world.advance(601)
    with pytest.raises(Unprocessable) as expired:
        accounts.authenticate("google", code, state, REDIRECT, CLIENT)
    assert expired.value.errors[0]["field"] == "state"


def test_the_state_keeps_the_verifier_and_nonce_and_a_wrong_verifier_is_refused(world):
    world.account("google", "g-1", "ana@example.com")
    begin(world)
    request = world.providers["google"].started[-1]
    assert request.nonce and len(request.code_verifier) >= 43 and request.code_challenge != request.code_verifier
    code, _ = world.providers["google"].consent("g-1")
    begin(world)  # another request: its verifier is not the one the code was made for
    _, other_state = world.providers["google"].consent("g-1")
    with pytest.raises(Unprocessable, match="code"):
        accounts.authenticate("google", code, other_state, REDIRECT, CLIENT)
    assert nothing_stored(world)


def test_github_gets_no_nonce(world):
    begin(world, "github")
    assert world.providers["github"].started[-1].nonce == ""


def test_a_provider_error_is_refused_and_stores_nothing(world):
    begin(world)
    _, state = world.providers["google"].consent("g-1")
    with pytest.raises(Unauthorized, match="access_denied"):
        accounts.authenticate("google", None, state, REDIRECT, CLIENT, error="access_denied")
    assert nothing_stored(world) and not world.store.pending


def test_redirect_uri_and_return_to_must_be_on_the_lists_exactly(world):
    for uri in ("https://evil.example/cb", REDIRECT + "/", REDIRECT.upper()):
        with pytest.raises(Unprocessable) as refused:
            start.sign_in("google", uri, None, CLIENT)
        assert refused.value.errors[0]["field"] == "redirectUri"
    with pytest.raises(Unprocessable) as back:
        start.sign_in("google", REDIRECT, "https://evil.example/", CLIENT)
    assert back.value.errors[0]["field"] == "returnTo"
    assert not world.store.pending
    started = start.sign_in("google", REDIRECT, RETURN_TO, CLIENT)
    assert started["authorization_url"].startswith("https://google.example/")


def test_the_callback_must_name_the_redirect_uri_and_provider_of_its_state(world):
    world.account("google", "g-1", "ana@example.com")
    begin(world)
    code, state = world.providers["google"].consent("g-1")
    with pytest.raises(Unprocessable) as other:
        accounts.authenticate("github", code, state, REDIRECT, CLIENT)
    assert other.value.errors[0]["field"] == "provider"
    begin(world)
    code, state = world.providers["google"].consent("g-1")
    with pytest.raises(Unprocessable) as elsewhere:
        accounts.authenticate("google", code, state, "https://app.school.example/other", CLIENT)
    assert elsewhere.value.errors[0]["field"] == "redirectUri"
    assert nothing_stored(world)


# ---------------------------------------------------------------- the service's session
def test_refresh_rotates_and_a_reused_token_revokes_the_family(world):
    world.account("google", "g-1", "ana@example.com")
    signed = sign_in(world, "google", "g-1")
    rotated = sessions.refresh(signed["refresh_token"])
    assert rotated["refresh_token"] != signed["refresh_token"] and rotated["user_id"] == signed["user_id"]
    newer = sessions.refresh(rotated["refresh_token"])
    with pytest.raises(Unauthorized, match="used already"):
        sessions.refresh(signed["refresh_token"])
    with pytest.raises(Unauthorized, match="sign in again"):
        sessions.refresh(newer["refresh_token"])  # the thief's and the owner's copies both end


def test_sign_out_revokes_and_repeats_quietly(world):
    world.account("google", "g-1", "ana@example.com")
    signed = sign_in(world, "google", "g-1")
    sessions.sign_out(signed["refresh_token"])
    sessions.sign_out(signed["refresh_token"])
    with pytest.raises(Unauthorized):
        sessions.refresh(signed["refresh_token"])


def test_a_forged_or_malformed_refresh_token_is_refused(world):
    with pytest.raises(Unprocessable):
        sessions.refresh("not-a-token-at-all-xxxxxxxx")
    with pytest.raises(Unauthorized):
        sessions.refresh("sfm_abcdabcdabcdabcdabcd.secret")


def test_a_family_ends_with_its_lifetime(world, monkeypatch):
    monkeypatch.setenv("SIGNIN_REFRESH_TTL_SECONDS", "3600")
    world.account("google", "g-1", "ana@example.com")
    signed = sign_in(world, "google", "g-1")
    world.advance(3601)
    with pytest.raises(Unauthorized):
        sessions.refresh(signed["refresh_token"])


# ---------------------------------------------------------------- rate limits
def test_sign_in_attempts_are_limited_per_client(world, monkeypatch):
    monkeypatch.setenv("SIGNIN_CLIENT_ATTEMPTS", "2")
    monkeypatch.setenv("SIGNIN_RATE_WINDOW_SECONDS", "60")
    begin(world)
    begin(world)
    with pytest.raises(TooManyRequests) as limited:
        begin(world)
    assert 0 < limited.value.retry_after <= 60
    start.sign_in("google", REDIRECT, None, "198.51.100.9")  # another client is not limited
    world.advance(60)
    begin(world)  # the next window


def test_sign_ins_are_limited_per_account(world, monkeypatch):
    monkeypatch.setenv("SIGNIN_ACCOUNT_ATTEMPTS", "2")
    world.account("google", "g-1", "ana@example.com")
    sign_in(world, "google", "g-1")
    sign_in(world, "google", "g-1")
    with pytest.raises(TooManyRequests):
        sign_in(world, "google", "g-1")
    world.account("google", "g-2", None)
    sign_in(world, "google", "g-2")
    assert not [k for k in world.store.counters if "g-1" in k[1]]  # keys are stored hashed
