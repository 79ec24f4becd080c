"""The real application (template.yaml) through the local stack, as a client sees it: health and
its outage answer, the authorizer in front of exactly the template's routes, the authorization
matrix, every route served, and the banner's sample commands."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest

from integration_core import tokens

ROOT = Path(__file__).resolve().parents[3]


def _student_body(email: str) -> dict:
    return {"email": email, "name": "E2E Student", "timeZone": "Europe/Madrid"}


def test_health_is_200_then_503_while_aws_is_down_then_200_again(local_stack, api_base, http):
    assert http.get(f"{api_base}/health").status_code == 200
    local_stack.control("aws/stop")
    try:
        down = http.get(f"{api_base}/health")
        assert down.status_code == 503
        assert int(down.headers["retry-after"]) > 0
    finally:
        local_stack.control("aws/start")
    deadline = time.monotonic() + 20
    while http.get(f"{api_base}/health").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert http.get(f"{api_base}/health").status_code == 200


def test_an_aws_outage_loses_no_data(local_stack, api_base, role_tokens, http):
    headers = {"Authorization": f"Bearer {role_tokens['admin']}"}
    email = f"outage-{time.time_ns()}@example.com"
    created = http.post(f"{api_base}/directory/students", json=_student_body(email), headers=headers)
    assert created.status_code == 201, created.text
    local_stack.control("aws/stop")
    try:
        assert http.get(f"{api_base}/directory/students/{created.json()['id']}", headers=headers).status_code == 503
    finally:
        local_stack.control("aws/start")
    fetched = http.get(f"{api_base}/directory/students/{created.json()['id']}", headers=headers)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["email"] == email


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND"])
def test_a_method_the_api_does_not_route_gets_api_gateways_404(api_base, http, method):
    answer = http.request(method, f"{api_base}/health")
    assert (answer.status_code, answer.json()) == (404, {"message": "Not Found"})


def test_a_refused_second_run_leaves_token_and_status_working(local_stack, api_base, http):
    def offline(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "offline", *args, "--state-dir", str(local_stack.state_dir)]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)

    refused = offline("run", "--template", str(ROOT / "template.yaml"))
    assert refused.returncode == 1 and "already running" in refused.stderr
    assert json.loads(offline("status").stdout)["pid"] == local_stack.process.pid
    token = offline("token", "--role", "admin", "--sub", "adm_office")
    assert token.returncode == 0, token.stderr
    listed = http.get(f"{api_base}/directory/students", headers={"Authorization": f"Bearer {token.stdout.strip()}"})
    assert listed.status_code == 200


def test_the_start_shows_its_steps_and_loads_the_sample_data(local_stack):
    console = local_stack.console()
    for step in ("embedded AWS", "resources", "workers", "servers and event sources", "sample data"):
        assert re.search(rf"^  {step}\b.* \.\.\. +done in \d+\.\d s$", console, re.M), (step, console[:3000])


def test_the_authorizer_guards_exactly_the_routes_the_template_guards(local_stack, api_base, http):
    for route in local_stack.state["routes"]:
        method, path = route.split(" ", 1)
        url = local_stack.api_url + re.sub(r"\{[^}]+\}", "x1", path)
        answer = http.request(method, url)
        if local_stack.state["routeAuthorizers"][route] is None:
            assert answer.status_code != 401, route
        else:
            assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"}), route


def test_every_template_route_reaches_its_function(local_stack, role_tokens, http):
    headers = {"Authorization": f"Bearer {role_tokens['admin']}"}
    for route in local_stack.state["routes"]:
        method, path = route.split(" ", 1)
        answer = http.request(method, local_stack.api_url + re.sub(r"\{[^}]+\}", "x1", path), headers=headers)
        # API Gateway's own 404 is {"message": "Not Found"}; the functions answer problem+json.
        assert answer.text != '{"message": "Not Found"}', route
        assert answer.status_code < 500, route


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(lambda t: None, id="no token"),
        pytest.param(lambda t: "Bearer not-a-jwt", id="malformed"),
        pytest.param(
            lambda t: (
                "Bearer "
                + tokens.issue_token(
                    "adm_office",
                    "admin",
                    tokens.generate_signing_key_secret(),
                    "https://integration.school.example",
                    "school-integration-api",
                )
            ),
            id="forged signature",
        ),
        pytest.param(lambda t: "Bearer " + t(audience="another-api"), id="wrong audience"),
        pytest.param(lambda t: "Bearer " + t(expired=True), id="expired"),
    ],
)
def test_bad_tokens_get_401_and_write_nothing(local_stack, api_base, role_tokens, http, header):
    def mint(audience: str = "school-integration-api", expired: bool = False) -> str:
        settings = local_stack.state["tokens"]
        secret = local_stack.client("secretsmanager").get_secret_value(SecretId=settings["secretId"])["SecretString"]
        if not expired:
            return tokens.issue_token("adm_office", "admin", secret, settings["issuer"], audience)
        key_set = tokens.load_key_set(secret)
        now = int(time.time())
        claims = {
            "iss": settings["issuer"],
            "aud": audience,
            "sub": "adm_office",
            "role": "admin",
            "iat": now - 4000,
            "exp": now - 400,
            "jti": "old",
        }
        key = key_set.private_keys[key_set.signing_kid]
        return jwt.encode(claims, key, "ES256", headers={"kid": key_set.signing_kid})

    value = header(mint)
    email = f"mallory-{time.time_ns()}@example.com"
    answer = http.post(
        f"{api_base}/directory/students", json=_student_body(email), headers={"Authorization": value} if value else {}
    )
    assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"})
    listed = http.get(f"{api_base}/directory/students", headers={"Authorization": f"Bearer {role_tokens['admin']}"})
    assert email not in listed.text


@pytest.mark.parametrize("role", ["student", "teacher", "service"])
def test_only_admins_create_students(api_base, role_tokens, http, role):
    email = f"{role}-{time.time_ns()}@example.com"
    answer = http.post(
        f"{api_base}/directory/students",
        json=_student_body(email),
        headers={"Authorization": f"Bearer {role_tokens[role]}"},
    )
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_admin_creates_and_reads_a_student(api_base, role_tokens, http):
    headers = {"Authorization": f"Bearer {role_tokens['admin']}"}
    email = f"ana-{time.time_ns()}@example.com"
    created = http.post(f"{api_base}/directory/students", json=_student_body(email), headers=headers)
    assert created.status_code == 201, created.text
    student_id = created.json()["id"]
    fetched = http.get(f"{api_base}/directory/students/{student_id}", headers=headers)
    assert fetched.status_code == 200 and fetched.json()["email"] == email


def _signed(local_stack, role: str, sub: str) -> str:
    """A token with the stack's own key for any role and sub, as a buggy issuer might make one."""
    settings = local_stack.state["tokens"]
    secret = local_stack.client("secretsmanager").get_secret_value(SecretId=settings["secretId"])["SecretString"]
    key_set = tokens.load_key_set(secret)
    now = int(time.time())
    claims = {"iss": settings["issuer"], "aud": settings["audience"], "sub": sub, "role": role}
    claims |= {"iat": now, "exp": now + 600, "jti": f"e2e-{time.time_ns()}"}
    return jwt.encode(claims, key_set.private_keys[key_set.signing_kid], "ES256", headers={"kid": key_set.signing_kid})


@pytest.mark.parametrize(
    ("role", "sub"), [("student", "svc_e2eservice"), ("teacher", "stu_e2estudent"), ("admin", "1")]
)
def test_a_token_whose_sub_does_not_fit_its_role_is_401(local_stack, api_base, http, role, sub):
    answer = http.get(
        f"{api_base}/directory/courses", headers={"Authorization": f"Bearer {_signed(local_stack, role, sub)}"}
    )
    assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"})


def test_cursors_page_through_the_stack_and_an_altered_one_is_400(api_base, role_tokens, http):
    admin = {"Authorization": f"Bearer {role_tokens['admin']}"}
    first = http.get(f"{api_base}/directory/students", params={"limit": 1}, headers=admin).json()
    cursor = first["nextCursor"]  # the seed has three students
    second = http.get(f"{api_base}/directory/students", params={"limit": 1, "cursor": cursor}, headers=admin)
    assert second.status_code == 200 and second.json()["items"] != first["items"]
    i = len(cursor) - 10  # a character of the tag
    tampered = cursor[:i] + ("A" if cursor[i] != "A" else "B") + cursor[i + 1 :]
    altered = http.get(f"{api_base}/directory/students", params={"cursor": tampered}, headers=admin)
    assert altered.status_code == 400 and altered.json()["errors"][0]["field"] == "cursor"
    service = {"Authorization": f"Bearer {role_tokens['service']}"}
    foreign = http.get(f"{api_base}/directory/students", params={"cursor": cursor}, headers=service)
    assert foreign.status_code == 400


def test_a_body_that_is_not_json_is_415(api_base, role_tokens, http):
    answer = http.post(
        f"{api_base}/directory/students",
        content=b"email=kim@example.com&name=Kim",
        headers={
            "Authorization": f"Bearer {role_tokens['admin']}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert answer.status_code == 415 and answer.headers["content-type"].startswith("application/problem+json")


def test_make_token_without_sub_mints_the_banners_caller_of_the_role(local_stack, api_base, http):
    done = subprocess.run(
        ["make", "-s", "token", "ROLE=student"],
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "OFFLINE_STATE_DIR": str(local_stack.state_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == "stu_ana00001"
    own = http.get(f"{api_base}/directory/students/stu_ana00001", headers={"Authorization": f"Bearer {token}"})
    assert own.status_code == 200, own.text


def test_the_banner_curl_commands_work_as_printed(local_stack):
    console = local_stack.console()
    commands = [line.strip() for line in console.splitlines() if line.strip().startswith("curl -s ")]
    assert len(commands) == 2, console[-3000:]
    for command in commands:
        done = subprocess.run(
            [*shlex.split(command), "-o", "/dev/null", "-w", "%{http_code}"], capture_output=True, text=True, timeout=30
        )
        assert done.stdout == "200", command
