"""Bad and hostile input at sign-in, through the local stack and the emulators: each refused with a
clear problem and nothing stored (the same account's next honest sign-in is still a first one)."""

from __future__ import annotations

import secrets

import pytest

from .conftest import REDIRECT

FORGERIES = {
    "audience": {"aud": "someone-else"},
    "issuer": {"iss": "https://issuer.evil.example"},
    "expired": {"expired": True},
    "alg-none": {"alg": "none"},
    "hs256-public-key": {"alg": "HS256"},
    "unpublished-key": {"unpublishedKey": True},
    "nonce": {"nonce": "replayed-nonce"},
}


def assert_nothing_stored(browser, provider, who):
    honest = browser.sign_in(provider, who)
    assert honest["isNewUser"] is True, "a refused sign-in stored the account"


@pytest.mark.parametrize("provider", ["google", "microsoft"])
@pytest.mark.parametrize("forgery", list(FORGERIES), ids=list(FORGERIES))
def test_a_forged_id_token_is_refused_and_nothing_is_stored(browser, email, provider, forgery):
    browser.add_account(provider, email)
    back = browser.authorize(provider, email)
    assert browser.control("POST", f"/{provider}/id-tokens/forge", FORGERIES[forgery]).status_code == 201
    refused = browser.authenticate(provider, back)
    assert refused.status_code == 401, refused.text
    assert "id_token" in refused.json()["detail"]
    assert "eyJ" not in refused.text  # the token itself is never answered
    assert_nothing_stored(browser, provider, email)


@pytest.mark.parametrize("provider", ["google", "microsoft", "github"])
def test_an_unknown_state_is_refused(browser, email, provider):
    browser.add_account(provider, email)
    back = browser.authorize(provider, email)
    refused = browser.authenticate(provider, {**back, "state": secrets.token_urlsafe(32)})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "state"
    assert_nothing_stored(browser, provider, email)


def test_a_state_serves_once(browser, email):
    browser.add_account("google", email)
    back = browser.authorize("google", email)
    assert browser.authenticate("google", back).status_code == 200
    replayed = browser.authenticate("google", back)
    assert replayed.status_code == 422 and replayed.json()["errors"][0]["field"] == "state"


def test_a_code_from_another_authorization_fails_its_pkce_verifier(browser, email):
    """An attacker's code injected into a victim's callback: the code was issued for another
    request's PKCE challenge, so the provider refuses it with this state's verifier."""
    browser.add_account("github", email)
    victims = browser.authorize("github", email)
    attackers = browser.authorize("github", email)
    refused = browser.authenticate("github", {"state": victims["state"], "code": attackers["code"]})
    assert refused.status_code == 422 and "code" in refused.json()["detail"]
    assert_nothing_stored(browser, "github", email)


def test_a_state_of_another_provider_is_refused(browser, email):
    browser.add_account("google", email)
    back = browser.authorize("google", email)
    refused = browser.authenticate("github", back)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "provider"
    assert_nothing_stored(browser, "google", email)


@pytest.mark.parametrize("provider", ["google", "microsoft", "github"])
def test_a_refusal_at_the_provider_is_refused_here_and_stores_nothing(browser, email, provider):
    browser.add_account(provider, email)
    back = browser.authorize(provider, email, decision="deny")
    assert back["error"] == "access_denied" and "code" not in back
    refused = browser.authenticate(provider, back)
    assert refused.status_code == 401 and "access_denied" in refused.json()["detail"]
    assert_nothing_stored(browser, provider, email)


def test_a_redirect_uri_not_on_the_list_is_refused_at_the_start_and_at_the_callback(browser, email):
    start = browser.call("GET", "/oauth/google/authorize", redirectUri="https://evil.example/callback")
    assert start.status_code == 422 and start.json()["errors"][0]["field"] == "redirectUri"
    near = browser.call("GET", "/oauth/google/authorize", redirectUri=REDIRECT + "/")
    assert near.status_code == 422  # exact match only
    back_to = browser.call("GET", "/oauth/google/authorize", redirectUri=REDIRECT, returnTo="https://evil.example/")
    assert back_to.status_code == 422 and back_to.json()["errors"][0]["field"] == "returnTo"
    browser.add_account("google", email)
    back = browser.authorize("google", email)
    other = browser.authenticate("google", back, redirectUri="https://evil.example/callback")
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "redirectUri"
    assert_nothing_stored(browser, "google", email)


def test_an_unknown_provider_and_bad_bodies_are_refused_without_a_500(browser):
    assert browser.call("GET", "/oauth/facebook/authorize", redirectUri=REDIRECT).status_code in (404, 422)
    bare = browser.call("POST", "/oauth/authenticate", {"provider": "google"})
    assert bare.status_code == 422
    junk = browser.call("POST", "/oauth/token", {"refreshToken": "x" * 40})
    assert junk.status_code == 422 and junk.json()["errors"][0]["field"] == "refreshToken"
    forged = browser.call("POST", "/oauth/token", {"refreshToken": "sfm_abcdabcdabcdabcdabcd." + "y" * 43})
    assert forged.status_code == 401
