"""Public documents of the API: the merged OpenAPI 3.1 document (built from every function's own
resolver by scripts/build_openapi.py), Swagger UI, and the JWKS of the access tokens."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam
from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core.config import API_PREFIX, settings
from integration_core.errors import NotFound
from integration_core.http import make_resolver
from integration_core.observability import lambda_handler

HERE = Path(__file__).parent
SWAGGER_ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}
CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.35.0/"

app = make_resolver()


# The routes return Responses and have no return annotation: Powertools would document one as the
# route's JSON body schema, and these bodies (a document, a page, an asset) carry their own.
@lru_cache(maxsize=1)
def _document() -> str:
    return (HERE / "openapi.json").read_text()


@app.get("/openapi.json", tags=["documents"], summary="The OpenAPI 3.1 document of the whole API")
def openapi():  # type: ignore[no-untyped-def]  # a Response: see the note above
    return Response(
        status_code=200,
        content_type="application/json",
        body=_document(),
        headers={"Cache-Control": "public, max-age=300"},
    )


def _swagger_page() -> str:
    # Assets are served by this function when `make install` fetched them; else from the CDN.
    base = f"{API_PREFIX}/docs/assets/" if (HERE / "swagger_ui" / "swagger-ui-bundle.js").exists() else CDN
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>School integration API</title>
<link rel="stylesheet" href="{base}swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{base}swagger-ui-bundle.js"></script>
<script>
SwaggerUIBundle({{url: "{API_PREFIX}/openapi.json", dom_id: "#swagger-ui", persistAuthorization: true}});
</script>
</body></html>"""


@app.get(
    "/docs",
    tags=["documents"],
    summary="Swagger UI",
    responses={200: {"description": "The Swagger UI page", "content": {"text/html": {"schema": {"type": "string"}}}}},
)
def docs():  # type: ignore[no-untyped-def]  # a Response: see the note above
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=_swagger_page())


@app.get(
    "/docs/assets/<asset>",
    tags=["documents"],
    summary="Swagger UI's script and style sheet",
    responses={
        200: {
            "description": "swagger-ui-bundle.js or swagger-ui.css",
            "content": {media: {"schema": {"type": "string"}} for media in sorted(set(SWAGGER_ASSETS.values()))},
        }
    },
)
def docs_asset(asset: Annotated[str, PathParam(max_length=64)]):  # type: ignore[no-untyped-def]  # a Response: see the note above
    path = HERE / "swagger_ui" / asset
    if asset not in SWAGGER_ASSETS or not path.exists():
        raise NotFound(f"no asset {asset}")
    return Response(
        status_code=200,
        content_type=SWAGGER_ASSETS[asset],
        body=path.read_text(),
        headers={"Cache-Control": "public, max-age=86400"},
    )


@app.get("/.well-known/jwks.json", tags=["documents"], summary="Public keys that verify the access tokens")
def jwks():  # type: ignore[no-untyped-def]  # a Response: see the note above
    # jwt and cryptography, and boto3 for the secret, load only for this route: the documents need neither.
    from integration_core import tokens
    from integration_core.adapters.secrets import secret_text

    key_set = tokens.load_key_set(secret_text(settings().signing_key_secret_name))
    return Response(
        status_code=200,
        content_type="application/json",
        body=json.dumps(key_set.jwks()),
        headers={"Cache-Control": "public, max-age=300"},
    )


@lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
