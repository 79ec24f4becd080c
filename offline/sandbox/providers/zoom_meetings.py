"""Zoom meetings: create (scheduled, or recurring with a fixed time and its occurrences), get,
update and delete (a whole meeting or one occurrence), status (end), and registrants (personal join
links; approve, deny, cancel). Creates and updates count against the host's daily quota.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from offline.http import Response
from offline.sandbox.base import Abort, SandboxRequest, route
from offline.sandbox.providers.zoom_shared import ZoomBase, next_utc_midnight, now, parse_time, zone, zoom_time

MAX_OCCURRENCES = 60
_SETTINGS = {
    "host_video": False,
    "participant_video": False,
    "join_before_host": False,
    "mute_upon_entry": False,
    "waiting_room": False,
    "approval_type": 2,  # no registration
    "registration_type": 1,
    "auto_recording": "none",
    "audio": "voip",
}


def _zoom_weekday(day: datetime) -> int:
    """Zoom numbers week days 1 (Sunday) to 7 (Saturday)."""
    return (day.weekday() + 1) % 7 + 1


def occurrences(start: datetime, timezone: str, duration: int, recurrence: dict[str, Any]) -> list[dict[str, Any]]:
    """The occurrences of a recurring meeting with a fixed time, as Zoom lists them."""
    tz = zone(timezone)
    local = start.astimezone(tz)
    interval = max(1, int(recurrence.get("repeat_interval") or 1))
    until = parse_time(recurrence["end_date_time"]).astimezone(tz).date() if recurrence.get("end_date_time") else None
    if until is not None:
        limit = MAX_OCCURRENCES
    else:  # end_times: 1 when absent, 0 for "no end" (Zoom lists at most 60 occurrences)
        limit = min(int(recurrence.get("end_times", 1)) or MAX_OCCURRENCES, MAX_OCCURRENCES)
    kind = int(recurrence["type"])
    found: list[datetime] = []

    def candidates():
        step = 0
        while True:
            if kind == 1:
                yield [local.date() + timedelta(days=step * interval)]
            elif kind == 2:
                days = sorted({int(d) for d in str(recurrence.get("weekly_days") or _zoom_weekday(local)).split(",")})
                sunday = local.date() - timedelta(days=_zoom_weekday(local) - 1) + timedelta(weeks=step * interval)
                yield [sunday + timedelta(days=d - 1) for d in days]
            else:
                month = local.month - 1 + step * interval
                year, month = local.year + month // 12, month % 12 + 1
                try:
                    yield [local.date().replace(year=year, month=month, day=int(recurrence.get("monthly_day") or 1))]
                except ValueError:
                    yield []
            step += 1

    for dates in candidates():
        for day in dates:
            if day < local.date():
                continue
            if until is not None and day > until:
                return _shown(found, duration)
            found.append(datetime.combine(day, local.time(), tz))
            if len(found) >= limit:
                return _shown(found, duration)


def _shown(moments: list[datetime], duration: int) -> list[dict[str, Any]]:
    return [
        {
            "occurrence_id": str(int(m.timestamp() * 1000)),
            "start_time": zoom_time(m),
            "duration": duration,
            "status": "available",
        }
        for m in moments
    ]


class ZoomMeetings(ZoomBase):
    # ------------------------------------------------------------------ quota
    def _spend_quota(self, user: dict[str, Any]) -> None:
        """One create/update of `user`'s meetings today (UTC); Zoom's 429 once the day's are spent."""
        today = now()
        key = f"{user['id']}:{today.date().isoformat()}"
        used = self.store.collection("quota")
        limit = int(self.store.collection("settings")["dailyLimit"])
        if used.get(key, 0) >= limit:
            reset = next_utc_midnight(today)
            message = (
                f"You have exceeded the daily rate limit ({limit}) of Meeting Create/Update API requests "
                "permitted for this particular user. You may resume these requests at GMT 00:00:00."
            )
            answer = self.error(429, "429", message)
            answer.headers += [
                ("X-RateLimit-Category", "Medium"),
                ("X-RateLimit-Type", "Daily-limit"),
                ("X-RateLimit-Limit", str(limit)),
                ("X-RateLimit-Remaining", "0"),
                ("Retry-After", zoom_time(reset)),
            ]
            raise Abort(answer)
        used[key] = used.get(key, 0) + 1

    # ------------------------------------------------------------------ shapes
    def _shown(self, meeting: dict[str, Any], occurrence_id: str | None = None, previous: bool = False) -> dict:
        shown = self._public(meeting)
        items = [o for o in meeting.get("_occurrences", []) if o["status"] != "deleted"]
        if occurrence_id:
            chosen = next((o for o in items if o["occurrence_id"] == occurrence_id), None)
            if chosen is None:
                raise Abort(self.error(404, "3001", f"Meeting {meeting['id']} occurrence {occurrence_id} not found."))
            shown["start_time"], shown["duration"] = chosen["start_time"], chosen["duration"]
        if meeting["type"] == 8:
            shown["occurrences"] = items if previous else [o for o in items if o["start_time"] >= zoom_time(now())]
            if not previous and not shown["occurrences"]:
                shown["occurrences"] = items  # all past: Zoom keeps listing the meeting's series
        return shown

    def _schedule(self, meeting: dict[str, Any]) -> None:
        if meeting["type"] != 8:
            meeting.pop("_occurrences", None)
            return
        recurrence = meeting.get("recurrence")
        if not recurrence or not meeting.get("start_time"):
            raise Abort(
                self.error(400, "300", "A recurring meeting with a fixed time needs start_time and recurrence.")
            )
        if recurrence.get("end_times") and recurrence.get("end_date_time"):
            raise Abort(self.error(400, "300", "end_times and end_date_time cannot be used together."))
        if int(recurrence["type"]) == 3 and recurrence.get("monthly_week"):
            raise Abort(self.error(400, "300", "monthly_week recurrences are not emulated; use monthly_day."))
        start = parse_time(meeting["start_time"])
        kept = {o["occurrence_id"]: o for o in meeting.get("_occurrences", []) if o.get("_moved")}
        fresh = occurrences(start, meeting["timezone"], meeting["duration"], recurrence)
        meeting["_occurrences"] = [kept.get(o["occurrence_id"], o) for o in fresh]

    # ------------------------------------------------------------------ meetings
    @route("POST", "/v2/users/{userId}/meetings")
    def create_meeting(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        host = self.user(request.params["userId"])
        body = request.json() or {}
        self._spend_quota(host)
        kind = int(body.get("type", 2))
        timezone = body.get("timezone") or host["timezone"]
        start = parse_time(body["start_time"], timezone) if body.get("start_time") else now()
        meeting_id = int("9" + "".join(secrets.choice("0123456789") for _ in range(10)))
        password = body.get("password") or secrets.token_hex(3)
        settings = {**_SETTINGS, **(body.get("settings") or {})}
        meeting: dict[str, Any] = {
            "id": meeting_id,
            "uuid": self.new_uuid(),
            "host_id": host["id"],
            "host_email": host["email"],
            "assistant_id": "",
            "topic": body.get("topic", "Zoom Meeting"),
            "type": kind,
            "status": "waiting",
            "start_time": zoom_time(start),
            "duration": int(body.get("duration", 60)),
            "timezone": timezone,
            "agenda": body.get("agenda", ""),
            "created_at": zoom_time(now()),
            "start_url": f"{self.ctx.base_url}/zoom/s/{meeting_id}?zak={secrets.token_urlsafe(12)}",
            "join_url": f"{self.ctx.base_url}/zoom/j/{meeting_id}?pwd={secrets.token_urlsafe(12)}",
            "password": password,
            "h323_password": password,
            "pre_schedule": False,
            "settings": settings,
        }
        if kind == 8:
            meeting["recurrence"] = body.get("recurrence")
        if settings["approval_type"] in (0, 1):
            meeting["registration_url"] = f"{self.ctx.base_url}/zoom/meeting/register/{meeting['uuid'][:12]}"
        meeting["_registrants"] = {}
        meeting["_instances"] = []
        self._schedule(meeting)
        self.store.collection("meetings")[str(meeting_id)] = meeting
        return Response.json(201, self._shown(meeting, previous=True))

    @route("GET", "/v2/users/{userId}/meetings")
    def list_meetings(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        host = self.user(request.params["userId"])
        mine = [
            self._shown(m)
            for m in self.store.collection("meetings").values()
            if m["host_id"] == host["id"] and not m.get("_deleted")
        ]
        return Response.json(
            200, {"page_size": 300, "total_records": len(mine), "next_page_token": "", "meetings": mine}
        )

    @route("GET", "/v2/meetings/{meetingId}")
    def get_meeting(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        meeting = self.meeting(request.params["meetingId"])
        previous = request.query.get("show_previous_occurrences") == "true"
        return Response.json(200, self._shown(meeting, request.query.get("occurrence_id"), previous))

    @route("PATCH", "/v2/meetings/{meetingId}")
    def update_meeting(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        meeting = self.meeting(request.params["meetingId"])
        body = request.json() or {}
        self._spend_quota(self.user(meeting["host_id"]))
        occurrence_id = request.query.get("occurrence_id")
        if occurrence_id:
            occurrence = next((o for o in meeting.get("_occurrences", []) if o["occurrence_id"] == occurrence_id), None)
            if occurrence is None or occurrence["status"] == "deleted":
                raise Abort(self.error(404, "3001", f"Meeting {meeting['id']} occurrence {occurrence_id} not found."))
            if "start_time" in body:
                occurrence["start_time"] = zoom_time(parse_time(body["start_time"], meeting["timezone"]))
            if "duration" in body:
                occurrence["duration"] = int(body["duration"])
            occurrence["_moved"] = True
            return Response(204)
        for name in ("topic", "agenda", "duration", "timezone", "password", "type"):
            if name in body:
                meeting[name] = body[name]
        if "start_time" in body:
            meeting["start_time"] = zoom_time(parse_time(body["start_time"], meeting["timezone"]))
        if "settings" in body:
            meeting["settings"] = {**meeting["settings"], **body["settings"]}
        if "recurrence" in body:
            meeting["recurrence"] = body["recurrence"]
        if any(k in body for k in ("start_time", "recurrence", "duration", "timezone", "type")):
            self._schedule(meeting)
        return Response(204)

    @route("DELETE", "/v2/meetings/{meetingId}")
    def delete_meeting(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        meeting = self.meeting(request.params["meetingId"])
        occurrence_id = request.query.get("occurrence_id")
        if occurrence_id:
            occurrence = next((o for o in meeting.get("_occurrences", []) if o["occurrence_id"] == occurrence_id), None)
            if occurrence is None or occurrence["status"] == "deleted":
                raise Abort(self.error(404, "3001", f"Meeting {meeting['id']} occurrence {occurrence_id} not found."))
            occurrence["status"] = "deleted"
            return Response(204)
        meeting["_deleted"] = True
        return Response(204)

    @route("PUT", "/v2/meetings/{meetingId}/status")
    def meeting_status(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        meeting = self.meeting(request.params["meetingId"])
        action = (request.json() or {}).get("action")
        if action != "end":
            raise Abort(self.error(400, "300", f"Action {action!r} is not emulated (only end)."))
        if meeting["status"] == "started":
            self.end_instance(meeting, now())  # the sessions part: closes the instance, sends meeting.ended
        return Response(204)

    # ------------------------------------------------------------------ registrants
    def _registrant_shown(self, meeting: dict[str, Any], registrant: dict[str, Any]) -> dict[str, Any]:
        return self._public(registrant)

    @route("POST", "/v2/meetings/{meetingId}/registrants")
    def add_registrant(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        meeting = self.meeting(request.params["meetingId"])
        if meeting["settings"].get("approval_type") not in (0, 1):
            raise Abort(self.error(400, "3038", "Meeting is not enabled for registration"))
        body = request.json() or {}
        email = str(body.get("email", "")).lower()
        if not email or not body.get("first_name"):
            raise Abort(self.error(400, "300", "Validation Failed.", [{"field": "email", "message": "required"}]))
        occurrence_ids = [o for o in request.query.get("occurrence_ids", "").split(",") if o]
        registrants = meeting["_registrants"]
        registrant = next((r for r in registrants.values() if r["email"] == email), None)
        status = "approved" if meeting["settings"]["approval_type"] == 0 else "pending"
        if registrant is None:
            registrant_id = secrets.token_urlsafe(16)[:22]
            token = secrets.token_urlsafe(24)
            registrant = {
                "id": registrant_id,
                "email": email,
                "first_name": body.get("first_name", ""),
                "last_name": body.get("last_name", ""),
                "status": status,
                "create_time": zoom_time(now()),
                "join_url": f"{self.ctx.base_url}/zoom/w/{meeting['id']}?tk={token}",
                "_token": token,
                "_occurrences": occurrence_ids,
            }
            registrants[registrant_id] = registrant
        elif registrant["status"] != "approved":
            registrant["status"] = status  # registering again after a cancel
        answer: dict[str, Any] = {
            "id": meeting["id"],
            "registrant_id": registrant["id"],
            "topic": meeting["topic"],
            "start_time": meeting["start_time"],
            "join_url": registrant["join_url"],
        }
        if meeting["type"] == 8:
            answer["occurrences"] = [
                o
                for o in self._shown(meeting, previous=True)["occurrences"]
                if not registrant["_occurrences"] or o["occurrence_id"] in registrant["_occurrences"]
            ]
        return Response.json(201, answer)

    @route("GET", "/v2/meetings/{meetingId}/registrants")
    def list_registrants(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        meeting = self.meeting(request.params["meetingId"])
        wanted = request.query.get("status", "approved")
        rows = [self._public(r) for r in meeting["_registrants"].values() if r["status"] == wanted]
        size = int(request.query.get("page_size", 30))
        offset = int(request.query.get("next_page_token") or 0)
        page, rest = rows[offset : offset + size], rows[offset + size :]
        return Response.json(
            200,
            {
                "page_count": max(1, -(-len(rows) // size)),
                "page_size": size,
                "total_records": len(rows),
                "next_page_token": str(offset + size) if rest else "",
                "registrants": page,
            },
        )

    @route("PUT", "/v2/meetings/{meetingId}/registrants/status")
    def registrants_status(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        meeting = self.meeting(request.params["meetingId"])
        body = request.json() or {}
        action = body.get("action")
        new = {"approve": "approved", "deny": "denied", "cancel": "denied"}.get(str(action))
        if new is None:
            raise Abort(self.error(400, "300", "Validation Failed.", [{"field": "action", "message": "Invalid."}]))
        registrants = meeting["_registrants"]
        for wanted in body.get("registrants") or []:
            for registrant in registrants.values():
                if wanted.get("id") == registrant["id"] or str(wanted.get("email", "")).lower() == registrant["email"]:
                    registrant["status"] = new
                    registrant["_cancelled"] = action == "cancel"
        return Response(204)

    @route("GET", "/v2/meetings/{meetingId}/registrants/{registrantId}")
    def get_registrant(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        registrant = self.meeting(request.params["meetingId"])["_registrants"].get(request.params["registrantId"])
        if registrant is None:
            raise Abort(self.error(404, "3027", "Registrant not found"))
        return Response.json(200, self._public(registrant))

    @route("DELETE", "/v2/meetings/{meetingId}/registrants/{registrantId}")
    def delete_registrant(self, request: SandboxRequest) -> Response:
        self.authenticate(request)
        registrants = self.meeting(request.params["meetingId"])["_registrants"]
        if request.params["registrantId"] not in registrants:
            raise Abort(self.error(404, "3027", "Registrant not found"))
        del registrants[request.params["registrantId"]]  # their personal link stops working
        return Response(204)
