"""Graph change notifications: POST/GET/PATCH/DELETE /v1.0/subscriptions with the validationToken
handshake (on create, and on the lifecycle URL when given), expirationDateTime limits, renewal by
PATCH, and notifications carrying the subscription's clientState.

Resources taken (onlineMeeting resources allow at most 4230 minutes):
    communications/onlineMeetings/?$filter=JoinWebUrl eq '{joinWebUrl}'   meeting call events (updated)
    communications/onlineMeetings/{meetingId}/recordings                  (created)
    users/{userId}/onlineMeetings/{meetingId}/recordings                  (created)
    communications/onlineMeetings/getAllRecordings                        (created)
    users/{userId}/onlineMeetings/getAllRecordings                        (created)
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from offline.http import Response
from offline.sandbox.base import Abort, SandboxRequest, control, route
from offline.sandbox.providers.graph_shared import GraphBase, graph_time, now, parse_time

MAX_MINUTES = 4230
RESOURCES = [
    re.compile(r"/?communications/onlineMeetings/?\?\$filter=JoinWebUrl eq '[^']+'", re.IGNORECASE),
    re.compile(r"/?communications/onlineMeetings/[^/]+/recordings"),
    re.compile(r"/?users/[^/]+/onlineMeetings/[^/]+/recordings"),
    re.compile(r"/?(communications|users/[^/]+)/onlineMeetings/getAllRecordings"),
]


class GraphSubscriptions(GraphBase):
    @contextmanager
    def _unlocked(self) -> Iterator[None]:
        # The handshake waits for the service, which may call this emulator meanwhile.
        self.store.lock.release()
        try:
            yield
        finally:
            self.store.lock.acquire()

    def _expiry(self, text: Any) -> str:
        try:
            moment = parse_time(str(text))
        except ValueError:
            raise Abort(self.error(400, "InvalidRequest", "expirationDateTime is not a date-time.")) from None
        if moment <= now():
            raise Abort(self.error(400, "InvalidRequest", "Subscription expiration must be in the future."))
        if moment > now() + timedelta(minutes=MAX_MINUTES):
            message = f"Subscription expiration can only be {MAX_MINUTES} minutes in the future."
            raise Abort(self.error(400, "InvalidRequest", message))
        return graph_time(moment)

    def _subscription(self, subscription_id: str) -> dict[str, Any]:
        found = self.store.collection("subscriptions").get(subscription_id)
        if found is None or parse_time(found["expirationDateTime"]) <= now():
            raise Abort(self.error(404, "ResourceNotFound", f"The object was not found: {subscription_id}"))
        return found

    @route("POST", "/v1.0/subscriptions")
    def create_subscription(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        body = request.json() or {}
        for name in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not body.get(name):
                raise Abort(self.error(400, "InvalidRequest", f"Property {name} is required."))
        if not any(p.fullmatch(body["resource"]) for p in RESOURCES):
            message = f"Resource '{body['resource']}' is not supported for change notifications by this emulator."
            raise Abort(self.error(400, "InvalidRequest", message))
        if len(str(body.get("clientState") or "")) > 128:
            raise Abort(self.error(400, "InvalidRequest", "clientState can be at most 128 characters."))
        expiry = self._expiry(body["expirationDateTime"])
        for url in filter(None, (body["notificationUrl"], body.get("lifecycleNotificationUrl"))):
            with self._unlocked():
                ok, reason = self.validation_call(url)
            if not ok:
                message = (
                    "Subscription validation request failed. Notification endpoint must respond with 200 OK "
                    f"to validation request ({reason})."
                )
                raise Abort(self.error(400, "InvalidRequest", message))
        subscription = {
            "@odata.context": f"{self.ctx.base_url}/graph/v1.0/$metadata#subscriptions/$entity",
            "id": str(uuid.uuid4()),
            "resource": body["resource"],
            "applicationId": self.app()["clientId"],
            "changeType": body["changeType"],
            "clientState": body.get("clientState"),
            "notificationUrl": body["notificationUrl"],
            "lifecycleNotificationUrl": body.get("lifecycleNotificationUrl"),
            "expirationDateTime": expiry,
            "creatorId": self.app()["clientId"],
            "includeResourceData": bool(body.get("includeResourceData", False)),
            "latestSupportedTlsVersion": body.get("latestSupportedTlsVersion", "v1_2"),
            "notificationUrlAppId": None,
        }
        self.store.collection("subscriptions")[subscription["id"]] = subscription
        return Response.json(201, subscription)

    @route("GET", "/v1.0/subscriptions")
    def list_subscriptions(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        alive = [
            s for s in self.store.collection("subscriptions").values() if parse_time(s["expirationDateTime"]) > now()
        ]
        return Response.json(200, {"value": alive})

    @route("GET", "/v1.0/subscriptions/{id}")
    def get_subscription(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        return Response.json(200, self._subscription(request.params["id"]))

    @route("PATCH", "/v1.0/subscriptions/{id}")
    def renew_subscription(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        subscription = self._subscription(request.params["id"])
        body = request.json() or {}
        if "expirationDateTime" in body:
            subscription["expirationDateTime"] = self._expiry(body["expirationDateTime"])
        if "notificationUrl" in body:
            subscription["notificationUrl"] = body["notificationUrl"]
        return Response.json(200, subscription)

    @route("DELETE", "/v1.0/subscriptions/{id}")
    def delete_subscription(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        self._subscription(request.params["id"])
        del self.store.collection("subscriptions")[request.params["id"]]
        return Response(204)

    # ------------------------------------------------------------------ sending
    def _matching(self, meeting: dict[str, Any], recordings: bool) -> list[dict[str, Any]]:
        found = []
        for subscription in self.store.collection("subscriptions").values():
            if parse_time(subscription["expirationDateTime"]) <= now():
                continue
            resource = subscription["resource"]
            if recordings:
                if "getAllRecordings" in resource or f"/{meeting['id']}/recordings" in resource:
                    found.append(subscription)
            elif "JoinWebUrl" in resource and meeting["joinWebUrl"] in resource:
                found.append(subscription)
        return found

    def notify_meeting(self, meeting: dict[str, Any], state: str) -> int:
        """Meeting call events (callStarted / callEnded) to subscriptions on the meeting's join URL."""
        sent = 0
        for subscription in self._matching(meeting, recordings=False):
            data = {
                "@odata.type": "#Microsoft.Graph.onlineMeeting",
                "@odata.id": f"communications/onlineMeetings/{meeting['id']}",
                "id": meeting["id"],
                "eventType": state,
            }
            self.notify(subscription, "updated", subscription["resource"], data)
            sent += 1
        return sent

    def notify_recording(self, meeting: dict[str, Any], recording: dict[str, Any]) -> int:
        sent = 0
        for subscription in self._matching(meeting, recordings=True):
            resource = f"users/{meeting['_organizer']}/onlineMeetings/{meeting['id']}/recordings/{recording['id']}"
            data = {"@odata.type": "#Microsoft.Graph.callRecording", "@odata.id": resource, "id": recording["id"]}
            self.notify(subscription, "created", resource, data)
            sent += 1
        return sent

    @control("POST", "/notify")
    def send_notification(self, request: SandboxRequest) -> Response:
        """{"subscriptionId", "changeType"?, "resource"?, "resourceData"?, "clientState"?}: a
        notification now; a `clientState` other than the subscription's stands for a forgery."""
        body = request.json() or {}
        subscription = self.store.collection("subscriptions").get(str(body.get("subscriptionId")))
        if subscription is None:
            return Response.json(404, {"error": "no such subscription"})
        record = self.notify(
            subscription,
            body.get("changeType", subscription["changeType"].split(",")[0]),
            body.get("resource", subscription["resource"]),
            body.get("resourceData", {}),
            body.get("clientState"),
        )
        return Response.json(200, {"notificationId": record["id"]})

    @control("GET", "/notifications")
    def list_notifications(self, request: SandboxRequest) -> Response:
        return Response.json(200, list(self.store.collection("notifications").values()))

    @control("POST", "/subscriptions/{id}/expire")
    def expire_subscription(self, request: SandboxRequest) -> Response:
        subscription = self.store.collection("subscriptions").get(request.params["id"])
        if subscription is None:
            return Response.json(404, {"error": "no such subscription"})
        subscription["expirationDateTime"] = graph_time(now() - timedelta(seconds=1))
        return Response.json(200, subscription)
