"""In-memory fakes of the sign-in store, its providers and its cipher, with the store's conditions
(single-use states, absent identities and links, the method count, rotation and reuse)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from integration_core.ports.signin import Authorization, CodeRefused, Identity, ProviderTokens, Started
from integration_core.stores.common import Outcome
from integration_core.stores.signin import Rotation


class FakeDb:
    """What person_operations needs: put_op builds a write the fake store applies."""

    def put_op(self, item: dict[str, Any], condition: str | None = None, **_: Any) -> dict[str, Any]:
        return {"put": copy.deepcopy(item), "condition": condition}


@dataclass
class FakeStore:
    db: FakeDb = field(default_factory=FakeDb)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    identities: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    person_links: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    methods: dict[str, int] = field(default_factory=dict)
    families: dict[str, dict[str, Any]] = field(default_factory=dict)
    counters: dict[tuple[str, str, int], int] = field(default_factory=dict)
    people: dict[str, dict[str, Any]] = field(default_factory=dict)  # PK -> directory profile
    email_locks: dict[tuple[str, str], str] = field(default_factory=dict)

    # pending
    def put_pending(self, digest: str, record: dict[str, Any], expires_at: int) -> None:
        assert digest not in self.pending
        self.pending[digest] = {**record, "expiresAt": expires_at}

    def take_pending(self, digest: str, now: int) -> dict[str, Any] | None:
        item = self.pending.pop(digest, None)
        if item is None or item["expiresAt"] <= now:
            return None
        return {k: v for k, v in item.items() if k != "expiresAt"}

    # identities and links
    def identity(self, provider: str, external_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.identities.get((provider, external_id)))

    def links(self, person_id: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(v) for (p, _), v in self.person_links.items() if p == person_id]

    def link(self, person_id: str, provider: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.person_links.get((person_id, provider)))

    def email_owner(self, kind: str, email: str) -> str | None:
        return self.email_locks.get((kind, email))

    def add_link(self, person_id: str, link: dict[str, Any], also: list[dict[str, Any]] | None = None) -> Outcome:
        for op in also or []:
            item = op["put"]
            if item["SK"] == "LOCK":
                kind_email = tuple(item["PK"].split("#", 2)[1:])
                if kind_email in self.email_locks:
                    return Outcome.ALREADY_EXISTS
        key = (link["provider"], link["external_id"])
        if key in self.identities:
            return Outcome.TAKEN
        if (person_id, link["provider"]) in self.person_links:
            return Outcome.ALREADY_EXISTS
        for op in also or []:
            item = op["put"]
            if item["SK"] == "LOCK":
                _, kind, email = item["PK"].split("#", 2)
                self.email_locks[(kind, email)] = item["owner"]
            else:
                self.people[item["PK"]] = item
        self.identities[key] = {"person_id": person_id, "provider": key[0], "external_id": key[1]}
        self.person_links[(person_id, link["provider"])] = {"person_id": person_id, **copy.deepcopy(link)}
        self.methods[person_id] = self.methods.get(person_id, 0) + 1
        return Outcome.DONE

    def touch_link(self, person_id: str, provider: str, fields: dict[str, Any]) -> None:
        row = self.person_links.get((person_id, provider))
        if row is None:
            return
        for k, v in fields.items():
            if v is None:
                row.pop(k, None)
            else:
                row[k] = v

    def remove_link(self, person_id: str, provider: str, external_id: str) -> Outcome:
        if (person_id, provider) not in self.person_links:
            return Outcome.NOT_FOUND
        if self.methods.get(person_id, 0) <= 1:
            return Outcome.FULL
        del self.person_links[(person_id, provider)]
        del self.identities[(provider, external_id)]
        self.methods[person_id] -= 1
        return Outcome.DONE

    # families
    def put_family(self, family_id: str, record: dict[str, Any], expires_at: int) -> None:
        assert family_id not in self.families
        self.families[family_id] = {**record, "expiresAt": expires_at, "revoked": False, "used_hashes": set()}

    def family(self, family_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.families.get(family_id))

    def rotate(self, family_id: str, presented: str, new_hash: str, now: int) -> tuple[Rotation, dict[str, Any]]:
        family = self.families.get(family_id)
        if family is None:
            return Rotation.UNKNOWN, {}
        if family["current_hash"] == presented and not family["revoked"] and family["expiresAt"] > now:
            family["used_hashes"].add(presented)
            family["current_hash"] = new_hash
            return Rotation.ROTATED, copy.deepcopy(family)
        if presented in family["used_hashes"]:
            family["revoked"] = True
            return Rotation.REUSED, {}
        return Rotation.UNKNOWN, {}

    def revoke_family(self, family_id: str, presented: str, now: int) -> bool:
        family = self.families.get(family_id)
        if family is None or family["current_hash"] != presented or family["revoked"]:
            return False
        family["revoked"] = True
        return True

    # rate limits
    def count_attempt(self, scope: str, key_digest: str, window: int, limit: int, expires_at: int) -> bool:
        key = (scope, key_digest, window)
        if self.counters.get(key, 0) >= limit:
            return False
        self.counters[key] = self.counters.get(key, 0) + 1
        return True


@dataclass
class FakeAccount:
    external_id: str
    email: str | None
    name: str = "Ana Lima"


@dataclass
class FakeProvider:
    """A provider whose codes are "code:<external id>" for the accounts it knows; the verifier sent
    must be the one of the request that made the code (as PKCE makes it)."""

    name: str
    uses_nonce: bool = True
    refresh_note: str = "refreshed"
    revoke_note: str = "revoked"
    accounts: dict[str, FakeAccount] = field(default_factory=dict)
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (external id, verifier)
    started: list[Authorization] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    refreshed: int = 0

    def start(self, authorization: Authorization) -> Started:
        self.started.append(authorization)
        return Started(
            f"https://{self.name}.example/auth?state={authorization.state}",
            authorization.code_verifier,
            authorization.nonce,
        )

    def consent(self, external_id: str) -> tuple[str, str]:
        """The user consents to the last started request: (code, state)."""
        request = self.started[-1]
        code = f"code-{len(self.codes)}"
        self.codes[code] = (external_id, request.code_verifier)
        return code, request.state

    def exchange(self, code: str, started: Started, redirect_uri: str) -> Identity:
        found = self.codes.pop(code, None)
        if found is None or found[1] != started.code_verifier:
            raise CodeRefused("code: refused")
        account = self.accounts[found[0]]
        tokens = ProviderTokens(f"{self.name}-access-{code}", f"{self.name}-refresh-{code}", 3600, "openid")
        return Identity(self.name, account.external_id, account.email, account.name, None, tokens)

    def refresh(self, tokens: ProviderTokens) -> ProviderTokens:
        self.refreshed += 1
        return ProviderTokens(tokens.access_token + "+", tokens.refresh_token, 3600, tokens.scope)

    def revoke(self, tokens: ProviderTokens) -> None:
        self.revoked.append(tokens.refresh_token or tokens.access_token)


class FakeCipher:
    """Reversible, and bound to the person and purpose like KMS's encryption context."""

    def encrypt(self, user_id: str, purpose: str, plaintext: str) -> str:
        return f"sealed[{user_id}|{purpose}]{plaintext[::-1]}"

    def decrypt(self, user_id: str, purpose: str, ciphertext: str) -> str:
        prefix = f"sealed[{user_id}|{purpose}]"
        assert ciphertext.startswith(prefix), "decrypted under another context"
        return ciphertext[len(prefix) :][::-1]
