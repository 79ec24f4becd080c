"""Microsoft Teams meetings through Microsoft Graph v1.0 with application permissions.

The app-only token comes from MSAL's ConfidentialClientApplication.acquire_token_for_client (MSAL's
own token cache, one application per warm container); every Graph call goes through
provider_http.ProviderHttp (timeouts, 429 Retry-After and 5xx retries, a fresh token once on a 401),
which asks MSAL for the token.

Meetings are standalone online meetings of the teacher (`/users/{organizer}/onlineMeetings`, see
docs/video.md for why not calendar events): `createOrGet` with our reference as `externalId`, so a
retry after a crash between Graph's answer and our store gets the same meeting back (nothing
half-created), then one PATCH with what createOrGet does not take: the lobby (only invited people
bypass it), presenters (the organizer), recording and the attendees. Graph has no recurring online
meetings: the port's trait `recurring` is False and a course gets one meeting per session.

A provider meeting id here is `<organizer object id>|<onlineMeeting id>` (Graph needs both on every
call); callbacks name only the onlineMeeting id (`callback_ids`).

Graph's 403 "No application access policy found for this app" becomes a clear problem naming the
policy and the Teams PowerShell commands that grant it. Graph has no operation that ends a meeting in
progress (the port's trait `ends_meetings` is False; the service answers what is possible instead).

Change notifications: meeting call events (`communications/onlineMeetings/?$filter=JoinWebUrl eq
'...'`, callStarted / callEnded) and the meeting's recordings (`.../recordings`, created). Each
notification's `clientState` must equal the secret's. Attendance reports have no notification:
the service polls them after the scheduled end.

The secret (TeamsSecret): {"tenantId", "clientId", "clientSecret", "clientState", "notificationUrl"?,
"defaultOrganizer"?, "authority"?, "graphUrl"?, "sandboxUrl"?}; `sandboxUrl` only in the local stack.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from integration_core.adapters.provider_http import ProviderHttp
from integration_core.adapters.secrets import secret_json
from integration_core.errors import Conflict, DomainError, NotFound, ProviderRejected, ProviderUnavailable
from integration_core.observability import logger
from integration_core.ports.video import (
    CallbackRefused,
    Handshake,
    MeetingEvent,
    MeetingRequest,
    ProviderMeeting,
    Recording,
    RecordingFile,
    Registration,
    Segment,
    Subscription,
)
from integration_core.video_config import video_settings

GRAPH_URL = "https://graph.microsoft.com/v1.0"
LOGIN = "https://login.microsoftonline.com"
SCOPES = ["https://graph.microsoft.com/.default"]
SEPARATOR = "|"
NO_POLICY = "application access policy"


class AccessPolicyMissing(ProviderRejected):
    """Graph's 403 for an organizer the tenant's application access policy does not cover: a 502
    (the provider refused; our caller may do nothing about it but tell the Teams administrator)."""

    slug, title = "teams-access-policy-missing", "The Teams application access policy is missing"


@dataclass(frozen=True)
class _Credentials:
    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    client_state: str = field(repr=False, default="")
    notification_url: str = ""
    default_organizer: str = ""
    authority: str = ""
    graph_url: str = GRAPH_URL
    sandbox_url: str = ""


def _credentials() -> _Credentials:
    secret = secret_json(video_settings().teams_secret_name)
    tenant = secret["tenantId"]
    return _Credentials(
        tenant_id=tenant,
        client_id=secret["clientId"],
        client_secret=secret["clientSecret"],
        client_state=secret.get("clientState", ""),
        notification_url=secret.get("notificationUrl", ""),
        default_organizer=secret.get("defaultOrganizer", ""),
        authority=secret.get("authority") or f"{LOGIN}/{tenant}",
        graph_url=(secret.get("graphUrl") or GRAPH_URL).rstrip("/"),
        sandbox_url=secret.get("sandboxUrl", ""),
    )


class _LocalHttps:
    """MSAL's http client in the local stack: MSAL takes only https authorities, so the authority's
    https origin is sent to the plain-http sandbox; any other URL is refused."""

    def __init__(self, authority: str, sandbox_url: str, timeout: float) -> None:
        parts = urlsplit(authority)
        self.secure = f"{parts.scheme}://{parts.netloc}"
        self.plain = sandbox_url.rstrip("/")
        self.client = httpx.Client(timeout=timeout)

    def _local(self, url: str) -> str:
        if not url.startswith(self.secure):
            raise ProviderRejected("the local Graph client only talks to the sandbox")
        return self.plain + url[len(self.secure) :]

    def get(self, url: str, params: Any = None, headers: Any = None, **_: Any) -> httpx.Response:
        return self.client.get(self._local(url), params=params, headers=headers)

    def post(self, url: str, params: Any = None, data: Any = None, headers: Any = None, **_: Any) -> httpx.Response:
        if isinstance(data, str | bytes):
            return self.client.post(self._local(url), params=params, content=data, headers=headers)
        return self.client.post(self._local(url), params=params, data=data, headers=headers)

    def close(self) -> None:
        self.client.close()


class _MsalToken:
    """acquire_token_for_client on one ConfidentialClientApplication: MSAL's cache answers until
    the token is about to expire; `fresh` (after a 401) drops the cached app token first."""

    def __init__(self, creds: _Credentials, timeout: float) -> None:
        self.creds = creds
        self.timeout = timeout
        self._app: Any = None
        self._lock = threading.Lock()

    def app(self) -> Any:
        with self._lock:
            if self._app is None:
                import msal  # type: ignore[import-untyped]  # only Teams needs it: not on other cold starts

                kwargs: dict[str, Any] = {"timeout": self.timeout}
                if self.creds.sandbox_url:
                    kwargs["http_client"] = _LocalHttps(self.creds.authority, self.creds.sandbox_url, self.timeout)
                    kwargs["instance_discovery"] = False
                try:
                    self._app = msal.ConfidentialClientApplication(
                        self.creds.client_id,
                        client_credential=self.creds.client_secret,
                        authority=self.creds.authority,
                        **kwargs,
                    )
                except ValueError as error:  # MSAL could not read the authority's configuration
                    logger.error("teams authority refused", extra={"error": type(error).__name__})
                    raise ProviderRejected("Microsoft Entra ID does not know the configured tenant") from None
                except Exception as error:  # requests' or httpx's connection errors
                    logger.warning("teams authority unreachable", extra={"error": type(error).__name__})
                    raise ProviderUnavailable(
                        "Microsoft Entra ID cannot be reached; try again", retry_after=5
                    ) from None
            return self._app

    def __call__(self, fresh: bool) -> str:
        app = self.app()
        if fresh:
            app.remove_tokens_for_client()
        try:
            result = app.acquire_token_for_client(scopes=SCOPES)
        except DomainError:
            raise
        except Exception as error:
            logger.warning("teams token unreachable", extra={"error": type(error).__name__})
            raise ProviderUnavailable("Microsoft Entra ID cannot be reached; try again", retry_after=5) from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            logger.error("teams token refused", extra={"error": (result or {}).get("error")})
            raise ProviderRejected(
                f"Microsoft Entra ID refused the app's credentials ({(result or {}).get('error', 'no token')}); "
                "the operator must fix TeamsSecret"
            )
        return str(token)


@lru_cache(maxsize=4)
def _http(creds: _Credentials, timeout: float) -> ProviderHttp:
    return ProviderHttp("teams", title="Microsoft Graph", timeout=timeout, token_source=_MsalToken(creds, timeout))


def _call(method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
    creds = _credentials()
    return _http(creds, video_settings().timeout_seconds).call(method, creds.graph_url + path, what=what, **kwargs)


def _error(answer: httpx.Response, what: str, organizer: str = "") -> Exception:
    try:
        error = answer.json().get("error") or {}
    except ValueError:
        error = {}
    code, message = str(error.get("code", "")), str(error.get("message", ""))[:300]
    logger.warning("graph refused", extra={"call": what, "status": answer.status_code, "code": code})
    if answer.status_code == 403 and NO_POLICY in message.lower():
        who = organizer or "the organizer"
        return AccessPolicyMissing(
            f"Microsoft Graph refused to {what} for {who}: the tenant has no Teams application access policy "
            "that lets this app act for that user. A Teams administrator grants it in PowerShell "
            "(MicrosoftTeams module): New-CsApplicationAccessPolicy -Identity School-Meetings -AppIds "
            f'"{_credentials().client_id}" -Description "school meetings", then Grant-CsApplicationAccessPolicy '
            f'-PolicyName School-Meetings -Identity "{who}" (or -Global for every user); it takes up to 30 '
            "minutes to apply.",
            policy="application access policy",
            commands=["New-CsApplicationAccessPolicy", "Grant-CsApplicationAccessPolicy"],
            organizer=organizer or None,
        )
    if answer.status_code == 404:
        return NotFound(f"Microsoft Graph has no such {what.split()[-1]} ({message or 'not found'})")
    if answer.status_code == 409:
        return Conflict(f"Microsoft Graph: {message}")
    if answer.status_code == 403:
        return ProviderRejected(
            f"Microsoft Graph refused to {what} ({message or 'forbidden'}): the app lacks an application "
            "permission or the administrator's consent (docs/video.md)"
        )
    return ProviderRejected(f"Microsoft Graph refused to {what}: {message or answer.status_code}")


def _ok(answer: httpx.Response, what: str, organizer: str = "") -> dict[str, Any]:
    if answer.status_code >= 300:
        raise _error(answer, what, organizer)
    if answer.status_code == 204 or not answer.content:
        return {}
    body: dict[str, Any] = answer.json()
    return body


def graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    text = text.replace("Z", "+00:00")
    head, dot, tail = text.partition(".")
    if dot:  # Graph writes 7 fractional digits
        digits = "".join(c for c in tail if c.isdigit())
        text = f"{head}.{digits[:6]}{tail[len(digits) :]}"
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def split_id(provider_id: str) -> tuple[str, str]:
    organizer, _, meeting = provider_id.partition(SEPARATOR)
    if not meeting:
        raise NotFound(f"{provider_id} is not a Teams meeting of ours")
    return organizer, meeting


def _path(provider_id: str, tail: str = "") -> str:
    organizer, meeting = split_id(provider_id)
    return f"/users/{quote(organizer, safe='')}/onlineMeetings/{quote(meeting, safe='')}{tail}"


def _attendee(email: str, name: str) -> dict[str, Any]:
    person: dict[str, Any] = {"upn": email, "role": "attendee"}
    if name:
        person["identity"] = {"user": {"displayName": name}}
    return person


def _meeting(organizer: str, body: dict[str, Any]) -> ProviderMeeting:
    start = parse_time(body["startDateTime"]) if body.get("startDateTime") else datetime.now(UTC)
    end = parse_time(body["endDateTime"]) if body.get("endDateTime") else start + timedelta(hours=1)
    lobby = body.get("lobbyBypassSettings") or {}
    return ProviderMeeting(
        provider_id=f"{organizer}{SEPARATOR}{body['id']}",
        topic=body.get("subject") or "",
        host=organizer,
        start=start,
        duration_minutes=max(1, int((end - start).total_seconds() // 60)),
        join_url=body.get("joinWebUrl", ""),
        recording=bool(body.get("recordAutomatically")),
        status="scheduled",
        raw_settings={
            "lobbyBypassScope": lobby.get("scope"),
            "allowedPresenters": body.get("allowedPresenters"),
            "recordAutomatically": body.get("recordAutomatically"),
            "attendees": [a.get("upn") for a in (body.get("participants") or {}).get("attendees") or []],
        },
    )


class TeamsAdapter:
    name = "Microsoft Teams"
    recurring = False  # Graph has no recurring online meetings: one meeting per session
    ends_meetings = False  # Graph has no operation that ends a meeting in progress
    polls_attendance = True  # Graph notifies no attendance report: read after the scheduled end
    attendees_in_meeting = True  # attendees are a property of the meeting: set with it, no call each

    # ------------------------------------------------------------------ meetings
    def __init__(self) -> None:
        self._object_ids: dict[str, str] = {}  # user principal name -> object id (it does not change)

    def _organizer(self, request: MeetingRequest) -> str:
        """The object id of the teacher's Microsoft user (the default organizer otherwise), looked
        up once per warm container."""
        candidates = [request.host, _credentials().default_organizer]
        for candidate in dict.fromkeys(c.lower() for c in candidates if c and "@" in c):
            if candidate in self._object_ids:
                return self._object_ids[candidate]
            answer = _call(
                "GET", f"/users/{quote(candidate, safe='')}", what="find organizer", params={"$select": "id"}
            )
            if answer.status_code == 200:
                self._object_ids[candidate] = str(answer.json()["id"])
                return self._object_ids[candidate]
            if answer.status_code != 404:
                _ok(answer, "find organizer", candidate)
        raise NotFound(
            f"neither the teacher ({request.host}) nor the default organizer is a user of the Microsoft tenant; "
            "set TeamsSecret's defaultOrganizer or give the teacher a Microsoft 365 account"
        )

    def _settings(self, request: MeetingRequest) -> dict[str, Any]:
        return {
            "subject": request.topic[:255],
            "startDateTime": graph_time(request.start),
            "endDateTime": graph_time(request.start + timedelta(minutes=request.duration_minutes)),
            "lobbyBypassSettings": {"scope": "invited", "isDialInBypassEnabled": False},
            "allowedPresenters": "organizer",
            "recordAutomatically": request.recording,
            "allowRecording": request.recording,
            "participants": {"attendees": [_attendee(email, name) for email, name in request.attendees]},
        }

    def ensure_meeting(self, request: MeetingRequest) -> ProviderMeeting:
        organizer = self._organizer(request)
        base = f"/users/{quote(organizer, safe='')}/onlineMeetings"
        body = {
            "externalId": request.reference,
            "subject": request.topic[:255],
            "startDateTime": graph_time(request.start),
            "endDateTime": graph_time(request.start + timedelta(minutes=request.duration_minutes)),
        }
        created = _ok(
            _call("POST", f"{base}/createOrGet", what="create meeting", json=body), "create meeting", request.host
        )
        meeting_id = quote(str(created["id"]), safe="")
        updated = _ok(
            _call("PATCH", f"{base}/{meeting_id}", what="set up meeting", json=self._settings(request)),
            "set up meeting",
            request.host,
        )
        return _meeting(organizer, updated or created)

    def update_meeting(self, provider_id: str, request: MeetingRequest) -> ProviderMeeting:
        settings = self._settings(request)
        settings.pop("participants")  # attendees are kept as they are (register / cancel change them)
        body = _ok(_call("PATCH", _path(provider_id), what="update meeting", json=settings), "update meeting")
        return _meeting(split_id(provider_id)[0], body)

    def meeting(self, provider_id: str) -> ProviderMeeting:
        return _meeting(split_id(provider_id)[0], self._read(provider_id))

    def _read(self, provider_id: str) -> dict[str, Any]:
        return _ok(_call("GET", _path(provider_id), what="read meeting"), "read meeting")

    def end(self, provider_id: str) -> None:
        raise ProviderRejected("Microsoft Graph has no operation that ends an online meeting in progress")

    def delete_meeting(self, provider_id: str) -> None:
        answer = _call("DELETE", _path(provider_id), what="delete meeting")
        if answer.status_code != 404:
            _ok(answer, "delete meeting")

    def callback_ids(self, provider_id: str) -> tuple[str, ...]:
        return (provider_id, split_id(provider_id)[1])

    # ------------------------------------------------------------------ attendees
    def _attendees(self, provider_id: str, change: Any) -> dict[str, Any]:
        current = self._read(provider_id)
        attendees = list((current.get("participants") or {}).get("attendees") or [])
        wanted = change(attendees)
        if wanted is None:
            return current
        body = {"participants": {"attendees": [_attendee(a["upn"], _name(a)) for a in wanted]}}
        return _ok(_call("PATCH", _path(provider_id), what="set attendees", json=body), "set attendees")

    def register(self, provider_id: str, email: str, first_name: str, last_name: str) -> Registration:
        email = email.lower()
        name = f"{first_name} {last_name}".strip()

        def add(attendees: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            if any(str(a.get("upn", "")).lower() == email for a in attendees):
                return None
            return [*attendees, _attendee(email, name)]

        meeting = self._attendees(provider_id, add)
        return Registration(email, str(meeting.get("joinWebUrl", "")))

    def cancel(self, provider_id: str, registrant_id: str, email: str) -> None:
        email = email.lower()

        def remove(attendees: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            kept = [a for a in attendees if str(a.get("upn", "")).lower() != email]
            return None if len(kept) == len(attendees) else kept

        try:
            self._attendees(provider_id, remove)
        except NotFound:
            return

    # ------------------------------------------------------------------ after the class
    def recordings(self, provider_id: str) -> list[Recording]:
        answer = _call("GET", _path(provider_id, "/recordings"), what="read recordings")
        if answer.status_code == 404:
            return []
        return [recording_of(r) for r in _ok(answer, "read recordings").get("value", [])]

    def ended_occurrences(self, provider_id: str) -> list[str]:
        """One per attendance report (a meeting held twice has two): `<provider id>#<report id>`."""
        answer = _call("GET", _path(provider_id, "/attendanceReports"), what="list attendance reports")
        if answer.status_code == 404:
            return []
        return [f"{provider_id}#{r['id']}" for r in _ok(answer, "list attendance reports").get("value", [])]

    def participants(self, occurrence_uuid: str) -> list[Segment]:
        provider_id, _, report = occurrence_uuid.rpartition("#")
        path = _path(provider_id, f"/attendanceReports/{quote(report, safe='')}/attendanceRecords")
        rows = _ok(_call("GET", path, what="read attendance records"), "read attendance records").get("value", [])
        segments = []
        for row in rows:
            email = str(row.get("emailAddress") or "").lower()
            name = str((row.get("identity") or {}).get("displayName") or email)
            for interval in row.get("attendanceIntervals") or []:
                left = interval.get("leaveDateTime")
                segments.append(
                    Segment(
                        name=name,
                        email=email,
                        registrant_id=email,
                        joined_at=parse_time(interval["joinDateTime"]),
                        left_at=parse_time(left) if left else None,
                    )
                )
        return segments

    # ------------------------------------------------------------------ change notifications
    subscription_kinds = ("calls", "recordings")

    def subscribe(
        self, provider_id: str, join_url: str, minutes: int, skip: frozenset[str] = frozenset()
    ) -> list[Subscription]:
        """Meeting call events on the join URL and the meeting's recordings, to the secret's
        notificationUrl (none configured: none made, the service polls), each kind not in `skip`.
        A kind Graph refuses (its validation handshake timed out) is left out and tried again
        by the schedule; the ones made are answered."""
        creds = _credentials()
        if not creds.notification_url or not join_url:
            return []
        organizer, meeting = split_id(provider_id)
        expiry = datetime.now(UTC) + timedelta(minutes=minutes)
        wanted = [
            ("calls", "updated", f"communications/onlineMeetings/?$filter=JoinWebUrl eq '{join_url}'"),
            ("recordings", "created", f"users/{organizer}/onlineMeetings/{meeting}/recordings"),
        ]
        made = []
        for kind, change, resource in wanted:
            if kind in skip:
                continue
            body = {
                "changeType": change,
                "notificationUrl": creds.notification_url,
                "resource": resource,
                "expirationDateTime": graph_time(expiry),
                "clientState": creds.client_state,
            }
            try:
                found = _ok(_call("POST", "/subscriptions", what="subscribe", json=body), "subscribe")
            except (ProviderRejected, ProviderUnavailable) as error:
                logger.warning("graph subscription refused", extra={"kind": kind, "problem": error.slug})
                continue
            made.append(Subscription(str(found["id"]), parse_time(found["expirationDateTime"]), kind))
        return made

    def renew(self, subscription_id: str, minutes: int) -> datetime | None:
        """The new expiry; None when Graph no longer has the subscription (it expired)."""
        expiry = graph_time(datetime.now(UTC) + timedelta(minutes=minutes))
        answer = _call(
            "PATCH",
            f"/subscriptions/{quote(subscription_id, safe='')}",
            what="renew subscription",
            json={"expirationDateTime": expiry},
        )
        if answer.status_code == 404:
            return None
        return parse_time(_ok(answer, "renew subscription")["expirationDateTime"])

    def unsubscribe(self, subscription_id: str) -> None:
        answer = _call("DELETE", f"/subscriptions/{quote(subscription_id, safe='')}", what="unsubscribe")
        if answer.status_code != 404:
            _ok(answer, "unsubscribe")

    def callback(
        self, raw: bytes, headers: dict[str, str], query: dict[str, str] | None = None
    ) -> MeetingEvent | Handshake | list[MeetingEvent] | None:
        """The validationToken handshake (answered as text/plain), or the batch's notifications
        once every one carries our clientState (a single wrong one refuses the batch)."""
        token = (query or {}).get("validationToken")
        if token is not None:
            return Handshake({}, text=token)
        body = json.loads(raw)
        items = body.get("value")
        if not isinstance(items, list):
            raise CallbackRefused("not a change notification collection")
        expected = _credentials().client_state
        for item in items:
            if not expected or not hmac.compare_digest(str(item.get("clientState") or ""), expected):
                raise CallbackRefused("clientState does not match")
        found = [e for e in (self._event(item) for item in items) if e is not None]
        return found or None

    def _event(self, item: dict[str, Any]) -> MeetingEvent | None:
        data = item.get("resourceData") or {}
        kind_of = str(data.get("@odata.type", "")).lower()
        now = datetime.now(UTC)
        if kind_of.endswith("onlinemeeting"):
            state = str(data.get("eventType", "")).lower()
            kind = {"callstarted": "started", "callended": "ended"}.get(state.rsplit(".", 1)[-1])
            if kind is None:
                return None
            meeting = str(data.get("id") or str(data.get("@odata.id", "")).rsplit("/", 1)[-1])
            digest = hashlib.sha256(f"teams|{kind}|{meeting}".encode()).hexdigest()[:40]
            return MeetingEvent(kind=kind, provider_meeting_id=meeting, occurrence_uuid="", at=now, digest=digest)
        if kind_of.endswith("callrecording"):
            resource = str(item.get("resource") or data.get("@odata.id") or "")
            parts = resource.strip("/").split("/")
            if len(parts) < 6 or parts[0] != "users" or parts[2] != "onlineMeetings":
                return None
            provider_id = f"{parts[1]}{SEPARATOR}{parts[3]}"
            found = _ok(
                _call("GET", _path(provider_id, f"/recordings/{quote(parts[5], safe='')}"), what="read recording"),
                "read recording",
            )
            digest = hashlib.sha256(f"teams|recording|{parts[5]}".encode()).hexdigest()[:40]
            return MeetingEvent(
                kind="recording_completed",
                provider_meeting_id=parts[3],
                occurrence_uuid=str(found.get("id", parts[5])),
                at=now,
                digest=digest,
                recording=recording_of(found),
            )
        return None


def _name(attendee: dict[str, Any]) -> str:
    return str(((attendee.get("identity") or {}).get("user") or {}).get("displayName") or "")


def recording_of(body: dict[str, Any]) -> Recording:
    start, end = body.get("createdDateTime"), body.get("endDateTime")
    minutes = int((parse_time(end) - parse_time(start)).total_seconds() // 60) if start and end else 0
    content = str(body.get("recordingContentUrl", ""))
    return Recording(
        occurrence_uuid=str(body.get("id", "")),
        start=str(start or ""),
        duration_minutes=minutes,
        files=(
            RecordingFile(
                file_type="MP4",
                size=0,  # Graph's callRecording does not say; the content's Content-Length does
                play_url=content,
                download_url=content,
                recording_start=str(start or ""),
                recording_end=str(end or ""),
            ),
        ),
    )


ADAPTER = TeamsAdapter()
