"""Console and file logging of the local stack: one aligned, human-readable line per invocation on
the console, the same as a JSON line in .offline/logs/invocations.jsonl for tools.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_jsonl: Any = None
_COLOURS = {"2": "\033[32m", "3": "\033[36m", "4": "\033[33m", "5": "\033[31m"}
_use_colour = sys.stdout.isatty()


def setup(log_dir: Path, level: str = "INFO") -> None:
    """Plain `HH:MM:SS.mmm level  logger  message` lines for the stack's own messages."""
    global _jsonl
    log_dir.mkdir(parents=True, exist_ok=True)
    _jsonl = (log_dir / "invocations.jsonl").open("a", buffering=1)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)-5s %(name)-16s %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger("offline")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def invocation(
    source: str,
    function: str,
    status: int | str,
    duration_ms: float,
    cold: bool,
    route: str = "",
    detail: str = "",
) -> None:
    """Log one invocation: where it came from (api, url, sqs, schedule, authorizer), what ran, outcome."""
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
        "source": source,
        "function": function,
        "route": route,
        "status": status,
        "durationMs": round(duration_ms, 1),
        "start": "cold" if cold else "warm",
    }
    if detail:
        record["detail"] = detail
    clock = time.strftime("%H:%M:%S", time.localtime()) + f".{int(time.time() * 1000) % 1000:03d}"
    status_text = str(status)
    if _use_colour and status_text[:1] in _COLOURS:
        status_text = f"{_COLOURS[status_text[:1]]}{status_text}\033[0m"
    line = (
        f"{clock} {source:<10} {route:<60} {status_text:>3}  {function:<24} "
        f"{duration_ms:8.1f} ms  {'cold' if cold else 'warm'}"
    )
    if detail:
        line += f"  {detail}"
    with _lock:
        print(line, flush=True)
        if _jsonl is not None:
            _jsonl.write(json.dumps(record) + "\n")
