"""The secret calendar feed: each student and teacher may have one feed URL whose token is the
credential (32 random bytes, URL-safe), serving their classes as an RFC 5545 calendar to any
calendar app, without an account anywhere.

Only the token's SHA-256 is stored (the lookup key of the public route): a copy of the table
gives no working URL. The URL is shown once, when the feed is created or rotated; `GET /calendar/feed`
says whether one exists and since when, never the URL again (showing it again would mean keeping
the token decryptable; a user who lost it rotates, which also ends the old URL). Rotating replaces
the token (the old URL answers 404 at once); revoking removes it. A token that is wrong, rotated
away or revoked gets the same 404, naming nothing.

The feed answers with an ETag (a hash of the body, which depends only on the classes) and a
Last-Modified (the latest change of a session shown); a matching If-None-Match, or without one an
If-Modified-Since not older than Last-Modified, gets a 304 without a body."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from integration_core import timeutil
from integration_core.config import API_PREFIX
from integration_core.errors import Conflict, NotFound
from integration_core.observability import logger
from integration_core.principal import Principal, Role
from integration_core.reminder_config import reminder_settings
from integration_core.stores import calendar_feeds
from integration_core.stores import directory as directory_store
from integration_core.stores import join_links as join_link_store

if TYPE_CHECKING:
    from integration_core.domain.ics import FeedEntry

TOKEN_BYTES = 32
FEED_PATH = "/calendar/feed/"
CONTENT_TYPE = "text/calendar; charset=utf-8"


def _store() -> calendar_feeds.FeedStore:
    return calendar_feeds.store()


def _directory() -> directory_store.DirectoryStore:
    return directory_store.store()


def _join_links() -> join_link_store.JoinLinkStore:
    return join_link_store.store()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _owner(principal: Principal) -> tuple[str, str]:
    principal.require(Role.STUDENT, Role.TEACHER)
    kind = principal.role.value
    if _directory().person(kind, principal.sub) is None:
        raise NotFound(f"{kind} {principal.sub} does not exist")
    return kind, principal.sub


def feed_url(base_url: str, token: str) -> str:
    base = reminder_settings().feed_base_url or base_url.rstrip("/") + API_PREFIX
    return f"{base}{FEED_PATH}{token}.ics"


def feed_status(principal: Principal) -> dict[str, Any]:
    kind, owner_id = _owner(principal)
    current = _store().of_owner(kind, owner_id)
    return {"exists": current is not None, "created_at": current.created_at if current else None}


def create_feed(principal: Principal, base_url: str) -> dict[str, Any]:
    """A new feed URL; an existing one is replaced (rotated). The URL is in this answer only."""
    kind, owner_id = _owner(principal)
    store = _store()
    current = store.of_owner(kind, owner_id)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = timeutil.iso_utc(timeutil.utc_now())
    new = calendar_feeds.Feed(owner_id, kind, token_hash(token), now)
    if not store.replace(current, new):
        # Another create or revoke came first: this one replaces whatever is there now.
        current = store.of_owner(kind, owner_id)
        if not store.replace(current, new):
            raise Conflict("your feed changed meanwhile; try again")
    logger.info("calendar feed created", extra={"owner": owner_id, "rotated": current is not None})
    return {"url": feed_url(base_url, token), "created_at": now, "rotated": current is not None}


def revoke_feed(principal: Principal) -> None:
    """No feed afterwards (whether there was one or not)."""
    kind, owner_id = _owner(principal)
    store = _store()
    current = store.of_owner(kind, owner_id)
    if current is not None and not store.remove(current):
        current = store.of_owner(kind, owner_id)
        if current is not None:
            store.remove(current)


@dataclass
class FeedAnswer:
    status: int  # 200 or 304
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _entries(kind: str, owner_id: str) -> list[FeedEntry]:
    from integration_core.domain.ics import FeedEntry

    directory = _directory()
    if kind == "student":
        course_ids = directory.course_ids_of_student(owner_id)
    else:
        course_ids = directory.course_ids_of_teacher(owner_id)
    who = join_link_store.TEACHER if kind == "teacher" else owner_id
    entries: list[FeedEntry] = []
    for course in directory.courses(course_ids):
        links = _join_links().links(course["id"], who)  # video's links: one Query per course
        for session in directory.all_sessions(course["id"]):
            entries.append(FeedEntry(course, _with_link(session, links)))
        for session in directory.all_sessions(course["id"], cancelled=True):
            entries.append(FeedEntry(course, session))
    return entries


def _with_link(session: dict[str, Any], links: join_link_store.Links) -> dict[str, Any]:
    """The session with the owner's join link (the event's URL and a line of its description); the
    link's last change counts as the event's, so Last-Modified moves when a link appears."""
    link = links.for_session(session["id"])
    if not link:
        return session
    changed = max(filter(None, [session.get("updated_at"), links.updated_at]), default=None)
    return {**session, "join_url": link, "updated_at": changed}


def _matches(if_none_match: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _not_modified_since(if_modified_since: str, modified: datetime | None) -> bool:
    if modified is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        return False
    return since.tzinfo is not None and modified <= since


def render_feed(token: str, if_none_match: str | None = None, if_modified_since: str | None = None) -> FeedAnswer:
    """The public route: the calendar the token opens, or a 404 naming nothing."""
    if not token or len(token) > 256:
        raise NotFound("no such calendar feed")
    feed = _store().by_token_hash(token_hash(token))
    if feed is None:
        raise NotFound("no such calendar feed")
    # icalendar (~90 ms of imports) loads for a feed that exists, not for the other routes or a 404.
    from integration_core.domain import ics

    person = _directory().person(feed.owner_kind, feed.owner_id) or {}
    entries = _entries(feed.owner_kind, feed.owner_id)
    name = f"Classes of {person['name']}" if person.get("name") else "Classes"
    body = ics.render(name, entries)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    modified = ics.last_modified(entries)
    headers = {"ETag": etag, "Cache-Control": "private, max-age=300"}
    if modified is not None:
        headers["Last-Modified"] = format_datetime(modified, usegmt=True)
    if if_none_match is not None:
        if _matches(if_none_match, etag):
            return FeedAnswer(304, b"", headers)
    elif if_modified_since and _not_modified_since(if_modified_since, modified):
        return FeedAnswer(304, b"", headers)
    return FeedAnswer(200, body, {**headers, "Content-Type": CONTENT_TYPE})
