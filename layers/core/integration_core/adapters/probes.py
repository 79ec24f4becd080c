"""AWS clients for health probes: one attempt, one-second timeouts, so a check reports the
dependency as it is now. botocore is imported when the first probe runs, not when the module loads."""

from __future__ import annotations

import threading
from typing import Any

from integration_core.adapters import aws

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def fast_client(service: str) -> Any:
    # botocore clients are thread-safe to use, but creating the same one concurrently builds it twice.
    with _lock:
        if service not in _clients:
            _clients[service] = aws.client(service, connect_timeout=1, read_timeout=1, max_attempts=1)
        return _clients[service]
