"""The Google emulator's OAuth 2.0 web-server flow: the authorization page and the user's answer,
the code exchange with PKCE, refresh, revoke, and what the user can do at Google meanwhile."""

from __future__ import annotations

import re

from offline.sandbox.providers.google_oauth import LOCAL_CLIENT_ID

from .conftest import REDIRECT, SCOPES, pkce


def _code(google, email="ana@example.com", **extra):
    verifier, challenge = pkce()
    page = google.authorize(state="s1", code_challenge=challenge, code_challenge_method="S256", **extra)
    return google.consent("s1", email)["code"], verifier, page


def test_the_authorization_page_shows_client_scopes_and_account_and_its_form_consents(google):
    page = google.authorize(state="xyz", login_hint="ana@example.com")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for shown in (LOCAL_CLIENT_ID, "https://www.googleapis.com/auth/calendar.events", "ana@example.com"):
        assert shown in page.text
    action = re.search(r"action='([^']+)'", page.text).group(1)
    request_id = re.search(r"name='requestId' value='([^']+)'", page.text).group(1)
    posted = google.http.post(action, data={"requestId": request_id, "email": "ana@example.com", "decision": "allow"})
    assert posted.status_code == 302
    location = posted.headers["location"]
    assert location.startswith(REDIRECT + "?") and "state=xyz" in location and "code=" in location


def test_refusing_redirects_with_access_denied_and_the_state(google):
    google.authorize(state="no-thanks")
    query = google.consent("no-thanks", "ana@example.com", decision="deny")
    assert query == {"error": "access_denied", "state": "no-thanks"}


def test_an_unknown_client_or_redirect_uri_gets_googles_error_page_and_no_redirect(google):
    unknown = google.http.get(
        f"{google.url}/google/o/oauth2/v2/auth",
        params={"client_id": "nobody", "redirect_uri": REDIRECT, "response_type": "code", "scope": SCOPES},
    )
    assert unknown.status_code == 401 and "invalid_client" in unknown.text
    registered = google.http.post(
        f"{google.url}/_sandbox/google/clients",
        json={"clientId": "web.apps.googleusercontent.com", "clientSecret": "s", "redirectUris": [REDIRECT]},
    )
    assert registered.status_code == 201
    elsewhere = google.http.get(
        f"{google.url}/google/o/oauth2/v2/auth",
        params={
            "client_id": "web.apps.googleusercontent.com",
            "redirect_uri": "https://evil.example/cb",
            "response_type": "code",
            "scope": SCOPES,
        },
    )
    assert elsewhere.status_code == 400 and "redirect_uri_mismatch" in elsewhere.text


def test_the_code_exchange_checks_the_pkce_verifier_and_answers_like_google(google):
    code, verifier, _ = _code(google)
    wrong = google.exchange(code, "not-the-verifier-" + "x" * 30)
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_grant", "error_description": "Invalid code verifier."}
    missing = google.exchange(code, None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"
    right = google.exchange(code, verifier)
    assert right.status_code == 200
    tokens = right.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 3000
    assert set(tokens["scope"].split()) == set(SCOPES.split())
    assert tokens["access_token"].startswith("ya29.") and tokens["refresh_token"].startswith("1//")
    me = google.http.get(
        f"{google.url}/google/oauth2/v3/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.json()["email"] == "ana@example.com" and me.json()["email_verified"] is True


def test_a_code_is_single_use_and_bound_to_its_redirect_uri_and_client_secret(google):
    code, verifier, _ = _code(google)
    bad_secret = google.exchange(code, verifier, client_secret="wrong")
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    other_uri = google.exchange(code, verifier, redirect_uri="http://127.0.0.1:9/other")
    assert other_uri.status_code == 400 and other_uri.json()["error"] == "redirect_uri_mismatch"
    assert google.exchange(code, verifier).status_code == 200
    reused = google.exchange(code, verifier)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_a_refresh_token_comes_on_first_offline_consent_or_with_prompt_consent_only(google):
    first = google.connect("ana@example.com")
    again = google.connect("ana@example.com")
    assert "refresh_token" in first and "refresh_token" not in again
    forced = google.connect("ana@example.com", prompt="consent")
    assert "refresh_token" in forced
    online = google.connect("ben@example.com", access_type="online")
    assert "refresh_token" not in online


def test_refresh_gives_a_new_access_token_without_a_refresh_token(google):
    tokens = google.connect("ana@example.com")
    refreshed = google.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert "refresh_token" not in body and body["access_token"] != tokens["access_token"]
    listed = google.http.get(
        f"{google.api}/calendars/primary/events", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert listed.status_code == 200


def test_revoke_ends_the_grant_refresh_is_invalid_grant_and_access_tokens_stop_working(google):
    tokens = google.connect("ana@example.com")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert google.http.post(f"{google.url}/google/revoke", params={"token": tokens["refresh_token"]}).status_code == 200
    after = google.refresh(tokens["refresh_token"])
    assert after.status_code == 400
    assert after.json() == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    assert google.http.get(f"{google.api}/calendars/primary/events", headers=headers).status_code == 401
    twice = google.http.post(f"{google.url}/google/revoke", params={"token": tokens["refresh_token"]})
    assert twice.status_code == 400 and twice.json()["error"] == "invalid_token"


def test_the_user_removing_access_at_google_makes_refresh_invalid_grant(google):
    tokens = google.connect("ana@example.com")
    revoked = google.http.post(f"{google.url}/_sandbox/google/grants/revoke", json={"email": "ana@example.com"})
    assert revoked.json() == {"revoked": 1}
    assert google.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_an_access_token_expired_early_is_refused_and_a_refresh_brings_a_working_one(google):
    tokens = google.connect("ana@example.com")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    expired = google.http.post(f"{google.url}/_sandbox/google/tokens/expire", json={"email": "ana@example.com"})
    assert expired.json()["expired"] == 1
    refused = google.http.get(f"{google.api}/calendars/primary/events", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["errors"][0]["reason"] == "authError"
    fresh = google.refresh(tokens["refresh_token"]).json()["access_token"]
    again = google.http.get(f"{google.api}/calendars/primary/events", headers={"Authorization": f"Bearer {fresh}"})
    assert again.status_code == 200


def test_the_token_endpoint_can_be_made_to_fail_then_recovers(google):
    tokens = google.connect("ana@example.com")
    google.http.post(f"{google.url}/_sandbox/google/faults", json={"pathPrefix": "/token", "status": 503})
    down = google.refresh(tokens["refresh_token"])
    assert down.status_code == 503 and down.json()["error"] == "internal_failure"
    google.http.post(
        f"{google.url}/_sandbox/google/faults", json={"pathPrefix": "/token", "kind": "invalid_grant", "count": 1}
    )
    assert google.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert google.refresh(tokens["refresh_token"]).status_code == 200


def test_token_and_revoke_requests_are_counted_per_account_answered_or_not(google):
    tokens = google.connect("ana@example.com")
    google.refresh(tokens["refresh_token"])
    google.http.post(f"{google.url}/google/revoke", params={"token": tokens["access_token"]})
    assert google.refresh(tokens["refresh_token"]).status_code == 400
    counted = google.http.get(f"{google.url}/_sandbox/google/calls").json()["oauthByUser"]["ana@example.com"]
    assert counted == {"token.authorization_code": 1, "token.refresh_token": 2, "revoke": 1}
