"""Cold start of each function: a fresh Python process imports the handler and serves one request
(against moto on loopback), compared with a bare handler that only imports boto3, makes one
DynamoDB client and serves one GetItem. The target is each function within 1.5x of that baseline.

    .venv/bin/python benchmarks/cold_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks.support import ROOT, moto_server

# What each probe process runs: import (timed), then one request (timed), printed as JSON.
PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path[:0] = [{code_dir!r}, {layer!r}, {root!r}]
{setup}
t1 = time.perf_counter()
{request}
t2 = time.perf_counter()
print(json.dumps({{"import_ms": (t1 - t0) * 1000, "request_ms": (t2 - t1) * 1000}}))
"""

BASELINE = (
    "import boto3\nclient = boto3.client('dynamodb')",
    "client.get_item(TableName='app-table', Key={'PK': {'S': 'STUDENT#stu_ana00001'}, 'SK': {'S': 'PROFILE'}})",
)

EVENT_SETUP = """
import importlib.util
from tests.support.lambdas import LambdaContext, api_event, sample_event
spec = importlib.util.spec_from_file_location('app', {app!r})
app = importlib.util.module_from_spec(spec); sys.modules['app'] = app; spec.loader.exec_module(app)
event = {event}
"""

FUNCTIONS = {
    "health": "sample_event('health/get_health.json')",
    "directory": "api_event('GET', '/directory/students/stu_ana00001', caller=('stu_ana00001', 'student'))",
    "api_docs": "api_event('GET', '/.well-known/jwks.json')",
    "authorizer": "None",
}


def _probe(name: str) -> tuple[str, str]:
    if name == "baseline":
        return BASELINE
    app = str(ROOT / "functions" / name / "app.py")
    if name == "authorizer":
        setup = EVENT_SETUP.format(app=app, event="sample_event('authorizer/request.json')")
        request = (
            "import boto3\nfrom integration_core import tokens\n"
            "secret = boto3.client('secretsmanager').get_secret_value(SecretId='school-integration/token-signing-key')"
            "['SecretString']\n"
            "token = tokens.issue_token('stu_ana00001', 'student', secret, 'https://integration.school.example', "
            "'school-integration-api')\n"
            "event['headers'] = {'authorization': 'Bearer ' + token}\n"
            "assert app.handler(event, LambdaContext())['isAuthorized']"
        )
        return setup, request
    setup = EVENT_SETUP.format(app=app, event=FUNCTIONS[name])
    return setup, "assert app.handler(event, LambdaContext())['statusCode'] == 200"


def run_probe(name: str) -> dict[str, float]:
    setup, request = _probe(name)
    code_dir = str(ROOT / "functions" / name) if name != "baseline" else str(ROOT)
    source = PROBE.format(
        code_dir=code_dir, layer=str(ROOT / "layers" / "core"), root=str(ROOT), setup=setup, request=request
    )
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, env=os.environ, check=True)
    total = (time.perf_counter() - started) * 1000
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "total_ms": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    results = {}
    with moto_server():
        for name in ["baseline", *FUNCTIONS]:
            runs = [run_probe(name) for _ in range(args.runs)]
            results[name] = {k: round(statistics.median(r[k] for r in runs), 1) for k in runs[0]}
    base = results["baseline"]["total_ms"]
    lines = ["| function | import ms | first request ms | process total ms | vs baseline |", "|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['import_ms']} | {r['request_ms']} | {r['total_ms']} | {r['total_ms'] / base:.2f}x |"
        )
    report = "\n".join(lines)
    print(report)
    (ROOT / "benchmarks" / "results" / "cold_start.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
