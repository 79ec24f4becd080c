"""The Google emulator serves Google's real Calendar paths: each of its Calendar routes is a method
of the discovery document, which the sandbox says it validates against."""

from __future__ import annotations

import re

from offline.sandbox.base import SandboxContext
from offline.sandbox.callbacks import Callbacks
from offline.sandbox.discovery import DiscoveryDocument
from offline.sandbox.providers.google import Google


def test_every_calendar_route_is_a_method_of_calendar_v3_json():
    emulator = Google(SandboxContext(Callbacks({})))
    assert [type(d) for d in emulator.documents] == [DiscoveryDocument] and not emulator.missing_specs
    document = emulator.documents[0]
    served = {}
    for candidate in emulator.routes:
        if candidate.template.startswith("/calendar/v3"):
            sample = re.sub(r"\{[^}]+\}", "x1234", candidate.template)
            served[(candidate.method, candidate.template)] = document.method_name(candidate.method, sample)
    assert None not in served.values(), served
    assert set(served.values()) >= {
        "calendarList.list",
        "calendars.insert",
        "calendars.get",
        "calendars.delete",
        "events.insert",
        "events.get",
        "events.patch",
        "events.update",
        "events.delete",
        "events.list",
    }


def test_the_document_covers_googles_paths_only_and_checks_parameter_values():
    from offline.sandbox.base import SandboxRequest

    emulator = Google(SandboxContext(Callbacks({})))
    document = emulator.documents[0]
    assert document.covers("/calendar/v3/calendars/primary/events/x1234")
    assert not document.covers("/calendar/v3/calendars/primary/events/x1234/copy")
    assert not document.covers("/token")
    bad_enum = SandboxRequest("DELETE", "/calendar/v3/calendars/primary/events/x1234", {"sendUpdates": "all2"}, {}, b"")
    assert [(v.field, v.kind) for v in emulator.validate(bad_enum)] == [("sendUpdates", "enum")]
    fine = SandboxRequest("DELETE", "/calendar/v3/calendars/primary/events/x1234", {"sendUpdates": "none"}, {}, b"")
    assert emulator.validate(fine) == []
