"""The GitHub emulator: the OAuth app web flow with state and PKCE (S256), the access_token answer
as form or JSON, GitHub's HTTP-200 errors, /user and /user/emails with primary / verified flags,
and grant deletion that stops every token of the grant."""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs

from offline.sandbox.providers.github import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, local_client_config

from .conftest import REDIRECT, pkce, query_of


def _authorize(http, url, **params):
    query = {"client_id": LOCAL_CLIENT_ID, "redirect_uri": REDIRECT, "scope": "read:user user:email", **params}
    return http.get(f"{url}/github/login/oauth/authorize", params=query)


def _code(http, url, login=None, decision="allow", **params):
    """A person on GitHub's page: pick the account, Authorize or Cancel; (redirect query, verifier)."""
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(8)
    page = _authorize(http, url, state=state, code_challenge=challenge, code_challenge_method="S256", **params)
    assert page.status_code == 200, page.text
    action = re.search(r"action='([^']+)'", page.text).group(1)
    request_id = re.search(r"name='requestId' value='([^']+)'", page.text).group(1)
    form = {"requestId": request_id, "decision": decision, **({"login": login} if login else {})}
    answer = http.post(action, data=form)
    assert answer.status_code == 302
    query = query_of(answer.headers["location"])
    assert query["state"] == state
    return query, verifier


def _token(http, url, code, verifier, accept="application/json", secret=LOCAL_CLIENT_SECRET, json_body=False):
    body = {
        "client_id": LOCAL_CLIENT_ID,
        "client_secret": secret,
        "code": code,
        "redirect_uri": REDIRECT,
        **({"code_verifier": verifier} if verifier else {}),
    }
    headers = {"Accept": accept} if accept else {}
    endpoint = f"{url}/github/login/oauth/access_token"
    return (
        http.post(endpoint, json=body, headers=headers)
        if json_body
        else http.post(endpoint, data=body, headers=headers)
    )


def _api(http, url, path, token):
    return http.get(
        f"{url}/github/api/v3{path}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
    )


def test_the_web_flow_with_pkce_gives_a_token_that_reads_the_user_and_emails(http, sandbox_url):
    query, verifier = _code(http, sandbox_url)
    answer = _token(http, sandbox_url, query["code"], verifier)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    token = answer.json()
    assert token["token_type"] == "bearer" and token["access_token"].startswith("gho_")
    assert token["scope"] == "read:user,user:email"
    user = _api(http, sandbox_url, "/user", token["access_token"])
    assert user.status_code == 200 and user.json()["login"] == "octo-student" and isinstance(user.json()["id"], int)
    assert user.headers["x-oauth-scopes"] == "read:user, user:email"
    emails = _api(http, sandbox_url, "/user/emails", token["access_token"]).json()
    assert emails == [{"email": "octo-student@example.com", "primary": True, "verified": True, "visibility": "private"}]
    assert local_client_config(sandbox_url)["apiBaseUrl"] == f"{sandbox_url}/github/api/v3"


def test_without_accept_json_the_answer_is_form_encoded_and_a_json_body_is_taken(http, sandbox_url):
    query, verifier = _code(http, sandbox_url)
    answer = _token(http, sandbox_url, query["code"], verifier, accept=None, json_body=True)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/x-www-form-urlencoded")
    fields = parse_qs(answer.text)
    assert fields["access_token"][0].startswith("gho_") and fields["token_type"] == ["bearer"]


def test_bad_codes_verifiers_and_secrets_get_githubs_http_200_errors(http, sandbox_url):
    query, verifier = _code(http, sandbox_url)
    wrong_verifier = _token(http, sandbox_url, query["code"], verifier[:-2] + "zz")
    assert wrong_verifier.status_code == 200 and wrong_verifier.json()["error"] == "bad_verification_code"
    no_verifier = _token(http, sandbox_url, query["code"], None)
    assert no_verifier.json()["error"] == "bad_verification_code"
    wrong_secret = _token(http, sandbox_url, query["code"], verifier, secret="nope")
    assert wrong_secret.json()["error"] == "incorrect_client_credentials"
    assert "access_token" in _token(http, sandbox_url, query["code"], verifier).json()
    replay = _token(http, sandbox_url, query["code"], verifier).json()
    assert replay["error"] == "bad_verification_code" and replay["error_uri"].startswith("https://docs.github.com/")


def test_github_takes_only_s256_and_an_unregistered_redirect_uri_gets_no_redirect(http, sandbox_url):
    plain = _authorize(http, sandbox_url, state="p", code_challenge="a" * 43, code_challenge_method="plain")
    assert plain.status_code == 302 and query_of(plain.headers["location"])["error"] == "invalid_request"
    http.post(
        f"{sandbox_url}/_sandbox/github/clients",
        json={"clientId": "Iv1.registered", "clientSecret": "s", "redirectUris": [REDIRECT]},
    )
    elsewhere = http.get(
        f"{sandbox_url}/github/login/oauth/authorize",
        params={"client_id": "Iv1.registered", "redirect_uri": "https://evil.example/cb", "state": "x"},
    )
    assert elsewhere.status_code == 400 and "location" not in elsewhere.headers


def test_cancelling_redirects_with_access_denied_and_githubs_description(http, sandbox_url):
    query, _ = _code(http, sandbox_url, decision="deny")
    assert query["error"] == "access_denied" and "code" not in query
    assert query["error_description"] == "The user has denied your application access."


def test_emails_show_the_primary_and_verified_flags_set_by_the_control(http, sandbox_url):
    added = http.post(
        f"{sandbox_url}/_sandbox/github/accounts",
        json={
            "login": "mallory",
            "name": "Mallory",
            "emails": [
                {"email": "victim@example.com", "primary": True, "verified": False},
                {"email": "mallory@example.com", "primary": False, "verified": True},
            ],
        },
    )
    assert added.status_code == 201
    query, verifier = _code(http, sandbox_url, login="mallory")
    token = _token(http, sandbox_url, query["code"], verifier).json()["access_token"]
    emails = {e["email"]: (e["primary"], e["verified"]) for e in _api(http, sandbox_url, "/user/emails", token).json()}
    assert emails == {"victim@example.com": (True, False), "mallory@example.com": (False, True)}
    assert _api(http, sandbox_url, "/user", token).json()["login"] == "mallory"


def test_emails_need_the_user_email_scope(http, sandbox_url):
    query, verifier = _code(http, sandbox_url, scope="read:user")
    token = _token(http, sandbox_url, query["code"], verifier).json()["access_token"]
    answer = _api(http, sandbox_url, "/user/emails", token)
    assert answer.status_code == 404 and answer.headers["x-accepted-oauth-scopes"] == "user, user:email"


def test_deleting_the_grant_stops_every_token_of_it(http, sandbox_url):
    tokens = []
    for _ in range(2):
        query, verifier = _code(http, sandbox_url)
        tokens.append(_token(http, sandbox_url, query["code"], verifier).json()["access_token"])
    grant = f"{sandbox_url}/github/api/v3/applications/{LOCAL_CLIENT_ID}/grant"
    wrong = http.request("DELETE", grant, json={"access_token": tokens[0]}, auth=(LOCAL_CLIENT_ID, "nope"))
    assert wrong.status_code == 404 and _api(http, sandbox_url, "/user", tokens[0]).status_code == 200
    deleted = http.request(
        "DELETE", grant, json={"access_token": tokens[0]}, auth=(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET)
    )
    assert deleted.status_code == 204
    for token in tokens:
        gone = _api(http, sandbox_url, "/user", token)
        assert gone.status_code == 401 and gone.json()["message"] == "Bad credentials"
    again = http.request("DELETE", grant, json={"access_token": tokens[0]}, auth=(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET))
    assert again.status_code == 422


def test_an_injected_5xx_then_the_token_exchange_succeeds(http, sandbox_url):
    query, verifier = _code(http, sandbox_url)
    http.post(f"{sandbox_url}/_sandbox/github/faults", json={"status": 502, "pathPrefix": "/login/oauth/access_token"})
    assert _token(http, sandbox_url, query["code"], verifier).status_code == 502
    assert "access_token" in _token(http, sandbox_url, query["code"], verifier).json()


def test_an_injected_authorization_error_redirects_back_and_a_token_error_is_githubs_200(http, sandbox_url):
    http.post(
        f"{sandbox_url}/_sandbox/github/faults",
        json={"error": "temporarily_unavailable", "pathPrefix": "/login/oauth/authorize"},
    )
    answer = _authorize(http, sandbox_url, state="st-f")
    assert answer.status_code == 302
    assert query_of(answer.headers["location"])["error"] == "temporarily_unavailable"
    query, verifier = _code(http, sandbox_url)
    http.post(
        f"{sandbox_url}/_sandbox/github/faults",
        json={"error": "unverified_user_email", "pathPrefix": "/login/oauth/access_token"},
    )
    failed = _token(http, sandbox_url, query["code"], verifier)
    assert failed.status_code == 200 and failed.json()["error"] == "unverified_user_email"
