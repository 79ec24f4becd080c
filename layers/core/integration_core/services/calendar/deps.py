"""The calendar services' seams: the one place they reach their store, the directory, the join
links video writes, the calendar provider and the token cipher. Unit tests replace these functions
with in-memory fakes."""

from __future__ import annotations

import time
from functools import lru_cache

from integration_core.adapters import kms
from integration_core.calendar_config import calendar_settings
from integration_core.ports.calendar import CalendarProvider
from integration_core.stores.calendar import CalendarStore
from integration_core.stores.calendar import store as calendar_store
from integration_core.stores.directory import DirectoryStore
from integration_core.stores.directory import store as directory_store
from integration_core.stores.join_links import JoinLinkStore
from integration_core.stores.join_links import store as join_link_store


class KmsCipher:
    """Tokens encrypted under UserTokenKey with the user and purpose as encryption context."""

    def encrypt(self, user_id: str, purpose: str, plaintext: str) -> str:
        return kms.encrypt(calendar_settings().token_key_id, plaintext, kms.context(user_id, purpose))

    def decrypt(self, user_id: str, purpose: str, ciphertext: str) -> str:
        return kms.decrypt(calendar_settings().token_key_id, ciphertext, kms.context(user_id, purpose))


def store() -> CalendarStore:
    return calendar_store()


def directory() -> DirectoryStore:
    return directory_store()


def join_links() -> JoinLinkStore:
    return join_link_store()


@lru_cache(maxsize=1)
def provider() -> CalendarProvider:
    from integration_core.adapters.google_calendar import GoogleCalendar

    return GoogleCalendar()


def cipher() -> KmsCipher:
    return KmsCipher()


def sleep(seconds: float) -> None:
    time.sleep(seconds)


def now() -> float:
    return time.time()
