"""The web console: its static files (static/: HTML, ES modules, CSS; no build step) served from
this function's own code at /console, the same origin as the API (no CORS, one deployment).

Public routes (no bearer token; the pages call the API with the signed-in person's token):
`GET /console` and `GET /console/{proxy+}`. Only the files packaged in static/ are ever served
(a table made once from the folder, so no path from a request reaches the file system); a path
without a file extension that is one of the console's pages (`/console/callback`, the sign-in
redirect) answers index.html. Every answer carries a strict Content-Security-Policy (same origin
only, no inline script or style), `nosniff`, no referrer (the callback URL holds a code), and an
ETag: files are revalidated on each load (`no-cache`), so a deployment is seen at once without
hashed file names, and an unchanged file costs a 304."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core.http import make_resolver
from integration_core.observability import lambda_handler

STATIC = Path(__file__).parent / "static"
PREFIX = "/console"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
# Paths the single-page console answers with its page (client-side views).
PAGES = {"", "/", "/callback"}
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

app = make_resolver()


class Asset:
    def __init__(self, path: Path) -> None:
        self.body = path.read_text(encoding="utf-8")
        self.content_type = CONTENT_TYPES[path.suffix]
        self.etag = '"' + hashlib.sha256(self.body.encode()).hexdigest()[:32] + '"'


@lru_cache(maxsize=1)
def assets() -> dict[str, Asset]:
    """'/js/app.js' -> the file; only files of a served type."""
    return {
        "/" + path.relative_to(STATIC).as_posix(): Asset(path)
        for path in sorted(STATIC.rglob("*"))
        if path.is_file() and path.suffix in CONTENT_TYPES
    }


def _answer(status: int, asset: Asset) -> Response[str]:
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache", "ETag": asset.etag}
    if app.current_event.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers, body="")
    return Response(status_code=status, content_type=asset.content_type, body=asset.body, headers=headers)


def serve(relative: str) -> Response[str]:
    found = assets().get(relative)
    if found is None and relative in PAGES:
        found = assets()["/index.html"]
    if found is None:
        return _answer(404, assets()["/404.html"])
    return _answer(200, found)


# The routes return Responses and have no return annotation (their bodies are pages and files).
@app.get(PREFIX, include_in_schema=False)
def console_page():  # type: ignore[no-untyped-def]
    return serve("")


# Powertools compiles a route as a regular expression: ".*" is API Gateway's {proxy+} (any depth;
# also the bare "/console/").
@app.get(PREFIX + "/.*", include_in_schema=False)
def console_file():  # type: ignore[no-untyped-def]
    return serve(app.current_event.path.removeprefix(PREFIX))


@lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
