"""The one Idempotency-Key policy of the API: every route that takes a key takes the same syntax,
8 to 255 visible ASCII characters (Stripe's own limit, and long enough for a UUID or a hash).
Whether a route requires a key is the route's rule (payment changes do, registering a webhook does
not); what a valid key is, is this module's."""

from __future__ import annotations

from integration_core.errors import invalid

HEADER = "Idempotency-Key"
MIN_LENGTH, MAX_LENGTH = 8, 255
IDEMPOTENCY_KEY = rf"^[\x21-\x7e]{{{MIN_LENGTH},{MAX_LENGTH}}}$"
RULE = f"{MIN_LENGTH} to {MAX_LENGTH} visible ASCII characters"


def is_valid(key: str) -> bool:
    return MIN_LENGTH <= len(key) <= MAX_LENGTH and all("\x21" <= c <= "\x7e" for c in key)


def checked(key: str | None) -> str | None:
    """The key when it keeps the policy, None when absent; a 422 naming the header otherwise."""
    if key is None:
        return None
    if not is_valid(key):
        raise invalid(HEADER, RULE)
    return key
