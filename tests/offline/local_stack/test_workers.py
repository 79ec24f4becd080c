"""The function pools run real worker processes: a burst of cold starts is taken one init at a
time (the machine's cores are shared), and the callers behind it are served by the first warm
environment instead of each waiting for an import of its own."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

from offline.model import FunctionSpec
from offline.workers import Workers

SLOW_IMPORT = """
import json, os, time
started = time.time()
time.sleep(0.6)  # an import that takes a while
with open(os.environ["INIT_LOG"], "a") as log:
    log.write(json.dumps([started, time.time()]) + "\\n")

def handler(event, context):
    return {"pid": os.getpid()}
"""


def _spec(code: Path, init_log: Path) -> FunctionSpec:
    return FunctionSpec(
        logical_id="SlowFunction",
        name="slow",
        arn="arn:aws:lambda:us-east-1:123456789012:function:slow",
        code_dir=code,
        handler="app.handler",
        timeout=10,
        memory=128,
        env={"INIT_LOG": str(init_log)},
        layer_dirs=[],
        runtime="python3.11",
    )


def test_a_burst_of_cold_starts_runs_one_init_at_a_time_across_pools(tmp_path, monkeypatch):
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(SLOW_IMPORT)
    init_log = tmp_path / "inits.jsonl"
    monkeypatch.setattr("offline.workers.COLD_STARTS_AT_ONCE", 1)
    other = _spec(code, init_log)
    other.logical_id = "OtherFunction"
    workers = Workers(
        {"SlowFunction": _spec(code, init_log), "OtherFunction": other}, "http://127.0.0.1:9", tmp_path, 4
    )
    try:
        start = threading.Barrier(6)

        def call(function: str) -> int:
            start.wait()
            result = workers.invoke(function, {})
            assert result.ok, result.error
            return int(result.payload["pid"])

        with ThreadPoolExecutor(6) as pool:
            pids = list(pool.map(call, ["SlowFunction"] * 4 + ["OtherFunction"] * 2))
    finally:
        workers.close()
    inits = sorted(json.loads(line) for line in init_log.read_text().splitlines())
    # Never two imports at once, in one function or across two.
    assert all(later[0] >= earlier[1] for earlier, later in pairwise(inits)), inits
    # One environment per init, and callers queued behind an init were served warm by the first.
    assert len(inits) == len(set(pids)) < len(pids), (inits, pids)
