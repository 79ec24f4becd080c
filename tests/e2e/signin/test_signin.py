"""Sign-in end to end through the local stack and the three emulators: first and second sign-in,
the service's access token on the directory, linking and unlinking, refresh-token rotation with
reuse detection, sign-out, provider tokens refreshed and revoked."""

from __future__ import annotations

import pytest

from tests.support.signin_flow import PROVIDERS, REDIRECT, RETURN_TO, query_of


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_first_sign_in_makes_a_student_and_a_second_reaches_the_same_person(flow, email, provider):
    flow.add_account(provider, email)
    first = flow.sign_in(provider, email)
    assert first["isNewUser"] is True and first["role"] == "student" and first["userId"].startswith("stu_")
    assert first["provider"] == provider and first["externalId"] and first["tokenType"] == "Bearer"
    assert first["refreshToken"] and first["accessToken"].count(".") == 2  # our ES256 JWT, not the provider's
    own = flow.call("GET", f"/directory/students/{first['userId']}", token=first["accessToken"])
    assert own.status_code == 200 and own.json()["id"] == first["userId"]
    second = flow.sign_in(provider, email)
    assert second["isNewUser"] is False and second["userId"] == first["userId"]
    assert second["externalId"] == first["externalId"] and second["createdAt"] == first["createdAt"]
    someone_else = flow.call("GET", "/directory/students/stu_e2estudent", token=second["accessToken"])
    assert someone_else.status_code == 403


def test_google_and_github_answer_the_verified_email_and_microsoft_keys_by_tenant_and_object_id(flow, email):
    flow.add_account("google", email)
    assert flow.sign_in("google", email)["email"] == email
    other = f"gh-{email}"
    flow.add_account("github", other)
    assert flow.sign_in("github", other)["email"] == other
    ms = f"ms-{email}"
    flow.add_account("microsoft", ms)
    signed = flow.sign_in("microsoft", ms)
    tid, _, oid = signed["externalId"].partition(".")
    assert tid and oid and signed["email"] is None  # Microsoft's email claim is not a verified one


def test_an_unverified_email_matches_no_one_and_is_not_written_to_the_directory(flow, email, admin_token):
    taken = flow.call("POST", "/directory/students", {"email": email, "name": "Ana"}, token=admin_token)
    assert taken.status_code == 201
    flow.add_account("google", email, verified=False)
    signed = flow.sign_in("google", email)
    assert signed["isNewUser"] is True and signed["email"] is None and signed["userId"] != taken.json()["id"]
    person = flow.call("GET", f"/directory/students/{signed['userId']}", token=signed["accessToken"]).json()
    assert person["email"] != email


def test_a_verified_email_of_an_existing_person_is_refused_never_linked(flow, email):
    flow.add_account("github", email)
    owner = flow.sign_in("github", email)
    flow.add_account("google", email)
    refused = flow.authenticate("google", flow.authorize("google", email))
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("an account with this email exists: sign in with the method")
    accounts = flow.call("GET", f"/oauth/linked-accounts/{owner['userId']}", token=owner["accessToken"]).json()
    assert [a["provider"] for a in accounts["accounts"]] == ["github"]


def _link(flow, person, provider, who, completed_with="own token"):
    """A link the signed-in person starts (its own state), completed at the same callback with their
    access token (or, to show the refusal, with none)."""
    started = flow.call("POST", f"/oauth/{provider}/link", {"redirectUri": REDIRECT}, token=person["accessToken"])
    assert started.status_code == 200, started.text
    url = started.json()["authorizationUrl"]
    state = query_of(url)["state"]
    flow.open_provider_page(url)
    token = person["accessToken"] if completed_with == "own token" else None
    return flow.authenticate(provider, flow.consent(provider, state, who), token=token)


def test_a_link_completed_without_the_starters_token_links_nothing(flow, email):
    flow.add_account("github", email)
    person = flow.sign_in("github", email)
    flow.add_account("google", email)
    refused = _link(flow, person, "google", email, completed_with=None)
    assert refused.status_code == 403, refused.text
    assert "the person who started it" in refused.json()["detail"]
    listed = flow.call("GET", f"/oauth/linked-accounts/{person['userId']}", token=person["accessToken"]).json()
    assert [a["provider"] for a in listed["accounts"]] == ["github"]


def test_a_signed_in_link_then_the_linked_provider_signs_in_the_same_person_and_unlinking(flow, email):
    flow.add_account("github", email)
    person = flow.sign_in("github", email)
    flow.add_account("google", email)  # the same verified email: linking is how it joins
    linked = _link(flow, person, "google", email)
    assert linked.status_code == 200, linked.text
    assert linked.json()["linked"] is True and linked.json()["userId"] == person["userId"]
    via_google = flow.sign_in("google", email)
    assert via_google["userId"] == person["userId"] and via_google["isNewUser"] is False
    listed = flow.call("GET", f"/oauth/linked-accounts/{person['userId']}", token=via_google["accessToken"])
    assert sorted(a["provider"] for a in listed.json()["accounts"]) == ["github", "google"]
    assert all(a["linkedAt"] and a["lastUsedAt"] and a["externalId"] for a in listed.json()["accounts"])
    assert "accessToken" not in listed.text and "refresh" not in listed.text.lower()
    path = f"/oauth/linked-accounts/{person['userId']}"
    assert flow.call("DELETE", f"{path}/github", token=via_google["accessToken"]).status_code == 204
    last = flow.call("DELETE", f"{path}/google", token=via_google["accessToken"])
    assert last.status_code == 409 and "last way" in last.json()["detail"]
    # the unlinked GitHub account signs in nobody now; its verified email is the person's, so a
    # sign-in with it is refused rather than linked back silently
    again = flow.authenticate("github", flow.authorize("github", email))
    assert again.status_code == 409 and again.json()["detail"].startswith("an account with this email exists")


def test_a_link_of_an_account_that_signs_in_someone_else_is_refused(flow, email):
    flow.add_account("github", email)
    first = flow.sign_in("github", email)
    other = f"other-{email}"
    flow.add_account("google", other)
    second = flow.sign_in("google", other)
    refused = _link(flow, second, "github", email)
    assert refused.status_code == 409 and "another person" in refused.json()["detail"]
    assert flow.sign_in("github", email)["userId"] == first["userId"]


def test_only_the_owner_or_an_admin_sees_linked_accounts(flow, email, admin_token, role_tokens):
    flow.add_account("google", email)
    person = flow.sign_in("google", email)
    path = f"/oauth/linked-accounts/{person['userId']}"
    assert flow.call("GET", path, token=role_tokens["student"]).status_code == 403
    assert flow.call("GET", path, token=admin_token).status_code == 200
    assert flow.call("GET", path).status_code == 401


def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_session(flow, email):
    flow.add_account("google", email)
    signed = flow.sign_in("google", email)
    first = flow.call("POST", "/oauth/token", {"refreshToken": signed["refreshToken"]})
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refreshToken"] != signed["refreshToken"] and rotated["userId"] == signed["userId"]
    own = flow.call("GET", f"/directory/students/{signed['userId']}", token=rotated["accessToken"])
    assert own.status_code == 200
    reused = flow.call("POST", "/oauth/token", {"refreshToken": signed["refreshToken"]})
    assert reused.status_code == 401 and "used already" in reused.json()["detail"]
    # the whole family is gone: the newest token no longer works either
    assert flow.call("POST", "/oauth/token", {"refreshToken": rotated["refreshToken"]}).status_code == 401


def test_sign_out_revokes_the_refresh_token(flow, email):
    flow.add_account("github", email)
    signed = flow.sign_in("github", email)
    assert flow.call("POST", "/oauth/sign-out", {"refreshToken": signed["refreshToken"]}).status_code == 204
    assert flow.call("POST", "/oauth/token", {"refreshToken": signed["refreshToken"]}).status_code == 401
    assert flow.call("POST", "/oauth/sign-out", {"refreshToken": signed["refreshToken"]}).status_code == 204


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_a_provider_token_refresh_and_revoke(flow, email, provider):
    flow.add_account(provider, email)
    signed = flow.sign_in(provider, email)
    path = f"/oauth/linked-accounts/{signed['userId']}/{provider}"
    refreshed = flow.call("POST", f"{path}/refresh", token=signed["accessToken"])
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refreshed"] is True and refreshed.json()["accessExpiresAt"]
    revoked = flow.call("POST", f"{path}/revoke", token=signed["accessToken"])
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    after = flow.call("POST", f"{path}/refresh", token=signed["accessToken"])
    assert after.status_code == 422 and "revoked" in after.json()["detail"]
    listed = flow.call("GET", f"/oauth/linked-accounts/{signed['userId']}", token=signed["accessToken"]).json()
    assert listed["accounts"][0]["hasProviderToken"] is False


def test_github_refresh_checks_the_token_and_revoke_deletes_the_grant(flow, email):
    flow.add_account("github", email)
    signed = flow.sign_in("github", email)
    path = f"/oauth/linked-accounts/{signed['userId']}/github"
    refreshed = flow.call("POST", f"{path}/refresh", token=signed["accessToken"])
    assert refreshed.status_code == 200 and refreshed.json()["accessExpiresAt"] is None
    assert "do not expire" in refreshed.json()["note"]
    assert flow.call("POST", f"{path}/revoke", token=signed["accessToken"]).json()["revoked"] is True


def test_a_google_revoke_ends_the_grant_at_google(flow, email):
    flow.add_account("google", email)
    signed = flow.sign_in("google", email)
    path = f"/oauth/linked-accounts/{signed['userId']}/google"
    assert flow.call("POST", f"{path}/revoke", token=signed["accessToken"]).status_code == 200
    # signing in again stores a fresh grant that refreshes
    again = flow.sign_in("google", email)
    assert flow.call("POST", f"{path}/refresh", token=again["accessToken"]).status_code == 200


def test_return_to_is_kept_with_the_state_and_answered_after_the_callback(flow, email):
    flow.add_account("google", email)
    back = flow.authorize("google", email, returnTo=RETURN_TO)
    answer = flow.authenticate("google", back)
    assert answer.status_code == 200 and answer.json()["returnTo"] == RETURN_TO


def test_the_get_callback_completes_a_browser_redirect(flow, email):
    flow.add_account("github", email)
    back = flow.authorize("github", email)
    answer = flow.call("GET", "/oauth/github/callback", code=back["code"], state=back["state"])
    assert answer.status_code == 200 and answer.json()["isNewUser"] is True
    assert answer.headers["cache-control"] == "no-store"


@pytest.fixture
def admin_token(role_tokens) -> str:
    return role_tokens["admin"]


def test_no_token_code_or_secret_reaches_an_answer_or_a_log(local_stack, flow, email):
    from offline.sandbox.providers import github as github_emulator
    from offline.sandbox.providers import microsoft as microsoft_emulator

    seen: list[str] = []
    for provider in PROVIDERS:
        who = f"{provider}-{email}"
        flow.add_account(provider, who)
        back = flow.authorize(provider, who)
        signed = flow.authenticate(provider, back).json()
        seen += [back["code"], back["state"], signed["refreshToken"], signed["accessToken"]]
        assert not [p for p in ("ya29.", "1//0", "gho_") if p in str(signed)]
        rotated = flow.call("POST", "/oauth/token", {"refreshToken": signed["refreshToken"]}).json()
        seen.append(rotated["refreshToken"])
    secrets_ = ["local-signin", microsoft_emulator.LOCAL_CLIENT_SECRET, github_emulator.LOCAL_CLIENT_SECRET]
    text = (local_stack.state_dir / "logs" / "SignInFunction.log").read_text(errors="replace")
    assert text, "the function logged nothing at all"
    for needle in [*seen, *secrets_, "ya29.", "1//0", "gho_"]:
        assert needle not in text, f"{needle[:12]}... reached the sign-in function's log"
