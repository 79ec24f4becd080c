"""Powertools Logger and Metrics, created once per process and shared by every module, and the
decorator of every function's handler.

Tracing: the template turns on X-Ray (`Tracing: Active`), which traces every invocation without
code. Functions that call providers may add Powertools' Tracer for subsegments; the core does not
create one, because importing the X-Ray SDK costs ~150 ms of cold start in every function.
"""

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics

from integration_core import startup

logger = Logger()
metrics = Metrics()

# Most requests (reads, refused callbacks) add no metric; that is normal, not worth a warning each.
warnings.filterwarnings("ignore", message="No application metrics to publish")

Handler = TypeVar("Handler", bound=Callable[..., Any])


def lambda_handler(function: Handler) -> Handler:
    """Powertools' Lambda context in every log line of an invocation (and none left over from the
    previous one); after the first invocation, the init phase ends (integration_core.startup)."""
    logged = logger.inject_lambda_context(clear_state=True)(function)

    @functools.wraps(function)
    def handler(event: Any, context: Any) -> Any:
        try:
            return logged(event, context)
        finally:
            startup.first_invocation_served()

    return handler  # type: ignore[return-value]
