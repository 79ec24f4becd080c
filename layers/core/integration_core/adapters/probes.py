"""AWS clients for health probes: one attempt, one-second timeouts, so a check reports the
dependency as it is now. boto3 is imported when the first probe runs, not when the module loads."""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def fast_client(service: str) -> Any:
    # botocore clients are thread-safe to use, but creating the same one concurrently builds it twice.
    with _lock:
        if service not in _clients:
            import boto3
            from botocore.config import Config

            fast = Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1})
            _clients[service] = boto3.client(service, config=fast)
        return _clients[service]
