"""integration_core.startup: Powertools' re-exporting packages load a name's submodule when it is
first read (and give the same objects), a package whose `__init__` does more is imported as usual,
and in Lambda the collector pauses until the first invocation has been served."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from integration_core import startup

ROOT = Path(__file__).resolve().parents[3]


def _run(probe: str, **env: str) -> dict:
    base = {"PATH": "", "AWS_DEFAULT_REGION": "eu-west-1"}
    answer = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path[:0] = ['layers/core']\n" + probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=base | env,
    )
    assert answer.returncode == 0, answer.stderr
    return json.loads(answer.stdout.strip().splitlines()[-1])


ROUTING = """
import gc, json, sys
import integration_core.startup
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler import api_gateway
import aws_lambda_powertools, aws_lambda_powertools.event_handler as package
seen = {
    "same": APIGatewayHttpResolver is api_gateway.APIGatewayHttpResolver and Response is api_gateway.Response,
    "asyncio": "asyncio" in sys.modules,
    "appsync": "aws_lambda_powertools.event_handler.appsync" in sys.modules,
    "listed": "AppSyncResolver" in dir(package) and "AppSyncResolver" in package.__all__,
    "top_level_ran": hasattr(aws_lambda_powertools, "PACKAGE_PATH"),
    "collecting": gc.isenabled(),
}
from aws_lambda_powertools.event_handler import AppSyncResolver
from aws_lambda_powertools.event_handler.appsync import AppSyncResolver as Original
seen["on_demand"] = AppSyncResolver is Original
try:
    package.NoSuchName
except AttributeError as error:
    seen["unknown"] = str(error)
integration_core.startup.first_invocation_served()
seen["collecting_after"], seen["frozen"] = gc.isenabled(), gc.get_freeze_count()
print(json.dumps(seen))
"""


def test_a_route_function_loads_no_resolver_it_does_not_use_and_gets_the_same_objects():
    seen = _run(ROUTING, AWS_EXECUTION_ENV="AWS_Lambda_python3.11")
    assert seen["same"] and seen["listed"] and seen["on_demand"]
    assert not seen["asyncio"] and not seen["appsync"]  # AppSync (and asyncio) only once asked for
    assert seen["top_level_ran"]  # an __init__ with work of its own ran as it is
    assert seen["unknown"] == "module 'aws_lambda_powertools.event_handler' has no attribute 'NoSuchName'"


def test_in_lambda_the_collector_waits_for_the_first_invocation_then_skips_the_init_phase_objects():
    seen = _run(ROUTING, AWS_EXECUTION_ENV="AWS_Lambda_python3.11")
    assert seen["collecting"] is False
    assert seen["collecting_after"] is True and seen["frozen"] > 10_000


def test_outside_lambda_the_collector_is_left_alone():
    seen = _run(ROUTING)
    assert seen["collecting"] is True and seen["frozen"] == 0
    assert not seen["asyncio"]  # the lazy packages work in tests and tools too


def test_only_an_init_that_does_nothing_but_re_export_is_made_lazy():
    package = "aws_lambda_powertools.x"
    names, dunders = startup._reexports(
        '"""Doc."""\nfrom aws_lambda_powertools.x.a import A\nfrom .b import B as C\n__all__ = ["A", "C"]\n', package
    ) or ({}, [])
    assert names == {"A": ("aws_lambda_powertools.x.a", "A"), "C": ("aws_lambda_powertools.x.b", "B")}
    assert len(dunders) == 1
    for source in (
        "from aws_lambda_powertools.x.a import A\nset_up()\n",  # work of its own
        "from aws_lambda_powertools.x.a import *\n",
        "from json import dumps\n",  # a name from elsewhere
        "from ..y import Z\n",
        "import aws_lambda_powertools.x.a\n",
        "X = 1\n",
    ):
        assert startup._reexports(source, package) is None, source
