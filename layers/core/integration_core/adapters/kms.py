"""KMS envelope-free encryption of small secrets (users' provider tokens, later webhook secrets):
Encrypt/Decrypt with an EncryptionContext naming the user and the purpose, so a ciphertext copied
to another user's item, or used for another purpose, does not decrypt (and CloudTrail shows whose
token was read). Values up to 4 KiB, which every OAuth token is."""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from integration_core.adapters import aws
from integration_core.errors import ProviderUnavailable


class Undecryptable(Exception):
    """Not a ciphertext of this key under this encryption context (another user's, another purpose's)."""


@lru_cache(maxsize=1)
def _client() -> Any:
    return aws.client("kms")


def context(user_id: str, purpose: str) -> dict[str, str]:
    return {"userId": user_id, "purpose": purpose}


def encrypt(key_id: str, plaintext: str, encryption_context: dict[str, str]) -> str:
    """The ciphertext, base64 (what an item stores)."""
    try:
        answer = _client().encrypt(KeyId=key_id, Plaintext=plaintext.encode(), EncryptionContext=encryption_context)
    except (ClientError, BotoCoreError):
        raise ProviderUnavailable("the key service is unavailable; try again", retry_after=2) from None
    return base64.b64encode(answer["CiphertextBlob"]).decode()


def decrypt(key_id: str, ciphertext: str, encryption_context: dict[str, str]) -> str:
    try:
        answer = _client().decrypt(
            KeyId=key_id, CiphertextBlob=base64.b64decode(ciphertext), EncryptionContext=encryption_context
        )
    except ClientError as error:
        if error.response["Error"]["Code"] in ("InvalidCiphertextException", "IncorrectKeyException"):
            raise Undecryptable() from None
        raise ProviderUnavailable("the key service is unavailable; try again", retry_after=2) from None
    except BotoCoreError:
        raise ProviderUnavailable("the key service is unavailable; try again", retry_after=2) from None
    return bytes(answer["Plaintext"]).decode()
