"""The Microsoft identity platform emulator as MSAL for Python uses it (instance discovery, the
tenant's OpenID configuration, the auth code flow with PKCE, state and nonce, client credentials,
refresh), and by hand: tid / oid in id_tokens verified by PyJWT, the common authority, key rotation,
refusals and faults."""

from __future__ import annotations

import re
import warnings

import jwt
import msal
import pytest

from offline.sandbox.providers.microsoft import (
    LOCAL_CLIENT_ID,
    LOCAL_CLIENT_SECRET,
    LOCAL_TENANT_ID,
    local_client_config,
)

from .conftest import REDIRECT, TlsProxySession, pkce, query_of, verify

OTHER_TENANT = "0d3e9c8b-7a6f-4e5d-8c4b-3a2f1e0d9c8b"


@pytest.fixture
def proxy(sandbox_url):
    with TlsProxySession(sandbox_url) as session:
        yield session


def _app(proxy, tenant=LOCAL_TENANT_ID):
    secure = proxy.secure
    config = local_client_config(secure, tenant)
    return msal.ConfidentialClientApplication(
        config["clientId"],
        client_credential=config["clientSecret"],
        authority=config["authority"],
        instance_discovery=config["instanceDiscoveryUrl"],
        http_client=proxy,
    )


def _consent_on_the_page(http, proxy, auth_uri, email=None, decision="allow"):
    """A person on the authorization page: pick an account, press Allow or Cancel; what reaches the
    redirect URI (its query, or the fields of the form the browser posts there with form_post)."""
    page = http.get(auth_uri.replace(proxy.secure, proxy.plain, 1))
    assert page.status_code == 200, page.text
    action = re.search(r"action='([^']+)'", page.text).group(1)
    request_id = re.search(r"name='requestId' value='([^']+)'", page.text).group(1)
    form = {"requestId": request_id, "decision": decision, **({"email": email} if email else {})}
    answer = http.post(action, data=form)
    if query_of(auth_uri).get("response_mode") == "form_post":
        assert (
            answer.status_code == 200
            and re.search(r"<form method='post' action='([^']+)'", answer.text).group(1) == REDIRECT
        )
        return dict(re.findall(r"name='([^']+)' value='([^']*)'", answer.text))
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"].startswith(REDIRECT)
    return query_of(answer.headers["location"])


def _claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def test_msal_completes_the_auth_code_flow_against_the_sandbox_authority(http, proxy):
    app = _app(proxy)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT, response_mode="form_post")
    sent = query_of(flow["auth_uri"])
    assert sent["code_challenge_method"] == "S256" and sent["nonce"] and sent["state"] == flow["state"]
    assert sent["response_mode"] == "form_post"
    result = app.acquire_token_by_auth_code_flow(flow, _consent_on_the_page(http, proxy, flow["auth_uri"]))
    assert "error" not in result, result
    claims = result["id_token_claims"]
    assert (
        claims["tid"] == LOCAL_TENANT_ID and claims["oid"] and claims["preferred_username"] == "teacher@school.example"
    )
    assert claims["email"] == "teacher@school.example" and claims["aud"] == LOCAL_CLIENT_ID
    assert result["refresh_token"] and result["token_type"] == "Bearer"
    # MSAL asked Microsoft's discovery endpoints, in the sandbox only
    assert proxy.seen[:2] == [
        "GET /microsoft/common/discovery/instance",
        f"GET /microsoft/{LOCAL_TENANT_ID}/v2.0/.well-known/openid-configuration",
    ]
    # the id_token verifies against the tenant's published keys, with the tenant's issuer
    config = http.get(f"{proxy.plain}/microsoft/{LOCAL_TENANT_ID}/v2.0/.well-known/openid-configuration").json()
    jwks = config["jwks_uri"]  # asked without the proxy: http URLs
    issuer = f"{proxy.secure}/microsoft/{LOCAL_TENANT_ID}/v2.0"
    verified = verify(result["id_token"], jwks, LOCAL_CLIENT_ID, issuer, http)
    assert verified["nonce"] == claims["nonce"] and verified["oid"] == claims["oid"]
    # MSAL keeps the account keyed by oid.tid (client_info)
    [account] = app.get_accounts()
    assert account["home_account_id"] == f"{claims['oid']}.{LOCAL_TENANT_ID}"


def test_msal_refreshes_and_a_used_refresh_token_is_refused(http, proxy):
    app = _app(proxy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT)
    first = app.acquire_token_by_auth_code_flow(flow, _consent_on_the_page(http, proxy, flow["auth_uri"]))
    renewed = app.acquire_token_by_refresh_token(first["refresh_token"], ["User.Read"])
    assert "error" not in renewed and renewed["refresh_token"] != first["refresh_token"]
    assert renewed["id_token_claims"]["oid"] == first["id_token_claims"]["oid"]
    reused = app.acquire_token_by_refresh_token(first["refresh_token"], ["User.Read"])
    assert reused["error"] == "invalid_grant" and reused["error_description"].startswith("AADSTS")


def test_msal_gets_an_app_only_token_for_a_later_graph_emulator(http, proxy):
    http.post(
        f"{proxy.plain}/_sandbox/microsoft/clients",
        json={"clientId": "app-graph", "clientSecret": "s3cret", "roles": ["Calendars.ReadWrite"]},
    )
    config = local_client_config(proxy.secure)
    app = msal.ConfidentialClientApplication(
        "app-graph",
        client_credential="s3cret",
        authority=config["authority"],
        instance_discovery=config["instanceDiscoveryUrl"],
        http_client=proxy,
    )
    result = app.acquire_token_for_client(scopes=[config["graphScope"]])
    assert "error" not in result, result
    assert "refresh_token" not in result and "id_token" not in result
    claims = _claims(result["access_token"])
    assert claims["aud"] == "https://graph.microsoft.com" and claims["idtyp"] == "app"
    assert claims["roles"] == ["Calendars.ReadWrite"] and claims["tid"] == LOCAL_TENANT_ID and "scp" not in claims
    wrong = msal.ConfidentialClientApplication(
        "app-graph",
        client_credential="nope",
        authority=config["authority"],
        instance_discovery=config["instanceDiscoveryUrl"],
        http_client=proxy,
    ).acquire_token_for_client(scopes=[config["graphScope"]])
    assert wrong["error"] == "invalid_client"
    not_default = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/User.Read"])
    assert not_default["error"] == "invalid_scope"


def test_refusing_consent_comes_back_as_access_denied_with_the_state(http, proxy):
    app = _app(proxy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # MSAL recommends form_post; the query mode works too
        flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT)
    query = _consent_on_the_page(http, proxy, flow["auth_uri"], decision="deny")
    assert query["error"] == "access_denied" and query["state"] == flow["state"] and "code" not in query
    assert app.acquire_token_by_auth_code_flow(flow, query)["error"] == "access_denied"


def _manual_code(http, url, tenant, email=None, nonce="n-1", challenge=None):
    params = {
        "client_id": LOCAL_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "openid profile offline_access User.Read",
        "state": "st-1",
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = http.get(f"{url}/microsoft/{tenant}/oauth2/v2.0/authorize", params=params)
    assert page.status_code == 200, page.text
    answer = http.post(
        f"{url}/_sandbox/microsoft/consent", json={"state": "st-1", **({"email": email} if email else {})}
    )
    assert answer.status_code == 200, answer.text
    return query_of(answer.json()["redirect"])


def _redeem(http, url, tenant, code, verifier):
    return http.post(
        f"{url}/microsoft/{tenant}/oauth2/v2.0/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": LOCAL_CLIENT_ID,
            "client_secret": LOCAL_CLIENT_SECRET,
            "scope": "openid User.Read",
        },
    )


def test_the_common_authority_signs_in_another_tenants_account_with_its_tid_in_the_issuer(http, sandbox_url):
    added = http.post(
        f"{sandbox_url}/_sandbox/microsoft/accounts",
        json={"email": "guest@other.example", "name": "Guest User", "tid": OTHER_TENANT},
    ).json()
    config = http.get(f"{sandbox_url}/microsoft/common/v2.0/.well-known/openid-configuration").json()
    assert config["issuer"] == f"{sandbox_url}/microsoft/{{tenantid}}/v2.0"
    verifier, challenge = pkce()
    query = _manual_code(http, sandbox_url, "common", "guest@other.example", "nonce-xyz", challenge)
    token = _redeem(http, sandbox_url, "common", query["code"], verifier).json()
    issuer = config["issuer"].replace("{tenantid}", OTHER_TENANT)
    claims = verify(token["id_token"], config["jwks_uri"], LOCAL_CLIENT_ID, issuer, http)
    assert (claims["tid"], claims["oid"], claims["nonce"]) == (OTHER_TENANT, added["oid"], "nonce-xyz")
    # a tenant-specific authority does not sign in another tenant's account
    other_tenant_params = {
        "client_id": LOCAL_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "state": "st-2",
    }
    http.get(f"{sandbox_url}/microsoft/{LOCAL_TENANT_ID}/oauth2/v2.0/authorize", params=other_tenant_params)
    refused = http.post(
        f"{sandbox_url}/_sandbox/microsoft/consent", json={"state": "st-2", "email": "guest@other.example"}
    )
    assert refused.status_code == 400 and "AADSTS50020" in refused.text


def test_a_wrong_pkce_verifier_and_a_replayed_code_get_invalid_grant(http, sandbox_url):
    verifier, challenge = pkce()
    query = _manual_code(http, sandbox_url, LOCAL_TENANT_ID, challenge=challenge)
    wrong = _redeem(http, sandbox_url, LOCAL_TENANT_ID, query["code"], verifier[:-3] + "abc")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert wrong.json()["error_codes"] and wrong.json()["error_description"].startswith("AADSTS")
    assert _redeem(http, sandbox_url, LOCAL_TENANT_ID, query["code"], verifier).status_code == 200
    assert _redeem(http, sandbox_url, LOCAL_TENANT_ID, query["code"], verifier).json()["error"] == "invalid_grant"


def test_an_authorize_without_pkce_is_refused_back_to_the_client(http, sandbox_url):
    params = {
        "client_id": LOCAL_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "state": "st-3",
        "code_challenge_method": "S256",
    }
    answer = http.get(f"{sandbox_url}/microsoft/{LOCAL_TENANT_ID}/oauth2/v2.0/authorize", params=params)
    assert answer.status_code == 302
    query = query_of(answer.headers["location"])
    assert query["error"] == "invalid_request" and query["state"] == "st-3"


def test_an_unknown_tenant_fails_discovery_and_msal_says_so(http, proxy):
    answer = http.get(f"{proxy.plain}/microsoft/no-such-tenant.example/v2.0/.well-known/openid-configuration")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_tenant"
    with pytest.raises(ValueError, match="no-such-tenant"):
        _app(proxy, "no-such-tenant.example")


def test_keys_rotate_with_the_previous_kid_still_published(http, sandbox_url):
    jwks = f"{sandbox_url}/microsoft/common/discovery/v2.0/keys"
    before = [k["kid"] for k in http.get(jwks).json()["keys"]]
    rotated = http.post(f"{sandbox_url}/_sandbox/microsoft/keys/rotate").json()
    after = [k["kid"] for k in http.get(jwks).json()["keys"]]
    assert rotated["current"] not in before and set(after) == {*before, rotated["current"]}
    verifier, challenge = pkce()
    query = _manual_code(http, sandbox_url, LOCAL_TENANT_ID, challenge=challenge)
    token = _redeem(http, sandbox_url, LOCAL_TENANT_ID, query["code"], verifier).json()
    assert jwt.get_unverified_header(token["id_token"])["kid"] == rotated["current"]
    http.post(f"{sandbox_url}/_sandbox/microsoft/keys/retire")
    assert [k["kid"] for k in http.get(jwks).json()["keys"]] == [rotated["current"]]


def test_an_injected_5xx_on_the_token_endpoint_then_the_call_succeeds(http, sandbox_url):
    verifier, challenge = pkce()
    query = _manual_code(http, sandbox_url, LOCAL_TENANT_ID, challenge=challenge)
    http.post(
        f"{sandbox_url}/_sandbox/microsoft/faults", json={"status": 503, "pathPrefix": f"/{LOCAL_TENANT_ID}/oauth2"}
    )
    failed = _redeem(http, sandbox_url, LOCAL_TENANT_ID, query["code"], verifier)
    assert failed.status_code == 503 and failed.json()["error"] == "temporarily_unavailable"
    assert _redeem(http, sandbox_url, LOCAL_TENANT_ID, query["code"], verifier).status_code == 200


def test_an_injected_authorization_error_redirects_back_with_the_state(http, sandbox_url):
    http.post(
        f"{sandbox_url}/_sandbox/microsoft/faults", json={"error": "temporarily_unavailable", "pathPrefix": "/common"}
    )
    params = {
        "client_id": LOCAL_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "state": "st-9",
    }
    answer = http.get(f"{sandbox_url}/microsoft/common/oauth2/v2.0/authorize", params=params)
    assert answer.status_code == 302
    query = query_of(answer.headers["location"])
    assert (query["error"], query["state"]) == ("temporarily_unavailable", "st-9")


def test_a_public_client_application_signs_in_with_pkce_and_no_secret(http, proxy):
    http.post(f"{proxy.plain}/_sandbox/microsoft/clients", json={"clientId": "public-app", "redirectUris": [REDIRECT]})
    config = local_client_config(proxy.secure)
    app = msal.PublicClientApplication(
        "public-app",
        authority=config["authority"],
        instance_discovery=config["instanceDiscoveryUrl"],
        http_client=proxy,
    )
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT, response_mode="form_post")
    result = app.acquire_token_by_auth_code_flow(flow, _consent_on_the_page(http, proxy, flow["auth_uri"]))
    assert "error" not in result, result
    assert result["id_token_claims"]["aud"] == "public-app" and result["id_token_claims"]["tid"] == LOCAL_TENANT_ID
    # without the verifier a public client has nothing to prove the code is its own
    _verifier, challenge = pkce()
    params = {
        "client_id": "public-app",
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "state": "pub",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    http.get(f"{proxy.plain}/microsoft/common/oauth2/v2.0/authorize", params=params)
    code = query_of(http.post(f"{proxy.plain}/_sandbox/microsoft/consent", json={"state": "pub"}).json()["redirect"])[
        "code"
    ]
    bare = http.post(
        f"{proxy.plain}/microsoft/common/oauth2/v2.0/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": "public-app"},
    )
    assert bare.status_code == 400 and bare.json()["error"] == "invalid_request"


def test_a_forged_id_token_signed_with_an_unpublished_key_fails_verification(http, sandbox_url):
    http.post(f"{sandbox_url}/_sandbox/microsoft/id-tokens/forge", json={"unpublishedKey": True, "tid": OTHER_TENANT})
    verifier, challenge = pkce()
    query = _manual_code(http, sandbox_url, LOCAL_TENANT_ID, challenge=challenge)
    token = _redeem(http, sandbox_url, LOCAL_TENANT_ID, query["code"], verifier).json()["id_token"]
    assert _claims(token)["tid"] == OTHER_TENANT
    jwks = f"{sandbox_url}/microsoft/{LOCAL_TENANT_ID}/discovery/v2.0/keys"
    with pytest.raises(jwt.InvalidKeyError):
        verify(token, jwks, LOCAL_CLIENT_ID, f"{sandbox_url}/microsoft/{LOCAL_TENANT_ID}/v2.0", http)
