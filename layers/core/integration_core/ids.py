"""Opaque, typed identifiers: a short type prefix and 20 random base32 characters (100 bits)."""

from __future__ import annotations

import base64
import hashlib
import secrets

PREFIXES = {
    "student": "stu",
    "teacher": "tch",
    "course": "crs",
    "session": "ses",
    "webhook": "whk",
    "delivery": "dlv",
    "event": "evt",
    "payment": "pay",
    "plan": "pln",
    "subscription": "sbs",
    "meeting": "mtg",
}


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=").lower()


def new_id(kind: str) -> str:
    return f"{PREFIXES[kind]}_{_b32(secrets.token_bytes(13))[:20]}"


def stable_id(kind: str, *parts: str) -> str:
    """The same inputs always give the same id: repeats of a creation become no-ops."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return f"{PREFIXES[kind]}_{_b32(digest)[:20]}"


def has_prefix(value: str, kind: str) -> bool:
    return value.startswith(PREFIXES[kind] + "_")
