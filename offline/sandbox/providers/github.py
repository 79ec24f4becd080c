"""GitHub OAuth app emulator: the web application flow and the few REST API calls sign-in needs,
served under /github with GitHub's paths (the REST API below /api/v3, as GitHub Enterprise Server
serves it, so an adapter only swaps its two base URLs):

    GET    /login/oauth/authorize           the authorization page (client_id, redirect_uri, scope,
                                            state, login, code_challenge + S256)
    POST   /login/oauth/access_token        form or JSON body; answers form-encoded, or JSON with
                                            Accept: application/json; errors are HTTP 200 with
                                            {"error": "bad_verification_code" | "incorrect_client_credentials"
                                            | "redirect_uri_mismatch", "error_description", "error_uri"}
    GET    /api/v3/user                     the account (Authorization: Bearer or token)
    GET    /api/v3/user/emails              its emails with primary / verified flags (scope user:email or user)
    DELETE /api/v3/applications/{client_id}/grant   {"access_token"}, Basic client_id:client_secret:
                                            the user's authorization of the app is gone, every
                                            token of it stops working (204)
    DELETE /api/v3/applications/{client_id}/token   {"access_token"}: only that token stops working

The authorization and token endpoints are Authlib's (offline/sandbox/oauth_server.py); OAuth app
tokens do not expire and there is no refresh grant (as with GitHub OAuth apps that have not opted in
to expiring user tokens).

Controls (under /_sandbox/github):
    POST /accounts {"login", "name"?, "id"?, "emails": [{"email", "primary", "verified", "visibility"?}]}
    GET  /accounts
    GET  /authorizations                   authorization requests waiting for the user
    POST /consent {"requestId" | "state", "login"?, "decision": "allow" | "deny"}
                                           the user authorizes (redirect with code & state) or
                                           cancels (error=access_denied); JSON answers the redirect,
                                           the page's form gets the 302 itself
    POST /clients {"clientId", "clientSecret", "redirectUris": [...], "name"?}
    POST /faults {"status"?, "error"?, "count": 1, "pathPrefix": "", "delayMs"?}
                                           5xx, an error (on authorize: a redirect with
                                           error=...&state=...), or a slow answer (oauth_server.Faults)
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc7636 import CodeChallenge

from offline.http import Response
from offline.sandbox.base import Emulator, SandboxContext, SandboxRequest, control, route
from offline.sandbox.oauth_server import (
    Client,
    Faults,
    SandboxAuthorizationServer,
    StoredCodeGrant,
    consent_page,
    page,
    with_query,
)

LOCAL_CLIENT_ID = "Iv1.local0github0app"
LOCAL_CLIENT_SECRET = "local-github-secret"  # noqa: S105 (a fixed local credential, not a secret)
CLIENT_SECRET_IDS = ("GitHubOAuthSecret", "GitHubSecret")
DEFAULT_ACCOUNT = {
    "login": "octo-student",
    "id": 1001,
    "name": "Octo Student",
    "emails": [{"email": "octo-student@example.com", "primary": True, "verified": True, "visibility": "private"}],
}
_DOCS = "https://docs.github.com/rest"
_ERROR_URI = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"


def local_client_config(sandbox_url: str) -> dict[str, str]:
    """A local GitHub OAuth app and GitHub's endpoints in the sandbox: what a local secret of the
    service can hold (register it in offline/secrets.py under one of CLIENT_SECRET_IDS)."""
    github = f"{sandbox_url}/github"
    return {
        "clientId": LOCAL_CLIENT_ID,
        "clientSecret": LOCAL_CLIENT_SECRET,
        "authUrl": f"{github}/login/oauth/authorize",
        "tokenUrl": f"{github}/login/oauth/access_token",
        "apiBaseUrl": f"{github}/api/v3",
    }


def _api_error(status: int, message: str) -> Response:
    return Response.json(status, {"message": message, "documentation_url": _DOCS, "status": str(status)})


class _CodeGrant(StoredCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post", "client_secret_basic"]


class _S256Only(CodeChallenge):
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]


class GitHub(Emulator):
    prefix = "github"
    title = "GitHub OAuth apps and REST API (user, emails, grants)"

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self.faults = Faults(("/login/oauth/authorize",))
        self.server = self._make_server()

    def _make_server(self) -> SandboxAuthorizationServer:
        server = SandboxAuthorizationServer(lambda: f"{self.ctx.base_url}/github", self._client, self._save_token)
        server.register_token_generator("default", self._generate_token)
        server.register_grant(_CodeGrant, [_S256Only(required=False)])
        return server

    def reset(self) -> None:
        super().reset()
        self.faults.clear()
        self.server = self._make_server()

    def error(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> Response:
        return _api_error(status, "Server Error" if status >= 500 else message)

    # ------------------------------------------------------------------ faults, before the lock
    def handle(self, handler: Any, request: SandboxRequest) -> Response:
        if hasattr(handler, "_sandbox_route"):
            injected = self.faults.answer(request, self._fault_answer)
            if injected is not None:
                return injected
        return super().handle(handler, request)

    def _fault_answer(self, status: int, error: str) -> Response:
        if error:  # GitHub's token endpoint answers its errors with HTTP 200
            return Response.json(200, {"error": error, "error_description": "Injected by the sandbox"})
        return self.error(status, "", "Injected by the sandbox")

    @control("POST", "/faults")
    def add_fault(self, request: SandboxRequest) -> Response:
        return self.faults.add(request.json() or {})

    # ------------------------------------------------------------------ accounts and clients
    def _accounts(self) -> dict[str, dict[str, Any]]:
        accounts = self.store.collection("accounts")
        if not accounts:
            accounts[DEFAULT_ACCOUNT["login"]] = json.loads(json.dumps(DEFAULT_ACCOUNT))
        return accounts

    def _client(self, client_id: str) -> Client | None:
        if client_id == LOCAL_CLIENT_ID:
            return Client(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, [], "Local app", ("authorization_code",))
        data = self.store.collection("clients").get(client_id)
        if data is not None:
            return Client(client_id, data["clientSecret"], data["redirectUris"], data["name"], ("authorization_code",))
        for logical_id in CLIENT_SECRET_IDS:
            secret = self.local_secret(logical_id)
            if secret.get("clientId") == client_id and secret.get("clientSecret"):
                redirect = [secret["redirectUri"]] if secret.get("redirectUri") else []
                return Client(client_id, secret["clientSecret"], redirect, "The service", ("authorization_code",))
        return None

    # ------------------------------------------------------------------ authorize
    @staticmethod
    def _oauth_query(query: dict[str, str]) -> dict[str, str]:
        # GitHub's authorize takes no response_type (it is always a code) and scopes by space or comma.
        shaped = {**query, "response_type": "code"}
        if "scope" in shaped:
            shaped["scope"] = " ".join(s for s in shaped["scope"].replace(",", " ").split() if s)
        return shaped

    @route("GET", "/login/oauth/authorize")
    def authorize(self, request: SandboxRequest) -> Response:
        request.query = self._oauth_query(request.query)
        try:
            grant = self.server.get_consent_grant(request)
        except OAuth2Error as error:
            if error.redirect_uri:
                return self.server.handle_error_response(None, error)
            if "redirect" in (error.description or "").lower():
                why = "The redirect_uri MUST match the registered callback URL for this application."
                return page(400, "Redirect URI mismatch", f"<h1>Be careful!</h1><p>{why}</p>")
            return page(404, "Not Found", f"<h1>Not Found</h1><p>{error.error}: {error.description or ''}</p>")
        request_id = secrets.token_urlsafe(12)
        self.store.collection("authorizations")[request_id] = {
            "id": request_id,
            "query": request.query,
            "state": request.query.get("state"),
            "clientId": request.query.get("client_id"),
            "created": time.time(),
        }
        accounts = [{"email": a["login"], "name": a.get("name") or a["login"]} for a in self._accounts().values()]
        return consent_page(
            f"Authorize {grant.client.name}",
            grant.client.name,
            (request.query.get("scope") or "(no scope: public information only)").split(),
            f"{self.ctx.base_url}/_sandbox/github/consent",
            request_id,
            accounts,
            request.query.get("login"),
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
            login = body.get("login") or body.get("email") or pending["query"].get("login") or DEFAULT_ACCOUNT["login"]
            user = self._accounts().get(login)
            if user is None:
                return Response.json(404, {"error": f"no account {login} (POST /_sandbox/github/accounts)"})
        replay = SandboxRequest("GET", "/login/oauth/authorize", pending["query"], {}, b"")
        oauth_request = self.server.create_oauth2_request(replay)
        grant = self.server.get_consent_grant(oauth_request, end_user=user)
        answer = self.server.create_authorization_response(oauth_request, grant_user=user, grant=grant)
        if user is None:  # GitHub's refusal says why and where to read about it
            query = {"error": "access_denied", **({"state": pending["state"]} if pending["state"] else {})}
            query |= {
                "error_description": "The user has denied your application access.",
                "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied",
            }
            redirect = pending["query"].get("redirect_uri") or grant.client.get_default_redirect_uri() or ""
            answer = Response(302, [("Location", with_query(redirect, query))])
        location = dict((k.lower(), v) for k, v in answer.headers).get("location", "")
        if is_form:
            return answer
        return Response.json(200, {"redirect": location, "login": user["login"] if user else None})

    # ------------------------------------------------------------------ access_token
    @route("POST", "/login/oauth/access_token")
    def access_token(self, request: SandboxRequest) -> Response:
        # GitHub's token endpoint takes no grant_type: it is always the code grant.
        oauth_request = self.server.create_oauth2_request(request).with_defaults(grant_type="authorization_code")
        answer = self.server.create_token_response(oauth_request)
        data = json.loads(answer.body or b"{}")
        if answer.status >= 400:
            data = self._github_error(data)
        wants_json = "json" in request.headers.get("accept", "")
        if wants_json:
            return Response.json(200, data)
        return Response(
            200, [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")], urlencode(data).encode()
        )

    @staticmethod
    def _github_error(data: dict[str, Any]) -> dict[str, str]:
        error, description = data.get("error", ""), data.get("error_description", "")
        if error == "invalid_client":
            code, text = "incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect."
        elif "redirect_uri" in description:
            code, text = (
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
            )
        elif "code_verifier" in description or "challenge" in description.lower():
            code, text = "bad_verification_code", f"The code passed is incorrect or expired. ({description})"
        else:
            code, text = "bad_verification_code", "The code passed is incorrect or expired."
        return {"error": code, "error_description": text, "error_uri": f"{_ERROR_URI}/#{code.replace('_', '-')}"}

    def _generate_token(
        self,
        grant_type: str,
        client: Client,
        user: dict[str, Any] | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        return {
            "access_token": "gho_" + secrets.token_hex(18),
            "token_type": "bearer",
            "scope": ",".join((scope or "").split()),
        }

    def _save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        self.store.collection("tokens")[token["access_token"]] = {
            "login": request.user["login"],
            "clientId": request.client.get_client_id(),
            "scopes": token["scope"].split(",") if token["scope"] else [],
            "revoked": False,
        }

    # ------------------------------------------------------------------ REST API
    def _token_record(self, request: SandboxRequest) -> dict[str, Any] | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            return None
        record = self.store.collection("tokens").get(value.strip())
        return None if record is None or record["revoked"] else record

    def _scoped(self, status: int, body: Any, record: dict[str, Any], accepted: str) -> Response:
        return Response.json(
            status, body, [("X-OAuth-Scopes", ", ".join(record["scopes"])), ("X-Accepted-OAuth-Scopes", accepted)]
        )

    @route("GET", "/api/v3/user")
    def user(self, request: SandboxRequest) -> Response:
        record = self._token_record(request)
        if record is None:
            return _api_error(401, "Bad credentials")
        account = self._accounts()[record["login"]]
        public = next((e["email"] for e in account["emails"] if e.get("visibility") == "public"), None)
        body = {
            "login": account["login"],
            "id": account["id"],
            "node_id": f"U_{account['id']}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{account['id']}?v=4",
            "html_url": f"https://github.com/{account['login']}",
            "type": "User",
            "site_admin": False,
            "name": account.get("name"),
            "email": public,
            "created_at": "2020-01-01T00:00:00Z",
        }
        return self._scoped(200, body, record, "")

    @route("GET", "/api/v3/user/emails")
    def emails(self, request: SandboxRequest) -> Response:
        record = self._token_record(request)
        if record is None:
            return _api_error(401, "Bad credentials")
        if not {"user", "user:email"} & set(record["scopes"]):
            return self._scoped(
                404, {"message": "Not Found", "documentation_url": _DOCS, "status": "404"}, record, "user, user:email"
            )
        account = self._accounts()[record["login"]]
        shown = [
            {
                "email": e["email"],
                "primary": bool(e.get("primary")),
                "verified": bool(e.get("verified")),
                "visibility": e.get("visibility") if e.get("primary") else None,
            }
            for e in account["emails"]
        ]
        return self._scoped(200, shown, record, "user, user:email")

    def _app_auth(self, request: SandboxRequest) -> Client | None:
        basic = request.basic_auth()
        client = self._client(request.params["client_id"])
        if basic is None or client is None or basic[0] != client.client_id or not client.check_client_secret(basic[1]):
            return None
        return client

    @route("DELETE", "/api/v3/applications/{client_id}/grant")
    def delete_grant(self, request: SandboxRequest) -> Response:
        return self._delete(request, whole_grant=True)

    @route("DELETE", "/api/v3/applications/{client_id}/token")
    def delete_token(self, request: SandboxRequest) -> Response:
        return self._delete(request, whole_grant=False)

    def _delete(self, request: SandboxRequest, whole_grant: bool) -> Response:
        if self._app_auth(request) is None:
            return _api_error(404, "Not Found")
        token = str((request.json() or {}).get("access_token", "")) if request.body else ""
        tokens = self.store.collection("tokens")
        record = tokens.get(token)
        if record is None or record["revoked"] or record["clientId"] != request.params["client_id"]:
            return Response.json(
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "OauthAccess", "field": "access_token", "code": "invalid"}],
                    "documentation_url": _DOCS,
                },
            )
        for other in tokens.values():
            same = other is record or (other["login"] == record["login"] and other["clientId"] == record["clientId"])
            if same and (whole_grant or other is record):
                other["revoked"] = True
        return Response(204)

    # ------------------------------------------------------------------ controls
    @control("POST", "/accounts")
    def add_account(self, request: SandboxRequest) -> Response:
        body = request.json() or {}
        login = str(body.get("login", "")).strip()
        if not login:
            return Response.json(400, {"error": "login is required"})
        emails = [
            {
                "email": str(e["email"]).lower(),
                "primary": bool(e.get("primary")),
                "verified": bool(e.get("verified")),
                "visibility": e.get("visibility", "private"),
            }
            for e in body.get("emails") or []
        ]
        if sum(e["primary"] for e in emails) > 1:
            return Response.json(400, {"error": "at most one email is primary"})
        accounts = self._accounts()
        account = {
            "login": login,
            "id": int(body.get("id") or 1000 + len(accounts) + 1),
            "name": body.get("name"),
            "emails": emails,
        }
        accounts[login] = account
        return Response.json(201, account)

    @control("GET", "/accounts")
    def list_accounts(self, request: SandboxRequest) -> Response:
        return Response.json(200, list(self._accounts().values()))

    @control("POST", "/clients")
    def register_client(self, request: SandboxRequest) -> Response:
        body = request.json() or {}
        if not body.get("clientId") or not body.get("clientSecret"):
            return Response.json(400, {"error": "clientId and clientSecret are required"})
        self.store.collection("clients")[body["clientId"]] = {
            "clientSecret": body["clientSecret"],
            "redirectUris": list(body.get("redirectUris") or []),
            "name": body.get("name", body["clientId"]),
        }
        return Response.json(201, {"clientId": body["clientId"]})


EMULATOR = GitHub
