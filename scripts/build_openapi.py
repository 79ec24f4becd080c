"""Builds the one OpenAPI 3.1 document of the whole API from the functions' own resolvers.

Every function with HttpApi routes in template.yaml is imported and asked for its schema
(Powertools `get_openapi_schema`); the paths and component schemas are merged, each operation is
marked public or bearer-protected as the template's route says, and the result is written to
functions/api_docs/openapi.json, which the ApiDocsFunction serves. `make test` checks that the
committed document is current and that its routes are exactly the template's.

    python scripts/build_openapi.py          # write the document
    python scripts/build_openapi.py --check  # exit 1 if the committed one is stale
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "functions" / "api_docs" / "openapi.json"
API_PREFIX = "/api/v1/integration"
sys.path[:0] = [str(ROOT / "layers" / "core"), str(ROOT)]

from offline.template import load_template  # noqa: E402


def template_routes() -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, /path/{param}) -> {"function": code dir, "public": bool} for every HttpApi route of
    the API (under API_PREFIX); the web console's pages (/console) are not part of the API."""
    resources = load_template(ROOT / "template.yaml")["Resources"]
    routes = {}
    for props in (r["Properties"] for r in resources.values() if r["Type"] == "AWS::Serverless::Function"):
        for event in (props.get("Events") or {}).values():
            if event["Type"] != "HttpApi":
                continue
            spec = event["Properties"]
            if not spec["Path"].startswith(API_PREFIX):
                continue
            auth = (spec.get("Auth") or {}).get("Authorizer")
            routes[(spec["Method"].upper(), spec["Path"])] = {
                "function": Path(props["CodeUri"]).name,
                "public": auth == "NONE",
            }
    return routes


def _load_app(function_dir: str):
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    spec = importlib.util.spec_from_file_location(
        f"openapi_{function_dir}", ROOT / "functions" / function_dir / "app.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the module's generic models through it
    spec.loader.exec_module(module)
    return module.app


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
        "retryAfter": {"type": "integer", "description": "Seconds to wait before retrying"},
    },
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _refs(node: Any) -> set[str]:
    """Every $ref below `node`."""
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def build_document() -> dict[str, Any]:
    routes = template_routes()
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for function_dir in sorted({r["function"] for r in routes.values()}):
        schema = _load_app(function_dir).get_openapi_schema().model_dump(by_alias=True, exclude_none=True, mode="json")
        for path, operations in schema.get("paths", {}).items():
            paths.setdefault(path, {}).update(operations)
        for name, component in (schema.get("components") or {}).get("schemas", {}).items():
            if name in schemas and schemas[name] != component:
                raise SystemExit(f"two functions define the schema {name} differently; rename one")
            schemas[name] = component
    for path, operations in paths.items():
        for method, operation in operations.items():
            route = routes.get((method.upper(), API_PREFIX + path))
            public = route["public"] if route else False
            operation["security"] = [] if public else [{"bearerAuth": []}]
            responses = operation.setdefault("responses", {})
            # Errors are problem+json (integration_core.http), not Powertools' default shape.
            if "422" in responses:
                responses["422"] = _problem("The request is not valid; `errors` names each field and why")
            responses["default"] = _problem("Any other error, as RFC 9457 problem details")
            if not public:
                responses.setdefault("401", {"description": "Missing, malformed, expired or forged access token"})
    # Powertools' own error shapes: every error here is a Problem (the responses above say so).
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    defined = {f"#/components/schemas/{name}" for name in schemas}
    dangling = sorted((_refs(paths) | _refs(schemas)) - defined)
    if dangling:
        raise SystemExit(f"the document would refer to schemas it does not define: {', '.join(dangling)}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "English training center: integration API",
            "version": "1.0.0",
            "description": "Directory, payments, webhooks and the provider integrations of the center. "
            "Errors are RFC 9457 application/problem+json.",
        },
        "servers": [{"url": API_PREFIX}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (ES256)"}},
        },
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed document is stale")
    args = parser.parse_args()
    text = render(build_document())
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            sys.stderr.write("functions/api_docs/openapi.json is stale: run `make openapi`\n")
            return 1
        return 0
    OUTPUT.write_text(text)
    sys.stdout.write(f"wrote {OUTPUT.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
