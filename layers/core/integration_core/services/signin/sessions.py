"""The service's own session: the foundation's ES256 access token plus an opaque refresh token.

A refresh token is `<familyId>.<secret>`; only its SHA-256 is stored, on the family's item. Every
use rotates it (a conditional update on the current hash, the used hash kept); a used token
presented again is reuse (a stolen copy, or a replay) and revokes the whole family, so neither the
thief's nor the owner's copy works any more. Sign-out revokes the family of the token presented."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from integration_core import timeutil
from integration_core.errors import Unauthorized, invalid
from integration_core.ids import id_pattern, new_id
from integration_core.observability import logger
from integration_core.principal import role_of
from integration_core.services.signin import deps
from integration_core.signin_config import signin_settings
from integration_core.stores.signin import Rotation

_FAMILY = re.compile(id_pattern("session_family"))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(family_id: str) -> str:
    return f"{family_id}.{secrets.token_urlsafe(32)}"


def _family_of(refresh_token: str) -> str:
    family_id, dot, secret = refresh_token.partition(".")
    if not dot or not secret or not _FAMILY.match(family_id):
        raise invalid("refreshToken", "not a refresh token of this service")
    return family_id


def _answer(person_id: str, refresh_token: str) -> dict[str, Any]:
    role = role_of(person_id)
    if role is None:
        raise Unauthorized("this session's person has no role")
    return {
        "user_id": person_id,
        "role": role.value,
        "access_token": deps.access_token(person_id, role.value),
        "token_type": "Bearer",
        "expires_in": signin_settings().access_ttl_seconds,
        "refresh_token": refresh_token,
    }


def start(person_id: str, provider: str) -> dict[str, Any]:
    """A new family for a sign-in: its first refresh token and an access token."""
    family_id = new_id("session_family")
    token = _new_token(family_id)
    now = int(deps.now())
    record = {
        "person_id": person_id,
        "provider": provider,
        "current_hash": _hash(token),
        "created_at": timeutil.iso_utc(timeutil.utc_now()),
    }
    deps.store().put_family(family_id, record, now + signin_settings().refresh_ttl_seconds)
    return _answer(person_id, token)


def refresh(refresh_token: str) -> dict[str, Any]:
    family_id = _family_of(refresh_token)
    token = _new_token(family_id)
    outcome, family = deps.store().rotate(family_id, _hash(refresh_token), _hash(token), int(deps.now()))
    if outcome is Rotation.REUSED:
        logger.warning("refresh token reused: family revoked", extra={"family_id": family_id})
        raise Unauthorized("this refresh token was used already: the session is revoked everywhere; sign in again")
    if outcome is not Rotation.ROTATED:
        raise Unauthorized("unknown, expired or revoked refresh token; sign in again")
    return _answer(str(family["person_id"]), token)


def sign_out(refresh_token: str) -> None:
    """Revokes the session (its whole family); a repeat, or an unknown token, changes nothing."""
    family_id = _family_of(refresh_token)
    if deps.store().revoke_family(family_id, _hash(refresh_token), int(deps.now())):
        logger.info("signed out", extra={"family_id": family_id})
