"""What the sign-in emulators share: Authlib's generic OAuth 2 / OpenID Connect server classes
fitted to the sandbox's own HTTP server, and a signing key ring with rotation.

Authlib's framework integrations (Flask, Django, Starlette) do not fit the sandbox's server
(offline/http.py), so `SandboxAuthorizationServer` implements the three hooks its generic
`authlib.oauth2.rfc6749.AuthorizationServer` asks of a framework: `create_oauth2_request`,
`create_json_request` and `handle_response`. The grants (authorization code with RFC 7636 PKCE and
OpenID Connect's `OpenIDCode`, refresh token, client credentials), client authentication and the
error answers are Authlib's; an emulator supplies its clients, codes and tokens (its `Store`).

`KeyRing` holds RS256 keys (joserfc): the newest signs, `rotate()` makes a new one and keeps the
previous ones published in the JWKS until `retire()` (or `keep` later rotations) drops them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, JsonPayload, JsonRequest, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from joserfc import jwt
from joserfc.jwk import RSAKey

from offline.http import Response
from offline.sandbox.base import SandboxRequest

CODE_SECONDS = 600


# ------------------------------------------------------------------ keys
class KeyRing:
    """RS256 signing keys with rotation: `kid`s stay published after a rotation until retired."""

    def __init__(self, label: str, keep: int = 1) -> None:
        self.label = label
        self.keep = keep  # how many previous keys a rotation leaves in the JWKS
        self.keys: list[RSAKey] = []  # made on first use: a sandbox reset stays cheap

    def _new(self) -> RSAKey:
        kid = f"{self.label}-{secrets.token_hex(8)}"
        return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True)

    @property
    def current(self) -> RSAKey:
        if not self.keys:
            self.keys.append(self._new())
        return self.keys[-1]

    def rotate(self) -> dict[str, Any]:
        _ = self.current  # the key being replaced, if none was made yet
        self.keys.append(self._new())
        self.keys = self.keys[-(self.keep + 1) :]
        return self.state()

    def retire(self) -> dict[str, Any]:
        """Drop every key but the signing one from the JWKS."""
        self.keys = [self.current]
        return self.state()

    def state(self) -> dict[str, Any]:
        return {"current": self.current.kid, "published": [k.kid for k in self.keys]}

    def jwks(self) -> dict[str, Any]:
        _ = self.current
        return {"keys": [k.as_dict(private=False) for k in reversed(self.keys)]}

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        key = next((k for k in self.keys if k.kid == kid), self.current) if kid else self.current
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=["RS256"])


class Forgeries:
    """Hostile id_tokens on request, so that a relying party's checks can be tested end to end: the
    control POST /id-tokens/forge {"count": 1, "aud"?, "iss"?, "nonce"?, "azp"?, "expired"?: true,
    "alg"?: "none" | "HS256", "unpublishedKey"?: true} changes the next `count` id_tokens the
    emulator answers: claims replaced; `expired` puts exp an hour in the past; alg "none" leaves the
    token unsigned; "HS256" signs it with HMAC keyed by the signing key's public PEM (the key confusion
    attack); `unpublishedKey` signs it with an RSA key whose kid is not in the JWKS."""

    _CLAIMS = ("aud", "iss", "nonce", "azp", "sub", "tid", "email")

    def __init__(self) -> None:
        self.pending: list[dict[str, Any]] = []

    def add(self, body: dict[str, Any]) -> Response:
        alg = body.get("alg")
        if alg not in (None, "none", "HS256"):
            return Response.json(400, {"error": "alg is none or HS256"})
        forgery = {
            "remaining": int(body.get("count", 1)),
            "claims": {k: body[k] for k in self._CLAIMS if k in body},
            "expired": bool(body.get("expired")),
            "alg": alg,
            "unpublishedKey": bool(body.get("unpublishedKey")),
        }
        self.pending.append(forgery)
        return Response.json(201, forgery)

    def apply(self, token: str, keys: KeyRing) -> str:
        """`token` as the next pending forgery makes it (unchanged when none is pending)."""
        forgery = next((f for f in self.pending if f["remaining"] > 0), None)
        if forgery is None:
            return token
        forgery["remaining"] -= 1
        claims = json.loads(_b64decode(token.split(".")[1])) | forgery["claims"]
        if forgery["expired"]:
            now = int(time.time())
            claims |= {"iat": now - 7200, "exp": now - 3600}
        if forgery["alg"] == "none":
            header = {"alg": "none", "typ": "JWT"}
            return f"{_b64encode(json.dumps(header).encode())}.{_b64encode(json.dumps(claims).encode())}."
        if forgery["alg"] == "HS256":
            # By hand: JOSE libraries (rightly) refuse a public key as an HMAC secret.
            header = {"alg": "HS256", "kid": keys.current.kid, "typ": "JWT"}
            signing_input = f"{_b64encode(json.dumps(header).encode())}.{_b64encode(json.dumps(claims).encode())}"
            mac = hmac.new(keys.current.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
            return f"{signing_input}.{_b64encode(mac)}"
        if forgery["unpublishedKey"]:
            stranger = RSAKey.generate_key(
                2048, parameters={"kid": f"unpublished-{secrets.token_hex(4)}"}, private=True
            )
            return jwt.encode(
                {"alg": "RS256", "kid": stranger.kid, "typ": "JWT"}, claims, stranger, algorithms=["RS256"]
            )
        return keys.sign(claims)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ------------------------------------------------------------------ models Authlib asks for
@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str | None  # None: a public client (PKCE, no secret)
    redirect_uris: list[str]
    name: str
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # A registered list is matched exactly; a client without one takes any http(s) URI (local use).
        if self.redirect_uris:
            return redirect_uri in self.redirect_uris
        return redirect_uri.startswith(("http://", "https://"))

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client_secret is not None and secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.client_secret is None:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class Code:
    """A stored authorization code as Authlib's grant and its extensions read it."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    account: dict[str, Any]
    expires: float
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    auth_time: int = field(default_factory=lambda: int(time.time()))
    used: bool = False

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None

    def is_expired(self) -> bool:
        return self.expires < time.time()


class StoredCodeGrant(AuthorizationCodeGrant):
    """The authorization code grant over an emulator's store (`server.emulator.store`, "codes")."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        record = Code(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=request.payload.redirect_uri or "",
            scope=request.payload.scope or "",
            account=request.user,
            expires=time.time() + CODE_SECONDS,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method")
            or ("plain" if data.get("code_challenge") else None),
        )
        self.server.codes[code] = record

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        record = self.server.codes.get(code)
        if record is None or record.used or record.client_id != client.get_client_id() or record.is_expired():
            return None
        return record

    def delete_authorization_code(self, authorization_code: Code) -> None:
        authorization_code.used = True  # kept, so that a replay is refused and can be seen

    def authenticate_user(self, authorization_code: Code) -> dict[str, Any]:
        return authorization_code.account


# ------------------------------------------------------------------ the server
class _Payload(OAuth2Payload):
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    @property
    def data(self) -> dict[str, str]:
        return dict(self._pairs)

    @property
    def datalist(self) -> defaultdict[str, list]:
        values: defaultdict[str, list] = defaultdict(list)
        for k, v in self._pairs:
            values[k].append(v)
        return values


class _Request(OAuth2Request):
    def __init__(self, request: SandboxRequest, uri: str) -> None:
        super().__init__(method=request.method, uri=uri, headers=_Headers(request.headers))
        self._args = dict(request.query)
        content_type = request.headers.get("content-type", "")
        if "json" in content_type and request.body:
            loaded = json.loads(request.body)
            self._form = {k: str(v) for k, v in (loaded if isinstance(loaded, dict) else {}).items()}
        else:
            self._form = dict(parse_qsl(request.body.decode(errors="replace"), keep_blank_values=True))
        self.payload = _Payload(list(request.query.items()) + list(self._form.items()))

    def with_defaults(self, **values: str) -> _Request:
        """Body parameters a provider implies where RFC 6749 has the client send them (GitHub's token
        endpoint takes no grant_type)."""
        for name, value in values.items():
            self._form.setdefault(name, value)
        self.payload = _Payload(list(self._args.items()) + list(self._form.items()))
        return self

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _Headers(dict):
    """Case-insensitive look-ups over the sandbox's lower-case header names."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(str(key).lower())


class _JsonPayload(JsonPayload):
    def __init__(self, data: Any) -> None:
        self._data = data

    @property
    def data(self) -> Any:
        return self._data


class _JsonRequest(JsonRequest):
    def __init__(self, request: SandboxRequest, uri: str) -> None:
        super().__init__(request.method, uri, _Headers(request.headers))
        self.payload = _JsonPayload(request.json() if request.body else {})


class SandboxAuthorizationServer(AuthorizationServer):
    """Authlib's AuthorizationServer answering the sandbox's `SandboxRequest`s with its `Response`s.

    `codes` holds the authorization codes (reset with the emulator); `query_client` and
    `save_token` are the emulator's."""

    def __init__(self, base_url: Callable[[], str], query_client: Any, save_token: Any) -> None:
        super().__init__()
        self.base_url = base_url  # the emulator's root URL, e.g. <sandbox>/microsoft (known once started)
        self._query_client = query_client
        self._save_token = save_token
        self.codes: dict[str, Code] = {}

    def query_client(self, client_id: str) -> Client | None:
        return self._query_client(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        self._save_token(token, request)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def _uri(self, request: SandboxRequest) -> str:
        query = f"?{urlencode(request.query)}" if request.query else ""
        # Authlib refuses plain http unless told; the sandbox is loopback-only, so it speaks as https.
        root = urlsplit(self.base_url())
        return f"https://{root.netloc}{root.path}{request.path}{query}"

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        return _Request(request, self._uri(request))

    def create_json_request(self, request: Any) -> JsonRequest:
        return _JsonRequest(request, self._uri(request))

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        headers = list(headers or [])
        if isinstance(body, dict):
            data = json.dumps(body).encode()
            if not any(k.lower() == "content-type" for k, _ in headers):
                headers.append(("Content-Type", "application/json"))
        else:
            data = (body or "").encode() if isinstance(body, str) else (body or b"")
        return Response(status, headers, data)


def public_root(base_url: str, request: SandboxRequest) -> str:
    """The sandbox's root URL as this caller reaches it: https when the caller says it came through a
    TLS-terminating proxy (X-Forwarded-Proto: https), as MSAL needs an https authority."""
    root = urlsplit(base_url)
    scheme = request.headers.get("x-forwarded-proto", root.scheme).split(",")[0].strip() or root.scheme
    return f"{scheme}://{root.netloc}"


# ------------------------------------------------------------------ faults
class Faults:
    """The sign-in emulators' fault control: POST /faults {"status"?, "error"?, "count": 1,
    "pathPrefix": "", "delayMs"?}. The next `count` calls below `pathPrefix` wait `delayMs` (a slow
    answer, otherwise normal, when neither status nor error is given), then answer: on an authorization
    endpoint with `error`, a redirect to the request's redirect_uri with error=<error>&state=... (as a
    provider reports server_error or temporarily_unavailable to the client); elsewhere with `error`, that
    OAuth error (400 unless `status`); with only `status`, the provider's 5xx (or other) answer."""

    def __init__(self, authorize_paths: tuple[str, ...]) -> None:
        self.authorize_paths = authorize_paths
        self.pending: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def add(self, body: dict[str, Any]) -> Response:
        error = str(body.get("error", ""))
        fault = {
            "status": int(body.get("status", 400 if error else 0 if body.get("delayMs") else 503)),
            "error": error,
            "remaining": int(body.get("count", 1)),
            "pathPrefix": str(body.get("pathPrefix", "")),
            "delayMs": int(body.get("delayMs", 0)),
        }
        with self.lock:
            self.pending.append(fault)
        return Response.json(201, fault)

    def clear(self) -> None:
        with self.lock:
            self.pending.clear()

    def answer(self, request: SandboxRequest, error_response: Callable[[int, str], Response]) -> Response | None:
        """The injected answer to `request` (None: answer it normally), after any delay."""
        with self.lock:
            fault = next(
                (f for f in self.pending if f["remaining"] > 0 and request.path.startswith(f["pathPrefix"])), None
            )
            if fault is None:
                return None
            fault["remaining"] -= 1
        if fault["delayMs"]:
            time.sleep(fault["delayMs"] / 1000)
        redirect_uri = request.query.get("redirect_uri", "")
        if fault["error"] and request.path.endswith(self.authorize_paths) and redirect_uri.startswith("http"):
            state = {"state": request.query["state"]} if request.query.get("state") else {}
            described = {"error": fault["error"], "error_description": "Injected by the sandbox", **state}
            return Response(302, [("Location", with_query(redirect_uri, described))])
        if fault["error"] or fault["status"]:
            return error_response(fault["status"], fault["error"])
        return None


# ------------------------------------------------------------------ pages
def page(status: int, title: str, body: str) -> Response:
    head = f"<head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
    document = f"<!doctype html><html>{head}<body>{body}</body></html>"
    return Response(status, [("Content-Type", "text/html; charset=utf-8")], document.encode())


def consent_page(
    title: str,
    client_name: str,
    scopes: list[str],
    action: str,
    request_id: str,
    accounts: list[dict[str, Any]],
    login_hint: str | None,
) -> Response:
    """An authorization page: the client, its scopes, an account picker and Allow / Cancel."""
    chosen = (login_hint or (accounts[0]["email"] if accounts else "")).lower()
    options = "".join(
        f"<option value='{html.escape(a['email'])}'{' selected' if a['email'] == chosen else ''}>"
        f"{html.escape(a.get('name') or a['email'])} &lt;{html.escape(a['email'])}&gt;</option>"
        for a in accounts
    )
    items = "".join(f"<li>{html.escape(s)}</li>" for s in scopes)
    body = (
        f"<h1>{html.escape(title)}</h1><p><b>{html.escape(client_name)}</b> wants to:</p><ul>{items}</ul>"
        f"<form method='post' action='{html.escape(action)}'>"
        f"<input type='hidden' name='requestId' value='{html.escape(request_id)}'>"
        f"<label>Account <select name='email'>{options}</select></label> "
        "<button name='decision' value='allow'>Allow</button> "
        "<button name='decision' value='deny'>Cancel</button></form>"
    )
    answer = page(200, title, body)
    answer.headers.append(("X-Sandbox-Authorization-Id", request_id))
    return answer


def form_post_page(action: str, fields: dict[str, str]) -> Response:
    """OAuth 2.0 Form Post Response Mode: a page that POSTs the answer to the redirect URI."""
    hidden = "".join(
        f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>" for k, v in fields.items()
    )
    body = (
        f"<form method='post' action='{html.escape(action)}' id='answer'>{hidden}"
        "<noscript><button>Continue</button></noscript></form>"
        "<script>document.getElementById('answer').submit()</script>"
    )
    return page(200, "Working...", body)


def with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)
