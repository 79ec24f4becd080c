"""Sign-in end to end through the local stack and the three emulators: first and second sign-in,
the service's access token on the directory, linking and unlinking, refresh-token rotation with
reuse detection, sign-out, provider tokens refreshed and revoked."""

from __future__ import annotations

import pytest

from .conftest import PROVIDERS, REDIRECT, RETURN_TO, query_of


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_first_sign_in_makes_a_student_and_a_second_reaches_the_same_person(browser, email, provider):
    browser.add_account(provider, email)
    first = browser.sign_in(provider, email)
    assert first["isNewUser"] is True and first["role"] == "student" and first["userId"].startswith("stu_")
    assert first["provider"] == provider and first["externalId"] and first["tokenType"] == "Bearer"
    assert first["refreshToken"] and first["accessToken"].count(".") == 2  # our ES256 JWT, not the provider's
    own = browser.call("GET", f"/directory/students/{first['userId']}", token=first["accessToken"])
    assert own.status_code == 200 and own.json()["id"] == first["userId"]
    second = browser.sign_in(provider, email)
    assert second["isNewUser"] is False and second["userId"] == first["userId"]
    assert second["externalId"] == first["externalId"] and second["createdAt"] == first["createdAt"]
    someone_else = browser.call("GET", "/directory/students/stu_e2estudent", token=second["accessToken"])
    assert someone_else.status_code == 403


def test_google_and_github_answer_the_verified_email_and_microsoft_keys_by_tenant_and_object_id(browser, email):
    browser.add_account("google", email)
    assert browser.sign_in("google", email)["email"] == email
    other = f"gh-{email}"
    browser.add_account("github", other)
    assert browser.sign_in("github", other)["email"] == other
    ms = f"ms-{email}"
    browser.add_account("microsoft", ms)
    signed = browser.sign_in("microsoft", ms)
    tid, _, oid = signed["externalId"].partition(".")
    assert tid and oid and signed["email"] is None  # Microsoft's email claim is not a verified one


def test_an_unverified_email_matches_no_one_and_is_not_written_to_the_directory(browser, email, admin_token):
    taken = browser.call("POST", "/directory/students", {"email": email, "name": "Ana"}, token=admin_token)
    assert taken.status_code == 201
    browser.add_account("google", email, verified=False)
    signed = browser.sign_in("google", email)
    assert signed["isNewUser"] is True and signed["email"] is None and signed["userId"] != taken.json()["id"]
    person = browser.call("GET", f"/directory/students/{signed['userId']}", token=signed["accessToken"]).json()
    assert person["email"] != email


def test_a_verified_email_of_an_existing_person_is_refused_never_linked(browser, email):
    browser.add_account("github", email)
    owner = browser.sign_in("github", email)
    browser.add_account("google", email)
    refused = browser.authenticate("google", browser.authorize("google", email))
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("an account with this email exists: sign in with the method")
    accounts = browser.call("GET", f"/oauth/linked-accounts/{owner['userId']}", token=owner["accessToken"]).json()
    assert [a["provider"] for a in accounts["accounts"]] == ["github"]


def _link(browser, person, provider, who):
    """A link the signed-in person starts (its own state), completed at the same callback."""
    started = browser.call("POST", f"/oauth/{provider}/link", {"redirectUri": REDIRECT}, token=person["accessToken"])
    assert started.status_code == 200, started.text
    url = started.json()["authorizationUrl"]
    state = query_of(url)["state"]
    browser.open_provider_page(url)
    return browser.authenticate(provider, browser.consent(provider, state, who))


def test_a_signed_in_link_then_the_linked_provider_signs_in_the_same_person_and_unlinking(browser, email):
    browser.add_account("github", email)
    person = browser.sign_in("github", email)
    browser.add_account("google", email)  # the same verified email: linking is how it joins
    linked = _link(browser, person, "google", email)
    assert linked.status_code == 200, linked.text
    assert linked.json()["linked"] is True and linked.json()["userId"] == person["userId"]
    via_google = browser.sign_in("google", email)
    assert via_google["userId"] == person["userId"] and via_google["isNewUser"] is False
    listed = browser.call("GET", f"/oauth/linked-accounts/{person['userId']}", token=via_google["accessToken"])
    assert sorted(a["provider"] for a in listed.json()["accounts"]) == ["github", "google"]
    assert all(a["linkedAt"] and a["lastUsedAt"] and a["externalId"] for a in listed.json()["accounts"])
    assert "accessToken" not in listed.text and "refresh" not in listed.text.lower()
    path = f"/oauth/linked-accounts/{person['userId']}"
    assert browser.call("DELETE", f"{path}/github", token=via_google["accessToken"]).status_code == 204
    last = browser.call("DELETE", f"{path}/google", token=via_google["accessToken"])
    assert last.status_code == 409 and "last way" in last.json()["detail"]
    # the unlinked GitHub account signs in nobody now; its verified email is the person's, so a
    # sign-in with it is refused rather than linked back silently
    again = browser.authenticate("github", browser.authorize("github", email))
    assert again.status_code == 409 and again.json()["detail"].startswith("an account with this email exists")


def test_a_link_of_an_account_that_signs_in_someone_else_is_refused(browser, email):
    browser.add_account("github", email)
    first = browser.sign_in("github", email)
    other = f"other-{email}"
    browser.add_account("google", other)
    second = browser.sign_in("google", other)
    refused = _link(browser, second, "github", email)
    assert refused.status_code == 409 and "another person" in refused.json()["detail"]
    assert browser.sign_in("github", email)["userId"] == first["userId"]


def test_only_the_owner_or_an_admin_sees_linked_accounts(browser, email, admin_token, role_tokens):
    browser.add_account("google", email)
    person = browser.sign_in("google", email)
    path = f"/oauth/linked-accounts/{person['userId']}"
    assert browser.call("GET", path, token=role_tokens["student"]).status_code == 403
    assert browser.call("GET", path, token=admin_token).status_code == 200
    assert browser.call("GET", path).status_code == 401


def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_session(browser, email):
    browser.add_account("google", email)
    signed = browser.sign_in("google", email)
    first = browser.call("POST", "/oauth/token", {"refreshToken": signed["refreshToken"]})
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refreshToken"] != signed["refreshToken"] and rotated["userId"] == signed["userId"]
    own = browser.call("GET", f"/directory/students/{signed['userId']}", token=rotated["accessToken"])
    assert own.status_code == 200
    reused = browser.call("POST", "/oauth/token", {"refreshToken": signed["refreshToken"]})
    assert reused.status_code == 401 and "used already" in reused.json()["detail"]
    # the whole family is gone: the newest token no longer works either
    assert browser.call("POST", "/oauth/token", {"refreshToken": rotated["refreshToken"]}).status_code == 401


def test_sign_out_revokes_the_refresh_token(browser, email):
    browser.add_account("github", email)
    signed = browser.sign_in("github", email)
    assert browser.call("POST", "/oauth/sign-out", {"refreshToken": signed["refreshToken"]}).status_code == 204
    assert browser.call("POST", "/oauth/token", {"refreshToken": signed["refreshToken"]}).status_code == 401
    assert browser.call("POST", "/oauth/sign-out", {"refreshToken": signed["refreshToken"]}).status_code == 204


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_a_provider_token_refresh_and_revoke(browser, email, provider):
    browser.add_account(provider, email)
    signed = browser.sign_in(provider, email)
    path = f"/oauth/linked-accounts/{signed['userId']}/{provider}"
    refreshed = browser.call("POST", f"{path}/refresh", token=signed["accessToken"])
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refreshed"] is True and refreshed.json()["accessExpiresAt"]
    revoked = browser.call("POST", f"{path}/revoke", token=signed["accessToken"])
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    after = browser.call("POST", f"{path}/refresh", token=signed["accessToken"])
    assert after.status_code == 422 and "revoked" in after.json()["detail"]
    listed = browser.call("GET", f"/oauth/linked-accounts/{signed['userId']}", token=signed["accessToken"]).json()
    assert listed["accounts"][0]["hasProviderToken"] is False


def test_github_refresh_checks_the_token_and_revoke_deletes_the_grant(browser, email):
    browser.add_account("github", email)
    signed = browser.sign_in("github", email)
    path = f"/oauth/linked-accounts/{signed['userId']}/github"
    refreshed = browser.call("POST", f"{path}/refresh", token=signed["accessToken"])
    assert refreshed.status_code == 200 and refreshed.json()["accessExpiresAt"] is None
    assert "do not expire" in refreshed.json()["note"]
    assert browser.call("POST", f"{path}/revoke", token=signed["accessToken"]).json()["revoked"] is True


def test_a_google_revoke_ends_the_grant_at_google(browser, email):
    browser.add_account("google", email)
    signed = browser.sign_in("google", email)
    path = f"/oauth/linked-accounts/{signed['userId']}/google"
    assert browser.call("POST", f"{path}/revoke", token=signed["accessToken"]).status_code == 200
    # signing in again stores a fresh grant that refreshes
    again = browser.sign_in("google", email)
    assert browser.call("POST", f"{path}/refresh", token=again["accessToken"]).status_code == 200


def test_return_to_is_kept_with_the_state_and_answered_after_the_callback(browser, email):
    browser.add_account("google", email)
    back = browser.authorize("google", email, returnTo=RETURN_TO)
    answer = browser.authenticate("google", back)
    assert answer.status_code == 200 and answer.json()["returnTo"] == RETURN_TO


def test_the_get_callback_completes_a_browser_redirect(browser, email):
    browser.add_account("github", email)
    back = browser.authorize("github", email)
    answer = browser.call("GET", "/oauth/github/callback", code=back["code"], state=back["state"])
    assert answer.status_code == 200 and answer.json()["isNewUser"] is True
    assert answer.headers["cache-control"] == "no-store"


@pytest.fixture
def admin_token(role_tokens) -> str:
    return role_tokens["admin"]


def test_no_token_code_or_secret_reaches_an_answer_or_a_log(local_stack, browser, email):
    from offline.sandbox.providers import github as github_emulator
    from offline.sandbox.providers import microsoft as microsoft_emulator

    seen: list[str] = []
    for provider in PROVIDERS:
        who = f"{provider}-{email}"
        browser.add_account(provider, who)
        back = browser.authorize(provider, who)
        signed = browser.authenticate(provider, back).json()
        seen += [back["code"], back["state"], signed["refreshToken"], signed["accessToken"]]
        assert not [p for p in ("ya29.", "1//0", "gho_") if p in str(signed)]
        rotated = browser.call("POST", "/oauth/token", {"refreshToken": signed["refreshToken"]}).json()
        seen.append(rotated["refreshToken"])
    secrets_ = ["local-signin", microsoft_emulator.LOCAL_CLIENT_SECRET, github_emulator.LOCAL_CLIENT_SECRET]
    text = (local_stack.state_dir / "logs" / "SignInFunction.log").read_text(errors="replace")
    assert text, "the function logged nothing at all"
    for needle in [*seen, *secrets_, "ya29.", "1//0", "gho_"]:
        assert needle not in text, f"{needle[:12]}... reached the sign-in function's log"
