"""The sign-in store: pending authorizations (single use), external identities and a person's
linked methods, refresh-token families and rate-limit counters. It owns item shapes, keys and
conditions; services get records without keys and named outcomes.

- A pending authorization is taken by a conditional delete: two callbacks with one state, one wins.
- Linking writes the identity (absent), the person's link (absent) and the method count (ADD 1) in
  one transaction; unlinking deletes both and subtracts one on condition that more than one is left,
  so two concurrent unlinks can never remove a person's last method.
- A refresh token rotates by a conditional update on its current hash; a hash already used is reuse
  and revokes the whole family (`revoked`), which no later rotation passes.
- A rate-limit counter is a conditional ADD under the limit, per window, expiring by TTL."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from integration_core import keys
from integration_core.adapters.dynamodb import ConditionFailed, Table, table
from integration_core.config import settings
from integration_core.stores.common import Outcome, cancelled_at, public


class Rotation(StrEnum):
    ROTATED = "rotated"
    REUSED = "reused"  # a used token again: the family is revoked now
    UNKNOWN = "unknown"  # no such family, expired, revoked, or a token never issued


class SignInStore:
    def __init__(self, db: Table) -> None:
        self.db = db

    # ------------------------------------------------------------ pending authorizations
    def put_pending(self, digest: str, record: dict[str, Any], expires_at: int) -> None:
        item = {"PK": keys.signin_pending_pk(digest), "SK": keys.PENDING, "expiresAt": expires_at, **record}
        self.db.put(item, "attribute_not_exists(PK)")

    def take_pending(self, digest: str, now: int) -> dict[str, Any] | None:
        """The pending record, deleted so that it serves once; None when unknown, used or expired."""
        pk = keys.signin_pending_pk(digest)
        item = self.db.get(pk, keys.PENDING, consistent=True)
        if item is None:
            return None
        try:
            self.db.delete(pk, keys.PENDING, "attribute_exists(PK)")
        except ConditionFailed:
            return None
        if int(item.get("expiresAt", 0)) <= now:
            return None
        return public(item, ("expiresAt",))

    # ------------------------------------------------------------ identities and links
    def identity(self, provider: str, external_id: str) -> dict[str, Any] | None:
        item = self.db.get(keys.identity_pk(provider, external_id), keys.IDENTITY, consistent=True)
        return public(item) if item else None

    def links(self, person_id: str) -> list[dict[str, Any]]:
        page = self.db.query(keys.signin_person_pk(person_id), sk_prefix=keys.LINK_PREFIX, limit=50)
        return [public(item) for item in page.items]

    def link(self, person_id: str, provider: str) -> dict[str, Any] | None:
        item = self.db.get(keys.signin_person_pk(person_id), keys.link_sk(provider), consistent=True)
        return public(item) if item else None

    def email_owner(self, kind: str, email: str) -> str | None:
        item = self.db.get(keys.email_lock_pk(kind, email), keys.LOCK, consistent=True)
        return str(item["owner"]) if item else None

    def add_link(self, person_id: str, link: dict[str, Any], also: list[dict[str, Any]] | None = None) -> Outcome:
        """The identity, the person's link and one more method, with `also` (a new person's profile)
        in one transaction. TAKEN: the external account is someone's; ALREADY_EXISTS: the person
        has linked this provider already (another account of it)."""
        provider, external_id = link["provider"], link["external_id"]
        identity = {
            "PK": keys.identity_pk(provider, external_id),
            "SK": keys.IDENTITY,
            "person_id": person_id,
            "provider": provider,
            "external_id": external_id,
        }
        row = {"PK": keys.signin_person_pk(person_id), "SK": keys.link_sk(provider), "person_id": person_id, **link}
        ops = [
            *(also or []),
            self.db.put_op(identity, "attribute_not_exists(PK)"),
            self.db.put_op(row, "attribute_not_exists(PK)"),
            self.db.update_op(
                keys.signin_person_pk(person_id), keys.METHODS, "ADD #n :one", names={"#n": "count"}, values={":one": 1}
            ),
        ]
        try:
            self.db.transact(ops)
        except ConditionFailed as failed:
            named = [Outcome.ALREADY_EXISTS] * len(also or []) + [Outcome.TAKEN, Outcome.ALREADY_EXISTS]
            return cancelled_at(failed, named, Outcome.RACED)
        return Outcome.DONE

    def touch_link(self, person_id: str, provider: str, fields: dict[str, Any]) -> None:
        """SET the fields given a value, REMOVE those given None; nothing when unlinked meanwhile."""
        names = {f"#{k}": k for k in fields}
        values = {f":{k}": v for k, v in fields.items() if v is not None}
        update = "SET " + ", ".join(f"#{k} = :{k}" for k, v in fields.items() if v is not None)
        removed = [f"#{k}" for k, v in fields.items() if v is None]
        if removed:
            update = (update if values else "") + " REMOVE " + ", ".join(removed)
        try:
            self.db.update(
                keys.signin_person_pk(person_id),
                keys.link_sk(provider),
                update.strip(),
                "attribute_exists(PK)",
                names=names,
                values=values or None,
            )
        except ConditionFailed:
            return  # unlinked meanwhile

    def remove_link(self, person_id: str, provider: str, external_id: str) -> Outcome:
        """NOT_FOUND: no such link; FULL: it is the person's last method (kept)."""
        ops = [
            self.db.delete_op(keys.signin_person_pk(person_id), keys.link_sk(provider), "attribute_exists(PK)"),
            self.db.delete_op(
                keys.identity_pk(provider, external_id), keys.IDENTITY, "person_id = :p", values={":p": person_id}
            ),
            self.db.update_op(
                keys.signin_person_pk(person_id),
                keys.METHODS,
                "ADD #n :minus",
                "#n > :one",
                names={"#n": "count"},
                values={":minus": -1, ":one": 1},
            ),
        ]
        try:
            self.db.transact(ops)
        except ConditionFailed as failed:
            return cancelled_at(failed, [Outcome.NOT_FOUND, Outcome.NOT_FOUND, Outcome.FULL], Outcome.RACED)
        return Outcome.DONE

    # ------------------------------------------------------------ refresh-token families
    def put_family(self, family_id: str, record: dict[str, Any], expires_at: int) -> None:
        item = {
            "PK": keys.session_family_pk(family_id),
            "SK": keys.FAMILY,
            "expiresAt": expires_at,
            "revoked": False,
            **record,
        }
        self.db.put(item, "attribute_not_exists(PK)")

    def family(self, family_id: str) -> dict[str, Any] | None:
        item = self.db.get(keys.session_family_pk(family_id), keys.FAMILY, consistent=True)
        return public(item) if item else None

    def rotate(self, family_id: str, presented: str, new_hash: str, now: int) -> tuple[Rotation, dict[str, Any]]:
        """The family moved from the `presented` hash to `new_hash` (the presented one joins the used
        ones); a used hash presented again revokes the family."""
        pk = keys.session_family_pk(family_id)
        try:
            updated = self.db.update(
                pk,
                keys.FAMILY,
                "SET current_hash = :new, rotated_at = :now ADD used_hashes :olds",
                "current_hash = :old AND revoked = :no AND expiresAt > :now",
                values={":new": new_hash, ":old": presented, ":now": now, ":no": False, ":olds": {presented}},
            )
            return Rotation.ROTATED, public(updated)
        except ConditionFailed:
            pass
        return self._reuse(pk, presented, now), {}

    def _reuse(self, pk: str, presented: str, now: int) -> Rotation:
        try:
            self.db.update(
                pk,
                keys.FAMILY,
                "SET revoked = :yes, revoked_at = :now, revoked_reason = :why",
                "contains(used_hashes, :h)",
                values={":yes": True, ":now": now, ":h": presented, ":why": "reuse"},
            )
        except ConditionFailed:
            return Rotation.UNKNOWN
        return Rotation.REUSED

    def revoke_family(self, family_id: str, presented: str, now: int) -> bool:
        """Signed out: True when `presented` is the family's current token (and it is revoked now)."""
        try:
            self.db.update(
                keys.session_family_pk(family_id),
                keys.FAMILY,
                "SET revoked = :yes, revoked_at = :now, revoked_reason = :why",
                "current_hash = :h AND revoked = :no",
                values={":yes": True, ":no": False, ":now": now, ":h": presented, ":why": "sign-out"},
            )
        except ConditionFailed:
            return False
        return True

    # ------------------------------------------------------------ rate limits
    def count_attempt(self, scope: str, key_digest: str, window: int, limit: int, expires_at: int) -> bool:
        """One more attempt in this window; False when the limit is reached (nothing counted)."""
        try:
            self.db.update(
                keys.signin_rate_pk(scope, key_digest, window),
                keys.COUNT,
                "ADD #n :one SET expiresAt = :exp",
                "attribute_not_exists(#n) OR #n < :limit",
                names={"#n": "count"},
                values={":one": 1, ":limit": limit, ":exp": expires_at},
            )
        except ConditionFailed:
            return False
        return True


def store() -> SignInStore:
    return SignInStore(table(settings().table_name))
