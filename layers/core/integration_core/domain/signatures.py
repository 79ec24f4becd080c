"""Webhook signatures: Standard Webhooks (`webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`) and the original
specification's `X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, body)>`. Pure functions.

During a secret rotation both secrets sign the Standard Webhooks header, space-separated as that
specification defines it, so a receiver on either secret verifies. The legacy header carries one
value only, the newest secret's: the original specification defines it as a single `sha256=`
value, and receivers written to it compare the whole header, so two values would fail them all
for the whole overlap. (Verification still accepts several values in it, from older deliveries.)"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret
TOLERANCE_SECONDS = 5 * 60
LEGACY_HEADER = "x-webhook-signature"


class Invalid(StrEnum):
    BAD_SIGNATURE = "bad_signature"
    TIMESTAMP_TOO_OLD = "timestamp_too_old"
    TIMESTAMP_IN_FUTURE = "timestamp_in_future"
    MISSING_HEADERS = "missing_headers"
    UNKNOWN_WEBHOOK = "unknown_webhook"


@dataclass(frozen=True)
class Verdict:
    valid: bool
    scheme: str | None = None  # "standard-webhooks" or "legacy"
    reason: Invalid | None = None


def new_secret() -> str:
    """32 random bytes, as the spec's `whsec_<base64>` (24 to 64 bytes allowed)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of the Standard Webhooks spec."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def legacy_sign(secret: str, body: bytes) -> str:
    """The original specification's `sha256=<hex>`; its key is the secret text as given out."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_headers(secrets_in_use: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every header a delivery carries for its signatures: the Standard Webhooks header with one
    signature per secret in use, the legacy one with the newest secret's (`secrets_in_use[0]`)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, message_id, timestamp, body) for s in secrets_in_use),
        "X-Webhook-Signature": legacy_sign(secrets_in_use[0], body),
    }


def verify(
    secrets_in_use: Sequence[str], headers: Mapping[str, str], body: bytes, now: int, tolerance: int = TOLERANCE_SECONDS
) -> Verdict:
    """Standard Webhooks headers when present, else the legacy header. Constant-time comparison
    against every signature given and every secret in use."""
    lowered = {k.lower(): v for k, v in headers.items()}
    message_id, timestamp, signature = (
        lowered.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
    )
    if message_id and timestamp and signature:
        try:
            sent_at = int(timestamp)
        except ValueError:
            return Verdict(False, "standard-webhooks", Invalid.MISSING_HEADERS)
        if sent_at < now - tolerance:
            return Verdict(False, "standard-webhooks", Invalid.TIMESTAMP_TOO_OLD)
        if sent_at > now + tolerance:
            return Verdict(False, "standard-webhooks", Invalid.TIMESTAMP_IN_FUTURE)
        given = [part.partition(",")[2] for part in signature.split() if part.startswith("v1,")]
        for secret in secrets_in_use:
            try:
                expected = sign(secret, message_id, sent_at, body).partition(",")[2]
            except (binascii.Error, ValueError):
                continue
            if any(hmac.compare_digest(expected.encode(), g.encode()) for g in given):
                return Verdict(True, "standard-webhooks")
        return Verdict(False, "standard-webhooks", Invalid.BAD_SIGNATURE)
    legacy = lowered.get(LEGACY_HEADER)
    if legacy:
        given = [part for part in legacy.split() if part.startswith("sha256=")]
        for secret in secrets_in_use:
            expected = legacy_sign(secret, body)
            if any(hmac.compare_digest(expected.encode(), g.encode()) for g in given):
                return Verdict(True, "legacy")
        return Verdict(False, "legacy", Invalid.BAD_SIGNATURE)
    return Verdict(False, None, Invalid.MISSING_HEADERS)
