"""The sign-in API (/oauth): starting a sign-in (a redirect to the provider), the callback (POST
/authenticate and a GET form for browser redirects), linked accounts, linking and unlinking,
provider tokens (refresh, revoke), the service's session (POST /token rotates the refresh token)
and sign-out. Thin: routes and models here, rules in integration_core.services.signin.

Public routes (no bearer token; `Auth: {Authorizer: NONE}` in the template): authorize,
authenticate, callback, token, sign-out. Every answer carries this service's tokens, never a
provider's."""

from __future__ import annotations

from typing import Annotated

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core.domain.signin import (
    PROVIDER_PATTERN,
    LinkedAccounts,
    ProviderRevoked,
    ProviderTokenRefreshed,
    SignedIn,
    SignInCallback,
    SignInLinkStart,
    SignInRefresh,
    SignInSession,
    SignInStarted,
)
from integration_core.http import caller, make_resolver
from integration_core.ids import id_pattern
from integration_core.observability import lambda_handler
from integration_core.services.signin import accounts, links, sessions, start

app = make_resolver()

ProviderPath = Annotated[str, Path(pattern=PROVIDER_PATTERN)]
UserId = Annotated[str, Path(pattern=id_pattern("student", "teacher", "admin"))]
RedirectUri = Annotated[str, Query(min_length=1, max_length=2048)]
ReturnTo = Annotated[str | None, Query(min_length=1, max_length=2048)]
CallbackText = Annotated[str | None, Query(min_length=1, max_length=4096)]


def _client() -> str:
    return str(app.current_event.request_context.http.source_ip or "")


def no_content() -> Response[str]:
    return Response(status_code=204, content_type="application/json", body="")


@app.get(
    "/oauth/<provider>/authorize",
    tags=["sign-in"],
    summary="Start a sign-in: a 302 to the provider (state, PKCE S256, nonce kept server-side, single use)",
    responses={302: {"description": "To the provider's authorization page"}},
)
def authorize(provider: ProviderPath, redirectUri: RedirectUri, returnTo: ReturnTo = None) -> Response[str]:
    started = start.sign_in(provider, redirectUri, returnTo, _client())
    return Response(
        status_code=302,
        content_type="application/json",
        body=SignInStarted(**started).model_dump_json(by_alias=True),
        headers={"Location": started["authorization_url"], "Cache-Control": "no-store"},
    )


def _authenticated(answer: dict) -> Response[SignedIn]:
    return Response(
        status_code=200,
        content_type="application/json",
        body=SignedIn(**answer),
        headers={"Cache-Control": "no-store"},
    )


@app.post(
    "/oauth/authenticate",
    tags=["sign-in"],
    summary="The callback: the provider's code (or error) with the state; answers this service's tokens "
    "(a link's needs the bearer token of the person who started it)",
)
def authenticate(body: SignInCallback) -> Response[SignedIn]:
    authorization = app.current_event.headers.get("authorization")
    answer = accounts.authenticate(
        body.provider, body.code, body.state, body.redirect_uri, _client(), body.error, authorization
    )
    return _authenticated(answer)


@app.get(
    "/oauth/<provider>/callback",
    tags=["sign-in"],
    summary="The callback for browser redirects (the redirect URI recorded with the state)",
)
def callback(
    provider: ProviderPath,
    state: Annotated[str, Query(min_length=16, max_length=256)],
    code: CallbackText = None,
    error: CallbackText = None,
) -> Response[SignedIn]:
    answer = accounts.authenticate(provider, code, state, None, _client(), error)
    return _authenticated(answer)


@app.post(
    "/oauth/<provider>/link",
    tags=["sign-in"],
    summary="Start linking a provider to the signed-in caller (complete it at POST /oauth/authenticate)",
)
def link(provider: ProviderPath, body: SignInLinkStart) -> SignInStarted:
    return SignInStarted(**start.link(caller(app), provider, body.redirect_uri, body.return_to))


@app.get(
    "/oauth/linked-accounts/<userId>", tags=["sign-in"], summary="A person's linked sign-in methods (owner or admin)"
)
def linked_accounts(userId: UserId) -> LinkedAccounts:
    return LinkedAccounts(**links.linked_accounts(caller(app), userId))


@app.delete(
    "/oauth/linked-accounts/<userId>/<provider>",
    tags=["sign-in"],
    summary="Unlink a provider (never the last way to sign in)",
    status_code=204,
    responses={204: {"description": "Unlinked; no body"}},
)
def unlink(userId: UserId, provider: ProviderPath):  # type: ignore[no-untyped-def]
    links.unlink(caller(app), userId, provider)
    return no_content()


@app.post(
    "/oauth/linked-accounts/<userId>/<provider>/refresh",
    tags=["sign-in"],
    summary="Refresh the provider token kept for later calls (no token in the answer)",
)
def refresh_provider_token(userId: UserId, provider: ProviderPath) -> ProviderTokenRefreshed:
    return ProviderTokenRefreshed(**links.refresh_provider_token(caller(app), userId, provider))


@app.post(
    "/oauth/linked-accounts/<userId>/<provider>/revoke",
    tags=["sign-in"],
    summary="Revoke the provider authorization and forget its tokens (the link stays)",
)
def revoke(userId: UserId, provider: ProviderPath) -> ProviderRevoked:
    return ProviderRevoked(**links.revoke(caller(app), userId, provider))


@app.post("/oauth/token", tags=["sign-in"], summary="A new access token for a refresh token (rotated; reuse revokes)")
def token(body: SignInRefresh) -> Response[SignInSession]:
    answer = SignInSession(**sessions.refresh(body.refresh_token))
    return Response(
        status_code=200, content_type="application/json", body=answer, headers={"Cache-Control": "no-store"}
    )


@app.post(
    "/oauth/sign-out",
    tags=["sign-in"],
    summary="Sign out: the refresh token's session is revoked",
    status_code=204,
    responses={204: {"description": "Signed out (also when it was already); no body"}},
)
def sign_out(body: SignInRefresh):  # type: ignore[no-untyped-def]
    sessions.sign_out(body.refresh_token)
    return no_content()


@lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
