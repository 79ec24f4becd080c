"""vobject as an independent second parser of our iCalendar feeds.

vobject keeps one process-wide map of TZID to tzinfo and keeps the first VTIMEZONE it read for a
TZID: a feed whose VTIMEZONE covers 2026 would then decide the offsets of another feed's 2027
events. Each read here starts from vobject's own defaults, so a feed is read by its own VTIMEZONEs.
"""

from __future__ import annotations

from typing import Any

import vobject
import vobject.icalendar

_REGISTERED_TZIDS: dict[str, Any] = vars(vobject.icalendar)["__tzidMap"]
_DEFAULTS = dict(_REGISTERED_TZIDS)


def read_feed(text: str) -> Any:
    _REGISTERED_TZIDS.clear()
    _REGISTERED_TZIDS.update(_DEFAULTS)
    return vobject.readOne(text)
