"""AWS clients for every adapter, from one botocore session shared by the process.

botocore, not boto3: `boto3.client()` is botocore's client behind a wrapper whose import also loads
boto3's resource layer and s3transfer (its `compat` module imports the S3 transfer manager), which
no request here uses; that is about a tenth of a bare boto3 handler's cold start. The clients are
the same objects either way (`botocore.client.BaseClient`), with the same credential, region and
endpoint resolution from the environment. botocore is imported on the first client, not when a
module that may need one loads.

The session's loader knows which services the product calls: before it loads a service's model,
botocore's own lists every service it has (some 450 folders, once for the model and once for its
endpoint rules), to say which exist; that is about 0.07x of a bare boto3 cold start."""

from __future__ import annotations

import os
import threading
from typing import Any

# Every service an adapter makes a client for.
SERVICES = ("cloudwatch", "dynamodb", "events", "kms", "scheduler", "secretsmanager", "ses", "sqs")

_lock = threading.Lock()
_session: Any = None


def client(service: str, *, connect_timeout: float = 2, read_timeout: float = 5, max_attempts: int = 3) -> Any:
    """A new client for `service` (callers cache theirs). Retries in botocore's standard mode, or
    `max_attempts=1` for none (the health probes)."""
    from botocore.config import Config

    retries: dict[str, Any] = (
        {"total_max_attempts": 1} if max_attempts <= 1 else {"mode": "standard", "max_attempts": max_attempts}
    )
    config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout, retries=retries)
    # A botocore session is not safe to create clients from concurrently (the health probes do).
    with _lock:
        return session().create_client(service, config=config)


def session() -> Any:
    """The process's botocore session, made on first use (its `events` reach every client made
    from it afterwards: the benchmarks count the service's AWS calls there)."""
    global _session
    if _session is None:
        import botocore.loaders
        import botocore.session

        class ProductServicesLoader(botocore.loaders.Loader):  # type: ignore[misc]  # botocore is untyped
            def list_available_services(self, type_name: str) -> list[str]:
                return list(SERVICES)

        _session = botocore.session.get_session()
        data_path = _session.get_config_variable("data_path") or ""  # AWS_DATA_PATH, read as create_loader does
        extra = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep) if p]
        _session.register_component("data_loader", ProductServicesLoader(extra_search_paths=extra))
    return _session
