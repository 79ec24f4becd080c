"""The authorization matrix: who gets 401 or 403, and that nothing is returned or written then."""

import time

import jwt
import pytest

from integration_core import tokens
from tests.support.lambdas import api_event, invoke, through_gateway

ADMIN = ("adm_office", "admin")


@pytest.fixture
def directory_data(aws):
    invoke(
        "directory",
        api_event(
            "POST",
            "/directory/teachers",
            caller=ADMIN,
            body={"id": "tch_maria0001", "email": "maria@school.example", "name": "Maria", "timeZone": "Europe/Madrid"},
        ),
    )
    for sid, email in (("stu_ana00001", "ana@example.com"), ("stu_kenji0001", "kenji@example.jp")):
        invoke(
            "directory",
            api_event(
                "POST",
                "/directory/students",
                caller=ADMIN,
                body={"id": sid, "email": email, "name": sid, "timeZone": "UTC"},
            ),
        )
    return aws


def _count_students(token_for) -> int:
    answer = through_gateway(
        "directory", api_event("GET", "/directory/students"), "Bearer " + token_for("admin", "adm_office")
    )
    return len(answer.body["items"])


def _expired_token(secret: str) -> str:
    key_set = tokens.load_key_set(secret)
    now = int(time.time())
    claims = {
        "iss": "https://integration.school.example",
        "aud": "school-integration-api",
        "sub": "adm_office",
        "role": "admin",
        "iat": now - 4000,
        "exp": now - 400,
        "jti": "old",
    }
    return jwt.encode(claims, key_set.private_keys[key_set.signing_kid], "ES256", headers={"kid": key_set.signing_kid})


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda t, s: None, id="no token"),
        pytest.param(lambda t, s: "Bearer not-a-jwt", id="malformed"),
        pytest.param(lambda t, s: "Token " + t("admin", "adm_office"), id="not bearer"),
        pytest.param(lambda t, s: "Bearer " + _expired_token(s), id="expired"),
        pytest.param(
            lambda t, s: (
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
        pytest.param(lambda t, s: "Bearer " + t("admin", "adm_office", audience="another-api"), id="wrong audience"),
        pytest.param(
            lambda t, s: "Bearer " + t("admin", "adm_office", issuer="https://evil.example"), id="wrong issuer"
        ),
    ],
)
def test_bad_tokens_get_401_and_write_nothing(directory_data, token_for, make_header):
    header = make_header(token_for, directory_data["signing_secret"])
    body = {"email": "mallory@example.com", "name": "Mallory", "timeZone": "UTC"}
    answer = through_gateway("directory", api_event("POST", "/directory/students", body=body), header)
    assert answer.status == 401
    assert answer.body == {"message": "Unauthorized"}
    assert _count_students(token_for) == 2


@pytest.mark.parametrize(
    ("role", "sub", "method", "path", "body"),
    [
        (
            "student",
            "stu_ana00001",
            "POST",
            "/directory/students",
            {"email": "x@example.com", "name": "X", "timeZone": "UTC"},
        ),
        (
            "teacher",
            "tch_maria0001",
            "POST",
            "/directory/students",
            {"email": "x@example.com", "name": "X", "timeZone": "UTC"},
        ),
        (
            "service",
            "svc_crm",
            "POST",
            "/directory/students",
            {"email": "x@example.com", "name": "X", "timeZone": "UTC"},
        ),
        ("student", "stu_ana00001", "GET", "/directory/students/stu_kenji0001", None),
        ("student", "stu_ana00001", "GET", "/directory/students", None),
        ("teacher", "tch_maria0001", "GET", "/directory/students/stu_ana00001", None),
        ("student", "stu_ana00001", "PATCH", "/directory/students/stu_ana00001", {"name": "Ana the Admin"}),
        ("student", "stu_ana00001", "DELETE", "/directory/students/stu_kenji0001", None),
        ("student", "stu_ana00001", "GET", "/directory/enrollments", {"studentId": "stu_kenji0001"}),
    ],
)
def test_wrong_role_or_someone_elses_record_gets_403_and_changes_nothing(
    directory_data, token_for, role, sub, method, path, body
):
    query = body if method == "GET" and body else None
    event = api_event(method, path, body=None if query else body, query=query)
    answer = through_gateway("directory", event, "Bearer " + token_for(role, sub))
    assert answer.status == 403
    assert answer.content_type == "application/problem+json"
    assert "items" not in (answer.body or {}) and "email" not in (answer.body or {})
    assert _count_students(token_for) == 2
    kenji = invoke("directory", api_event("GET", "/directory/students/stu_kenji0001", caller=ADMIN)).body
    ana = invoke("directory", api_event("GET", "/directory/students/stu_ana00001", caller=ADMIN)).body
    assert (kenji["name"], ana["name"]) == ("stu_kenji0001", "stu_ana00001")


def test_a_student_reads_their_own_record_through_the_authorizer(directory_data, token_for):
    event = api_event("GET", "/directory/students/stu_ana00001")
    answer = through_gateway("directory", event, "Bearer " + token_for("student", "stu_ana00001"))
    assert answer.status == 200
    assert answer.body["email"] == "ana@example.com"


def test_a_route_reached_without_authorizer_context_is_refused(directory_data):
    answer = invoke("directory", api_event("GET", "/directory/students"))
    assert answer.status == 401
