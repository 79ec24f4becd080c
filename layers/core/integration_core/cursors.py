"""Page cursors: opaque to callers, tamper-proof, and bound to the list and the caller they were
issued for.

A cursor is `c1.<payload>.<tag>` (base64url): the payload holds the table key the next page starts
after and a binding, an HMAC of the list (the query: table, index, partition, key prefix, order)
and of the request scope (the caller's role and id, the method and path, the filters of the query
string but `cursor` and `limit`); the tag is an HMAC-SHA256 of the payload. Both use the cursor key,
a random secret of its own in Secrets Manager (CursorKeySecret, generated at deploy). A cursor that
does not verify is 400 "not issued by this service or altered"; one that verifies but was issued
for another list or caller is 400 "belongs to another list or caller". Replacing the key only makes
outstanding cursors invalid (a client starts again from the first page).

The HTTP edge sets the request scope (`request_scope`); code outside a request (the scheduled
sweeper) pages with raw keys (`Table.query(after=...)`, `Page.last_key`) and never makes a cursor.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from integration_core.adapters.secrets import secret_text
from integration_core.config import settings
from integration_core.errors import BadRequest, ProviderUnavailable, field_error

VERSION = "c1"
_BINDING_BYTES = 12
_scope: ContextVar[str] = ContextVar("cursor_scope", default="")
_IGNORED_QUERY = ("cursor", "limit")  # a cursor stays good for another page size


def scope_of(event: Mapping[str, Any]) -> str:
    """The request scope of an HTTP API event: who asks (as the authorizer verified it), what list
    (method, path) and with which filters."""
    context = (((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda")) or {}
    http = (event.get("requestContext") or {}).get("http") or {}
    query = event.get("queryStringParameters") or {}
    filters = "&".join(f"{k}={v}" for k, v in sorted(query.items()) if k not in _IGNORED_QUERY)
    caller = f"{context.get('role', '')}:{context.get('sub', '')}"
    return "\x1f".join([caller, str(http.get("method", "")).upper(), str(event.get("rawPath", "")), filters])


@contextmanager
def request_scope(event: Mapping[str, Any]) -> Iterator[None]:
    token = _scope.set(scope_of(event))
    try:
        yield
    finally:
        _scope.reset(token)


def _key() -> bytes:
    name = settings().cursor_key_secret_name
    if not name:
        raise ProviderUnavailable("the cursor key is not configured (CURSOR_KEY_SECRET_NAME)", retry_after=30)
    try:
        return secret_text(name).encode()
    except Exception:
        raise ProviderUnavailable("the cursor key cannot be read; try again", retry_after=2) from None


def _mac(key: bytes, *parts: str | bytes) -> bytes:
    message = b"\x1f".join(p.encode() if isinstance(p, str) else p for p in (VERSION, *parts))
    return hmac.new(key, message, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _invalid(reason: str) -> BadRequest:
    return BadRequest(f"cursor {reason}; start again without it", errors=[field_error("cursor", reason)])


def seal(last_key: dict[str, Any], list_id: str) -> str:
    key = _key()
    binding = _mac(key, "binding", list_id, _scope.get())[:_BINDING_BYTES]
    payload = json.dumps({"k": last_key, "b": _b64(binding)}, separators=(",", ":"), sort_keys=True).encode()
    return f"{VERSION}.{_b64(payload)}.{_b64(_mac(key, 'payload', payload))}"


def unseal(cursor: str, list_id: str) -> dict[str, Any]:
    """The start key a cursor carries, if this service issued it for this list and caller."""
    version, _, rest = cursor.partition(".")
    encoded_payload, _, encoded_tag = rest.partition(".")
    if version != VERSION or not encoded_payload or not encoded_tag or not cursor.isascii():
        raise _invalid("is malformed")
    try:
        payload, tag = _unb64(encoded_payload), _unb64(encoded_tag)
    except (binascii.Error, ValueError):
        raise _invalid("is malformed") from None
    key = _key()
    if not hmac.compare_digest(tag, _mac(key, "payload", payload)):
        raise _invalid("was not issued by this service or was altered")
    data = json.loads(payload)
    binding = _mac(key, "binding", list_id, _scope.get())[:_BINDING_BYTES]
    if not hmac.compare_digest(_unb64(data["b"]), binding):
        raise _invalid("belongs to another list or caller")
    last_key: dict[str, Any] = data["k"]
    return last_key
