"""What every store shares: named outcomes for conditional writes (instead of DynamoDB's
cancellation reasons read by position), pages of public records, and the stripping of keys."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from integration_core.adapters.dynamodb import ConditionFailed, Page

KEY_ATTRIBUTES = ("PK", "SK", "GSI1PK", "GSI1SK", "kind")


class Outcome(StrEnum):
    """What a conditional write came to."""

    DONE = "done"
    ALREADY_EXISTS = "already_exists"  # the record (or the change) is there already
    NOT_FOUND = "not_found"  # the record it acts on does not exist
    RELATED_NOT_FOUND = "related_not_found"  # a record it refers to (a teacher, a student) does not exist
    FULL = "full"  # no seat left
    RACED = "raced"  # another writer changed it since it was read
    TAKEN = "taken"  # a unique value (an email) belongs to another record


def cancelled_at(failed: ConditionFailed, named: Sequence[Outcome], otherwise: Outcome) -> Outcome:
    """The outcome named for the first operation of a transaction whose condition failed; `named`
    has one entry per operation, in the transaction's order (missing ones are `otherwise`)."""
    for index, reason in enumerate(failed.reasons):
        if reason == "ConditionalCheckFailed":
            return named[index] if index < len(named) else otherwise
    return otherwise


def public(item: dict[str, Any], hidden: Iterable[str] = ()) -> dict[str, Any]:
    """A record without its keys (and without `hidden` attributes): what services work with."""
    drop = {*KEY_ATTRIBUTES, *hidden}
    return {k: v for k, v in item.items() if k not in drop}


@dataclass(frozen=True)
class Listing:
    """One page of records and the cursor of the next."""

    items: list[dict[str, Any]]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page, hidden: Iterable[str] = ()) -> Listing:
        return cls([public(i, hidden) for i in page.items], page.next_cursor)
