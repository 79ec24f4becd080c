"""The video port: what the video capability asks of a meeting provider (Zoom, and Teams through
Microsoft Graph). An adapter turns these requests into its provider's calls and parses its
answers and verified callbacks into the records below; services never see a provider's payload.

A difference between providers is a trait here (`recurring`: one meeting carries a weekly series
of occurrences, else a course gets one meeting per session; `ends_meetings`: the provider can end a
meeting in progress; `polls_attendance`: no notification says the attendance is ready, so it is
read after the scheduled end; `attendees_in_meeting`: the invited people are a property of the meeting, set
with it in one call instead of a registration each), never an `if provider == ...` in a service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Weekly:
    """A weekly rule: every `interval` weeks on `weekdays` (0 = Monday) at the same local time."""

    weekdays: tuple[int, ...]
    interval: int
    count: int


@dataclass(frozen=True)
class MeetingRequest:
    """A meeting for a course: one class (`weekly` None) or a weekly series starting at `start`."""

    reference: str  # our meeting id: written into the provider's meeting so a retry finds it
    topic: str
    host: str  # the provider's user who hosts (the teacher's, or the default host)
    fallback_host: str
    start: datetime  # UTC
    duration_minutes: int
    time_zone: str
    recording: bool
    weekly: Weekly | None = None
    attendees: tuple[tuple[str, str], ...] = ()  # (email, name): invited with the meeting (attendees_in_meeting)


@dataclass(frozen=True)
class Occurrence:
    occurrence_id: str
    start: datetime  # UTC
    duration_minutes: int


@dataclass(frozen=True)
class ProviderMeeting:
    provider_id: str
    topic: str
    host: str
    start: datetime
    duration_minutes: int
    join_url: str
    recording: bool
    status: str
    occurrences: tuple[Occurrence, ...] = ()
    raw_settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Registration:
    registrant_id: str
    join_url: str


@dataclass(frozen=True)
class RecordingFile:
    file_type: str
    size: int
    play_url: str
    download_url: str
    recording_start: str
    recording_end: str


@dataclass(frozen=True)
class Recording:
    occurrence_uuid: str
    start: str
    duration_minutes: int
    files: tuple[RecordingFile, ...]


@dataclass(frozen=True)
class Segment:
    """One join of one person (the provider lists each rejoin as its own row)."""

    name: str
    email: str
    registrant_id: str
    joined_at: datetime
    left_at: datetime | None


@dataclass(frozen=True)
class CallbackRefused(Exception):
    reason: str


@dataclass(frozen=True)
class Handshake:
    """The provider checks our endpoint: answer `body` as is (JSON), or `text` as text/plain."""

    body: dict[str, Any]
    text: str | None = None


@dataclass(frozen=True)
class Subscription:
    """A provider's subscription to a meeting's notifications, renewed before `expires`."""

    subscription_id: str
    expires: datetime
    kind: str = ""  # which of the provider's subscription_kinds


@dataclass(frozen=True)
class MeetingEvent:
    """A verified callback about a meeting: started, ended, recording_completed, participant_joined
    or participant_left. `digest` identifies the delivery (the provider's retries repeat it)."""

    kind: str
    provider_meeting_id: str
    occurrence_uuid: str
    at: datetime
    digest: str
    recording: Recording | None = None
    segment: Segment | None = None
    started_at: datetime | None = None  # when this occurrence began: the class it is


class VideoProvider(Protocol):
    name: str  # in messages: "Zoom"
    recurring: bool
    ends_meetings: bool
    attendees_in_meeting: bool
    polls_attendance: bool  # no attendance notification: the service polls after the scheduled end

    def ensure_meeting(self, request: MeetingRequest) -> ProviderMeeting:
        """The provider's meeting for `request.reference`: found (a retry after a crash) or created."""
        ...

    def update_meeting(self, provider_id: str, request: MeetingRequest) -> ProviderMeeting: ...

    def meeting(self, provider_id: str) -> ProviderMeeting: ...

    def end(self, provider_id: str) -> None: ...

    def delete_meeting(self, provider_id: str) -> None:
        """The provider's meeting gone; one the provider no longer has (a 404) counts as deleted."""
        ...

    def register(self, provider_id: str, email: str, first_name: str, last_name: str) -> Registration: ...

    def cancel(self, provider_id: str, registrant_id: str, email: str) -> None: ...

    def recordings(self, provider_id: str) -> list[Recording]: ...

    def ended_occurrences(self, provider_id: str) -> list[str]:
        """The UUIDs of the meeting's past occurrences."""
        ...

    def participants(self, occurrence_uuid: str) -> list[Segment]: ...

    def callback_ids(self, provider_id: str) -> tuple[str, ...]:
        """The ids callbacks name this meeting by (the provider id first)."""
        ...

    subscription_kinds: tuple[str, ...]  # what a meeting is subscribed to (none: the provider pushes anyway)

    def subscribe(
        self, provider_id: str, join_url: str, minutes: int, skip: frozenset[str] = frozenset()
    ) -> list[Subscription]:
        """Subscriptions to the meeting's notifications of each kind not in `skip` (those made)."""
        ...

    def renew(self, subscription_id: str, minutes: int) -> datetime | None: ...

    def unsubscribe(self, subscription_id: str) -> None: ...

    def callback(
        self, raw: bytes, headers: dict[str, str], query: dict[str, str] | None = None
    ) -> MeetingEvent | Handshake | list[MeetingEvent] | None:
        """A verified callback or batch of them (None: a kind we do not use); CallbackRefused when
        forged or stale."""
        ...
