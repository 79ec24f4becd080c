"""Zoom's Meetings API v2 over httpx, with Server-to-Server OAuth (JWT apps ended on 2023-09-08).

Credentials come from one JSON secret {"accountId", "clientId", "clientSecret", "webhookSecretToken",
"oauthUrl"?, "apiUrl"?}. The token (grant_type=account_credentials) is cached by
provider_http.ProviderHttp until 120 s before it expires; 429s with Retry-After and 5xx are retried
there; Zoom's daily create/update quota (a 429 with `X-RateLimit-Type: Daily-limit`) is never
retried and becomes a 429 problem naming the reset (the next UTC midnight).

Nothing half-created: a meeting's agenda carries our reference (`ref:<mtg id>`); before creating,
the host's meetings are listed and one carrying the reference is reused (a crash between Zoom's
answer and our store leaves exactly such a meeting behind).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from integration_core.adapters.secrets import secret_json
from integration_core.errors import Conflict, NotFound, ProviderRejected, QuotaExhausted
from integration_core.observability import logger
from integration_core.ports.video import (
    CallbackRefused,
    Handshake,
    MeetingEvent,
    MeetingRequest,
    Occurrence,
    ProviderMeeting,
    Recording,
    RecordingFile,
    Registration,
    Segment,
    Subscription,
)
from integration_core.video_config import video_settings

if TYPE_CHECKING:  # httpx loads with the first call to Zoom: its callbacks (signed, verified here) never make one
    import httpx

    from integration_core.adapters.provider_http import ProviderHttp

OAUTH_URL = "https://zoom.us/oauth/token"
API_URL = "https://api.zoom.us/v2"
REFERENCE = "ref:"
USER_MISSING = 1001
_EVENTS = {
    "meeting.started": "started",
    "meeting.ended": "ended",
    "recording.completed": "recording_completed",
    "meeting.participant_joined": "participant_joined",
    "meeting.participant_left": "participant_left",
}


@dataclass(frozen=True)
class _Credentials:
    account_id: str
    client_id: str
    client_secret: str = field(repr=False)
    webhook_secret: str = field(repr=False, default="")
    oauth_url: str = OAUTH_URL
    api_url: str = API_URL


def _credentials() -> _Credentials:
    secret = secret_json(video_settings().zoom_secret_name)
    return _Credentials(
        account_id=secret["accountId"],
        client_id=secret["clientId"],
        client_secret=secret["clientSecret"],
        webhook_secret=secret.get("webhookSecretToken", ""),
        oauth_url=secret.get("oauthUrl") or OAUTH_URL,
        api_url=(secret.get("apiUrl") or API_URL).rstrip("/"),
    )


def is_daily_quota(answer: httpx.Response) -> bool:
    """Zoom's daily create/update limit, told from a passing per-second throttle."""
    if answer.status_code != 429:
        return False
    return answer.headers.get("X-RateLimit-Type", "").lower() == "daily-limit" or "daily" in answer.text.lower()


@lru_cache(maxsize=4)
def _http(creds: _Credentials, timeout: float) -> ProviderHttp:
    from integration_core.adapters.provider_http import ClientCredentials, ProviderHttp

    return ProviderHttp(
        "zoom",
        title="Zoom",
        timeout=timeout,
        credentials=ClientCredentials(
            creds.oauth_url,
            creds.client_id,
            creds.client_secret,
            grant_type="account_credentials",
            extra=(("account_id", creds.account_id),),
        ),
        quota=is_daily_quota,
    )


def next_utc_midnight(now: datetime) -> datetime:
    return (now.astimezone(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def _call(method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
    from integration_core.adapters.provider_http import QuotaExceeded

    creds = _credentials()
    http = _http(creds, video_settings().timeout_seconds)
    try:
        return http.call(method, creds.api_url + path, what=what, **kwargs)
    except QuotaExceeded:
        reset = next_utc_midnight(datetime.now(UTC))
        seconds = max(1, int((reset - datetime.now(UTC)).total_seconds()))
        raise QuotaExhausted(
            f"Zoom allows 100 meeting creates and updates per host a day; this host's are used up until "
            f"{reset.isoformat().replace('+00:00', 'Z')} (UTC midnight); try again then",
            retry_after=seconds,
            resetsAt=reset.isoformat().replace("+00:00", "Z"),
        ) from None


def _error(answer: httpx.Response, what: str) -> Exception:
    try:
        body = answer.json()
    except ValueError:
        body = {}
    code, message = body.get("code"), str(body.get("message", ""))[:300]
    logger.warning("zoom refused", extra={"call": what, "status": answer.status_code, "code": code})
    if answer.status_code == 404:
        return NotFound(f"Zoom has no such {what.split()[-1]} ({message or 'not found'})")
    if answer.status_code == 409:
        return Conflict(f"Zoom: {message}")
    return ProviderRejected(f"Zoom refused to {what}: {message or answer.status_code}")


def _ok(answer: httpx.Response, what: str) -> dict[str, Any]:
    if answer.status_code >= 300:
        raise _error(answer, what)
    if answer.status_code == 204 or not answer.content:
        return {}
    body: dict[str, Any] = answer.json()
    return body


def _zoom_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def encode_uuid(uuid: str) -> str:
    """A UUID that starts with / or contains // is encoded twice in paths, as Zoom requires."""
    once = quote(uuid, safe="")
    return quote(once, safe="") if uuid.startswith("/") or "//" in uuid else once


def _body(request: MeetingRequest) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "waiting_room": True,
        "join_before_host": False,
        "mute_upon_entry": True,
        "approval_type": 0,  # registration, approved at once: each student gets a personal link
        "registration_type": 1,  # register once for every occurrence
        "auto_recording": "cloud" if request.recording else "none",
        "meeting_authentication": False,
    }
    body: dict[str, Any] = {
        "topic": request.topic[:200],
        "type": 2,
        "start_time": _zoom_time(request.start),
        "duration": request.duration_minutes,
        "timezone": request.time_zone,
        "agenda": f"{REFERENCE}{request.reference}",
        "settings": settings,
    }
    if request.weekly is not None:
        body["type"] = 8
        body["recurrence"] = {
            "type": 2,
            "repeat_interval": request.weekly.interval,
            # Zoom counts 1 = Sunday; ours 0 = Monday.
            "weekly_days": ",".join(str((d + 1) % 7 + 1) for d in request.weekly.weekdays),
            "end_times": request.weekly.count,
        }
    return body


def _meeting(body: dict[str, Any]) -> ProviderMeeting:
    occurrences = tuple(
        Occurrence(str(o["occurrence_id"]), _parse(o["start_time"]), int(o.get("duration", body.get("duration", 60))))
        for o in body.get("occurrences", [])
        if o.get("status") != "deleted"
    )
    settings = body.get("settings") or {}
    return ProviderMeeting(
        provider_id=str(body["id"]),
        topic=body.get("topic", ""),
        host=body.get("host_email") or body.get("host_id", ""),
        start=_parse(body["start_time"]) if body.get("start_time") else datetime.now(UTC),
        duration_minutes=int(body.get("duration", 60)),
        join_url=body.get("join_url", ""),
        recording=settings.get("auto_recording") == "cloud",
        status=body.get("status", "waiting"),
        occurrences=occurrences,
        raw_settings={k: settings.get(k) for k in ("waiting_room", "join_before_host", "mute_upon_entry")},
    )


def _pages(path: str, key: str, what: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    token = ""
    for _ in range(50):
        query = {**(params or {}), "page_size": 300}
        if token:
            query["next_page_token"] = token
        body = _ok(_call("GET", path, what=what, params=query), what)
        yield from body.get(key, [])
        token = body.get("next_page_token") or ""
        if not token:
            return


class ZoomAdapter:
    name = "Zoom"
    recurring = True
    ends_meetings = True
    polls_attendance = False  # meeting.ended says when to read the participants report
    attendees_in_meeting = False  # each registrant is its own call (and their own join link)

    # ------------------------------------------------------------------ meetings
    def _find(self, host: str, reference: str) -> ProviderMeeting | None:
        wanted = f"{REFERENCE}{reference}"
        for listed in _pages(f"/users/{quote(host, safe='')}/meetings", "meetings", "list meetings"):
            if listed.get("agenda") == wanted:
                return self.meeting(str(listed["id"]))
        return None

    def ensure_meeting(self, request: MeetingRequest) -> ProviderMeeting:
        host = request.host
        for candidate in dict.fromkeys([request.host, request.fallback_host]):
            answer = _call("GET", f"/users/{quote(candidate, safe='')}", what="find host")
            if answer.status_code == 200:
                host = candidate
                break
            if answer.status_code != 404:
                _ok(answer, "find host")
        found = self._find(host, request.reference)
        if found is not None:
            logger.info("zoom meeting found again", extra={"reference": request.reference})
            return found
        body = _ok(
            _call("POST", f"/users/{quote(host, safe='')}/meetings", what="create meeting", json=_body(request)),
            "create meeting",
        )
        return _meeting(body)

    def update_meeting(self, provider_id: str, request: MeetingRequest) -> ProviderMeeting:
        body = _body(request)
        _ok(_call("PATCH", f"/meetings/{provider_id}", what="update meeting", json=body), "update meeting")
        return self.meeting(provider_id)

    def meeting(self, provider_id: str) -> ProviderMeeting:
        answer = _call(
            "GET", f"/meetings/{provider_id}", what="read meeting", params={"show_previous_occurrences": "true"}
        )
        return _meeting(_ok(answer, "read meeting"))

    def end(self, provider_id: str) -> None:
        _ok(_call("PUT", f"/meetings/{provider_id}/status", what="end meeting", json={"action": "end"}), "end meeting")

    def delete_meeting(self, provider_id: str) -> None:
        """DELETE /meetings/{id} (the whole series, every occurrence); Zoom's 404 means it is gone."""
        answer = _call("DELETE", f"/meetings/{provider_id}", what="delete meeting")
        if answer.status_code != 404:
            _ok(answer, "delete meeting")

    # ------------------------------------------------------------------ registrants
    def register(self, provider_id: str, email: str, first_name: str, last_name: str) -> Registration:
        payload = {"email": email, "first_name": first_name or email, "last_name": last_name}
        body = _ok(
            _call("POST", f"/meetings/{provider_id}/registrants", what="register participant", json=payload),
            "register participant",
        )
        return Registration(str(body["registrant_id"]), str(body["join_url"]))

    def cancel(self, provider_id: str, registrant_id: str, email: str) -> None:
        payload = {"action": "cancel", "registrants": [{"id": registrant_id, "email": email}]}
        answer = _call("PUT", f"/meetings/{provider_id}/registrants/status", what="cancel participant", json=payload)
        if answer.status_code != 404:
            _ok(answer, "cancel participant")

    # ------------------------------------------------------------------ after the class
    def recordings(self, provider_id: str) -> list[Recording]:
        found: list[Recording] = []
        for uuid in self.ended_occurrences(provider_id) or [provider_id]:
            answer = _call("GET", f"/meetings/{encode_uuid(uuid)}/recordings", what="read recordings")
            if answer.status_code == 404:
                continue
            found.append(recording_of(_ok(answer, "read recordings")))
        return found

    def ended_occurrences(self, provider_id: str) -> list[str]:
        answer = _call("GET", f"/past_meetings/{provider_id}/instances", what="list past meetings")
        if answer.status_code == 404:
            return []
        return [str(m["uuid"]) for m in _ok(answer, "list past meetings").get("meetings", [])]

    def participants(self, occurrence_uuid: str) -> list[Segment]:
        rows = _pages(
            f"/report/meetings/{encode_uuid(occurrence_uuid)}/participants",
            "participants",
            "read participants report",
            {"include_fields": "registrant_id"},
        )
        return [segment_of(r) for r in rows]

    # ------------------------------------------------------------------ callbacks
    def callback_ids(self, provider_id: str) -> tuple[str, ...]:
        return (provider_id,)

    subscription_kinds: tuple[str, ...] = ()

    def subscribe(
        self, provider_id: str, join_url: str, minutes: int, skip: frozenset[str] = frozenset()
    ) -> list[Subscription]:
        return []  # Zoom sends the app's event subscriptions to every meeting: nothing per meeting

    def renew(self, subscription_id: str, minutes: int) -> datetime | None:
        return None

    def unsubscribe(self, subscription_id: str) -> None:
        return None

    def callback(
        self, raw: bytes, headers: dict[str, str], query: dict[str, str] | None = None
    ) -> MeetingEvent | Handshake | None:
        secret = _credentials().webhook_secret
        verify(raw, headers, secret, video_settings().webhook_tolerance_seconds)
        body = json.loads(raw)
        event = body.get("event", "")
        obj = (body.get("payload") or {}).get("object") or {}
        if event == "endpoint.url_validation":
            plain = str((body.get("payload") or {}).get("plainToken", ""))
            return Handshake({"plainToken": plain, "encryptedToken": _hmac(secret, plain.encode())})
        kind = _EVENTS.get(event)
        if kind is None:
            return None
        at_ms = int(body.get("event_ts") or time.time() * 1000)
        at = datetime.fromtimestamp(at_ms / 1000, UTC)
        participant = obj.get("participant")
        segment = None
        if participant:
            joined = participant.get("join_time")
            left = participant.get("leave_time")
            segment = Segment(
                name=participant.get("user_name", ""),
                email=str(participant.get("email", "")).lower(),
                registrant_id=participant.get("registrant_id", ""),
                joined_at=_parse(joined) if joined else at,
                left_at=_parse(left) if left else None,
            )
            digest = hashlib.sha256(f"{event}|{obj.get('uuid')}|{joined}|{left}|{segment.email}".encode()).hexdigest()[
                :40
            ]
        else:
            digest = hashlib.sha256(f"{event}|{obj.get('uuid')}".encode()).hexdigest()[:40]
        if event == "meeting.started" and obj.get("start_time"):
            at = _parse(obj["start_time"])
        if event == "meeting.ended" and obj.get("end_time"):
            at = _parse(obj["end_time"])
        return MeetingEvent(
            kind=kind,
            provider_meeting_id=str(obj.get("id", "")),
            occurrence_uuid=str(obj.get("uuid", "")),
            at=at,
            digest=digest,
            recording=recording_of(obj) if kind == "recording_completed" else None,
            segment=segment,
            started_at=_parse(obj["start_time"]) if obj.get("start_time") else None,
        )


def _hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(raw: bytes, headers: dict[str, str], secret: str, tolerance: int, now: float | None = None) -> None:
    """x-zm-signature = v0=HMAC-SHA256(secret, "v0:{timestamp}:{raw body}"), the timestamp recent."""
    stamp = headers.get("x-zm-request-timestamp", "")
    signature = headers.get("x-zm-signature", "")
    if not secret or not stamp.isdigit() or not signature.startswith("v0="):
        raise CallbackRefused("missing or malformed x-zm-signature")
    if abs((now if now is not None else time.time()) - int(stamp)) > tolerance:
        raise CallbackRefused("x-zm-request-timestamp is outside the tolerance")
    expected = "v0=" + _hmac(secret, f"v0:{stamp}:".encode() + raw)
    if not hmac.compare_digest(expected, signature):
        raise CallbackRefused("x-zm-signature does not match")


def recording_of(body: dict[str, Any]) -> Recording:
    files = tuple(
        RecordingFile(
            file_type=str(f.get("file_type", "")),
            size=int(f.get("file_size", 0) or 0),
            play_url=str(f.get("play_url", "")),
            download_url=str(f.get("download_url", "")),
            recording_start=str(f.get("recording_start", "")),
            recording_end=str(f.get("recording_end", "")),
        )
        for f in body.get("recording_files", [])
    )
    return Recording(
        occurrence_uuid=str(body.get("uuid", "")),
        start=str(body.get("start_time", "")),
        duration_minutes=int(body.get("duration", 0) or 0),
        files=files,
    )


def segment_of(row: dict[str, Any]) -> Segment:
    return Segment(
        name=str(row.get("name") or row.get("user_name") or ""),
        email=str(row.get("user_email") or row.get("email") or "").lower(),
        registrant_id=str(row.get("registrant_id") or ""),
        joined_at=_parse(row["join_time"]),
        left_at=_parse(row["leave_time"]) if row.get("leave_time") else None,
    )


ADAPTER = ZoomAdapter()
