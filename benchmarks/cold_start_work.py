"""Inputs that make a cold-start probe do its function's work. Against a fresh stack, the samples in
events/ of four functions take a shortcut: the Stripe callback's signature is years old (refused
before anything is read), the Zoom callback is outside the timestamp tolerance, the delivery
message names a delivery that does not exist (skipped as a duplicate) and the reminder names a
session that does not exist (skipped).

Here each probe of those functions gets an input of its own, made before the rounds as a client
and the provider would make it: a card payment started through the API and confirmed at the
Stripe emulator, its `payment_intent.succeeded` held there; a Zoom meeting made through the API
and started at the emulator, its `meeting.started` held there (both signed when the probe runs,
as the provider signs when it sends); a pending delivery of a recorded event to a webhook of a
loopback receiver (written as the fan-out writes it, without its queue message: the stack's own
dispatcher would send it first); a class two hours away with an enrolled student. What a probe
causes (events, enrollments, emails) is handled by the stack's workers before the next probe
starts (`quiet`), so that it does not slow the probes after it."""

from __future__ import annotations

import copy
import json
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from offline.sandbox.callbacks import hmac_sha256_hex
from offline.sandbox.providers.stripe import sign as stripe_signature
from offline.testing import RunningStack
from tests.support.receiver import Answer, Receiver

API = "/api/v1/integration"
FUNCTIONS = ("PaymentCallbacksFunction", "VideoCallbacksFunction", "WebhookDispatcherFunction", "ReminderFunction")
COUNTS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]


class ProbeWork:
    """`prepare(names, count)` once, then `event(name, sample)` for each request of a probe and
    `check(name, answers)` after it."""

    def __init__(self, stack: RunningStack) -> None:
        self.stack = stack
        self.http = httpx.Client(timeout=60)
        self.admin = {"Authorization": "Bearer " + stack.token("admin", "adm_office")}
        self.inputs: dict[str, list[Any]] = {}
        self.closing = ExitStack()
        self.receiver: Receiver | None = None  # the dispatcher's probes' (started with their deliveries)
        self.served: list[Any] = []  # the inputs given since the last check

    def __enter__(self) -> ProbeWork:
        return self

    def __exit__(self, *_: object) -> None:
        for provider in ("stripe", "zoom"):
            self._sandbox("POST", f"/_sandbox/{provider}/delivery", {"auto": True})
        self.closing.close()
        self.http.close()

    # ------------------------------------------------------------------ the stack as a client sees it
    def _api(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        answer = self.http.request(
            method,
            self.stack.api_url + API + path,
            json=body,
            headers={"Idempotency-Key": uuid.uuid4().hex, **(headers or self.admin)},
        )
        if answer.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:500]}")
        return answer.json()

    def _sandbox(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        answer = self.http.request(method, self.stack.sandbox_url + path, json=body, **kwargs)
        if answer.status_code >= 300:
            raise RuntimeError(f"sandbox {method} {path}: {answer.status_code} {answer.text[:500]}")
        return answer.json()

    def _secret(self, function: str, variable: str) -> dict[str, Any]:
        name = self.stack.state["functions"][function]["env"][variable]
        return json.loads(self.stack.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])

    def _teacher(self) -> dict[str, Any]:
        return self._api(
            "POST", "/directory/teachers", {"email": f"t-{uuid.uuid4().hex[:10]}@school.example", "name": "Tess"}
        )  # type: ignore[no-any-return]

    def _course(self, teacher: dict[str, Any], amount: str) -> str:
        course = {
            "title": f"English {uuid.uuid4().hex[:6]}",
            "price": {"amount": amount, "currency": "EUR"},
            "timeZone": "Europe/London",
            "teacherId": teacher["id"],
        }
        return self._api("POST", "/directory/courses", course)["id"]  # type: ignore[no-any-return]

    def _student(self) -> dict[str, Any]:
        return self._api(
            "POST", "/directory/students", {"email": f"s-{uuid.uuid4().hex[:10]}@example.com", "name": "Sam"}
        )  # type: ignore[no-any-return]

    def quiet(self, seconds: float = 60.0) -> None:
        """Wait until every queue of the stack is empty (nothing visible, in flight or delayed)."""
        sqs, resources = self.stack.client("sqs"), self.stack.state["resources"]
        urls = [r["ref"] for name, r in resources.items() if name.endswith("Queue") and "ref" in r]
        deadline, still = time.monotonic() + seconds, 0
        while time.monotonic() < deadline and still < 2:
            busy = any(
                int(value)
                for url in urls
                for value in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=COUNTS)["Attributes"].values()
            )
            still = 0 if busy else still + 1
            time.sleep(0.1)

    # ------------------------------------------------------------------ what each probe gets
    def prepare(self, names: set[str], rounds: int) -> None:
        makers = {
            "PaymentCallbacksFunction": self._stripe_payments,
            "VideoCallbacksFunction": self._zoom_meetings,
            "WebhookDispatcherFunction": self._deliveries,
            "ReminderFunction": self._classes,
        }
        for name in FUNCTIONS:
            if name in names:
                self.inputs[name] = makers[name](rounds)
        self.quiet()

    def check(self, name: str, answers: list[Any]) -> None:
        """That the probe's two requests did the work their inputs were made for (a refusal or a
        skip would be a shortcut measured as a cold start); then, what they caused is handled."""
        if name not in self.inputs:
            return
        done = {
            "PaymentCallbacksFunction": lambda a: '"applied": true' in a.get("body", ""),
            "VideoCallbacksFunction": lambda a: '"applied": true' in a.get("body", ""),
            "WebhookDispatcherFunction": lambda a: a == {"batchItemFailures": []},
            "ReminderFunction": lambda a: a.get("emailed") == 1,
        }[name]
        if not all(map(done, answers)):
            raise RuntimeError(f"{name}'s probe did not do its work: {answers}")
        if name == "WebhookDispatcherFunction":
            wanted, deadline = {m["deliveryId"] for m in self.served}, time.monotonic() + 15
            while not wanted <= (got := self._delivered()) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not wanted <= got:
                raise RuntimeError(f"{name}'s probe did not deliver {sorted(wanted - got)}")
        self.served.clear()
        self.quiet()

    def _delivered(self) -> set[str]:
        assert self.receiver is not None
        return {{k.lower(): v for k, v in r.headers.items()}.get("webhook-id", "") for r in self.receiver.at("/bench")}

    def event(self, name: str, sample: dict[str, Any]) -> dict[str, Any]:
        if name not in self.inputs:
            return sample
        made = self.inputs[name].pop(0)
        self.served.append(made)
        if name == "PaymentCallbacksFunction":
            secret = self._secret(name, "STRIPE_SECRET_NAME")["webhookSecret"]
            return _function_url_event(sample, made, {"stripe-signature": stripe_signature(secret, made)})
        if name == "VideoCallbacksFunction":
            secret = self._secret(name, "ZOOM_SECRET_NAME")["webhookSecretToken"]
            return _function_url_event(sample, made, _zoom_signature(secret, made))
        if name == "WebhookDispatcherFunction":
            return _sqs_batch(sample, made)
        return made  # type: ignore[no-any-return]  # the reminder's schedule input

    def _stripe_payments(self, rounds: int) -> list[bytes]:
        """Card payments started by a student and confirmed at Stripe: the success each one's
        callback reports, held at the emulator."""
        self._sandbox("POST", "/_sandbox/stripe/delivery", {"auto": False})
        teacher, bodies = self._teacher(), []
        for _ in range(rounds):
            course, student = self._course(teacher, "100.00"), self._student()
            caller = {"Authorization": "Bearer " + self.stack.token("student", student["id"])}
            started = self._api("POST", "/payments/stripe/initialize", {"courseId": course}, caller)
            intent = started["paymentIntentId"]
            self._sandbox(
                "POST",
                f"/stripe/v1/payment_intents/{intent}/confirm",
                None,
                data={"payment_method": "pm_card_visa"},
                headers={"Authorization": "Bearer sk_test_local"},
            )
            [event] = [
                e
                for e in self._sandbox("GET", "/_sandbox/stripe/events")
                if e["type"] == "payment_intent.succeeded" and e["data"]["object"]["id"] == intent
            ]
            bodies.append(json.dumps(event).encode())
        return bodies

    def _zoom_meetings(self, rounds: int) -> list[bytes]:
        """Zoom meetings of a course's classes, made through the API and started at Zoom: the
        notification each one's callback gets, held at the emulator."""
        self._sandbox("POST", "/_sandbox/zoom/delivery", {"auto": False})
        teacher = self._teacher()
        self._sandbox("POST", "/_sandbox/zoom/users", {"email": teacher["email"]})
        bodies = []
        for _ in range(rounds):
            course = self._course(teacher, "100.00")
            self._api("POST", f"/directory/courses/{course}/sessions", _weekly(2))
            meeting = self._api("POST", "/video/zoom", {"title": "English B1", "courseId": course})
            zoom_id = str(meeting["providerMeetingId"])
            self._sandbox("POST", f"/_sandbox/zoom/meetings/{zoom_id}/start")
            [record] = [
                r
                for r in self._sandbox("GET", "/_sandbox/zoom/events")
                if r["event"] == "meeting.started" and str(r["body"]["payload"]["object"]["id"]) == zoom_id
            ]
            bodies.append(json.dumps(record["body"]).encode())
        return bodies

    def _deliveries(self, rounds: int) -> list[dict[str, str]]:
        """Pending deliveries of recorded events to a webhook of a loopback receiver,
        as the fan-out writes them; the queue messages naming them go to the probes only."""
        from integration_core import timeutil
        from integration_core.adapters.dynamodb import to_item
        from integration_core.services.events import delivery_id_for, delivery_item, event_item
        from integration_core.stores.outbox import stored_delivery

        receiver = self.receiver = self.closing.enter_context(Receiver())
        # Closed after each answer: a probe's process ends without closing its connection.
        receiver.default = Answer(headers={"Connection": "close"})
        owner = {"Authorization": "Bearer " + self.stack.token("service", f"svc_bench{uuid.uuid4().hex[:8]}")}
        webhook = self._api("POST", "/webhooks", {"url": receiver.url("/bench"), "events": ["course_started"]}, owner)
        table, ddb = self.stack.state["resources"]["AppTable"]["ref"], self.stack.client("dynamodb")
        messages = []
        for _ in range(rounds):
            event_id, now = f"bench-{uuid.uuid4().hex}", timeutil.iso_utc(datetime.now(UTC))
            data = {"courseId": f"crs_{uuid.uuid4().hex[:12]}", "startedAt": now}
            event = event_item(event_id, "course_started", data, now, "cold start benchmark", outbox=False)
            delivery_id = delivery_id_for(event_id, webhook["webhookId"])
            ddb.put_item(TableName=table, Item=to_item(event))
            delivery = delivery_item(delivery_id, webhook["webhookId"], event, now)
            ddb.put_item(TableName=table, Item=to_item(stored_delivery(delivery)))
            messages.append({"deliveryId": delivery_id, "webhookId": webhook["webhookId"], "eventId": event_id})
        return messages

    def _classes(self, rounds: int) -> list[dict[str, Any]]:
        """Classes two hours away, each with an enrolled student: what each 1 h reminder's schedule
        passes the function."""
        teacher, inputs = self._teacher(), []
        for _ in range(rounds):
            course, student = self._course(teacher, "0"), self._student()
            self._api("POST", "/directory/enrollments", {"courseId": course, "studentId": student["id"]})
            starts = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
            answer = self._api(
                "POST",
                f"/directory/courses/{course}/sessions",
                {"sessions": [{"startsAt": starts.isoformat(), "durationMinutes": 60}]},
            )
            [session] = [s["id"] for s in answer["created"]]
            inputs.append(
                {
                    "courseId": course,
                    "sessionId": session,
                    "offsetMinutes": 60,
                    "version": 1,
                    "startsAt": starts.isoformat(),
                }
            )
        return inputs


def _weekly(count: int) -> dict[str, Any]:
    start = (date.today() + timedelta(days=14)).isoformat()
    return {
        "recurrence": {
            "daysOfWeek": ["MO", "WE"],
            "startTime": "18:00",
            "durationMinutes": 60,
            "fromDate": start,
            "count": count,
        }
    }


def _zoom_signature(secret: str, body: bytes) -> dict[str, str]:
    """Zoom's: v0=HMAC-SHA256(secret token, "v0:{timestamp}:{raw body}") in hex."""
    stamp = str(int(time.time()))
    return {
        "x-zm-request-timestamp": stamp,
        "x-zm-signature": "v0=" + hmac_sha256_hex(secret, f"v0:{stamp}:".encode() + body),
    }


def _function_url_event(sample: dict[str, Any], body: bytes, signature: dict[str, str]) -> dict[str, Any]:
    event = copy.deepcopy(sample)
    now = datetime.now(UTC)
    event["headers"] = {k: v for k, v in event["headers"].items() if not k.startswith(("stripe-", "x-zm-"))}
    event["headers"] |= signature
    event["body"], event["isBase64Encoded"] = body.decode(), False
    event["requestContext"] |= {"timeEpoch": int(now.timestamp() * 1000), "requestId": str(uuid.uuid4())}
    return event


def _sqs_batch(sample: dict[str, Any], message: dict[str, str]) -> dict[str, Any]:
    event = copy.deepcopy(sample)
    [record] = event["Records"]
    record["messageId"], record["body"] = str(uuid.uuid4()), json.dumps(message)
    return event
