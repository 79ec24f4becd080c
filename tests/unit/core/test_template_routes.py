"""The template's HttpApi routes and the resolvers' routes are the same set, method by method, for
every function: a route written in one place and forgotten in the other fails here, not at run time
as a 404 from API Gateway or a route no resolver answers."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from integration_core.config import API_PREFIX
from offline.template import load_template
from tests.support.lambdas import load_function

ROOT = Path(__file__).resolve().parents[3]
RESOURCES = load_template(ROOT / "template.yaml")["Resources"]
CONSOLE = "/console"  # the web console's pages, outside the API's prefix


def _template_routes() -> dict[str, set[str]]:
    """Per function folder (several template functions may share one, as the catalog's do)."""
    routes: dict[str, set[str]] = defaultdict(set)
    for resource in RESOURCES.values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        folder = Path(props["CodeUri"]).name
        for event in (props.get("Events") or {}).values():
            if event["Type"] != "HttpApi":
                continue
            path = event["Properties"]["Path"]
            assert path.startswith((API_PREFIX, CONSOLE)) or path in ("/health",), path
            # {proxy+} (any depth) is the resolver's regular expression ".*" (functions/console).
            local = re.sub(r"\{(\w+)\}", r"<\1>", path.removeprefix(API_PREFIX) or "/").replace("{proxy+}", ".*")
            routes[folder].add(event["Properties"]["Method"].upper() + " " + local)
    return dict(routes)


TEMPLATE_ROUTES = _template_routes()


def _resolver_routes(folder: str) -> set[str]:
    app = load_function(folder).app
    # Powertools' APIGatewayHttpResolver records each registered route as "<METHOD><path>".
    found = set()
    for key in app._route_keys:
        method, path = re.match(r"^([A-Z]+)(/.*)$", key).groups()
        found.add(f"{method} {path}")
    return found


def test_every_http_function_is_checked():
    assert {"directory", "payments", "webhooks", "health", "api_docs"} <= set(TEMPLATE_ROUTES)


@pytest.mark.parametrize("folder", sorted(TEMPLATE_ROUTES))
def test_template_and_resolver_routes_are_the_same_set(folder):
    template, resolver = TEMPLATE_ROUTES[folder], _resolver_routes(folder)
    assert template - resolver == set(), f"{folder}: in template.yaml, answered by no route of the resolver"
    assert resolver - template == set(), f"{folder}: routes of the resolver API Gateway never sends"
