"""Hostile input at the HTTP edge: every route answers a clear 4xx problem and writes nothing, for a
body that is not JSON, not UTF-8, too deep or too large; explicit nulls in PATCH; control
characters in text fields; webhook hosts spelled with non-ASCII digits; crafted or foreign cursors."""

from __future__ import annotations

import base64
import json
import re

import pytest

from scripts.build_openapi import API_PREFIX, template_routes
from tests.support.aws import table_contents
from tests.support.lambdas import api_event, invoke

ADMIN = ("adm_office", "admin")
SERVICE = ("svc_accounting", "service")
SAMPLE_IDS = {
    "studentId": "stu_ana00001",
    "teacherId": "tch_james0001",
    "courseId": "crs_business0001",
    "sessionId": "ses_abcd0001",
    "webhookId": "whk_abcd0001",
    "deliveryId": "dlv_abcd0001",
    "subscriptionId": "sbs_abcd0001",
    "planId": "pln_abcd0001",
    "userId": "stu_ana00001",
    "provider": "google",
}
WRITE_ROUTES = sorted(
    (method, path, route["function"])
    for (method, path), route in template_routes().items()
    if method in ("POST", "PUT", "PATCH")
)


def _path(template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_IDS.get(m.group(1), "abcd0001"), template).removeprefix(API_PREFIX)


def _event(method, path, *, raw: str | bytes, content_type: str | None = "application/json", caller=ADMIN, **kw):
    """An event whose body and Content-Type are exactly these (bytes arrive base64-encoded, as API
    Gateway sends a body it does not take for text)."""
    event = api_event(method, path, caller=caller, raw_body="", **kw)
    if isinstance(raw, bytes):
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = raw, False
    event["headers"].pop("content-type", None)
    if content_type is not None:
        event["headers"]["content-type"] = content_type
    return event


def _tables():
    return table_contents("app-table"), table_contents("idempotency-table")


def _problem(answer, status: int, field: str | None = None) -> dict:
    assert answer.status == status, answer.body
    assert answer.content_type == "application/problem+json"
    assert answer.body["status"] == status and answer.body["detail"]
    if field is not None:
        assert field in [e["field"] for e in answer.body.get("errors", [])], answer.body
    return answer.body


@pytest.fixture
def school(aws):
    def call(path, body):
        answer = invoke("directory", api_event("POST", path, caller=ADMIN, body=body))
        assert answer.status == 201, answer.body
        return answer.body

    call("/directory/teachers", {"id": "tch_james0001", "email": "james@school.example", "name": "James"})
    call("/directory/students", {"id": "stu_ana00001", "email": "ana@example.com", "name": "Ana"})
    course = {
        "id": "crs_business0001",
        "title": "Business English",
        "description": "Meetings and e-mail.",
        "price": {"amount": "249.00", "currency": "USD"},
        "timeZone": "America/New_York",
        "teacherId": "tch_james0001",
    }
    call("/directory/courses", course)
    return aws


def _deep(levels: int) -> dict:
    data: dict = {}
    for _ in range(levels):
        data = {"x": data}
    return data


# ---------------------------------------------------------------- the body's media type and encoding
def test_there_are_write_routes_in_every_api_function():
    assert {function for _, _, function in WRITE_ROUTES} == {
        "calendar",
        "directory",
        "payments",
        "webhooks",
        "reminders",
        "calendar_feed",
        "video",
        "signin",
        "operations",
    }
    assert len(WRITE_ROUTES) >= 20


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None])
def test_every_post_and_patch_route_refuses_a_body_that_is_not_json_with_415(school, content_type):
    before = _tables()
    for method, path, function in WRITE_ROUTES:
        event = _event(method, _path(path), raw='{"name": "x"}', content_type=content_type)
        answer = invoke(function, event)
        body = _problem(answer, 415, "Content-Type")
        assert "application/json" in body["detail"], (method, path)
    assert _tables() == before


def test_json_with_a_charset_other_than_utf8_is_415_and_utf8_is_taken(school):
    body = json.dumps({"email": "kim@example.com", "name": "Kim"})
    latin = _event("POST", "/directory/students", raw=body, content_type="application/json; charset=iso-8859-1")
    _problem(invoke("directory", latin), 415, "Content-Type")
    utf8 = _event("POST", "/directory/students", raw=body, content_type="Application/JSON; charset=UTF-8")
    assert invoke("directory", utf8).status == 201


@pytest.mark.parametrize(
    "raw",
    [
        b'{"email": "kim@example.com", "name": "Kim \xff", "timeZone": "UTC"}',  # not UTF-8 at all
        b'{"email": "kim@example.com", "name": "Kim \xed\xa0\x80", "timeZone": "UTC"}',  # an encoded surrogate
        '{"email": "kim@example.com", "name": "Kim \\ud800", "timeZone": "UTC"}',  # an unpaired \\u escape
        '{"email": "kim@example.com", "name": "Kim", "timeZone": "UTC", "\\udfff": 1}',
    ],
    ids=["invalid-byte", "encoded-surrogate", "escaped-surrogate", "escaped-surrogate-key"],
)
def test_a_body_that_is_not_utf8_is_400_and_writes_nothing(school, raw):
    before = _tables()
    body = _problem(invoke("directory", _event("POST", "/directory/students", raw=raw)), 400, "body")
    assert "UTF-8" in body["detail"]
    assert _tables() == before


@pytest.mark.parametrize(
    ("function", "path", "raw"),
    [
        ("directory", "/directory/students", "[" * 1000 + "]" * 1000),
        ("directory", "/directory/students", '{"a":' * 1000 + "1" + "}" * 1000),
        ("directory", "/directory/students", "[" * 200_000),  # deeper than any parser's stack, and unclosed
        ("webhooks", "/events", json.dumps({"eventType": "grade_updated", "data": _deep(40)})),
    ],
    ids=["arrays-1000", "objects-1000", "unclosed-200000", "event-data-40"],
)
def test_json_nested_too_deep_is_400_and_writes_nothing(school, function, path, raw):
    before = _tables()
    body = _problem(invoke(function, _event("POST", path, raw=raw)), 400, "body")
    assert "deep" in body["detail"]
    assert _tables() == before


def test_a_bracket_inside_a_string_does_not_count_as_depth(school):
    name = "[" * 150 + "{" * 40
    body = {"email": "kim@example.com", "name": name, "timeZone": "UTC"}
    answer = invoke("directory", api_event("POST", "/directory/students", caller=ADMIN, body=body))
    assert answer.status == 201, answer.body
    assert answer.body["name"] == name


def test_a_body_over_the_size_cap_is_400_and_writes_nothing(school):
    raw = json.dumps({"email": "kim@example.com", "name": "K" * (600 * 1024), "timeZone": "UTC"})
    before = _tables()
    body = _problem(invoke("directory", _event("POST", "/directory/students", raw=raw)), 400, "body")
    assert "KiB" in body["detail"]
    assert _tables() == before


# ---------------------------------------------------------------- explicit nulls in PATCH
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/directory/students/stu_ana00001", "name"),
        ("/directory/students/stu_ana00001", "email"),
        ("/directory/students/stu_ana00001", "timeZone"),
        ("/directory/teachers/tch_james0001", "name"),
        ("/directory/teachers/tch_james0001", "email"),
        ("/directory/teachers/tch_james0001", "timeZone"),
        ("/directory/courses/crs_business0001", "title"),
        ("/directory/courses/crs_business0001", "timeZone"),
        ("/directory/courses/crs_business0001", "price"),
        ("/directory/courses/crs_business0001", "teacherId"),
    ],
)
def test_patching_a_required_field_to_null_is_422_naming_it_and_writes_nothing(school, path, field):
    before = _tables()
    answer = invoke("directory", api_event("PATCH", path, caller=ADMIN, body={field: None}))
    _problem(answer, 422, field)
    assert _tables() == before


def test_patching_a_course_description_to_null_clears_it(school):
    path = "/directory/courses/crs_business0001"
    answer = invoke("directory", api_event("PATCH", path, caller=ADMIN, body={"description": None}))
    assert answer.status == 200, answer.body
    assert answer.body["description"] == ""
    assert invoke("directory", api_event("GET", path, caller=ADMIN)).body["description"] == ""


@pytest.fixture
def webhook(school, monkeypatch):
    from integration_core.webhook_config import webhook_settings

    monkeypatch.setenv("WEBHOOKS_ALLOW_LOOPBACK", "true")
    webhook_settings.cache_clear()
    body = {"url": "http://127.0.0.1:9/hook", "events": ["payment_completed"], "description": "Accounting"}
    answer = invoke("webhooks", api_event("POST", "/webhooks", caller=SERVICE, body=body))
    assert answer.status == 201, answer.body
    yield answer.body
    webhook_settings.cache_clear()


@pytest.mark.parametrize("field", ["url", "events", "isActive"])
def test_patching_a_webhooks_required_field_to_null_is_422(webhook, field):
    before = _tables()
    patch = api_event("PATCH", f"/webhooks/{webhook['webhookId']}", caller=SERVICE, body={field: None})
    _problem(invoke("webhooks", patch), 422, field)
    assert _tables() == before


def test_patching_a_webhooks_description_to_null_clears_it(webhook):
    patch = api_event("PATCH", f"/webhooks/{webhook['webhookId']}", caller=SERVICE, body={"description": None})
    answer = invoke("webhooks", patch)
    assert answer.status == 200, answer.body
    assert answer.body.get("description") is None


# ---------------------------------------------------------------- webhook hosts
@pytest.mark.parametrize(
    "url",
    [
        "https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/hook",  # full-width digits: 127.0.0.1 once normalised
        "https://\u0661\u0662\u0667.0.0.1/hook",  # Arabic-Indic digits
        "https://\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com/hook",  # full-width letters
        "https://exa\u200bmple.com/hook",  # a zero-width space
        "https://bücher.example/hook",  # international names are taken in their xn-- form only
    ],
    ids=["fullwidth-digits", "arabic-indic-digits", "fullwidth-letters", "zero-width", "idn"],
)
def test_a_webhook_host_that_is_not_ascii_is_422_naming_the_url(school, url):
    before = _tables()
    body = {"url": url, "events": ["payment_completed"]}
    problem = _problem(invoke("webhooks", api_event("POST", "/webhooks", caller=SERVICE, body=body)), 422, "url")
    assert "ASCII" in problem["detail"] or "U+200B" in problem["detail"]
    assert _tables() == before


# ---------------------------------------------------------------- cursors
def _list(path, caller=ADMIN, function="directory", **query):
    return invoke(function, api_event("GET", path, caller=caller, query={k: str(v) for k, v in query.items()}))


@pytest.fixture
def students(school):
    for i in range(4):
        body = {"email": f"s{i}@example.com", "name": f"Student {i}"}
        assert invoke("directory", api_event("POST", "/directory/students", caller=ADMIN, body=body)).status == 201
    return school


def test_a_cursor_pages_through_its_list(students):
    first = _list("/directory/students", limit=2)
    cursor = first.body["nextCursor"]
    assert cursor.startswith("c1.")
    seen = [s["id"] for s in first.body["items"]]
    while cursor:
        page = _list("/directory/students", limit=3, cursor=cursor)  # another page size is fine
        assert page.status == 200, page.body
        seen += [s["id"] for s in page.body["items"]]
        cursor = page.body["nextCursor"]
    assert len(seen) == len(set(seen)) == 5


def _old_style(key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        _old_style({"PK": {"S": "STUDENT#stu_ana00001"}, "SK": {"S": "PROFILE"}}),  # raw keys, as cursors were
        _old_style({"GSI1PK": {"S": "TYPE#student"}, "GSI1SK": {"S": "0"}, "PK": {"S": "x"}, "SK": {"S": "y"}}),
        "c1..",
        "c1.e30.AAAA",
        "c1.%%%.%%%",
        "c1.\u00fc.\u00fc",
        "not a cursor",
        "=" * 40,
    ],
    ids=["raw-profile-key", "raw-index-key", "empty-parts", "forged-tag", "bad-base64", "non-ascii", "junk", "pad"],
)
def test_a_crafted_cursor_is_400_naming_the_cursor(students, cursor):
    _problem(_list("/directory/students", cursor=cursor), 400, "cursor")


def test_an_altered_cursor_is_400(students):
    cursor = _list("/directory/students", limit=2).body["nextCursor"]
    version, payload, tag = cursor.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["k"]["GSI1SK"]["S"] = "0"  # start the page elsewhere
    altered = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    body = _problem(_list("/directory/students", cursor=f"{version}.{altered}.{tag}"), 400, "cursor")
    assert "altered" in body["detail"]
    flipped = tag[:-2] + ("A" if tag[-2] != "A" else "B") + tag[-1]
    _problem(_list("/directory/students", cursor=f"{version}.{payload}.{flipped}"), 400, "cursor")


def test_a_cursor_of_another_list_or_caller_is_400(students, monkeypatch):
    cursor = _list("/directory/students", limit=2).body["nextCursor"]
    for path, caller in [
        ("/directory/teachers", ADMIN),  # another list
        ("/directory/courses", ADMIN),
        ("/directory/students", SERVICE),  # the same list, another caller
        ("/directory/students", ("adm_other0001", "admin")),  # another admin
    ]:
        body = _problem(_list(path, caller=caller, cursor=cursor), 400, "cursor")
        assert "another list or caller" in body["detail"], (path, caller)


def test_a_cursor_is_bound_to_the_filters_of_its_list(students):
    other = {
        "id": "crs_general0001",
        "title": "General English",
        "price": {"amount": "99.00", "currency": "USD"},
        "timeZone": "UTC",
        "teacherId": "tch_james0001",
    }
    assert invoke("directory", api_event("POST", "/directory/courses", caller=ADMIN, body=other)).status == 201
    people = [s["id"] for s in _list("/directory/students", limit=5).body["items"]]
    for course in ("crs_business0001", "crs_general0001"):
        for student in people[:2]:
            body = {"courseId": course, "studentId": student}
            assert (
                invoke("directory", api_event("POST", "/directory/enrollments", caller=ADMIN, body=body)).status == 201
            )
    cursor = _list("/directory/enrollments", courseId="crs_business0001", limit=1).body["nextCursor"]
    assert _list("/directory/enrollments", courseId="crs_business0001", limit=1, cursor=cursor).status == 200
    body = _problem(_list("/directory/enrollments", courseId="crs_general0001", cursor=cursor), 400, "cursor")
    assert "another list or caller" in body["detail"]


# ---------------------------------------------------------------- control characters in text
CONTROLS = {
    "nul": "\x00",
    "ansi-escape": "\x1b[31m",
    "crlf": "\r\n",
    "lf": "\n",
    "tab": "\t",
    "del": "\x7f",
    "c1-next-line": "\x85",
    "bidi-override": "\u202e",
    "bidi-isolate": "\u2066",
    "zero-width-space": "\u200b",
    "byte-order-mark": "\ufeff",
    "line-separator": "\u2028",
}


COURSE = {"price": {"amount": "10", "currency": "USD"}, "timeZone": "UTC", "teacherId": "tch_james0001"}


@pytest.mark.parametrize("control", list(CONTROLS.values()), ids=list(CONTROLS))
@pytest.mark.parametrize(
    ("function", "method", "path", "field", "body"),
    [
        ("directory", "POST", "/directory/students", "name", {"email": "kim@example.com", "name": "Kim <c>"}),
        ("directory", "POST", "/directory/students", "email", {"email": "kim<c>@example.com", "name": "Kim"}),
        ("directory", "POST", "/directory/teachers", "name", {"email": "lee@school.example", "name": "Lee <c>"}),
        ("directory", "PATCH", "/directory/students/stu_ana00001", "name", {"name": "Ana <c>"}),
        ("directory", "PATCH", "/directory/students/stu_ana00001", "timeZone", {"timeZone": "UTC<c>"}),
        ("directory", "POST", "/directory/courses", "title", {"title": "IELTS <c>", **COURSE}),
        ("directory", "PATCH", "/directory/courses/crs_business0001", "title", {"title": "IELTS <c>"}),
        ("payments", "POST", "/payments/plans", "name", {"name": "Monthly <c>", "amount": "29.00", "currency": "EUR"}),
        ("webhooks", "POST", "/events", "cause", {"eventType": "grade_updated", "data": {}, "cause": "import <c>"}),
    ],
    ids=["student", "email", "teacher", "student-patch", "zone", "course", "course-patch", "plan", "event-cause"],
)
def test_control_characters_in_a_single_line_field_are_422_naming_it(
    school, function, method, path, field, body, control
):
    filled = json.loads(json.dumps(body).replace("<c>", json.dumps(control)[1:-1]))
    before = _tables()
    answer = invoke(function, api_event(method, path, caller=ADMIN, body=filled))
    problem = _problem(answer, 422, field)
    reason = next(e["reason"] for e in problem["errors"] if e["field"] == field)
    assert "U+" in reason, reason
    assert _tables() == before


@pytest.mark.parametrize("control", ["\x00", "\x1b[2J", "\r", "\u202e", "\u200b", "\x85", "\u2029"])
def test_descriptions_refuse_control_characters_but_tab_and_newline(school, control):
    path = "/directory/courses/crs_business0001"
    refused = invoke("directory", api_event("PATCH", path, caller=ADMIN, body={"description": f"a{control}b"}))
    _problem(refused, 422, "description")
    text = "Week 1:\tgreetings\nWeek 2:\tmeetings"
    taken = invoke("directory", api_event("PATCH", path, caller=ADMIN, body={"description": text}))
    assert (taken.status, taken.body["description"]) == (200, text)


def test_a_webhooks_description_takes_newlines_and_refuses_escapes(webhook):
    path = f"/webhooks/{webhook['webhookId']}"
    refused = invoke("webhooks", api_event("PATCH", path, caller=SERVICE, body={"description": "ok\x1b[0m"}))
    _problem(refused, 422, "description")
    taken = invoke("webhooks", api_event("PATCH", path, caller=SERVICE, body={"description": "line one\nline two"}))
    assert (taken.status, taken.body["description"]) == (200, "line one\nline two")


def test_names_in_scripts_that_need_joiners_are_taken(school):
    for name in ("Mahsa Rah\u200cnama", "\u0645\u0647\u200c\u0633\u0627", "Kim \U0001f469\u200d\U0001f4bb"):
        body = {"email": f"x{len(name)}@example.com", "name": name}
        answer = invoke("directory", api_event("POST", "/directory/students", caller=ADMIN, body=body))
        assert (answer.status, answer.body.get("name")) == (201, name), answer.body
