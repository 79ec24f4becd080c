"""The Google emulator's OpenID Connect: discovery, the JWKS and its rotation, the id_token of a code
flow with PKCE and nonce (verified by PyJWT against the published keys), accounts with a verified
email or not, refusals, userinfo and revoke."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from offline.sandbox.providers.google_oauth import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, local_client_config

from .conftest import REDIRECT, pkce, query_of, verify

SCOPE = "openid email profile"


def _authorize(http, url, **params):
    query = {"client_id": LOCAL_CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code", "scope": SCOPE}
    return http.get(f"{url}/google/o/oauth2/v2/auth", params={**query, **params})


def _sign_in(http, url, email="ana@example.com", scope=SCOPE, nonce=None, decision="allow", **extra):
    """The whole code flow with PKCE and a nonce: (the redirect's query, the verifier)."""
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(8)
    page = _authorize(
        http,
        url,
        scope=scope,
        state=state,
        nonce=nonce or secrets.token_urlsafe(12),
        code_challenge=challenge,
        code_challenge_method="S256",
        **extra,
    )
    assert page.status_code == 200, page.text
    action = re.search(r"action='([^']+)'", page.text).group(1)
    request_id = re.search(r"name='requestId' value='([^']+)'", page.text).group(1)
    answer = http.post(action, data={"requestId": request_id, "email": email, "decision": decision})
    assert answer.status_code == 302
    query = query_of(answer.headers["location"])
    assert query["state"] == state
    return query, verifier


def _exchange(http, url, code, verifier):
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": LOCAL_CLIENT_ID,
        "client_secret": LOCAL_CLIENT_SECRET,
        **({"code_verifier": verifier} if verifier is not None else {}),
    }
    return http.post(f"{url}/google/token", data=form)


def _config(http, url):
    return http.get(f"{url}/google/.well-known/openid-configuration").json()


def test_discovery_names_the_issuer_and_googles_endpoints_in_the_sandbox(http, sandbox_url):
    config = _config(http, sandbox_url)
    google = f"{sandbox_url}/google"
    assert config["issuer"] == google
    assert config["authorization_endpoint"] == f"{google}/o/oauth2/v2/auth"
    assert config["token_endpoint"] == f"{google}/token"
    assert config["jwks_uri"] == f"{google}/oauth2/v3/certs"
    assert config["revocation_endpoint"] == f"{google}/revoke"
    assert (
        "RS256" in config["id_token_signing_alg_values_supported"]
        and "S256" in config["code_challenge_methods_supported"]
    )
    keys = http.get(config["jwks_uri"]).json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and "d" not in keys[0]
    assert local_client_config(sandbox_url)["jwksUrl"] == config["jwks_uri"]


def test_a_code_flow_with_pkce_and_nonce_answers_an_id_token_verifiable_with_the_jwks(http, sandbox_url):
    http.post(f"{sandbox_url}/_sandbox/google/accounts", json={"email": "ana@example.com", "name": "Ana Lima"})
    query, verifier = _sign_in(http, sandbox_url, nonce="n-0S6_WzA2Mj")
    answer = _exchange(http, sandbox_url, query["code"], verifier)
    assert answer.status_code == 200, answer.text
    config = _config(http, sandbox_url)
    claims = verify(answer.json()["id_token"], config["jwks_uri"], LOCAL_CLIENT_ID, config["issuer"], http)
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert (
        claims["azp"] == LOCAL_CLIENT_ID and claims["email"] == "ana@example.com" and claims["email_verified"] is True
    )
    assert claims["name"] == "Ana Lima" and claims["picture"].startswith("https://") and claims["sub"].isdigit()
    assert claims["exp"] > claims["iat"]
    userinfo = http.get(
        f"{sandbox_url}/google/v1/userinfo", headers={"Authorization": f"Bearer {answer.json()['access_token']}"}
    )
    assert userinfo.json()["sub"] == claims["sub"] and userinfo.json()["email_verified"] is True


def test_an_account_whose_email_is_not_verified_says_so_on_the_page_and_in_the_id_token(http, sandbox_url):
    added = http.post(
        f"{sandbox_url}/_sandbox/google/accounts",
        json={"email": "eve@example.com", "emailVerified": False, "name": "Eve"},
    )
    assert added.status_code == 200
    page = _authorize(http, sandbox_url, state="s", nonce="n")
    assert "eve@example.com" in page.text and "not verified" in page.text
    query, verifier = _sign_in(http, sandbox_url, email="eve@example.com")
    token = _exchange(http, sandbox_url, query["code"], verifier).json()
    claims = jwt.decode(token["id_token"], options={"verify_signature": False})
    assert claims["email"] == "eve@example.com" and claims["email_verified"] is False
    userinfo = http.get(
        f"{sandbox_url}/google/oauth2/v3/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert userinfo.json()["email_verified"] is False


def test_without_openid_in_the_scope_there_is_no_id_token(http, sandbox_url):
    query, verifier = _sign_in(http, sandbox_url, scope="https://www.googleapis.com/auth/calendar.events")
    answer = _exchange(http, sandbox_url, query["code"], verifier).json()
    assert "access_token" in answer and "id_token" not in answer


def test_a_wrong_or_missing_pkce_verifier_and_a_replayed_code_are_refused(http, sandbox_url):
    query, verifier = _sign_in(http, sandbox_url)
    wrong = _exchange(http, sandbox_url, query["code"], verifier[:-2] + "xx")
    missing = _exchange(http, sandbox_url, query["code"], None)
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_grant")
    assert _exchange(http, sandbox_url, query["code"], verifier).status_code == 200
    replay = _exchange(http, sandbox_url, query["code"], verifier)
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")


def test_refusing_consent_redirects_with_access_denied_and_no_code(http, sandbox_url):
    query, _ = _sign_in(http, sandbox_url, decision="deny")
    assert query["error"] == "access_denied" and "code" not in query


def test_a_rotated_key_stays_published_until_retired_and_new_tokens_use_the_new_kid(http, sandbox_url):
    config = _config(http, sandbox_url)
    query, verifier = _sign_in(http, sandbox_url)
    before = _exchange(http, sandbox_url, query["code"], verifier).json()["id_token"]
    rotated = http.post(f"{sandbox_url}/_sandbox/google/keys/rotate").json()
    assert len(rotated["published"]) == 2 and rotated["current"] != jwt.get_unverified_header(before)["kid"]
    query, verifier = _sign_in(http, sandbox_url)
    after = _exchange(http, sandbox_url, query["code"], verifier).json()["id_token"]
    assert jwt.get_unverified_header(after)["kid"] == rotated["current"]
    for token in (before, after):  # both verify against the published JWKS
        verify(token, config["jwks_uri"], LOCAL_CLIENT_ID, config["issuer"], http)
    http.post(f"{sandbox_url}/_sandbox/google/keys/retire")
    kids = [k["kid"] for k in http.get(config["jwks_uri"]).json()["keys"]]
    assert kids == [rotated["current"]]
    with pytest.raises(jwt.InvalidKeyError):  # the old kid is no longer published: nothing verifies it
        verify(before, config["jwks_uri"], LOCAL_CLIENT_ID, config["issuer"], http)


def test_a_refresh_answers_a_new_id_token_and_revoke_ends_the_grant(http, sandbox_url):
    # access_type=offline on a first consent carries a refresh token
    query, verifier = _sign_in(http, sandbox_url, access_type="offline")
    token = _exchange(http, sandbox_url, query["code"], verifier).json()
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": token["refresh_token"],
        "client_id": LOCAL_CLIENT_ID,
        "client_secret": LOCAL_CLIENT_SECRET,
    }
    refreshed = http.post(f"{sandbox_url}/google/token", data=refresh)
    assert refreshed.status_code == 200
    claims = jwt.decode(refreshed.json()["id_token"], options={"verify_signature": False})
    assert claims["email"] == "ana@example.com" and "nonce" not in claims
    assert http.post(f"{sandbox_url}/google/revoke", params={"token": token["refresh_token"]}).status_code == 200
    bearer = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert http.get(f"{sandbox_url}/google/v1/userinfo", headers=bearer).status_code == 401
    again = http.post(f"{sandbox_url}/google/token", data=refresh)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


def test_an_injected_fault_on_the_token_endpoint_answers_googles_5xx_then_recovers(http, sandbox_url):
    query, verifier = _sign_in(http, sandbox_url)
    http.post(f"{sandbox_url}/_sandbox/google/faults", json={"status": 503, "pathPrefix": "/token", "retryAfter": 2})
    failed = _exchange(http, sandbox_url, query["code"], verifier)
    assert failed.status_code == 503 and failed.headers["retry-after"] == "2"
    assert _exchange(http, sandbox_url, query["code"], verifier).status_code == 200


def test_an_injected_authorization_error_redirects_to_the_client_with_the_state(http, sandbox_url):
    http.post(f"{sandbox_url}/_sandbox/google/faults", json={"kind": "server_error", "pathPrefix": "/o/oauth2"})
    answer = _authorize(http, sandbox_url, state="st-f", nonce="n")
    assert answer.status_code == 302 and answer.headers["location"].startswith(REDIRECT)
    assert query_of(answer.headers["location"]) == {"error": "server_error", "state": "st-f"}
    assert _authorize(http, sandbox_url, state="st-g", nonce="n").status_code == 200


@pytest.mark.parametrize(
    ("forgery", "refusal"),
    [
        ({"aud": "someone-else.apps.googleusercontent.com"}, jwt.InvalidAudienceError),
        ({"iss": "https://accounts.google.com.evil.example"}, jwt.InvalidIssuerError),
        ({"expired": True}, jwt.ExpiredSignatureError),
        ({"alg": "none"}, jwt.InvalidKeyError),  # no kid, no signature
        ({"alg": "HS256"}, jwt.InvalidAlgorithmError),  # HMAC keyed by the public key
        ({"unpublishedKey": True}, jwt.InvalidKeyError),
    ],
    ids=["audience", "issuer", "expired", "alg-none", "hs256-public-key", "unpublished-key"],
)
def test_a_forged_id_token_is_answered_once_and_a_verifier_refuses_it(http, sandbox_url, forgery, refusal):
    config = _config(http, sandbox_url)
    assert http.post(f"{sandbox_url}/_sandbox/google/id-tokens/forge", json=forgery).status_code == 201
    query, verifier = _sign_in(http, sandbox_url)
    forged = _exchange(http, sandbox_url, query["code"], verifier).json()["id_token"]
    with pytest.raises(refusal):
        verify(forged, config["jwks_uri"], LOCAL_CLIENT_ID, config["issuer"], http)
    query, verifier = _sign_in(http, sandbox_url)
    honest = _exchange(http, sandbox_url, query["code"], verifier).json()["id_token"]
    verify(honest, config["jwks_uri"], LOCAL_CLIENT_ID, config["issuer"], http)


def test_a_forged_nonce_is_signed_properly_so_only_comparing_the_nonce_catches_it(http, sandbox_url):
    config = _config(http, sandbox_url)
    http.post(f"{sandbox_url}/_sandbox/google/id-tokens/forge", json={"nonce": "replayed-nonce"})
    query, verifier = _sign_in(http, sandbox_url, nonce="fresh-nonce")
    token = _exchange(http, sandbox_url, query["code"], verifier).json()["id_token"]
    assert verify(token, config["jwks_uri"], LOCAL_CLIENT_ID, config["issuer"], http)["nonce"] == "replayed-nonce"


def test_the_hs256_forgery_is_an_hmac_keyed_by_the_published_public_key(http, sandbox_url):
    # what a verifier that takes the alg from the token and the key from the JWKS would accept
    config = _config(http, sandbox_url)
    http.post(f"{sandbox_url}/_sandbox/google/id-tokens/forge", json={"alg": "HS256"})
    query, verifier = _sign_in(http, sandbox_url)
    token = _exchange(http, sandbox_url, query["code"], verifier).json()["id_token"]
    header = jwt.get_unverified_header(token)
    [published] = [
        k for k in jwt.PyJWKSet.from_dict(http.get(config["jwks_uri"]).json()).keys if k.key_id == header["kid"]
    ]
    pem = published.key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input, _, signature = token.rpartition(".")
    expected = base64.urlsafe_b64encode(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()).rstrip(b"=")
    assert header["alg"] == "HS256" and signature == expected.decode()
