"""Sign in with GitHub (an OAuth app's web flow with state and PKCE S256) over httpx (ProviderHttp):
the code for an access token, `/user` for the account (GitHub's numeric id, never the login or the
email), `/user/emails` for an email that is both primary and verified. GitHub is not OpenID Connect:
there is no id_token and no nonce.

An OAuth app's tokens do not expire (unless the app opts in to expiring user tokens, which this
service does not), so "refresh" checks that the token still works. Revoking deletes the grant
(`DELETE /applications/{client_id}/grant`), which ends every token of it.

The secret (GitHubSignInSecret): {"clientId", "clientSecret", "authUrl"?, "tokenUrl"?, "apiBaseUrl"?}."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import httpx

from integration_core.adapters.provider_http import ProviderHttp
from integration_core.adapters.secrets import secret_json
from integration_core.errors import ProviderRejected
from integration_core.observability import logger
from integration_core.ports.signin import Authorization, CodeRefused, GrantGone, Identity, ProviderTokens, Started
from integration_core.signin_config import signin_settings

AUTH_URL = "https://github.com/login/oauth/authorize"
TOKEN_URL = "https://github.com/login/oauth/access_token"  # noqa: S105 (a URL)
API_BASE_URL = "https://api.github.com"
SCOPES = "read:user user:email"
ACCEPT = "application/vnd.github+json"


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str = field(repr=False)
    auth_url: str = AUTH_URL
    token_url: str = TOKEN_URL
    api_base_url: str = API_BASE_URL


def client() -> Client:
    secret = secret_json(signin_settings().secret_names["github"])
    return Client(
        client_id=secret["clientId"],
        client_secret=secret["clientSecret"],
        auth_url=secret.get("authUrl") or AUTH_URL,
        token_url=secret.get("tokenUrl") or TOKEN_URL,
        api_base_url=(secret.get("apiBaseUrl") or API_BASE_URL).rstrip("/"),
    )


@lru_cache(maxsize=2)
def http(timeout: float) -> ProviderHttp:
    return ProviderHttp("github-signin", title="GitHub", timeout=timeout)


def _http() -> ProviderHttp:
    return http(signin_settings().timeout_seconds)


def _api(github: Client, path: str, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT, "X-GitHub-Api-Version": "2022-11-28"}
    return _http().send("GET", f"{github.api_base_url}{path}", what=path, headers=headers)


def _verified_primary(emails: Any) -> str | None:
    for entry in emails if isinstance(emails, list) else []:
        if isinstance(entry, dict) and entry.get("primary") is True and entry.get("verified") is True:
            return str(entry["email"]).lower()
    return None


class GitHubSignIn:
    name = "github"
    uses_nonce = False
    refresh_note = (
        "GitHub OAuth app tokens do not expire: refresh checks that the stored token still works"
        " (a revoked one means signing in with GitHub again)"
    )
    revoke_note = "the grant deleted at GitHub (every token of it ends), the stored token deleted"

    def start(self, authorization: Authorization) -> Started:
        github = client()
        query = {
            "client_id": github.client_id,
            "redirect_uri": authorization.redirect_uri,
            "scope": SCOPES,
            "state": authorization.state,
            "code_challenge": authorization.code_challenge,
            "code_challenge_method": "S256",
            "allow_signup": "false",
        }
        return Started(f"{github.auth_url}?{urlencode(query)}", authorization.code_verifier, "")

    def exchange(self, code: str, started: Started, redirect_uri: str) -> Identity:
        github = client()
        form = {
            "client_id": github.client_id,
            "client_secret": github.client_secret,
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": started.code_verifier,
        }
        answer = _http().send(
            "POST", github.token_url, what="token exchange", data=form, headers={"Accept": "application/json"}
        )
        body = answer.json() if answer.status_code == 200 else {}
        if "access_token" not in body:
            error = str(body.get("error", answer.status_code))
            if error in ("bad_verification_code", "redirect_uri_mismatch"):
                raise CodeRefused("code: GitHub refused the code (used, expired, or a wrong PKCE verifier)")
            logger.error("github token exchange refused", extra={"error": error})
            raise ProviderRejected("GitHub refused our OAuth app; the operator must fix the configuration")
        token = str(body["access_token"])
        user = _api(github, "/user", token)
        if user.status_code != 200:
            raise ProviderRejected(f"GitHub did not tell who signed in ({user.status_code})")
        profile: dict[str, Any] = user.json()
        emails = _api(github, "/user/emails", token)
        email = _verified_primary(emails.json()) if emails.status_code == 200 else None
        return Identity(
            provider=self.name,
            external_id=str(profile["id"]),
            email=email,
            name=str(profile.get("name") or profile.get("login") or "GitHub user"),
            picture=profile.get("avatar_url"),
            tokens=ProviderTokens(token, None, None, str(body.get("scope", ""))),
        )

    def refresh(self, tokens: ProviderTokens) -> ProviderTokens:
        answer = _api(client(), "/user", tokens.access_token)
        if answer.status_code == 401:
            raise GrantGone("GitHub no longer honours this token (the grant was revoked); sign in with GitHub again")
        if answer.status_code != 200:
            raise ProviderRejected(f"GitHub did not answer for the token ({answer.status_code})")
        return tokens

    def revoke(self, tokens: ProviderTokens) -> None:
        github = client()
        answer = _http().send(
            "DELETE",
            f"{github.api_base_url}/applications/{github.client_id}/grant",
            what="grant deletion",
            json={"access_token": tokens.access_token},
            auth=(github.client_id, github.client_secret),
            headers={"Accept": ACCEPT},
        )
        if answer.status_code not in (204, 404, 422):  # 404/422: the grant is gone already
            raise ProviderRejected(f"GitHub did not delete the grant ({answer.status_code})")


ADAPTER = GitHubSignIn()
