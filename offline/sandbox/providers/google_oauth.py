"""Google's OAuth 2.0 web-server flow, as the `google` emulator serves it (see google.py).

Endpoints (below /google, as at Google):
    GET  /o/oauth2/v2/auth     the authorization page (accounts.google.com): client, scopes, account,
                               a form to allow or cancel (or the consent control below)
    POST /token                authorization_code (client secret, redirect_uri, PKCE S256/plain
                               checked; a code is single use, 10 minutes) and refresh_token grants
    POST /revoke?token=...     revokes the whole grant of an access or refresh token
    GET  /oauth2/v3/userinfo   the account (www.googleapis.com); GET /v1/userinfo (openidconnect)
    GET  /.well-known/openid-configuration   OpenID Connect discovery (accounts.google.com); the
                               issuer is <sandbox>/google, where Google's is https://accounts.google.com
    GET  /oauth2/v3/certs      the JWKS (www.googleapis.com): the signing key and, after a rotation,
                               the previous one until it is retired

OpenID Connect: with `openid` in the scope the token answer also has an `id_token` (RS256, signed
with Authlib's OpenID Connect helper, `kid` of the JWKS): iss, azp and aud (the client id), sub,
at_hash, iat, exp, `nonce` echoed from the authorization request; email and email_verified with the
`email` scope; name, given_name, family_name and picture with `profile`. A refresh answers a new
id_token too (without nonce), as Google does.

Answers are Google's: {"access_token", "expires_in", "scope", "token_type": "Bearer",
"refresh_token"} where a refresh token comes only on the first consent with access_type=offline,
or on any consent with prompt=consent; errors {"error": "invalid_grant", "error_description"} 400.

Controls (under /_sandbox/google):
    GET  /authorizations                     authorization requests waiting for the user
    POST /consent {"requestId" | "state", "email", "decision": "allow" | "deny"}
                                             the user allows (redirect with code & state) or refuses
                                             (error=access_denied); JSON answers the redirect URL,
                                             the page's form gets the 302 itself
    POST /tokens/expire {"email"?, "accessToken"?}   access tokens expire now (all when no filter)
    POST /grants/revoke {"email", "clientId"?}       the user removes the app at Google: refresh
                                                     -> invalid_grant, access tokens -> 401
    POST /oauth/settings {"accessTokenSeconds"}      lifetime of new access tokens (3599)
    POST /clients {"clientId", "clientSecret", "redirectUris": [...], "name"}   register a client
    POST /accounts {"email", "emailVerified"?: true, "name"?, "picture"?, "sub"?, "timeZone"?}
                                             an account the authorization page offers (see google.py)
    POST /keys/rotate                        a new signing key; the previous kid stays in the JWKS
    POST /keys/retire                        only the signing key stays in the JWKS
    POST /id-tokens/forge {"count", "aud"?, "iss"?, "nonce"?, "expired"?, "alg"?: "none" | "HS256",
                           "unpublishedKey"?}  the next id_tokens are hostile (oauth_server.Forgeries)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from authlib.oidc.core.grants.util import generate_id_token

from offline.http import Response
from offline.sandbox.base import Abort, Emulator, SandboxContext, SandboxRequest, control, route
from offline.sandbox.oauth_server import Forgeries, KeyRing

LOCAL_CLIENT_ID = "local-google-client.apps.googleusercontent.com"
LOCAL_CLIENT_SECRET = "local-google-secret"  # noqa: S105 (a fixed local credential, not a secret)
# Local secrets of the service that may hold a Google OAuth client ({"clientId", "clientSecret"}).
CLIENT_SECRET_IDS = ("GoogleCalendarSecret", "GoogleOAuthSecret", "GoogleSecret", "GoogleSignInSecret")
DEFAULT_ACCOUNT = "student@example.com"
CODE_SECONDS = 600
ACCESS_TOKEN_SECONDS = 3599
_IDENTITY_SCOPES = {"openid", "email", "profile", "https://www.googleapis.com/auth/userinfo.email"}
_EMAIL_SCOPES = {"email", "https://www.googleapis.com/auth/userinfo.email"}
_PROFILE_SCOPES = {"profile", "https://www.googleapis.com/auth/userinfo.profile"}
ID_TOKEN_SECONDS = 3600


def local_client_config(sandbox_url: str) -> dict[str, str]:
    """A local Google OAuth client and Google's endpoints in the sandbox: the value a local secret of
    the service can hold (register it in offline/secrets.py under one of CLIENT_SECRET_IDS)."""
    google = f"{sandbox_url}/google"
    return {
        "clientId": LOCAL_CLIENT_ID,
        "clientSecret": LOCAL_CLIENT_SECRET,
        "authUrl": f"{google}/o/oauth2/v2/auth",
        "tokenUrl": f"{google}/token",
        "revokeUrl": f"{google}/revoke",
        "userinfoUrl": f"{google}/oauth2/v3/userinfo",
        "calendarBaseUrl": f"{google}/calendar/v3",
        "issuer": f"{google}",
        "openidConfigurationUrl": f"{google}/.well-known/openid-configuration",
        "jwksUrl": f"{google}/oauth2/v3/certs",
    }


def _oauth_error(status: int, error: str, description: str) -> Response:
    return Response.json(status, {"error": error, "error_description": description})


def _page(status: int, title: str, body: str) -> Response:
    head = f"<head><meta charset='utf-8'><title>{title}</title></head>"
    document = f"<!doctype html><html>{head}<body>{body}</body></html>"
    return Response(status, [("Content-Type", "text/html; charset=utf-8")], document.encode())


def _error_page(status: int, error: str, description: str) -> Response:
    return _page(
        status,
        "Access blocked",
        f"<h1>Access blocked: authorization error</h1><p>{html.escape(description)}</p>"
        f"<p>Error {status}: {html.escape(error)}</p>",
    )


def _with_query(url: str, values: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(values.items())
    return parts._replace(query=urlencode(query)).geturl()


def _subject(email: str) -> str:
    """A stable numeric account id ("sub"), as Google's are."""
    return str(int(hashlib.sha256(email.lower().encode()).hexdigest()[:16], 16))


class GoogleOAuth(Emulator):
    """The OAuth half of the Google emulator (a mixin of google.Google)."""

    access_token_seconds = ACCESS_TOKEN_SECONDS

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self.keys = KeyRing("g")
        self.forgeries = Forgeries()

    def reset(self) -> None:
        super().reset()
        self.access_token_seconds = ACCESS_TOKEN_SECONDS
        self.keys = KeyRing("g")
        self.forgeries = Forgeries()

    # ------------------------------------------------------------------ accounts
    def identity(self, email: str) -> dict[str, Any]:
        """The account `email` as OpenID Connect shows it (an account not added answers as verified)."""
        account = self.store.collection("accounts").get(email.lower(), {})
        name = account.get("name") or email.split("@")[0].replace(".", " ").title()
        return {
            "sub": account.get("sub") or _subject(email),
            "email": email.lower(),
            "email_verified": bool(account.get("emailVerified", True)),
            "name": name,
            "given_name": name.split()[0],
            "family_name": name.split()[-1] if len(name.split()) > 1 else "",
            "picture": account.get("picture") or f"https://lh3.googleusercontent.com/a/{_subject(email)}=s96-c",
        }

    def _id_token(self, grant: dict[str, Any], access_token: str, nonce: str | None) -> str:
        identity = self.identity(grant["email"])
        scopes = set(grant["scopes"])
        claims = {"sub": identity["sub"], "azp": grant["clientId"]}
        if scopes & _EMAIL_SCOPES:
            claims |= {"email": identity["email"], "email_verified": identity["email_verified"]}
        if scopes & _PROFILE_SCOPES:
            claims |= {k: identity[k] for k in ("name", "given_name", "family_name", "picture") if identity[k]}
        token = generate_id_token(
            {"access_token": access_token},
            claims,
            self.keys.current,
            iss=self.issuer,
            aud=grant["clientId"],
            exp=ID_TOKEN_SECONDS,
            nonce=nonce,
            kid=self.keys.current.kid,
        )
        return self.forgeries.apply(token, self.keys)

    @property
    def issuer(self) -> str:
        return f"{self.ctx.base_url}/google"

    # ------------------------------------------------------------------ OpenID Connect discovery
    @route("GET", "/.well-known/openid-configuration")
    def openid_configuration(self, request: SandboxRequest) -> Response:
        google = self.issuer
        return Response.json(
            200,
            {
                "issuer": google,
                "authorization_endpoint": f"{google}/o/oauth2/v2/auth",
                "device_authorization_endpoint": f"{google}/device/code",
                "token_endpoint": f"{google}/token",
                "userinfo_endpoint": f"{google}/v1/userinfo",
                "revocation_endpoint": f"{google}/revoke",
                "jwks_uri": f"{google}/oauth2/v3/certs",
                "response_types_supported": ["code", "token", "id_token", "code token", "code id_token", "none"],
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "claims_supported": [
                    "aud",
                    "email",
                    "email_verified",
                    "exp",
                    "family_name",
                    "given_name",
                    "iat",
                    "iss",
                    "name",
                    "picture",
                    "sub",
                ],
                "code_challenge_methods_supported": ["plain", "S256"],
                "grant_types_supported": [
                    "authorization_code",
                    "refresh_token",
                    "urn:ietf:params:oauth:grant-type:device_code",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer",
                ],
            },
        )

    @route("GET", "/oauth2/v3/certs")
    def certs(self, request: SandboxRequest) -> Response:
        return Response.json(200, self.keys.jwks(), [("Cache-Control", "public, max-age=19000, must-revalidate")])

    @control("POST", "/keys/rotate")
    def rotate_keys(self, request: SandboxRequest) -> Response:
        return Response.json(200, self.keys.rotate())

    @control("POST", "/keys/retire")
    def retire_keys(self, request: SandboxRequest) -> Response:
        return Response.json(200, self.keys.retire())

    @control("POST", "/id-tokens/forge")
    def forge_id_tokens(self, request: SandboxRequest) -> Response:
        return self.forgeries.add(request.json() or {})

    # ------------------------------------------------------------------ clients
    def _clients(self) -> dict[str, dict[str, Any]]:
        clients = {LOCAL_CLIENT_ID: {"clientSecret": LOCAL_CLIENT_SECRET, "redirectUris": [], "name": "Local app"}}
        for logical_id in CLIENT_SECRET_IDS:
            data = self.local_secret(logical_id)
            if data.get("clientId") and data.get("clientSecret"):
                clients[data["clientId"]] = {
                    "clientSecret": data["clientSecret"],
                    "redirectUris": [data["redirectUri"]] if data.get("redirectUri") else [],
                    "name": "The service (local secret)",
                }
        clients.update(self.store.collection("clients"))
        return clients

    def _client_auth(self, request: SandboxRequest, form: dict[str, str]) -> tuple[str, dict[str, Any]]:
        basic = request.basic_auth()
        client_id, secret = basic if basic else (form.get("client_id", ""), form.get("client_secret", ""))
        client = self._clients().get(client_id)
        if client is None or not hmac.compare_digest(client["clientSecret"], secret):
            raise Abort(_oauth_error(401, "invalid_client", "Unauthorized"))
        return client_id, client

    # ------------------------------------------------------------------ authorization page
    @route("GET", "/o/oauth2/v2/auth")
    def authorize(self, request: SandboxRequest) -> Response:
        q = request.query
        client = self._clients().get(q.get("client_id", ""))
        if client is None:
            return _error_page(401, "invalid_client", "The OAuth client was not found.")
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri.startswith(("http://", "https://")) or (
            client["redirectUris"] and redirect_uri not in client["redirectUris"]
        ):
            why = "You can't sign in because this app sent an invalid request."
            return _error_page(400, "redirect_uri_mismatch", why)
        for name in ("response_type", "scope"):
            if not q.get(name):
                return _error_page(400, "invalid_request", f"Required parameter is missing: {name}")
        if q["response_type"] != "code":
            return _error_page(400, "unsupported_response_type", f"Invalid response_type: {q['response_type']}")
        method = q.get("code_challenge_method", "plain" if q.get("code_challenge") else "")
        if method not in ("", "plain", "S256") or (method and not q.get("code_challenge")):
            return _error_page(400, "invalid_request", "Invalid code_challenge_method or missing code_challenge.")
        request_id = secrets.token_urlsafe(12)
        pending = {
            "id": request_id,
            "clientId": q["client_id"],
            "redirectUri": redirect_uri,
            "scopes": q["scope"].split(),
            "state": q.get("state"),
            "accessType": q.get("access_type", "online"),
            "prompt": q.get("prompt", ""),
            "codeChallenge": q.get("code_challenge"),
            "codeChallengeMethod": method or None,
            "loginHint": q.get("login_hint"),
            "nonce": q.get("nonce"),
            "created": time.time(),
        }
        self.store.collection("authorizations")[request_id] = pending
        account = html.escape(q.get("login_hint") or DEFAULT_ACCOUNT)
        scopes = "".join(f"<li>{html.escape(s)}</li>" for s in pending["scopes"])
        action = html.escape(f"{self.ctx.base_url}/_sandbox/google/consent")
        known = "".join(
            f"<option value='{html.escape(email)}'>{html.escape(self.identity(email)['name'])}"
            f"{'' if self.identity(email)['email_verified'] else ' (email not verified)'}</option>"
            for email in self.store.collection("accounts")
        )
        known = f"<datalist id='accounts'>{known}</datalist>"
        body = (
            f"<h1>Sign in with Google</h1><p><b>{html.escape(client['name'])}</b> "
            f"({html.escape(q['client_id'])}) wants to access your Google Account:</p><ul>{scopes}</ul>"
            f"<form method='post' action='{action}'>"
            f"<input type='hidden' name='requestId' value='{request_id}'>"
            f"<label>Account <input name='email' value='{account}' list='accounts'></label>{known} "
            "<button name='decision' value='allow'>Allow</button> "
            "<button name='decision' value='deny'>Cancel</button></form>"
        )
        answer = _page(200, "Sign in - Google Accounts", body)
        answer.headers.append(("X-Sandbox-Authorization-Id", request_id))
        return answer

    @control("GET", "/authorizations")
    def pending_authorizations(self, request: SandboxRequest) -> Response:
        return Response.json(200, list(self.store.collection("authorizations").values()))

    @control("POST", "/consent")
    def consent(self, request: SandboxRequest) -> Response:
        is_form = "form" in request.headers.get("content-type", "")
        body = request.form() if is_form else (request.json() or {})
        pending_all = self.store.collection("authorizations")
        pending = pending_all.get(body.get("requestId", "")) or next(
            (p for p in pending_all.values() if body.get("state") and p["state"] == body.get("state")), None
        )
        if pending is None:
            return Response.json(404, {"error": "no pending authorization with that requestId or state"})
        del pending_all[pending["id"]]
        decision = str(body.get("decision", "allow")).lower()
        state = {"state": pending["state"]} if pending["state"] is not None else {}
        if decision in ("deny", "refuse", "cancel"):
            location = _with_query(pending["redirectUri"], {"error": "access_denied", **state})
            answer: dict[str, Any] = {"redirect": location, "error": "access_denied", **state}
        else:
            email = (body.get("email") or pending["loginHint"] or DEFAULT_ACCOUNT).strip().lower()
            code = "4/0" + secrets.token_urlsafe(40)
            self.store.collection("codes")[code] = {**pending, "email": email, "expires": time.time() + CODE_SECONDS}
            granted = " ".join(pending["scopes"])
            location = _with_query(pending["redirectUri"], {**state, "code": code, "scope": granted})
            answer = {"redirect": location, "code": code, "email": email, **state}
        if is_form:
            return Response(302, [("Location", location)])
        return Response.json(200, answer)

    # ------------------------------------------------------------------ token endpoint
    @route("POST", "/token")
    def token(self, request: SandboxRequest) -> Response:
        form = request.form()
        grant_type = form.get("grant_type", "")
        if grant_type not in ("authorization_code", "refresh_token"):
            return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        self.count_oauth(self._account_of(form), f"token.{grant_type}")
        client_id, _ = self._client_auth(request, form)
        if grant_type == "authorization_code":
            return self._exchange_code(client_id, form)
        return self._refresh(client_id, form)

    def _account_of(self, form: dict[str, str]) -> str:
        """The account a token request is for, when its code or refresh token says ("unknown" else)."""
        code = self.store.collection("codes").get(form.get("code", ""))
        if code is not None:
            return str(code["email"])
        refresh = self.store.collection("refresh_tokens").get(form.get("refresh_token", ""))
        grant = self.store.collection("grants").get(refresh["grant"]) if refresh else None
        return str(grant["email"]) if grant else "unknown"

    def count_oauth(self, email: str, operation: str) -> None:
        """Token and revoke requests per account, answered or not (GET /_sandbox/google/calls)."""
        calls = self.store.collection("oauth_calls").setdefault(email, {})
        calls[operation] = calls.get(operation, 0) + 1

    def _exchange_code(self, client_id: str, form: dict[str, str]) -> Response:
        codes = self.store.collection("codes")
        code = codes.get(form.get("code", ""))
        if code is None or code.get("used") or code["expires"] < time.time():
            if code is not None and code.get("used"):
                # A replayed code: Google refuses it, as RFC 6749 asks, and the first exchange stays valid.
                code["replays"] = code.get("replays", 0) + 1
            return _oauth_error(400, "invalid_grant", "Malformed auth code." if code is None else "Bad Request")
        if code["clientId"] != client_id:
            return _oauth_error(400, "invalid_grant", "Bad Request")
        if form.get("redirect_uri") != code["redirectUri"]:
            return _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        if code["codeChallenge"]:
            verifier = form.get("code_verifier")
            if not verifier:
                return _oauth_error(400, "invalid_grant", "Missing code verifier.")
            if code["codeChallengeMethod"] == "S256":
                digest = hashlib.sha256(verifier.encode()).digest()
                computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            else:
                computed = verifier
            if not hmac.compare_digest(computed, code["codeChallenge"]):
                return _oauth_error(400, "invalid_grant", "Invalid code verifier.")
        code["used"] = True
        grants = self.store.collection("grants")
        grant_key = f"{client_id} {code['email']}"
        grant = grants.get(grant_key)
        first = grant is None or grant["revoked"]
        if first:
            grant = grants[grant_key] = {"clientId": client_id, "email": code["email"], "scopes": [], "revoked": False}
        grant["scopes"] = sorted(set(grant["scopes"]) | set(code["scopes"]))
        refresh = None
        if code["accessType"] == "offline" and (first or "consent" in code["prompt"].split()):
            refresh = "1//0" + secrets.token_urlsafe(48)
            self.store.collection("refresh_tokens")[refresh] = {"grant": grant_key, "revoked": False}
        return Response.json(200, self._issue(grant_key, refresh, code.get("nonce"), code["scopes"]))

    def _refresh(self, client_id: str, form: dict[str, str]) -> Response:
        record = self.store.collection("refresh_tokens").get(form.get("refresh_token", ""))
        grant = self.store.collection("grants").get(record["grant"]) if record else None
        if record is None or grant is None or record["revoked"] or grant["revoked"]:
            return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        if grant["clientId"] != client_id:
            return _oauth_error(401, "unauthorized_client", "Unauthorized")
        return Response.json(200, self._issue(record["grant"], None, None, grant["scopes"]))

    def _issue(
        self, grant_key: str, refresh_token: str | None, nonce: str | None = None, scopes: list[str] | None = None
    ) -> dict[str, Any]:
        grant = self.store.collection("grants")[grant_key]
        access = "ya29.a0" + secrets.token_urlsafe(60)
        self.store.collection("access_tokens")[access] = {
            "grant": grant_key,
            "email": grant["email"],
            "clientId": grant["clientId"],
            "scopes": grant["scopes"],
            "expires": time.time() + self.access_token_seconds,
        }
        answer: dict[str, Any] = {
            "access_token": access,
            "expires_in": self.access_token_seconds,
            "scope": " ".join(grant["scopes"]),
            "token_type": "Bearer",
        }
        if refresh_token:
            answer["refresh_token"] = refresh_token
        if "openid" in (scopes or []):
            answer["id_token"] = self._id_token({**grant, "scopes": scopes}, access, nonce)
        return answer

    def bearer_identity(self, request: SandboxRequest) -> dict[str, Any] | None:
        """The access token record of the request's bearer token, if it is live."""
        record = self.store.collection("access_tokens").get(request.bearer() or "")
        if record is None or record["expires"] <= time.time():
            return None
        grant = self.store.collection("grants").get(record["grant"])
        return record if grant is not None and not grant["revoked"] else None

    # ------------------------------------------------------------------ revoke, userinfo
    @route("POST", "/revoke")
    def revoke(self, request: SandboxRequest) -> Response:
        body = request.form() if request.body else {}
        token = request.query.get("token") or body.get("token", "")
        record = self.store.collection("access_tokens").get(token) or self.store.collection("refresh_tokens").get(token)
        grant = self.store.collection("grants").get(record["grant"]) if record else None
        self.count_oauth(grant["email"] if grant else "unknown", "revoke")
        if grant is None or grant["revoked"]:
            return _oauth_error(400, "invalid_token", "Token expired or revoked")
        self._revoke_grant(record["grant"])
        return Response.json(200, {})

    def _revoke_grant(self, grant_key: str) -> None:
        self.store.collection("grants")[grant_key]["revoked"] = True
        for record in self.store.collection("refresh_tokens").values():
            if record["grant"] == grant_key:
                record["revoked"] = True
        revocations = self.store.collection("revocations")
        revocations[grant_key] = revocations.get(grant_key, 0) + 1

    @route("GET", "/oauth2/v3/userinfo")
    def userinfo(self, request: SandboxRequest) -> Response:
        identity = self.bearer_identity(request)
        if identity is None:
            return Response.json(401, {"error": "invalid_request", "error_description": "Invalid Credentials"})
        if not _IDENTITY_SCOPES & set(identity["scopes"]):
            return Response.json(401, {"error": "insufficient_scope", "error_description": "Insufficient Permission"})
        person = self.identity(identity["email"])
        scopes = set(identity["scopes"])
        shown = {"sub": person["sub"]}
        if scopes & _EMAIL_SCOPES:
            shown |= {"email": person["email"], "email_verified": person["email_verified"]}
        if scopes & _PROFILE_SCOPES or not scopes & _EMAIL_SCOPES:
            shown |= {k: person[k] for k in ("name", "given_name", "family_name", "picture") if person[k]}
        return Response.json(200, shown)

    @route("GET", "/v1/userinfo")
    def openid_userinfo(self, request: SandboxRequest) -> Response:
        return self.userinfo(request)

    # ------------------------------------------------------------------ controls: the user at Google
    @control("POST", "/tokens/expire")
    def expire_tokens(self, request: SandboxRequest) -> Response:
        body = request.json() or {}
        expired = 0
        for token, record in self.store.collection("access_tokens").items():
            if body.get("accessToken") not in (None, token) or body.get("email") not in (None, record["email"]):
                continue
            record["expires"] = time.time() - 1
            expired += 1
        return Response.json(200, {"expired": expired})

    @control("POST", "/grants/revoke")
    def revoke_grants(self, request: SandboxRequest) -> Response:
        body = request.json() or {}
        email = str(body.get("email", "")).lower()
        keys = [
            key
            for key, grant in self.store.collection("grants").items()
            if grant["email"] == email and body.get("clientId") in (None, grant["clientId"]) and not grant["revoked"]
        ]
        for key in keys:
            self._revoke_grant(key)
        return Response.json(200, {"revoked": len(keys)})

    @control("POST", "/oauth/settings")
    def oauth_settings(self, request: SandboxRequest) -> Response:
        body = request.json() or {}
        if "accessTokenSeconds" in body:
            self.access_token_seconds = int(body["accessTokenSeconds"])
        return Response.json(200, {"accessTokenSeconds": self.access_token_seconds})

    @control("POST", "/clients")
    def register_client(self, request: SandboxRequest) -> Response:
        body = request.json() or {}
        if not body.get("clientId") or not body.get("clientSecret"):
            return Response.json(400, {"error": "clientId and clientSecret are required"})
        client = {
            "clientSecret": body["clientSecret"],
            "redirectUris": list(body.get("redirectUris") or []),
            "name": body.get("name", body["clientId"]),
        }
        self.store.collection("clients")[body["clientId"]] = client
        return Response.json(201, {"clientId": body["clientId"], "redirectUris": client["redirectUris"]})
