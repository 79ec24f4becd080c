"""Microsoft identity platform (v2.0) emulator: what MSAL for Python asks of login.microsoftonline.com,
served under /microsoft with Microsoft's own paths, so an MSAL application works with its authority
pointed at `<sandbox>/microsoft/<tenant>`:

    instance discovery  GET  /common/discovery/instance?api-version=1.1&authorization_endpoint=...
    OpenID config       GET  /{tenant}/v2.0/.well-known/openid-configuration
    authorize           GET  /{tenant}/oauth2/v2.0/authorize   (code; PKCE; state; nonce; response_mode
                                                                query or form_post)
    token               POST /{tenant}/oauth2/v2.0/token       (authorization_code with PKCE,
                                                                refresh_token, client_credentials)
    keys                GET  /{tenant}/discovery/v2.0/keys     (JWKS; see the rotation control)
    userinfo            GET  /oidc/userinfo                     (graph.microsoft.com/oidc/userinfo)

{tenant} is `common`, `organizations`, `consumers`, a tenant id or a tenant's domain. Built on
Authlib's server classes (offline/sandbox/oauth_server.py). Answers are Microsoft's: the token
answer has token_type, scope, expires_in, ext_expires_in, access_token (a JWT: aud, tid, oid, scp or
roles), refresh_token (with offline_access; rotated on each use), id_token (with openid: iss
`<root>/<tid>/v2.0`, aud, tid, oid, sub, nonce, preferred_username, email, name) and client_info
(base64url {"uid": oid, "utid": tid}, when asked with client_info=1); errors are
{"error", "error_description": "AADSTS...", "error_codes", "timestamp", "trace_id", "correlation_id"}.

MSAL only accepts an https authority: a caller behind a TLS-terminating proxy (or a test's http
client that rewrites https to http) sends `X-Forwarded-Proto: https`, and every URL the emulator
answers (discovery, issuer) then starts with https:// (see docs/local-stack.md). Before it reads its
token cache MSAL also asks https://login.microsoftonline.com/common/discovery/instance for the host's
aliases, whatever the authority: that proxy sends login.microsoftonline.com to /microsoft as well.

Controls (under /_sandbox/microsoft):
    POST /accounts {"email", "name"?, "tid"?, "oid"?}   an account the picker offers (tid: the local
                                                        tenant unless given; oid: made up unless given)
    GET  /accounts
    GET  /authorizations                                authorization requests waiting for the user
    POST /consent {"requestId" | "state", "email"?, "decision": "allow" | "deny"}
                                                        the user picks an account and consents or
                                                        refuses; JSON answers the redirect URL, the
                                                        page's form gets the 302 itself
    POST /keys/rotate      a new signing key; the previous kid stays published
    POST /keys/retire      only the signing key stays published
    POST /id-tokens/forge {"count", "aud"?, "iss"?, "nonce"?, "tid"?, "expired"?, "alg"?: "none" |
                           "HS256", "unpublishedKey"?}   the next id_tokens are hostile
                           (oauth_server.Forgeries)
    POST /clients {"clientId", "clientSecret"?, "redirectUris": [...], "name"?, "roles"?: [...]}
                           register an app (no secret: a public client, PKCE only)
    POST /tokens/expire {"oid"?}                        access tokens expire now
    POST /faults {"status"?, "error"?, "count": 1, "pathPrefix": "", "delayMs"?}
                           the next matching calls answer 5xx, an OAuth error (on authorize: a
                           redirect with error=...&state=...), or slowly (oauth_server.Faults)
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidScopeError, OAuth2Error
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant, RefreshTokenGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode

from offline.http import Response
from offline.sandbox.base import Abort, Emulator, SandboxContext, SandboxRequest, control, route
from offline.sandbox.oauth_server import (
    Client,
    Faults,
    Forgeries,
    KeyRing,
    SandboxAuthorizationServer,
    StoredCodeGrant,
    consent_page,
    form_post_page,
    page,
    public_root,
)

LOCAL_TENANT_ID = "5f1c7d2e-8a43-4b6e-9d0a-3c2b1e4f5a67"
LOCAL_TENANT_DOMAIN = "school.example"
LOCAL_CLIENT_ID = "0b7a3c1e-4d5f-4a6b-8c9d-1e2f3a4b5c6d"
LOCAL_CLIENT_SECRET = "local-microsoft-secret"  # noqa: S105 (a fixed local credential, not a secret)
DEFAULT_ACCOUNT = {
    "email": "teacher@school.example",
    "name": "Local Teacher",
    "oid": "8f0e3b5a-6c1d-4e2f-9a7b-2d4c6e8f0a1b",
}
GRAPH = "https://graph.microsoft.com"
ACCESS_TOKEN_SECONDS = 3599
REFRESH_TOKEN_SECONDS = 90 * 86400
_MICROSOFT_HOSTS = ("login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net")
_OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}
_AUTHORITIES = ("common", "organizations", "consumers")
_AADSTS = {
    "invalid_grant": (70008, "The provided authorization code or refresh token has expired due to inactivity."),
    "invalid_client": (7000215, "Invalid client secret provided."),
    "invalid_request": (900144, "The request body must contain the following parameter."),
    "invalid_scope": (1002012, "The provided value for scope is not valid."),
    "unauthorized_client": (700016, "Application was not found in the directory."),
    "unsupported_grant_type": (70003, "The app requested an unsupported grant type."),
    "access_denied": (65004, "User declined to consent to access the app."),
    "login_required": (50058, "A silent sign-in request was sent but no user is signed in."),
}


def local_client_config(sandbox_url: str, tenant: str = LOCAL_TENANT_ID) -> dict[str, str]:
    """A local Microsoft Entra app and the sandbox authority: what a local secret of the service can
    hold (MSAL: ConfidentialClientApplication(clientId, clientSecret, authority=authority))."""
    root = f"{sandbox_url}/microsoft"
    return {
        "clientId": LOCAL_CLIENT_ID,
        "clientSecret": LOCAL_CLIENT_SECRET,
        "tenantId": tenant,
        "authority": f"{root}/{tenant}",
        "instanceDiscoveryUrl": f"{root}/common/discovery/instance",
        "openidConfigurationUrl": f"{root}/{tenant}/v2.0/.well-known/openid-configuration",
        "jwksUrl": f"{root}/{tenant}/discovery/v2.0/keys",
        "graphScope": f"{GRAPH}/.default",
    }


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def ms_error(status: int, error: str, description: str = "") -> Response:
    code, text = _AADSTS.get(error, (90000, description or error))
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {description or text} Trace ID: {uuid.uuid4()}",
        "error_codes": [code],
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "trace_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
    }
    return Response.json(status, body)


@dataclass
class _Refresh:
    token: str
    client_id: str
    scope: str
    account: dict[str, Any]
    expires: float
    revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return client.get_client_id() == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return self.expires < time.time()

    def is_revoked(self) -> bool:
        return self.revoked


class _OpenIDCode(OpenIDCode):
    """OpenID Connect on the code grant: nonce checked by Authlib, the id_token signed by the emulator."""

    def __init__(self, emulator: Microsoft) -> None:
        super().__init__(require_nonce=False)
        self.emulator = emulator

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return False  # a nonce is the client's; each authorization may carry a new one

    def encode_id_token(self, token: dict[str, Any], request: OAuth2Request) -> str:
        code = request.authorization_code
        return self.emulator.id_token(request.client, request.user, code.nonce if code else None)


class _CodeGrant(StoredCodeGrant):
    pass


class _RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # Microsoft answers a new refresh token each time

    def authenticate_refresh_token(self, refresh_token: str) -> _Refresh | None:
        record = self.server.refresh_tokens.get(refresh_token)
        if record is None or record.revoked or record.is_expired():
            return None
        return record

    def authenticate_user(self, refresh_token: _Refresh) -> dict[str, Any]:
        return refresh_token.account

    def revoke_old_credential(self, refresh_token: _Refresh) -> None:
        refresh_token.revoked = True


class _AppGrant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self) -> None:
        super().validate_token_request()
        scopes = (self.request.payload.scope or "").split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise InvalidScopeError("The scope must be a resource's /.default scope (AADSTS1002012).")


class Microsoft(Emulator):
    prefix = "microsoft"
    title = "Microsoft identity platform v2.0 (login.microsoftonline.com)"

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self.keys = KeyRing("ms")
        self.forgeries = Forgeries()
        self.faults = Faults(("/oauth2/v2.0/authorize",))
        self._root = ""
        self.server = self._make_server()

    def _make_server(self) -> SandboxAuthorizationServer:
        server = SandboxAuthorizationServer(lambda: f"{self.ctx.base_url}/microsoft", self._client, self._save_token)
        server.refresh_tokens = {}  # type: ignore[attr-defined]
        server.register_token_generator("default", self._generate_token)
        server.register_grant(_CodeGrant, [CodeChallenge(required=True), _OpenIDCode(self)])
        server.register_grant(_RefreshGrant)
        server.register_grant(_AppGrant)
        return server

    def reset(self) -> None:
        super().reset()
        self.keys = KeyRing("ms")
        self.forgeries = Forgeries()
        self.faults.clear()
        self.server = self._make_server()

    def error(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> Response:
        if status >= 500:
            return ms_error(status, "temporarily_unavailable", "The service is temporarily unavailable.")
        return ms_error(status, code.lower() if code.islower() else "invalid_request", message)

    # ------------------------------------------------------------------ directory
    def _accounts(self) -> dict[str, dict[str, Any]]:
        accounts = self.store.collection("accounts")
        if not accounts:
            accounts[DEFAULT_ACCOUNT["email"]] = {**DEFAULT_ACCOUNT, "tid": LOCAL_TENANT_ID}
        return accounts

    def _client(self, client_id: str) -> Client | None:
        if client_id == LOCAL_CLIENT_ID:
            return Client(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, [], "Local app", _grants(True))
        data = self.store.collection("clients").get(client_id)
        if data is None:
            for logical_id in ("MicrosoftOAuthSecret", "MicrosoftSecret"):
                secret = self.local_secret(logical_id)
                if secret.get("clientId") == client_id and secret.get("clientSecret"):
                    redirect = [secret["redirectUri"]] if secret.get("redirectUri") else []
                    return Client(client_id, secret["clientSecret"], redirect, "The service", _grants(True))
            return None
        secret = data.get("clientSecret")
        return Client(client_id, secret, data["redirectUris"], data["name"], _grants(secret is not None))

    def _tenant_of(self, tenant: str) -> str | None:
        """The tenant id a path's {tenant} names (the authority keyword itself for common & co)."""
        tenant = tenant.lower()
        if tenant in _AUTHORITIES:
            return tenant
        known = {LOCAL_TENANT_ID: LOCAL_TENANT_ID, LOCAL_TENANT_DOMAIN: LOCAL_TENANT_ID}
        for account in self._accounts().values():
            known[account["tid"]] = account["tid"]
            known[account["email"].split("@")[1]] = account["tid"]
        return known.get(tenant)

    def _tenant(self, request: SandboxRequest) -> str:
        tenant = self._tenant_of(request.params["tenant"])
        if tenant is None:
            name = request.params["tenant"]
            raise Abort(ms_error(400, "invalid_tenant", f"Tenant '{name}' not found."))
        return tenant

    # ------------------------------------------------------------------ faults, before the lock
    def handle(self, handler: Any, request: SandboxRequest) -> Response:
        if not hasattr(handler, "_sandbox_route"):
            return super().handle(handler, request)
        injected = self.faults.answer(
            request, lambda status, error: ms_error(status, error) if error else self.error(status, "", "")
        )
        if injected is not None:
            return injected
        with self.store.lock:  # the root this caller sees (https behind a TLS proxy), for this answer
            self._root = public_root(self.ctx.base_url, request) + "/microsoft"
            return super().handle(handler, request)

    @control("POST", "/faults")
    def add_fault(self, request: SandboxRequest) -> Response:
        return self.faults.add(request.json() or {})

    # ------------------------------------------------------------------ discovery
    @route("GET", "/common/discovery/instance")
    def instance_discovery(self, request: SandboxRequest) -> Response:
        """Microsoft's instance discovery. MSAL asks it twice: to validate the authority
        (authorization_endpoint=<authority>/oauth2/v2.0/authorize, answered with the tenant's discovery
        URL) and, before using its token cache, for the aliases of the host (always of
        https://login.microsoftonline.com/common/oauth2/authorize): the sandbox's host is one of them."""
        endpoint = request.query.get("authorization_endpoint", "")
        parts = urlsplit(endpoint)
        ours = urlsplit(self.ctx.base_url).hostname  # MSAL sends the authority's host without its port
        found = re.fullmatch(r"(?:/microsoft)?/([^/]+)/oauth2(?:/v2\.0)?/authorize", parts.path)
        if parts.hostname not in (ours, *_MICROSOFT_HOSTS) or found is None:
            return Response.json(
                400, {"error": "invalid_instance", "error_description": "AADSTS50049: Unknown or invalid instance."}
            )
        host = urlsplit(self._root).netloc
        aliases = sorted({host, urlsplit(self._root).hostname or host, *_MICROSOFT_HOSTS})
        return Response.json(
            200,
            {
                "tenant_discovery_endpoint": f"{self._root}/{found.group(1)}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": aliases}],
            },
        )

    def issuer(self, tenant: str) -> str:
        return f"{self._root}/{'{tenantid}' if tenant in _AUTHORITIES else tenant}/v2.0"

    @route("GET", "/{tenant}/v2.0/.well-known/openid-configuration")
    def openid_configuration(self, request: SandboxRequest) -> Response:
        tenant = self._tenant(request)
        base = f"{self._root}/{request.params['tenant']}"
        return Response.json(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": self.issuer(tenant),
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": f"{self._root}/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": [
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "nonce",
                    "preferred_username",
                    "name",
                    "tid",
                    "oid",
                    "ver",
                    "email",
                ],
                "code_challenge_methods_supported": ["plain", "S256"],
                "kerberos_endpoint": f"{base}/kerberos",
                "tenant_region_scope": "EU",
                "cloud_instance_name": urlsplit(self._root).netloc,
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            },
        )

    @route("GET", "/{tenant}/discovery/v2.0/keys")
    def jwks(self, request: SandboxRequest) -> Response:
        self._tenant(request)
        return Response.json(200, self.keys.jwks())

    # ------------------------------------------------------------------ authorize
    @route("GET", "/{tenant}/oauth2/v2.0/authorize")
    def authorize(self, request: SandboxRequest) -> Response:
        tenant = self._tenant(request)
        try:
            grant = self.server.get_consent_grant(request)
        except OAuth2Error as error:
            if error.redirect_uri:
                return self.server.handle_error_response(None, error)
            return page(
                400,
                "Sign in to your account",
                f"<h1>Sorry, but we're having trouble signing you in.</h1>"
                f"<p>{error.error}: {error.description or ''}</p>",
            )
        request_id = secrets.token_urlsafe(12)
        self.store.collection("authorizations")[request_id] = {
            "id": request_id,
            "tenant": request.params["tenant"],
            "tenantId": tenant,
            "query": dict(request.query),
            "state": request.query.get("state"),
            "clientId": request.query.get("client_id"),
            "created": time.time(),
        }
        offered = [a for a in self._accounts().values() if tenant in ("common", "organizations") or a["tid"] == tenant]
        return consent_page(
            "Sign in to your account",
            grant.client.name,
            (request.query.get("scope") or "").split(),
            f"{self.ctx.base_url}/_sandbox/microsoft/consent",
            request_id,
            offered,
            request.query.get("login_hint"),
        )

    @control("GET", "/authorizations")
    def pending(self, request: SandboxRequest) -> Response:
        return Response.json(200, list(self.store.collection("authorizations").values()))

    @control("POST", "/consent")
    def consent(self, request: SandboxRequest) -> Response:
        is_form = "form" in request.headers.get("content-type", "")
        body = request.form() if is_form else (request.json() or {})
        waiting = self.store.collection("authorizations")
        pending = waiting.get(body.get("requestId", "")) or next(
            (p for p in waiting.values() if body.get("state") and p["state"] == body.get("state")), None
        )
        if pending is None:
            return Response.json(404, {"error": "no pending authorization with that requestId or state"})
        del waiting[pending["id"]]
        user = None
        if str(body.get("decision", "allow")).lower() not in ("deny", "refuse", "cancel"):
            email = (body.get("email") or pending["query"].get("login_hint") or DEFAULT_ACCOUNT["email"]).lower()
            user = self._accounts().get(email)
            if user is None:
                return Response.json(404, {"error": f"no account {email} (POST /_sandbox/microsoft/accounts)"})
            if pending["tenantId"] not in ("common", "organizations") and user["tid"] != pending["tenantId"]:
                return Response.json(400, {"error": f"{email} is not in tenant {pending['tenant']} (AADSTS50020)"})
        replay = SandboxRequest("GET", f"/{pending['tenant']}/oauth2/v2.0/authorize", pending["query"], {}, b"")
        oauth_request = self.server.create_oauth2_request(replay)
        grant = self.server.get_consent_grant(oauth_request, end_user=user)
        answer = self.server.create_authorization_response(oauth_request, grant_user=user, grant=grant)
        location = dict((k.lower(), v) for k, v in answer.headers).get("location", "")
        shown: dict[str, Any] = {"redirect": location, "email": user["email"] if user else None}
        if pending["query"].get("response_mode") == "form_post" and location:
            # The answer goes to the redirect URI as a POSTed form, not in its query (what MSAL recommends).
            action, _, query = location.partition("?")
            fields = dict(parse_qsl(query, keep_blank_values=True))
            if is_form:
                return form_post_page(action, fields)
            return Response.json(200, {**shown, "formPost": {"action": action, "fields": fields}})
        return answer if is_form else Response.json(200, shown)

    # ------------------------------------------------------------------ token
    @route("POST", "/{tenant}/oauth2/v2.0/token")
    def token(self, request: SandboxRequest) -> Response:
        self._tenant(request)
        answer = self.server.create_token_response(request)
        if answer.status >= 400:
            data = json.loads(answer.body or b"{}")
            return ms_error(answer.status, data.get("error", "invalid_request"), data.get("error_description", ""))
        return answer

    def _generate_token(
        self,
        grant_type: str,
        client: Client,
        user: dict[str, Any] | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        scopes = (scope or "").split()
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": GRAPH,
            "iss": f"https://sts.windows.net/{(user or {}).get('tid', LOCAL_TENANT_ID)}/",
            "iat": now,
            "nbf": now,
            "exp": now + ACCESS_TOKEN_SECONDS,
            "appid": client.get_client_id(),
            "azp": client.get_client_id(),
            "ver": "1.0",
            "uti": secrets.token_urlsafe(16),
        }
        if user is None:
            app_roles = self.store.collection("clients").get(client.get_client_id(), {}).get("roles", [])
            claims |= {
                "tid": LOCAL_TENANT_ID,
                "oid": _service_principal(client.get_client_id()),
                "idtyp": "app",
                "sub": _service_principal(client.get_client_id()),
                "roles": app_roles,
            }
        else:
            delegated = [s for s in scopes if s not in _OIDC_SCOPES] or ["User.Read"]
            claims |= {
                "tid": user["tid"],
                "oid": user["oid"],
                "sub": _pairwise(user, client),
                "idtyp": "user",
                "scp": " ".join(s.rsplit("/", 1)[-1] for s in delegated),
                "upn": user["email"],
                "name": user.get("name", ""),
            }
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(s for s in scopes if s != "offline_access") or scope or "",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "ext_expires_in": ACCESS_TOKEN_SECONDS,
            "access_token": self.keys.sign(claims),
        }
        if user is not None and include_refresh_token and "offline_access" in scopes:
            token["refresh_token"] = "0.A" + secrets.token_urlsafe(64)
        return token

    def _save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        user, client = request.user, request.client
        granted = (
            request.authorization_code.scope
            if request.authorization_code
            else (request.refresh_token.scope if request.refresh_token else request.payload.scope or "")
        )
        self.store.collection("access_tokens")[token["access_token"]] = {
            "clientId": client.get_client_id(),
            "oid": user["oid"] if user else None,
            "email": user["email"] if user else None,
            "scope": granted,
            "expires": time.time() + ACCESS_TOKEN_SECONDS,
        }
        if token.get("refresh_token"):
            self.server.refresh_tokens[token["refresh_token"]] = _Refresh(
                token["refresh_token"], client.get_client_id(), granted, user, time.time() + REFRESH_TOKEN_SECONDS
            )
        if user is not None and request.payload.data.get("client_info") == "1":
            token["client_info"] = _b64({"uid": user["oid"], "utid": user["tid"]})
        if user is not None and request.payload.grant_type == "refresh_token" and "openid" in granted.split():
            token["id_token"] = self.id_token(client, user, None)

    def id_token(self, client: Client, user: dict[str, Any], nonce: str | None) -> str:
        now = int(time.time())
        claims = {
            "ver": "2.0",
            "iss": f"{self._root}/{user['tid']}/v2.0",
            "sub": _pairwise(user, client),
            "aud": client.get_client_id(),
            "exp": now + 3600,
            "iat": now,
            "nbf": now,
            "name": user.get("name", ""),
            "preferred_username": user["email"],
            "email": user["email"],
            "oid": user["oid"],
            "tid": user["tid"],
            "aio": secrets.token_urlsafe(24),
        }
        if nonce:
            claims["nonce"] = nonce
        return self.forgeries.apply(self.keys.sign(claims), self.keys)

    # ------------------------------------------------------------------ userinfo
    @route("GET", "/oidc/userinfo")
    def userinfo(self, request: SandboxRequest) -> Response:
        record = self.store.collection("access_tokens").get(request.bearer() or "")
        if record is None or record["expires"] <= time.time() or record["oid"] is None:
            return Response.json(
                401, {"error": {"code": "InvalidAuthenticationToken", "message": "Access token validation failure."}}
            )
        user = next(a for a in self._accounts().values() if a["oid"] == record["oid"])
        client = self._client(record["clientId"])
        return Response.json(
            200,
            {
                "sub": _pairwise(user, client),
                "name": user.get("name", ""),
                "email": user["email"],
                "family_name": user.get("name", " ").split()[-1],
                "given_name": user.get("name", " ").split()[0],
            },
        )

    # ------------------------------------------------------------------ controls
    @control("POST", "/accounts")
    def add_account(self, request: SandboxRequest) -> Response:
        body = request.json() or {}
        email = str(body.get("email", "")).strip().lower()
        if "@" not in email:
            return Response.json(400, {"error": "email is required"})
        account = {
            "email": email,
            "name": body.get("name") or email.split("@")[0].title(),
            "tid": body.get("tid") or LOCAL_TENANT_ID,
            "oid": body.get("oid") or str(uuid.uuid4()),
        }
        self._accounts()[email] = account
        return Response.json(201, account)

    @control("GET", "/accounts")
    def list_accounts(self, request: SandboxRequest) -> Response:
        return Response.json(200, list(self._accounts().values()))

    @control("POST", "/keys/rotate")
    def rotate_keys(self, request: SandboxRequest) -> Response:
        return Response.json(200, self.keys.rotate())

    @control("POST", "/keys/retire")
    def retire_keys(self, request: SandboxRequest) -> Response:
        return Response.json(200, self.keys.retire())

    @control("POST", "/id-tokens/forge")
    def forge_id_tokens(self, request: SandboxRequest) -> Response:
        return self.forgeries.add(request.json() or {})

    @control("POST", "/clients")
    def register_client(self, request: SandboxRequest) -> Response:
        body = request.json() or {}
        if not body.get("clientId"):
            return Response.json(400, {"error": "clientId is required"})
        self.store.collection("clients")[body["clientId"]] = {
            "clientSecret": body.get("clientSecret"),
            "redirectUris": list(body.get("redirectUris") or []),
            "name": body.get("name", body["clientId"]),
            "roles": list(body.get("roles") or []),
        }
        return Response.json(201, {"clientId": body["clientId"], "public": not body.get("clientSecret")})

    @control("POST", "/tokens/expire")
    def expire_tokens(self, request: SandboxRequest) -> Response:
        body = request.json() or {}
        expired = 0
        for record in self.store.collection("access_tokens").values():
            if body.get("oid") in (None, record["oid"]):
                record["expires"] = time.time() - 1
                expired += 1
        return Response.json(200, {"expired": expired})


def _grants(confidential: bool) -> tuple[str, ...]:
    return ("authorization_code", "refresh_token") + (("client_credentials",) if confidential else ())


def _pairwise(user: dict[str, Any], client: Client | None) -> str:
    """Microsoft's `sub`: pairwise, the same user differs per app (the `oid` does not)."""
    seed = f"{user['oid']}:{client.get_client_id() if client else ''}".encode()
    return base64.urlsafe_b64encode(uuid.uuid5(uuid.NAMESPACE_URL, seed.decode()).bytes * 2).rstrip(b"=").decode()[:43]


def _service_principal(client_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp:{client_id}"))


EMULATOR = Microsoft
