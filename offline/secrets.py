"""Local values for the template's secrets: one registry, keyed by the secret's logical id.

A capability that adds a secret to template.yaml registers how to make its local value here, next to
the others, e.g. provider credentials that point at the provider sandbox:

    @local_secret("StripeSecret")
    def _stripe(ctx: LocalContext) -> str:
        return json.dumps({"apiKey": "sk_test_local", "baseUrl": ctx.sandbox_url + "/stripe"})

The value is made once per stack start and kept while it runs (also across a restart of the
embedded AWS), so tokens minted against it stay valid until `make run` stops.
"""

from __future__ import annotations

import importlib
import json
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class LocalContext:
    """What a secret's local value may need to know about the running stack."""

    stack_name: str
    sandbox_url: str  # the provider sandbox root, e.g. http://127.0.0.1:4010
    api_url: str  # the local HTTP API root
    function_urls: dict[str, str] = field(default_factory=dict)  # function logical id -> Function URL


SecretFactory = Callable[[LocalContext], str]
_REGISTRY: dict[str, SecretFactory] = {}


def local_secret(logical_id: str) -> Callable[[SecretFactory], SecretFactory]:
    """Register the function that makes the local SecretString of `logical_id`."""

    def register(factory: SecretFactory) -> SecretFactory:
        _REGISTRY[logical_id] = factory
        return factory

    return register


def local_value(logical_id: str, ctx: LocalContext) -> str | None:
    """The registered local value of a secret, or None when nothing is registered for it."""
    factory = _REGISTRY.get(logical_id)
    return factory(ctx) if factory else None


def registered() -> list[str]:
    return sorted(_REGISTRY)


def _core_module(name: str) -> object:
    """Import a module of the shared core layer, which the stack itself uses for tokens."""
    core = Path(__file__).resolve().parent.parent / "layers" / "core"
    if str(core) not in sys.path:
        sys.path.append(str(core))
    return importlib.import_module(name)


# ---------------------------------------------------------------------------- the registered values
@local_secret("SigningKeySecret")
def _signing_key(ctx: LocalContext) -> str:
    # A fresh ES256 key, as the deploy step (scripts/signing_key.py) makes for AWS.
    tokens = _core_module("integration_core.tokens")
    return tokens.generate_signing_key_secret()  # type: ignore[attr-defined,no-any-return]


@local_secret("CursorKeySecret")
def _cursor_key(ctx: LocalContext) -> str:
    # Random, as GenerateSecretString makes it at deploy: the HMAC key of the page cursors.
    return secrets.token_urlsafe(48)


# Payments: provider credentials pointing at the sandbox's emulators (offline/sandbox/providers/).
@local_secret("StripeSecret")
def _stripe(ctx: LocalContext) -> str:
    return json.dumps(
        {
            "apiKey": "sk_test_local",
            "webhookSecret": "whsec_" + secrets.token_hex(24),
            "baseUrl": ctx.sandbox_url + "/stripe",
        }
    )


@local_secret("PayPalSecret")
def _paypal(ctx: LocalContext) -> str:
    return json.dumps(
        {
            "clientId": "local-paypal-client",
            "clientSecret": "local-paypal-secret",
            "webhookId": "LOCALWEBHOOK01",
            "baseUrl": ctx.sandbox_url + "/paypal",
        }
    )


# Calendar: a local Google OAuth client and Google's endpoints in the sandbox.
@local_secret("GoogleOAuthSecret")
def _google(ctx: LocalContext) -> str:
    from offline.sandbox.providers.google_oauth import local_client_config

    # A client of its own: the emulator registers it from this secret with the calendar's redirect
    # URI, and the sandbox's local client (docs/local-stack.md) keeps taking any redirect URI.
    config = local_client_config(ctx.sandbox_url)
    return json.dumps(
        {
            **config,
            "clientId": "local-calendar.apps.googleusercontent.com",
            "clientSecret": "local-calendar",
            "redirectUri": ctx.api_url.rstrip("/") + "/google-calendar/callback",
        }
    )


# Sign-in: the local OAuth clients of the three emulators (Google OpenID Connect, the Microsoft
# identity platform, GitHub) and their endpoints in the sandbox.
@local_secret("GoogleSignInSecret")
def _google_signin(ctx: LocalContext) -> str:
    from offline.sandbox.providers.google_oauth import local_client_config

    # A client of its own (the calendar's secret holds the local one, with the calendar's redirect
    # URI): the emulator registers it from this secret (CLIENT_SECRET_IDS) with no redirect URI
    # list of its own, so the service's SignInRedirectUris is the allow-list that counts.
    config = local_client_config(ctx.sandbox_url)
    return json.dumps({**config, "clientId": "local-signin.apps.googleusercontent.com", "clientSecret": "local-signin"})


@local_secret("MicrosoftSignInSecret")
def _microsoft_signin(ctx: LocalContext) -> str:
    # MSAL takes only https authorities: the authority is the sandbox's origin as https, and
    # "sandboxUrl" makes the adapter send it to the plain sandbox with X-Forwarded-Proto: https.
    from offline.sandbox.providers.microsoft import local_client_config

    secure = ctx.sandbox_url.replace("http://", "https://", 1)
    return json.dumps({**local_client_config(secure), "sandboxUrl": ctx.sandbox_url})


@local_secret("GitHubSignInSecret")
def _github_signin(ctx: LocalContext) -> str:
    from offline.sandbox.providers.github import local_client_config

    return json.dumps(local_client_config(ctx.sandbox_url))


# Video: the Zoom Server-to-Server OAuth app of the sandbox's Zoom emulator.
@local_secret("ZoomSecret")
def _zoom(ctx: LocalContext) -> str:
    return json.dumps(
        {
            "accountId": "local-zoom-account",
            "clientId": "local-zoom-client",
            "clientSecret": "local-zoom-secret",
            "webhookSecretToken": "local-zoom-webhook-" + secrets.token_hex(12),
            "oauthUrl": ctx.sandbox_url + "/zoom/oauth/token",
            "apiUrl": ctx.sandbox_url + "/zoom/v2",
        }
    )


# Video: the Teams app of the sandbox's Graph emulator (app-only token through MSAL: the authority
# is the sandbox's origin as https, sent to the plain sandbox by the adapter's local http client).
@local_secret("TeamsSecret")
def _teams(ctx: LocalContext) -> str:
    from offline.sandbox.providers.graph_shared import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_TENANT_ID

    secure = ctx.sandbox_url.replace("http://", "https://", 1)
    callbacks = ctx.function_urls.get("VideoCallbacksFunction", "")
    return json.dumps(
        {
            "tenantId": LOCAL_TENANT_ID,
            "clientId": LOCAL_CLIENT_ID,
            "clientSecret": LOCAL_CLIENT_SECRET,
            "clientState": "local-teams-" + secrets.token_hex(16),
            "notificationUrl": f"{callbacks.rstrip('/')}/teams" if callbacks else "",
            "authority": f"{secure}/graph/login/{LOCAL_TENANT_ID}",
            "graphUrl": ctx.sandbox_url + "/graph/v1.0",
            "sandboxUrl": ctx.sandbox_url,
        }
    )
