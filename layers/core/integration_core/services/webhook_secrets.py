"""Webhook signing secrets at rest: each one is encrypted with KMS (Encrypt/Decrypt of the 32-byte
secret itself, `adapters/kms.py`) under the stack's key, with an encryption context naming its
webhook and the purpose, so a ciphertext copied into another webhook's item, or used for anything
else, does not decrypt (and CloudTrail names the webhook whose secret was read).

A secret is decrypted only where a signature is made or checked (the dispatcher, the test and verify
routes) and where it is shown (a registration's Idempotency-Key repeat); a new secret is shown from
the plaintext just made and stored only as its ciphertext. A rotation moves the current ciphertext
to `previous_secret_ciphertext` as it is (same webhook, same context): both sign during the overlap.

A warm process keeps what it decrypted for a few minutes, keyed by webhook and ciphertext, so a
batch of deliveries to one webhook costs one Decrypt, and a rotation (a new ciphertext) is seen at
once. Items written before the secrets were encrypted (plaintext `secret`, `previous_secret`) are
sealed when read (`migrated`) by the functions that hold the key's Encrypt permission for webhook
secrets, the API and the dispatcher; until then their plaintext still signs."""

from __future__ import annotations

import time
from typing import Any, Protocol

from integration_core.adapters import kms
from integration_core.errors import Conflict
from integration_core.stores import webhooks as webhook_store
from integration_core.webhook_config import secret_key_id

PURPOSE = "webhook-signing-secret"
CACHE_SECONDS = 300.0
CACHE_SIZE = 1024
CURRENT, PREVIOUS, PREVIOUS_UNTIL = "secret_ciphertext", "previous_secret_ciphertext", "previous_secret_expires_at"
LEGACY_CURRENT, LEGACY_PREVIOUS = "secret", "previous_secret"


class Unreadable(Conflict):
    """The webhook's stored ciphertext is not one of its secrets under the stack's key (copied from
    another item, or altered): nothing can be signed with it until the secret is rotated."""

    def __init__(self, webhook_id: str) -> None:
        super().__init__(
            f"the signing secret of webhook {webhook_id} cannot be decrypted; rotate the secret to issue a new one"
        )
        self.webhook_id = webhook_id


class Cipher(Protocol):
    def encrypt(self, webhook_id: str, plaintext: str) -> str: ...

    def decrypt(self, webhook_id: str, ciphertext: str) -> str: ...


def context(webhook_id: str) -> dict[str, str]:
    """The encryption context of a webhook's signing secrets (the key policy asks for `purpose`)."""
    return {"webhookId": webhook_id, "purpose": PURPOSE}


class KmsCipher:
    def encrypt(self, webhook_id: str, plaintext: str) -> str:
        return kms.encrypt(secret_key_id(), plaintext, context(webhook_id))

    def decrypt(self, webhook_id: str, ciphertext: str) -> str:
        return kms.decrypt(secret_key_id(), ciphertext, context(webhook_id))


_KMS = KmsCipher()
_plain: dict[tuple[str, str], tuple[str, float]] = {}  # (webhook id, ciphertext) -> (secret, until)


def cipher() -> Cipher:
    """The one place secrets are encrypted and decrypted (unit tests replace it)."""
    return _KMS


def seal(webhook_id: str, secret: str) -> str:
    """The ciphertext of a webhook's new secret (what its item stores)."""
    return cipher().encrypt(webhook_id, secret)


def _reveal(webhook_id: str, ciphertext: str) -> str:
    now = time.monotonic()
    cached = _plain.get((webhook_id, ciphertext))
    if cached is not None and cached[1] > now:
        return cached[0]
    try:
        secret = cipher().decrypt(webhook_id, ciphertext)
    except kms.Undecryptable:
        raise Unreadable(webhook_id) from None
    if len(_plain) >= CACHE_SIZE:
        _plain.clear()
    _plain[(webhook_id, ciphertext)] = (secret, now + CACHE_SECONDS)
    return secret


def forget() -> None:
    """Drop what this process decrypted (tests; a process ends with it anyway)."""
    _plain.clear()


def current(webhook: dict[str, Any]) -> str:
    """The webhook's current secret in plaintext; Unreadable (409) when its ciphertext is not one of
    this webhook's secrets under the stack's key."""
    if webhook.get(CURRENT):
        return _reveal(webhook["webhook_id"], webhook[CURRENT])
    return str(webhook[LEGACY_CURRENT])  # written before secrets were encrypted, not sealed yet


def in_use(webhook: dict[str, Any], now_epoch: float) -> list[str]:
    """The current secret, and the previous one while the rotation overlap lasts (plaintext, to sign
    or check a signature with)."""
    secrets = [current(webhook)]
    if float(webhook.get(PREVIOUS_UNTIL, 0)) > now_epoch:
        if webhook.get(PREVIOUS):
            secrets.append(_reveal(webhook["webhook_id"], webhook[PREVIOUS]))
        elif webhook.get(LEGACY_PREVIOUS):
            secrets.append(str(webhook[LEGACY_PREVIOUS]))
    return secrets


def is_legacy(webhook: dict[str, Any]) -> bool:
    return not webhook.get(CURRENT) and bool(webhook.get(LEGACY_CURRENT))


def migrated(webhook: dict[str, Any]) -> dict[str, Any]:
    """The webhook with its plaintext secrets (an item written before they were encrypted) replaced
    by their ciphertexts, stored on condition that the plaintext is still the one read; the item as
    it was when it holds none, or as another run left it when that one sealed it first."""
    if not is_legacy(webhook):
        return webhook
    webhook_id = webhook["webhook_id"]
    sealed = {CURRENT: seal(webhook_id, str(webhook[LEGACY_CURRENT]))}
    if webhook.get(LEGACY_PREVIOUS):
        sealed[PREVIOUS] = seal(webhook_id, str(webhook[LEGACY_PREVIOUS]))
    store = webhook_store.store()
    if not store.seal_secrets(webhook, sealed):
        return store.webhook(webhook_id) or webhook  # sealed (or rotated) by another run: as it is now
    moved = {k: v for k, v in webhook.items() if k not in (LEGACY_CURRENT, LEGACY_PREVIOUS)}
    return {**moved, **sealed}
