"""Bad and hostile input at sign-in, through the local stack and the emulators: each refused with a
clear problem and nothing stored (the same account's next honest sign-in is still a first one)."""

from __future__ import annotations

import secrets

import pytest

from tests.support.signin_flow import REDIRECT

FORGERIES = {
    "audience": {"aud": "someone-else"},
    "issuer": {"iss": "https://issuer.evil.example"},
    "expired": {"expired": True},
    "alg-none": {"alg": "none"},
    "hs256-public-key": {"alg": "HS256"},
    "unpublished-key": {"unpublishedKey": True},
    "nonce": {"nonce": "replayed-nonce"},
}


def assert_nothing_stored(flow, provider, who):
    honest = flow.sign_in(provider, who)
    assert honest["isNewUser"] is True, "a refused sign-in stored the account"


@pytest.mark.parametrize("provider", ["google", "microsoft"])
@pytest.mark.parametrize("forgery", list(FORGERIES), ids=list(FORGERIES))
def test_a_forged_id_token_is_refused_and_nothing_is_stored(flow, email, provider, forgery):
    flow.add_account(provider, email)
    back = flow.authorize(provider, email)
    assert flow.control("POST", f"/{provider}/id-tokens/forge", FORGERIES[forgery]).status_code == 201
    refused = flow.authenticate(provider, back)
    assert refused.status_code == 401, refused.text
    assert "id_token" in refused.json()["detail"]
    assert "eyJ" not in refused.text  # the token itself is never answered
    assert_nothing_stored(flow, provider, email)


@pytest.mark.parametrize("provider", ["google", "microsoft", "github"])
def test_an_unknown_state_is_refused(flow, email, provider):
    flow.add_account(provider, email)
    back = flow.authorize(provider, email)
    refused = flow.authenticate(provider, {**back, "state": secrets.token_urlsafe(32)})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "state"
    assert_nothing_stored(flow, provider, email)


def test_a_state_serves_once(flow, email):
    flow.add_account("google", email)
    back = flow.authorize("google", email)
    assert flow.authenticate("google", back).status_code == 200
    replayed = flow.authenticate("google", back)
    assert replayed.status_code == 422 and replayed.json()["errors"][0]["field"] == "state"


def test_a_code_from_another_authorization_fails_its_pkce_verifier(flow, email):
    """An attacker's code injected into a victim's callback: the code was issued for another
    request's PKCE challenge, so the provider refuses it with this state's verifier."""
    flow.add_account("github", email)
    victims = flow.authorize("github", email)
    attackers = flow.authorize("github", email)
    refused = flow.authenticate("github", {"state": victims["state"], "code": attackers["code"]})
    assert refused.status_code == 422 and "code" in refused.json()["detail"]
    assert_nothing_stored(flow, "github", email)


def test_a_state_of_another_provider_is_refused(flow, email):
    flow.add_account("google", email)
    back = flow.authorize("google", email)
    refused = flow.authenticate("github", back)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "provider"
    assert_nothing_stored(flow, "google", email)


@pytest.mark.parametrize("provider", ["google", "microsoft", "github"])
def test_a_refusal_at_the_provider_is_refused_here_and_stores_nothing(flow, email, provider):
    flow.add_account(provider, email)
    back = flow.authorize(provider, email, decision="deny")
    assert back["error"] == "access_denied" and "code" not in back
    refused = flow.authenticate(provider, back)
    assert refused.status_code == 401 and "access_denied" in refused.json()["detail"]
    assert_nothing_stored(flow, provider, email)


def test_a_redirect_uri_not_on_the_list_is_refused_at_the_start_and_at_the_callback(flow, email):
    start = flow.call("GET", "/oauth/google/authorize", redirectUri="https://evil.example/callback")
    assert start.status_code == 422 and start.json()["errors"][0]["field"] == "redirectUri"
    near = flow.call("GET", "/oauth/google/authorize", redirectUri=REDIRECT + "/")
    assert near.status_code == 422  # exact match only
    back_to = flow.call("GET", "/oauth/google/authorize", redirectUri=REDIRECT, returnTo="https://evil.example/")
    assert back_to.status_code == 422 and back_to.json()["errors"][0]["field"] == "returnTo"
    flow.add_account("google", email)
    back = flow.authorize("google", email)
    other = flow.authenticate("google", back, redirectUri="https://evil.example/callback")
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "redirectUri"
    assert_nothing_stored(flow, "google", email)


def test_an_unknown_provider_and_bad_bodies_are_refused_without_a_500(flow):
    assert flow.call("GET", "/oauth/facebook/authorize", redirectUri=REDIRECT).status_code in (404, 422)
    bare = flow.call("POST", "/oauth/authenticate", {"provider": "google"})
    assert bare.status_code == 422
    junk = flow.call("POST", "/oauth/token", {"refreshToken": "x" * 40})
    assert junk.status_code == 422 and junk.json()["errors"][0]["field"] == "refreshToken"
    forged = flow.call("POST", "/oauth/token", {"refreshToken": "sfm_abcdabcdabcdabcdabcd." + "y" * 43})
    assert forged.status_code == 401
