"""The authorization matrix: who gets 401 or 403, and that nothing is returned or written then."""

import time

import jwt
import pytest

from integration_core import tokens
from tests.component.payments import conftest as payment_fixtures
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
            "svc_crm00001",
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


# ---------------------------------------------------------------- the role x owner x route matrix
# A caller's identity is its role and its id together. Owners: students Ana and Kenji, teachers Maria
# (who teaches Ana's course) and James, services Accounting (owns a webhook) and CRM, the admin.
CALLERS = {
    "ana": ("student", "stu_ana00001"),
    "kenji": ("student", "stu_kenji0001"),
    "maria": ("teacher", "tch_maria0001"),
    "james": ("teacher", "tch_james0001"),
    "accounting": ("service", "svc_accounting"),
    "crm": ("service", "svc_crm00001"),
}
# Tokens signed with the real key whose sub spells someone of another kind: refused by the authorizer.
MISMATCHED = [
    ("student", "svc_accounting"),  # a student token with a service's id
    ("teacher", "stu_ana00001"),  # a teacher token with a student's id
    ("student", "tch_maria0001"),
    ("service", "adm_office"),
    ("admin", "svc_accounting"),
    ("service", "svc-accounting"),  # no prefix at all
]
NOT_ADMIN = tuple(CALLERS)
OTHERS_THAN_ANA = ("kenji", "maria", "james")


def _signed(secret: str, role: str, sub: str) -> str:
    key_set = tokens.load_key_set(secret)
    now = int(time.time())
    claims = {
        "iss": "https://integration.school.example",
        "aud": "school-integration-api",
        "sub": sub,
        "role": role,
        "iat": now,
        "exp": now + 600,
        "jti": f"matrix-{role}-{sub}",
    }
    return jwt.encode(claims, key_set.private_keys[key_set.signing_kid], "ES256", headers={"kid": key_set.signing_kid})


# The provider emulators of the payment tests, for Ana's payment.
provider_world = payment_fixtures.world


@pytest.fixture
def school(provider_world, monkeypatch):
    """Ana enrolled in Maria's course, a card payment and a subscription of Ana's, a webhook of the
    accounting service."""
    from integration_core.webhook_config import webhook_settings
    from tests.support.receiver import Receiver

    monkeypatch.setenv("WEBHOOKS_ALLOW_LOOPBACK", "true")
    webhook_settings.cache_clear()

    def ok(function, method, path, caller, body=None, key=None):
        headers = {"Idempotency-Key": key} if key else None
        answer = invoke(function, api_event(method, path, caller=caller, body=body, headers=headers))
        assert answer.status in (200, 201), (path, answer.body)
        return answer.body

    for tid, name in (("tch_maria0001", "Maria"), ("tch_james0001", "James")):
        ok(
            "directory",
            "POST",
            "/directory/teachers",
            ADMIN,
            {"id": tid, "email": f"{name}@school.example", "name": name},
        )
    for sid, name in (("stu_ana00001", "Ana"), ("stu_kenji0001", "Kenji")):
        ok("directory", "POST", "/directory/students", ADMIN, {"id": sid, "email": f"{name}@example.com", "name": name})
    price = {"amount": "99.99", "currency": "USD"}
    for cid in ("crs_matrix0001", "crs_matrix0002"):
        course = {"id": cid, "title": cid, "price": price, "timeZone": "Europe/London", "teacherId": "tch_maria0001"}
        ok("directory", "POST", "/directory/courses", ADMIN, course)
    ok(
        "directory",
        "POST",
        "/directory/enrollments",
        ADMIN,
        {"courseId": "crs_matrix0001", "studentId": "stu_ana00001"},
    )
    ok(
        "directory",
        "POST",
        "/directory/courses/crs_matrix0001/sessions",
        ADMIN,
        {"sessions": [{"startsAt": "2027-03-01T18:00:00", "durationMinutes": 90}]},
    )
    ana = CALLERS["ana"][::-1]
    payment = ok(
        "payments", "POST", "/payments/stripe/initialize", ana, {"courseId": "crs_matrix0002"}, key="matrix-pay"
    )
    plan_body = {"name": "Monthly", "amount": "29.00", "currency": "EUR", "interval": "month"}
    plan = ok("payments", "POST", "/payments/plans", ADMIN, plan_body)
    subscription = ok(
        "payments",
        "POST",
        "/payments/subscription",
        ana,
        {"planId": plan["id"], "provider": "stripe"},
        key="matrix-sub",
    )
    with Receiver() as receiver:
        webhook = ok(
            "webhooks",
            "POST",
            "/webhooks",
            CALLERS["accounting"][::-1],
            {"url": receiver.url("/hook"), "events": ["payment_completed"]},
        )
        yield {
            "intent": payment["paymentIntentId"],
            "plan": plan["id"],
            "subscription": subscription["subscriptionId"],
            "webhook": webhook["webhookId"],
            "url": receiver.url("/other"),
        }
    webhook_settings.cache_clear()


def _routes(s):
    """(function, method, path, body, query, idempotent, the callers who must get nothing)."""
    w, intent, sub = s["webhook"], s["intent"], s["subscription"]
    not_accounting = tuple(c for c in NOT_ADMIN if c != "accounting")
    hook = {"url": s["url"], "events": ["payment_completed"]}
    return [
        # the accounting service's webhook
        ("webhooks", "GET", f"/webhooks/{w}", None, None, False, not_accounting),
        ("webhooks", "GET", "/webhooks/svc_accounting", None, None, False, not_accounting),
        ("webhooks", "GET", "/webhooks", None, {"userId": "svc_accounting"}, False, not_accounting),
        ("webhooks", "POST", "/webhooks", {**hook, "userId": "svc_accounting"}, None, False, not_accounting),
        ("webhooks", "PATCH", f"/webhooks/{w}", {"isActive": False}, None, False, not_accounting),
        ("webhooks", "DELETE", f"/webhooks/{w}", None, None, False, not_accounting),
        ("webhooks", "POST", f"/webhooks/{w}/rotate-secret", None, None, False, not_accounting),
        ("webhooks", "POST", f"/webhooks/{w}/test", None, None, False, not_accounting),
        ("webhooks", "GET", f"/webhooks/{w}/deliveries", None, None, False, not_accounting),
        ("webhooks", "GET", f"/webhooks/{w}/statistics", None, None, False, not_accounting),
        ("webhooks", "POST", f"/webhooks/{w}/replay", {"since": "2020-01-01T00:00:00Z"}, None, False, not_accounting),
        # Ana's payments and subscription (services read and act on every student's, by design)
        ("payments", "GET", "/payments/history/stu_ana00001", None, None, False, OTHERS_THAN_ANA),
        ("payments", "GET", f"/payments/stripe/status/{intent}", None, None, False, OTHERS_THAN_ANA),
        (
            "payments",
            "POST",
            "/payments/confirm",
            {"transactionId": intent, "provider": "stripe", "paymentMethod": "pm_card_visa"},
            None,
            True,
            OTHERS_THAN_ANA,
        ),
        (
            "payments",
            "POST",
            "/payments/stripe/initialize",
            {"courseId": "crs_matrix0002", "studentId": "stu_ana00001"},
            None,
            True,
            OTHERS_THAN_ANA,
        ),
        (
            "payments",
            "POST",
            "/payments/refund",
            {"transactionId": intent, "provider": "stripe"},
            None,
            True,
            ("ana", *OTHERS_THAN_ANA),
        ),
        ("payments", "GET", f"/payments/subscription/{sub}", None, None, False, OTHERS_THAN_ANA),
        ("payments", "POST", f"/payments/subscription/{sub}/cancel", {}, None, True, OTHERS_THAN_ANA),
        (
            "payments",
            "POST",
            "/payments/subscription",
            {"planId": s["plan"], "provider": "stripe", "studentId": "stu_ana00001"},
            None,
            True,
            OTHERS_THAN_ANA,
        ),
        # Ana's and Maria's records, Maria's course (reads: the people concerned and services)
        ("directory", "GET", "/directory/students/stu_ana00001", None, None, False, OTHERS_THAN_ANA),
        ("directory", "PATCH", "/directory/students/stu_ana00001", {"name": "Mallory"}, None, False, NOT_ADMIN),
        ("directory", "DELETE", "/directory/students/stu_ana00001", None, None, False, NOT_ADMIN),
        ("directory", "GET", "/directory/teachers/tch_maria0001", None, None, False, ("ana", "kenji", "james")),
        ("directory", "PATCH", "/directory/teachers/tch_maria0001", {"name": "Mallory"}, None, False, NOT_ADMIN),
        ("directory", "GET", "/directory/courses/crs_matrix0001", None, None, False, ("kenji", "james")),
        ("directory", "PATCH", "/directory/courses/crs_matrix0001", {"title": "Mine"}, None, False, NOT_ADMIN),
        ("directory", "GET", "/directory/courses/crs_matrix0001/sessions", None, None, False, ("kenji", "james")),
        ("directory", "GET", "/directory/enrollments", None, {"studentId": "stu_ana00001"}, False, ("kenji",)),
        ("directory", "GET", "/directory/enrollments", None, {"courseId": "crs_matrix0001"}, False, ("kenji", "james")),
        ("directory", "DELETE", "/directory/enrollments/crs_matrix0001/stu_ana00001", None, None, False, NOT_ADMIN),
    ]


def _state(provider_world) -> tuple:
    from tests.support.aws import table_contents

    return table_contents("app-table"), table_contents("idempotency-table"), len(provider_world.requests("stripe"))


def test_no_role_and_id_but_the_owners_reaches_what_they_own_and_nothing_is_written(school, provider_world, aws):
    secret = aws["signing_secret"]
    routes = _routes(school)
    cells = [(name, *CALLERS[name]) for route in routes for name in route[6]]
    assert len(routes) == 30 and len(cells) > 100
    wrong: list[str] = []
    for function, method, path, body, query, idempotent, intruders in routes:
        callers = [(name, *CALLERS[name], (403, 404)) for name in intruders]
        callers += [("mismatched", role, sub, (401,)) for role, sub in MISMATCHED]
        route = f"{method} {path}{'?' + str(query) if query else ''}"
        # The tables are compared around each route's refused calls (a Scan per call is too slow).
        before = _state(provider_world)
        for name, role, sub, expected in callers:
            headers = {"Idempotency-Key": f"matrix-{name}-{role}"} if idempotent else None
            event = api_event(method, path, body=body, query=query, headers=headers)
            answer = through_gateway(function, event, "Bearer " + _signed(secret, role, sub))
            if answer.status not in expected:
                wrong.append(f"{role}:{sub} {route} -> {answer.status} {str(answer.body)[:120]}")
        if _state(provider_world) != before:
            wrong.append(f"{route}: something was written by one of {[c[:3] for c in callers]}")
    assert wrong == [], "\n".join(wrong)
    # The owners themselves are let in (so that the refusals above are about identity).
    owner_reads = [
        ("webhooks", f"/webhooks/{school['webhook']}", "accounting"),
        ("payments", "/payments/history/stu_ana00001", "ana"),
        ("payments", f"/payments/stripe/status/{school['intent']}", "ana"),
        ("directory", "/directory/courses/crs_matrix0001", "maria"),
        ("directory", "/directory/students/stu_ana00001", "ana"),
    ]
    for function, path, owner in owner_reads:
        answer = through_gateway(function, api_event("GET", path), "Bearer " + _signed(secret, *CALLERS[owner]))
        assert answer.status == 200, (path, owner, answer.body)


def test_another_owners_webhook_signature_check_answers_as_for_an_unknown_webhook(school, aws):
    body = {"payload": "{}", "headers": {"webhook-id": "x"}}

    def verify(role, sub):
        event = api_event("POST", f"/webhooks/{school['webhook']}/verify", body=body)
        return through_gateway("webhooks", event, "Bearer " + _signed(aws["signing_secret"], role, sub))

    other = verify(*CALLERS["crm"])
    assert (other.status, other.body["reason"]) == (200, "unknown_webhook")
    assert verify(*CALLERS["accounting"]).body["reason"] != "unknown_webhook"
    assert verify("student", "svc_accounting").status == 401
