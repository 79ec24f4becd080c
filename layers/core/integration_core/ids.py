"""Opaque, typed identifiers: a short type prefix and 20 random base32 characters (100 bits).

Every id, generated or given, is `<prefix>_<4 to 40 lowercase letters or digits>`. The callers of
the API are ids too: an access token's `sub` carries its role's prefix (`stu_`, `tch_`, `adm_`,
`svc_`), so an id alone says what kind of thing, or of caller, it names."""

from __future__ import annotations

import base64
import hashlib
import re
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
    "session_family": "sfm",
    # The callers' kinds, named like their roles (integration_core.principal).
    "admin": "adm",
    "service": "svc",
}
ID_BODY = "[a-z0-9]{4,40}"
ANY_ID = rf"^[a-z]{{3}}_{ID_BODY}$"  # an id of any kind
_ANY_ID = re.compile(rf"^([a-z]{{3}})_{ID_BODY}$")
_KINDS = {prefix: kind for kind, prefix in PREFIXES.items()}


def id_pattern(*kinds: str) -> str:
    """The regular expression of the ids of these kinds, e.g. ^(adm|svc)_[a-z0-9]{4,40}$."""
    prefixes = "|".join(PREFIXES[k] for k in kinds)
    return rf"^({prefixes})_{ID_BODY}$" if len(kinds) > 1 else rf"^{prefixes}_{ID_BODY}$"


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


def kind_of(value: str) -> str | None:
    """The kind a well-formed id names ("student" for stu_ana00001), None for anything else."""
    found = _ANY_ID.fullmatch(value) if isinstance(value, str) else None
    return _KINDS.get(found.group(1)) if found else None
