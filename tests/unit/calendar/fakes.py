"""In-memory stand-ins for the calendar services' seams: a store with the real store's conditions,
a directory, a cipher, and a small Google (OAuth token endpoint and Calendar events) behind an
httpx.MockTransport, so the real adapter (upsert = insert, on 409 patch; retries) runs against it."""

from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from integration_core.adapters import google_oauth
from integration_core.adapters.google_calendar import GoogleCalendar
from integration_core.adapters.provider_http import ProviderHttp, RetryPolicy
from integration_core.stores.calendar import BROKEN, CONNECTED
from integration_core.stores.join_links import Links


class FakeStore:
    db = None

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.states: dict[str, dict[str, Any]] = {}
        self.conns: dict[str, dict[str, Any]] = {}
        self.leases: dict[str, dict[str, Any]] = {}
        self.synced: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.broken_events: list[list[dict]] = []

    def put_state(self, digest: str, record: dict[str, Any], expires_at: int) -> None:
        self.states[digest] = {**record, "expiresAt": expires_at}

    def take_state(self, digest: str, now: int) -> dict[str, Any] | None:
        with self.lock:
            item = self.states.pop(digest, None)
        if item is None or item["expiresAt"] <= now:
            return None
        return {k: v for k, v in item.items() if k != "expiresAt"}

    def connection(self, user_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
        with self.lock:
            found = self.conns.get(user_id)
            return copy.deepcopy(found) if found else None

    def connections(self, user_ids: list[str]) -> list[dict[str, Any]]:
        return [c for u in user_ids if (c := self.connection(u))]

    def save_connection(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.conns[record["user_id"]] = copy.deepcopy(record)

    def save_tokens(self, user_id: str, read_version: int, tokens: dict[str, Any]) -> bool:
        with self.lock:
            c = self.conns.get(user_id)
            if not c or c["token_version"] != read_version or c["status"] != CONNECTED:
                return False
            c.update(tokens, token_version=read_version + 1)
            return True

    def mark_broken(self, user_id: str, read_version: int, reason: str, at: str, also: list[dict]) -> bool:
        with self.lock:
            c = self.conns.get(user_id)
            if not c or c["token_version"] != read_version or c["status"] != CONNECTED:
                return False
            c.update(status=BROKEN, broken_reason=reason, broken_at=at, token_version=read_version + 1)
            c.pop("access_token", None)
            c.pop("refresh_token", None)
            self.broken_events.append(also)
            return True

    def set_calendar(self, user_id: str, calendar_id: str) -> bool:
        with self.lock:
            c = self.conns.get(user_id)
            if not c or c.get("calendar_id"):
                return False
            c["calendar_id"] = calendar_id
            return True

    def record_sync(self, user_id: str, at: str, event_count: int) -> None:
        with self.lock:
            if user_id in self.conns:
                self.conns[user_id].update(last_synced_at=at, event_count=event_count)

    def delete_connection(self, user_id: str) -> None:
        with self.lock:
            self.conns.pop(user_id, None)
            self.leases.pop(user_id, None)

    def take_lease(self, user_id: str, owner: str, now: float, seconds: float) -> bool:
        with self.lock:
            lease = self.leases.get(user_id)
            if lease and lease["until"] >= now:
                return False
            self.leases[user_id] = {"owner": owner, "until": now + seconds}
            return True

    def release_lease(self, user_id: str, owner: str) -> None:
        with self.lock:
            if self.leases.get(user_id, {}).get("owner") == owner:
                del self.leases[user_id]

    def synced_events(self, user_id: str, course_id: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                copy.deepcopy(r)
                for (u, c, _), r in sorted(self.synced.items())
                if u == user_id and (course_id is None or c == course_id)
            ]

    def save_synced(self, user_id: str, record: dict[str, Any]) -> bool:
        key = (user_id, record["course_id"], record["session_id"])
        with self.lock:
            old = self.synced.get(key)
            if old and old["session_version"] > record["session_version"]:
                return False
            self.synced[key] = copy.deepcopy(record)
            return True

    def forget_synced(self, user_id: str) -> None:
        with self.lock:
            for key in [k for k in self.synced if k[0] == user_id]:
                del self.synced[key]


class FakeDirectory:
    def __init__(self) -> None:
        self.courses: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, list[dict[str, Any]]] = {}
        self.enrolled: dict[str, set[str]] = {}

    def course(self, course_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        return self.courses.get(course_id)

    def all_sessions(self, course_id: str, *, cancelled: bool = False) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(s) for s in self.sessions.get(course_id, []) if (s.get("status") == "cancelled") is cancelled
        ]

    def enrollment(self, student_id: str, course_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        return {"student_id": student_id} if student_id in self.enrolled.get(course_id, set()) else None

    def enrollments_of_course(self, course_id: str, limit: int, cursor: str | None) -> Any:
        class Page:
            items = [{"student_id": s} for s in sorted(self.enrolled.get(course_id, set()))]
            next_cursor = None

        return Page()


class FakeJoinLinks:
    """The links video would write: (course, holder) -> {session id or "*": link}."""

    def __init__(self) -> None:
        self.by_holder: dict[tuple[str, str], dict[str, str]] = {}

    def links(self, course_id: str, who: str) -> Links:
        return Links(dict(self.by_holder.get((course_id, who), {})))


class PlainCipher:
    """Reversible, and bound to (user, purpose) as KMS's encryption context is."""

    def encrypt(self, user_id: str, purpose: str, plaintext: str) -> str:
        return f"enc:{user_id}:{purpose}:{plaintext[::-1]}"

    def decrypt(self, user_id: str, purpose: str, ciphertext: str) -> str:
        prefix = f"enc:{user_id}:{purpose}:"
        assert ciphertext.startswith(prefix), "decrypted with another user's or purpose's context"
        return ciphertext.removeprefix(prefix)[::-1]


class FakeGoogle:
    """Google's token endpoint and a Calendar events API, with Google's id rules and 409 on a duplicate."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: dict[str, int] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.calendars: list[str] = []
        self.refresh_error: str | None = None
        self.rotate_refresh_token = False
        self.refresh_delay = 0.0
        self.faults: list[httpx.Response] = []
        self.issued = 0
        self.page_size = 2

    def count(self, name: str) -> None:
        with self.lock:
            self.calls[name] = self.calls.get(name, 0) + 1

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = urlsplit(str(request.url)).path
        with self.lock:
            fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            self.count("fault")
            return fault
        if path == "/token":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            self.count(form["grant_type"])
            if self.refresh_delay:
                time.sleep(self.refresh_delay)
            if self.refresh_error:
                return httpx.Response(400, json={"error": self.refresh_error, "error_description": "Bad Request"})
            with self.lock:
                self.issued += 1
                body = {"access_token": f"at-{self.issued}", "expires_in": 3599, "token_type": "Bearer"}
            if form["grant_type"] == "authorization_code" or self.rotate_refresh_token:
                body["refresh_token"] = f"rt-{self.issued}"
            return httpx.Response(200, json=body)
        if path == "/revoke":
            self.count("revoke")
            return httpx.Response(200)
        if path == "/userinfo":
            self.count("userinfo")
            return httpx.Response(200, json={"email": "ana@example.com"})
        if request.headers.get("Authorization", "").removeprefix("Bearer ").startswith("expired"):
            return httpx.Response(401, json={"error": {"code": 401, "errors": [{"reason": "authError"}]}})
        parts = path.strip("/").split("/")  # calendar/calendars/<id>/events[/<eventId>]
        if parts == ["calendar", "calendars"]:
            self.count("calendars.insert")
            with self.lock:
                self.calendars.append(f"cal{len(self.calendars)}")
                return httpx.Response(200, json={"id": self.calendars[-1]})
        if len(parts) == 3 and request.method == "DELETE":
            self.count("calendars.delete")
            return httpx.Response(204)
        event_id = parts[4] if len(parts) > 4 else None
        if request.method == "POST":
            self.count("events.insert")
            body = json.loads(request.content)
            with self.lock:
                if body.get("id") in self.events:
                    return httpx.Response(409, json={"error": {"code": 409, "errors": [{"reason": "duplicate"}]}})
                eid = body.get("id") or f"gen{len(self.events):05d}"
                self.events[eid] = {**body, "id": eid, "status": body.get("status", "confirmed")}
                return httpx.Response(200, json=self.events[eid])
        if request.method == "PATCH":
            self.count("events.patch")
            with self.lock:
                if event_id not in self.events:
                    return httpx.Response(404, json={"error": {"code": 404, "errors": [{"reason": "notFound"}]}})
                self.events[event_id].update(json.loads(request.content))
                return httpx.Response(200, json=self.events[event_id])
        if request.method == "DELETE":
            self.count("events.delete")
            with self.lock:
                if event_id not in self.events or self.events[event_id]["status"] == "cancelled":
                    return httpx.Response(410)
                self.events[event_id]["status"] = "cancelled"
            return httpx.Response(204)
        if request.method == "GET":
            self.count("events.list")
            query = parse_qs(urlsplit(str(request.url)).query)
            start = int(query.get("pageToken", ["0"])[0])
            items = sorted(self.events.values(), key=lambda e: e["start"]["dateTime"])
            page = items[start : start + self.page_size]
            body: dict[str, Any] = {"items": page}
            if start + self.page_size < len(items):
                body["nextPageToken"] = str(start + self.page_size)
            return httpx.Response(200, json=body)
        return httpx.Response(404)


def install(monkeypatch: Any) -> tuple[FakeStore, FakeDirectory, FakeGoogle]:
    from integration_core.services import events as domain_events
    from integration_core.services.calendar import connection, deps

    store, directory, google = FakeStore(), FakeDirectory(), FakeGoogle()
    sleeps: list[float] = []
    http = ProviderHttp(
        "google",
        title="Google",
        timeout=5,
        quota=google_oauth.is_quota,
        throttled=google_oauth.is_rate_limited,
        transport=httpx.MockTransport(google.handle),
        retry=RetryPolicy(base_seconds=0.001, max_backoff_seconds=0.01),
        sleep=sleeps.append,
    )
    client = google_oauth.GoogleClient(
        client_id="cid",
        client_secret="secret",
        redirect_uri="https://app.example/cb",
        auth_url="https://google.test/auth",
        token_url="https://google.test/token",
        revoke_url="https://google.test/revoke",
        userinfo_url="https://google.test/userinfo",
        calendar_base_url="https://google.test/calendar",
    )
    provider = GoogleCalendar()
    monkeypatch.setattr(google_oauth, "_http", lambda: http)
    monkeypatch.setattr(google_oauth, "client", lambda: client)
    monkeypatch.setattr(deps, "store", lambda: store)
    monkeypatch.setattr(deps, "directory", lambda: directory)
    links = FakeJoinLinks()
    directory.links = links  # type: ignore[attr-defined]
    monkeypatch.setattr(deps, "join_links", lambda: links)
    monkeypatch.setattr(deps, "provider", lambda: provider)
    monkeypatch.setattr(deps, "cipher", PlainCipher)
    monkeypatch.setattr(deps, "sleep", lambda s: time.sleep(0.005))
    published: list[str] = []
    monkeypatch.setattr(
        connection.domain_events,
        "event_operations",
        lambda db, t, d, event_id, cause: (event_id, [{"type": t, "data": d}]),
    )
    monkeypatch.setattr(connection.domain_events, "dispatch", lambda ids: published.extend(ids))
    google.published = published  # type: ignore[attr-defined]
    google.sleeps = sleeps  # type: ignore[attr-defined]
    _ = domain_events
    return store, directory, google
