"""Sign in with Microsoft (identity platform v2) through MSAL's auth code flow: MSAL makes the
PKCE verifier and the nonce (kept server-side by the service with the state), sends the request
and redeems the code. The id_token is then verified again with PyJWT against the tenant's JWKS
(adapters/oidc): RS256, aud, exp, iat, the nonce (MSAL sends its SHA-256), and the issuer: the
OpenID configuration's, whose `{tenantid}` (common or organizations authority) is the token's own
`tid`; with a tenant authority the `tid` must be that tenant. The account is `tid` + `oid`, never
the email; an email counts as verified only when the token says so (`xms_edov` or
`email_verified`), which Microsoft's plain `email` claim does not.

Microsoft refresh: MSAL redeems the stored refresh token (rotated by Microsoft). Revoke: Microsoft
has no endpoint a web app calls to revoke a user's consent; the stored tokens are forgotten and the
user removes the app at https://myapps.microsoft.com (docs/sign-in.md).

The secret (MicrosoftSignInSecret): {"clientId", "clientSecret", "authority"?, "tenantId"?,
"instanceDiscoveryUrl"?, "sandboxUrl"?}. MSAL takes only https authorities: in the local stack the
secret's `sandboxUrl` (the plain http sandbox) makes this adapter give MSAL an http client that
sends the authority's https origin (and login.microsoftonline.com) to the sandbox with
`X-Forwarded-Proto: https`, as a TLS-terminating proxy would; nothing else is ever sent there."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import requests

from integration_core.adapters import oidc
from integration_core.adapters.secrets import secret_json
from integration_core.errors import ProviderRejected, ProviderUnavailable
from integration_core.observability import logger
from integration_core.ports.signin import (
    Authorization,
    CodeRefused,
    GrantGone,
    Identity,
    IdTokenRefused,
    ProviderTokens,
    Started,
)
from integration_core.signin_config import signin_settings

AUTHORITY = "https://login.microsoftonline.com/common"
MICROSOFT = "https://login.microsoftonline.com"
SCOPES = ["User.Read"]
MULTI_TENANT = ("common", "organizations", "consumers")


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str = field(repr=False)
    authority: str = AUTHORITY
    instance_discovery: str | None = None
    sandbox_url: str | None = None

    @property
    def tenant(self) -> str:
        return self.authority.rstrip("/").rsplit("/", 1)[-1]


def client() -> Client:
    secret = secret_json(signin_settings().secret_names["microsoft"])
    return Client(
        client_id=secret["clientId"],
        client_secret=secret["clientSecret"],
        authority=secret.get("authority") or AUTHORITY,
        instance_discovery=secret.get("instanceDiscoveryUrl") or None,
        sandbox_url=secret.get("sandboxUrl") or None,
    )


class LocalSandboxSession(requests.Session):
    """MSAL's http client in the local stack: the authority's https origin and Microsoft's own host
    go to the plain-http sandbox with X-Forwarded-Proto: https; any other URL is refused."""

    def __init__(self, authority: str, sandbox_url: str, timeout: float) -> None:
        super().__init__()
        parts = urlsplit(authority)
        self.secure = f"{parts.scheme}://{parts.netloc}"
        self.plain = sandbox_url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        verb = method.decode() if isinstance(method, bytes) else method
        target = url.decode() if isinstance(url, bytes) else url
        if target.startswith(MICROSOFT):
            target = f"{self.secure}/microsoft{target[len(MICROSOFT) :]}"
        if not target.startswith(self.secure):
            raise ProviderRejected("the local Microsoft client only talks to the sandbox")
        kwargs["headers"] = {**dict(kwargs.get("headers") or {}), "X-Forwarded-Proto": "https"}
        kwargs.setdefault("timeout", self.timeout)
        return super().request(verb, self.plain + target[len(self.secure) :], **kwargs)


@lru_cache(maxsize=4)
def _session(authority: str, sandbox_url: str | None, timeout: float) -> requests.Session:
    if sandbox_url:
        return LocalSandboxSession(authority, sandbox_url, timeout)
    return requests.Session()


@lru_cache(maxsize=4)
def _app(microsoft: Client, timeout: float) -> Any:
    import msal  # type: ignore[import-untyped]

    kwargs: dict[str, Any] = {
        "http_client": _session(microsoft.authority, microsoft.sandbox_url, timeout),
        "timeout": timeout,
    }
    if microsoft.instance_discovery:
        kwargs["instance_discovery"] = microsoft.instance_discovery
    try:
        return msal.ConfidentialClientApplication(
            microsoft.client_id, client_credential=microsoft.client_secret, authority=microsoft.authority, **kwargs
        )
    except (ValueError, requests.RequestException) as error:
        logger.error("microsoft authority unreachable", extra={"error": type(error).__name__})
        raise ProviderUnavailable("Microsoft's sign-in is unavailable; try again", retry_after=5) from None


def _application() -> tuple[Client, Any, requests.Session]:
    microsoft, timeout = client(), signin_settings().timeout_seconds
    return microsoft, _app(microsoft, timeout), _session(microsoft.authority, microsoft.sandbox_url, timeout)


def _get_json(session: requests.Session, url: str) -> dict[str, Any]:
    try:
        answer = session.get(url, timeout=signin_settings().timeout_seconds)
    except requests.RequestException:
        raise ProviderUnavailable("Microsoft did not answer; try again", retry_after=5) from None
    if answer.status_code != 200:
        raise ProviderRejected(f"Microsoft did not answer {urlsplit(url).path} ({answer.status_code})")
    body: dict[str, Any] = answer.json()
    return body


@lru_cache(maxsize=4)
def _openid_configuration(authority: str, sandbox_url: str | None, timeout: float) -> dict[str, Any]:
    return _get_json(
        _session(authority, sandbox_url, timeout), f"{authority.rstrip('/')}/v2.0/.well-known/openid-configuration"
    )


def _failure(result: dict[str, Any], what: str) -> Exception:
    error = str(result.get("error", ""))
    if error in ("invalid_grant", "invalid_request", "access_denied"):
        return (
            CodeRefused(f"code: Microsoft refused the {what} ({error})")
            if what == "code"
            else GrantGone("Microsoft no longer honours this grant; sign in with Microsoft again")
        )
    if error in ("temporarily_unavailable", "server_error"):
        return ProviderUnavailable("Microsoft's sign-in is unavailable; try again", retry_after=5)
    logger.error("microsoft token request refused", extra={"error": error})
    return ProviderRejected("Microsoft refused our app registration; the operator must fix the configuration")


def _tokens(result: dict[str, Any], previous: str | None = None) -> ProviderTokens:
    return ProviderTokens(
        access_token=str(result["access_token"]),
        refresh_token=result.get("refresh_token") or previous,
        expires_in=int(result.get("expires_in", 3600)),
        scope=str(result.get("scope", "")),
    )


class MicrosoftSignIn:
    name = "microsoft"
    uses_nonce = True
    refresh_note = "a new Microsoft access token from the stored refresh token (Microsoft rotates it)"
    revoke_note = (
        "the stored tokens forgotten; Microsoft has no revoke endpoint for a web app: the user removes"
        " the app's consent at https://myapps.microsoft.com"
    )

    def start(self, authorization: Authorization) -> Started:
        _, app, _ = _application()
        flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=authorization.redirect_uri, state=authorization.state)
        return Started(str(flow["auth_uri"]), str(flow["code_verifier"]), str(flow["nonce"]))

    def exchange(self, code: str, started: Started, redirect_uri: str) -> Identity:
        microsoft, app, session = _application()
        flow = {
            "state": "kept-server-side",  # the service checked the state already
            "redirect_uri": redirect_uri,
            "scope": [*SCOPES, "openid", "profile", "offline_access"],
            "code_verifier": started.code_verifier,
            "nonce": started.nonce,
        }
        try:
            result = app.acquire_token_by_auth_code_flow(flow, {"code": code, "state": flow["state"]})
        except (ValueError, RuntimeError) as error:  # MSAL's own id_token checks (nonce, aud, iss)
            raise IdTokenRefused(f"Microsoft's id_token failed MSAL's checks ({type(error).__name__})") from None
        except requests.RequestException:
            raise ProviderUnavailable("Microsoft did not answer; try again", retry_after=5) from None
        if "error" in result:
            raise _failure(result, "code")
        id_token = result.get("id_token")
        if not isinstance(id_token, str):
            raise IdTokenRefused("Microsoft answered no id_token")
        timeout = signin_settings().timeout_seconds
        configuration = _openid_configuration(microsoft.authority, microsoft.sandbox_url, timeout)
        issuer_template = str(configuration["issuer"])

        def issuer(claims: dict[str, Any]) -> str:
            tid = str(claims.get("tid", ""))
            if microsoft.tenant not in MULTI_TENANT and tid != microsoft.tenant:
                raise IdTokenRefused("the id_token is from another tenant")
            return issuer_template.replace("{tenantid}", tid)

        claims = oidc.verify(
            id_token,
            jwks_url=str(configuration["jwks_uri"]),
            fetch=lambda url: _get_json(session, url),
            client_id=microsoft.client_id,
            issuer=issuer,
            nonce=hashlib.sha256(started.nonce.encode("ascii")).hexdigest(),
        )
        tid, oid = claims.get("tid"), claims.get("oid")
        if not tid or not oid:
            raise IdTokenRefused("the id_token names no tenant (tid) and object id (oid)")
        verified = claims.get("xms_edov") is True or claims.get("email_verified") is True
        email = claims.get("email") or claims.get("preferred_username")
        return Identity(
            provider=self.name,
            external_id=f"{tid}.{oid}",
            email=str(email).lower() if verified and email else None,
            name=str(claims.get("name") or email or "Microsoft user"),
            picture=None,
            tokens=_tokens(result),
        )

    def refresh(self, tokens: ProviderTokens) -> ProviderTokens:
        if not tokens.refresh_token:
            raise GrantGone("Microsoft gave no refresh token for this account; sign in with Microsoft again")
        _, app, _ = _application()
        try:
            result = app.acquire_token_by_refresh_token(tokens.refresh_token, SCOPES)
        except requests.RequestException:
            raise ProviderUnavailable("Microsoft did not answer; try again", retry_after=5) from None
        if "error" in result:
            raise _failure(result, "refresh token")
        return _tokens(result, tokens.refresh_token)

    def revoke(self, tokens: ProviderTokens) -> None:
        return None  # nothing to call: the service forgets the tokens


ADAPTER = MicrosoftSignIn()
