"""The local HTTP API, authorizer, Function URLs and error answers, driven over HTTP."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from offline.testing import RunningStack, start_stack

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = FIXTURES.parents[2]


def test_protected_route_gets_a_real_v2_event_with_the_authorizer_context(fixture_stack, http):
    response = http.get(
        f"{fixture_stack.api_url}/echo/abc%20d?x=1&x=2&y=",
        headers={"Authorization": "allow-admin", "Cookie": "a=1; b=2", "X-Multi": "v"},
    )
    assert response.status_code == 200
    assert response.headers["x-echo"] == "yes"
    assert response.cookies.get("seen") == "1"
    echoed = response.json()
    event = echoed["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /echo/{id}"
    assert event["pathParameters"] == {"id": "abc d"}
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["rawQueryString"] == "x=1&x=2&y="
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-multi"] == "v"
    assert event["requestContext"]["authorizer"]["lambda"]["role"] == "admin"
    assert event["requestContext"]["http"]["method"] == "GET"
    # The template's environment, with !Ref, !GetAtt and !Sub resolved to the local resources.
    assert echoed["env"]["STAGE"] == "test"
    assert echoed["env"]["EVENTS_TABLE"] == "school-integration-EventsTable"
    assert echoed["env"]["QUEUE_ARN"].endswith(":school-integration-WorkQueue")
    assert echoed["env"]["GREETING"] == "hello from school-integration in us-east-1"
    assert 0 < echoed["remainingMs"] <= 3000


def test_binary_bodies_arrive_base64_encoded(fixture_stack, http):
    payload = bytes(range(256))
    response = http.post(
        f"{fixture_stack.api_url}/echo", content=payload, headers={"Content-Type": "application/octet-stream"}
    )
    event = response.json()["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload
    text = http.post(f"{fixture_stack.api_url}/echo", json={"a": 1}).json()["event"]
    assert text["isBase64Encoded"] is False and text["body"] == '{"a":1}'


def test_greedy_path_and_unknown_routes(fixture_stack, http):
    greedy = http.delete(f"{fixture_stack.api_url}/files/a/b/c.txt").json()["event"]
    assert greedy["pathParameters"] == {"path": "a/b/c.txt"}
    missing = http.get(f"{fixture_stack.api_url}/nowhere")
    assert missing.status_code == 404 and missing.json() == {"message": "Not Found"}
    wrong_method = http.put(f"{fixture_stack.api_url}/echo")
    assert wrong_method.status_code == 404


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "BREW"])
def test_a_method_no_route_has_gets_api_gateways_404(fixture_stack, http, method):
    for path in ("/echo", "/files/a.txt", "/nowhere"):  # a route of another method, an ANY route, no route
        response = http.request(method, f"{fixture_stack.api_url}{path}")
        assert (response.status_code, response.json()) == (404, {"message": "Not Found"}), (method, path)
        assert response.headers["content-type"] == "application/json"


def test_a_function_url_and_the_sandbox_hand_any_method_to_their_app(fixture_stack, http):
    url = fixture_stack.state["functionUrls"]["EchoFunction"]
    traced = http.request("TRACE", f"{url}anything")
    assert traced.status_code == 200
    assert traced.json()["event"]["requestContext"]["http"]["method"] == "TRACE"
    sandbox = http.request("BREW", f"{fixture_stack.sandbox_url}/nowhere/x")
    assert sandbox.status_code == 404
    assert sandbox.json()["error"] == "no emulator for 'nowhere'"


def test_body_over_10_mb_is_refused_with_413(fixture_stack, http):
    response = http.post(f"{fixture_stack.api_url}/echo", content=b"x" * (10 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}


def test_authorizer_answers_as_api_gateway_does(fixture_stack, http):
    url = f"{fixture_stack.api_url}/echo/1"
    assert http.get(url).json() == {"message": "Unauthorized"}  # no identity: authorizer not called
    assert http.get(url).status_code == 401
    bad = http.get(url, headers={"Authorization": "garbage"})
    assert (bad.status_code, bad.json()) == (401, {"message": "Unauthorized"})
    denied = http.get(url, headers={"Authorization": "deny"})
    assert (denied.status_code, denied.json()) == (403, {"message": "Forbidden"})
    broken = http.get(url, headers={"Authorization": "boom"})
    assert (broken.status_code, broken.json()) == (500, {"message": "Internal Server Error"})


def test_authorizer_results_are_cached_per_identity(fixture_stack, http):
    url = f"{fixture_stack.api_url}/echo/1"
    first = http.get(url, headers={"Authorization": "allow-teacher"}).json()
    second = http.get(url, headers={"Authorization": "allow-teacher"}).json()
    context = first["event"]["requestContext"]["authorizer"]["lambda"]
    assert context == second["event"]["requestContext"]["authorizer"]["lambda"]  # one authorizer call
    other = http.get(url, headers={"Authorization": "allow-student"}).json()
    assert other["event"]["requestContext"]["authorizer"]["lambda"]["invocation"] > context["invocation"]


def test_cors_preflight_and_headers(fixture_stack, http):
    preflight = http.options(
        f"{fixture_stack.api_url}/echo",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert preflight.headers["access-control-max-age"] == "60"
    other = http.post(f"{fixture_stack.api_url}/echo", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_crash_and_timeout_give_api_gateway_errors_and_the_next_request_succeeds(fixture_stack, http):
    api = fixture_stack.api_url
    raised = http.get(f"{api}/crash?mode=raise")
    assert (raised.status_code, raised.json()) == (500, {"message": "Internal Server Error"})
    assert http.get(f"{api}/crash").text == "alive"
    died = http.get(f"{api}/crash?mode=exit")
    assert (died.status_code, died.json()) == (500, {"message": "Internal Server Error"})
    assert http.get(f"{api}/crash").text == "alive"  # a new environment replaced the dead one
    timed_out = http.get(f"{api}/sleep")
    assert (timed_out.status_code, timed_out.json()) == (500, {"message": "Internal Server Error"})
    assert timed_out.elapsed.total_seconds() < 3  # the template's Timeout (1 s), not the 5 s sleep
    assert http.get(f"{api}/sleep?mode=quick").text == "done"
    console = fixture_stack.console()
    assert "Sandbox.Timedout" in console and "cold" in console and "warm" in console


def test_function_url_serves_payload_2_0_at_its_own_port(fixture_stack, http):
    url = fixture_stack.state["functionUrls"]["EchoFunction"]
    response = http.post(f"{url}hooks/paypal?v=1", json={"event_type": "X"})
    event = response.json()["event"]
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/hooks/paypal"
    assert event["body"] == '{"event_type":"X"}'


def test_unsupported_resources_are_reported_by_name(fixture_stack):
    assert "NotEmulated (AWS::CloudWatch::Alarm)" in fixture_stack.console()


def _run(template: Path, state_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`python -m offline run`, expected to exit (refused, or failed at start)."""
    command = [sys.executable, "-m", "offline", "run", "--template", str(template), "--url-port", "0"]
    return subprocess.run(
        [*command, "--state-dir", str(state_dir), "--no-seed", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _second_run(state_dir, *extra: str) -> subprocess.CompletedProcess[str]:
    """`python -m offline run` on the fixture template, expected to refuse to start."""
    return _run(FIXTURES / "template.yaml", state_dir, *extra)


def test_a_second_run_on_the_same_state_folder_says_so_and_exits(fixture_stack):
    done = _second_run(fixture_stack.state_dir)
    assert done.returncode == 1
    assert "already running" in done.stderr


def _offline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "offline", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_a_refused_second_run_leaves_the_running_stack_reachable(fixture_stack):
    assert _second_run(fixture_stack.state_dir).returncode == 1
    state = json.loads((fixture_stack.state_dir / "state.json").read_text())
    assert state["pid"] == fixture_stack.process.pid
    status = _offline("status", "--state-dir", str(fixture_stack.state_dir))
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["apiUrl"] == fixture_stack.api_url
    # The fixture application issues no tokens: `token` says so (not "not running"); the e2e test
    # of the real template gets a token after a refused second run.
    token = _offline("token", "--state-dir", str(fixture_stack.state_dir))
    assert "the template gives no TOKEN_ISSUER" in token.stderr, token.stderr


def test_a_port_in_use_is_reported_by_name(fixture_stack, tmp_path):
    taken = fixture_stack.api_url.rsplit(":", 1)[1]
    done = _second_run(tmp_path, "--api-port", taken)
    assert done.returncode == 1
    assert f"port {taken} (local API) is already in use" in done.stderr


def test_a_route_and_a_table_added_to_the_template_appear_without_code_changes(tmp_path):
    app = tmp_path / "app"
    shutil.copytree(FIXTURES, app)
    template = app / "template.yaml"
    text = template.read_text()
    text = text.replace(
        "Resources:\n",
        """Resources:
  AddedTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
""",
        1,
    )
    text = text.replace(
        "        Greedy:",
        "        Added: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /added, Method: GET, "
        "Auth: {Authorizer: NONE}}}\n        Greedy:",
        1,
    )
    template.write_text(text)
    stack: RunningStack = start_stack(template, tmp_path / "state")
    try:
        response = httpx.get(f"{stack.api_url}/added", timeout=30)
        assert response.status_code == 200
        assert response.json()["event"]["routeKey"] == "GET /added"
        table = stack.client("dynamodb").describe_table(TableName="school-integration-AddedTable")["Table"]
        assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    finally:
        assert stack.stop() == 0


STEPS = ("template", "embedded AWS", "ports", "resources", "workers", "servers and event sources", "sample data")


def test_the_start_shows_one_line_per_step_with_its_time(fixture_stack):
    console = fixture_stack.console()
    for step in STEPS:
        line = rf"^  {step}\b.* \.\.\. +(done in \d+\.\d s|off \(--no-seed\))$"
        assert re.search(line, console, re.M), (step, console[:3000])
    assert re.search(r"^  sample data .* off \(--no-seed\)$", console, re.M)  # the fixture stack runs --no-seed
    assert console.index("  template") < console.index("  embedded AWS") < console.index("Local stack ready")


def test_a_failing_step_says_which_and_what_to_do(tmp_path):
    app = tmp_path / "app"
    shutil.copytree(FIXTURES, app)
    template = app / "template.yaml"
    template.write_text(
        template.read_text().replace(
            "Resources:\n",
            """Resources:
  BrokenTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: other, KeyType: HASH}]
""",
            1,
        )
    )
    done = _run(template, tmp_path / "state", "--api-port", "0", "--aws-port", "0", "--sandbox-port", "0")
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert re.search(r"^  resources .* FAILED after \d+\.\d s$", output, re.M), output
    failed = r"^resources \(.*\) failed: BrokenTable \(AWS::DynamoDB::Table\): ValidationException"
    assert re.search(failed, done.stderr, re.M), done.stderr
    assert "Some index key attributes are not defined in AttributeDefinitions" in done.stderr
    assert "what to do: " in done.stderr and "aws.log" in done.stderr
    assert "Traceback" not in output
    assert not (tmp_path / "state" / "state.json").exists()
