"""Graph's app-only sign-in as MSAL's ConfidentialClientApplication goes through it: instance
discovery (when not turned off), the tenant's OpenID configuration, and the client-credentials token
(scope https://graph.microsoft.com/.default), all below <sandbox>/graph/login. Only what the
client-credentials flow needs: no authorization endpoint, no keys.
"""

from __future__ import annotations

import secrets
import time

from offline.http import Response
from offline.sandbox.base import SandboxRequest, route
from offline.sandbox.providers.graph_shared import GRAPH_SCOPE, TOKEN_SECONDS, GraphBase


class GraphLogin(GraphBase):
    # ------------------------------------------------------------------ sign-in (app-only)
    def _authority(self, tenant: str) -> str:
        # MSAL is given https://<host>/graph/login/<tenant>; what it reads here must be https too.
        return f"{self.ctx.base_url.replace('http://', 'https://', 1)}/graph/login/{tenant}"

    @route("GET", "/login/{tenant}/v2.0/.well-known/openid-configuration")
    def openid_configuration(self, request: SandboxRequest) -> Response:
        tenant = request.params["tenant"]
        if tenant not in (self.app()["tenantId"], "organizations", "common"):
            return Response.json(
                400, {"error": "invalid_tenant", "error_description": f"AADSTS90002: Tenant '{tenant}' not found."}
            )
        base = self._authority(self.app()["tenantId"])
        return Response.json(
            200,
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "tenant_region_scope": "EU",
            },
        )

    @route("GET", "/login/common/discovery/instance")
    def instance_discovery(self, request: SandboxRequest) -> Response:
        authorize = request.query.get("authorization_endpoint", "")
        tenant = authorize.split("/graph/login/", 1)[-1].split("/", 1)[0] or "common"
        return Response.json(
            200,
            {
                "tenant_discovery_endpoint": f"{self._authority(tenant)}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [],
            },
        )

    @route("POST", "/login/{tenant}/oauth2/v2.0/token")
    def token(self, request: SandboxRequest) -> Response:
        form = request.form()
        app = self.app()
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if request.basic_auth():
            client_id, client_secret = request.basic_auth()  # type: ignore[misc]

        def refuse(status: int, error: str, description: str) -> Response:
            return Response.json(status, {"error": error, "error_description": description, "error_codes": []})

        if request.params["tenant"] not in (app["tenantId"],):
            return refuse(400, "invalid_request", f"AADSTS90002: Tenant '{request.params['tenant']}' not found.")
        if form.get("grant_type") != "client_credentials":
            return refuse(400, "unsupported_grant_type", "AADSTS70003: This app only emulates client_credentials.")
        if client_id != app["clientId"]:
            return refuse(
                400, "unauthorized_client", f"AADSTS700016: Application with identifier '{client_id}' was not found."
            )
        if client_secret != app["clientSecret"]:
            return refuse(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        if form.get("scope", "").split() != [GRAPH_SCOPE]:
            return refuse(
                400, "invalid_scope", f"AADSTS1002012: The scope must be {GRAPH_SCOPE} for client credentials."
            )
        token = secrets.token_urlsafe(48)
        self.store.collection("tokens")[token] = {"expires": time.time() + TOKEN_SECONDS, "app": client_id}
        return Response.json(
            200,
            {
                "token_type": "Bearer",
                "expires_in": TOKEN_SECONDS,
                "ext_expires_in": TOKEN_SECONDS,
                "access_token": token,
            },
        )
