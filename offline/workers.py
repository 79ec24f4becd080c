"""Function workers: each function runs in its own long-lived processes (offline/_worker.py), with
the environment the template gives it, so two functions never share module state.

A `FunctionPool` keeps up to `max_instances` warm environments per function (more for a function
its SQS mappings feed several batches at once), creates one on demand
(a cold start), enforces the template's Timeout, and replaces an environment that crashed or timed
out, as Lambda does.

Unlike Lambda, every environment here shares the machine's few cores, so the stack runs at most
`COLD_STARTS_AT_ONCE` inits at a time across all functions: ten imports at once on two cores take
ten times as long each (long enough to outlast a caller's timeout), while one at a time lets the
first environment warm up and serve the callers queued behind it.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offline.aws import LOCAL_CREDENTIALS, spawn
from offline.model import FunctionSpec, SqsMappingSpec
from offline.template import REGION

WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
# Lambda gives a new environment's init phase (the handler's import) up to 10 s of its own.
INIT_SECONDS = 10.0
COLD_STARTS_AT_ONCE = max(1, os.cpu_count() or 1)
# Inherited from the stack's own environment; everything else a function sees comes from the template.
_PASS_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "SSL_CERT_FILE")


@dataclass
class InvokeResult:
    """The outcome of one invocation. `error_kind` is None, "function", "timeout" or "crash"."""

    payload: Any = None
    error_kind: str | None = None
    error: dict[str, Any] = field(default_factory=dict)
    duration_ms: float = 0.0
    init_ms: float | None = None
    cold: bool = False
    request_id: str = ""

    @property
    def ok(self) -> bool:
        return self.error_kind is None


def function_environment(spec: FunctionSpec, aws_endpoint: str, crash_plans: Path | None = None) -> dict[str, str]:
    """The variables Lambda sets, the template's variables, and the local AWS endpoint (and the crash
    tests' plan file, offline/_worker.py CrashPoints, when the stack runs with one)."""
    env = {k: os.environ[k] for k in _PASS_THROUGH if k in os.environ}
    env.update(LOCAL_CREDENTIALS)
    env.update(
        {
            "AWS_ENDPOINT_URL": aws_endpoint,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{spec.logical_id}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            "TZ": "UTC",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "OFFLINE_FUNCTION_ARN": spec.arn,
            "OFFLINE_FUNCTION_ID": spec.logical_id,
            "OFFLINE_LAYER_DIRS": os.pathsep.join(str(p) for p in spec.layer_dirs),
        }
    )
    env.update(spec.env)
    # No X-Ray daemon and no CloudWatch here: tracing off, and no EMF metric blobs on the console.
    env["POWERTOOLS_TRACE_DISABLED"] = "true"
    env["POWERTOOLS_METRICS_DISABLED"] = "true"
    if crash_plans is not None:
        env["OFFLINE_CRASH_PLANS"] = str(crash_plans)
    return env


class _Instance:
    """One execution environment: a worker process and its end of a socket pair."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str], log_path: Path) -> None:
        parent, child = socket.socketpair()
        with log_path.open("ab") as log_file:
            self.process = spawn(
                [sys.executable, str(WORKER_SCRIPT), str(child.fileno())],
                pass_fds=(child.fileno(),),
                env=env,
                cwd=str(spec.code_dir) if spec.code_dir.is_dir() else None,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        child.close()
        self.sock = parent
        self.invocations = 0
        self.generation = 0

    def invoke(
        self, event: Any, request_id: str, timeout: float, initialized: Callable[[], None] | None = None
    ) -> dict[str, Any] | None:
        """The worker's reply, or None if it died; raises TimeoutError past `timeout` seconds. On an
        environment's first invocation the import of the handler (the init phase) has Lambda's
        separate allowance first: the worker says when it is done, and `timeout` runs from there.
        `initialized` is called once the init phase is over, however it ended."""
        deadline_ms = int((time.time() + timeout) * 1000)
        body = json.dumps({"event": event, "requestId": request_id, "deadlineMs": deadline_ms}).encode()
        first = self.invocations == 0
        self.sock.settimeout(INIT_SECONDS + timeout if first else timeout)
        try:
            self.sock.sendall(struct.pack(">I", len(body)) + body)
            reply = self._frame()
            if reply is not None and reply.startswith(b'{"init"'):
                done, initialized = initialized, None
                if done is not None:
                    done()
                self.sock.settimeout(timeout)  # imported: now the invocation's own Timeout
                reply = self._frame()
        except TimeoutError:
            raise
        except OSError:
            return None
        finally:
            if initialized is not None:
                initialized()
        self.invocations += 1
        return None if reply is None else json.loads(reply)

    def _frame(self) -> bytes | None:
        header = self._recv(4)
        return None if header is None else self._recv(struct.unpack(">I", header)[0])

    def _recv(self, size: int) -> bytes | None:
        data = bytearray()
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                return None
            data.extend(chunk)
        return bytes(data)

    def kill(self) -> None:
        self.sock.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        self.sock.close()  # the worker sees end of stream and exits
        try:
            self.process.wait(2)
        except subprocess.TimeoutExpired:
            self.kill()


class FunctionPool:
    """Warm environments of one function, used one invocation at a time each."""

    def __init__(
        self,
        spec: FunctionSpec,
        aws_endpoint: str,
        log_dir: Path,
        max_instances: int = 2,
        crash_plans: Path | None = None,
        cold_starts: threading.Semaphore | None = None,
    ) -> None:
        self.spec = spec
        self.cold_starts = cold_starts or threading.Semaphore(COLD_STARTS_AT_ONCE)
        self.crash_plans = crash_plans
        self.env = function_environment(spec, aws_endpoint, crash_plans)
        self.log_path = log_dir / f"{spec.logical_id}.log"
        self.max_instances = max_instances
        self._idle: list[_Instance] = []
        self._count = 0
        self._closed = False
        self._generation = 0
        self._cond = threading.Condition()

    def reconfigure(self, aws_endpoint: str) -> None:
        """New environment values (e.g. after the embedded AWS restarted): retire every instance."""
        with self._cond:
            self.env = function_environment(self.spec, aws_endpoint, self.crash_plans)
            self._generation += 1
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._cond.notify_all()
        for instance in idle:
            instance.stop()

    def _acquire(self) -> tuple[_Instance, bool]:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError(f"{self.spec.logical_id} is shut down")
                if self._idle:
                    return self._idle.pop(), False
                if self._count >= self.max_instances:
                    self._cond.wait()
                elif self.cold_starts.acquire(blocking=False):
                    self._count += 1
                    break
                else:
                    # Another init holds the machine: take whichever comes first, an environment of
                    # this function freed meanwhile or a turn to start one (possibly another pool's).
                    self._cond.wait(0.05)
        try:
            instance = _Instance(self.spec, self.env, self.log_path)
            instance.generation = self._generation
            return instance, True
        except Exception:
            self.cold_starts.release()
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, instance: _Instance, healthy: bool) -> None:
        with self._cond:
            healthy = healthy and instance.generation == self._generation
            if healthy and not self._closed:
                self._idle.append(instance)
            else:
                self._count -= 1
            self._cond.notify()
            retire = not healthy or self._closed
        if retire:
            instance.kill()

    def invoke(self, event: Any, timeout: float | None = None) -> InvokeResult:
        """Run the handler once; `timeout` (seconds) defaults to the template's Timeout."""
        limit = float(timeout if timeout is not None else self.spec.timeout)
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        instance, created = self._acquire()
        cold = created or instance.invocations == 0
        try:
            reply = instance.invoke(event, request_id, limit, self.cold_starts.release if created else None)
        except TimeoutError:
            self._release(instance, healthy=False)
            return InvokeResult(
                error_kind="timeout",
                error={"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {limit:.2f} seconds"},
                duration_ms=(time.perf_counter() - started) * 1000,
                cold=cold,
                request_id=request_id,
            )
        duration = (time.perf_counter() - started) * 1000
        if reply is None:
            code = instance.process.poll()
            self._release(instance, healthy=False)
            return InvokeResult(
                error_kind="crash",
                error={"errorType": "Runtime.ExitError", "errorMessage": f"worker exited (status {code})"},
                duration_ms=duration,
                cold=cold,
                request_id=request_id,
            )
        self._release(instance, healthy=True)
        if reply["ok"]:
            return InvokeResult(reply["result"], None, {}, duration, reply.get("initMs"), cold, request_id)
        return InvokeResult(None, "function", reply, duration, reply.get("initMs"), cold, request_id)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for instance in idle:
            instance.stop()


class Workers:
    """The pools of every function in the template, by logical id. A function fed by SQS mappings
    gets as many environments as their MaximumConcurrency adds up to (at least `max_instances`), so
    that its batches really run side by side."""

    def __init__(
        self,
        functions: dict[str, FunctionSpec],
        aws_endpoint: str,
        log_dir: Path,
        max_instances: int,
        sqs: list[SqsMappingSpec] | None = None,
        crash_plans: Path | None = None,
    ):
        fed: dict[str, int] = {}
        for mapping in sqs or []:
            if mapping.enabled:
                fed[mapping.function] = fed.get(mapping.function, 0) + mapping.max_concurrency
        cold_starts = threading.Semaphore(COLD_STARTS_AT_ONCE)  # one machine: shared by every pool
        self.pools = {
            lid: FunctionPool(
                spec, aws_endpoint, log_dir, max(max_instances, fed.get(lid, 0)), crash_plans, cold_starts
            )
            for lid, spec in functions.items()
        }

    def invoke(self, logical_id: str, event: Any, timeout: float | None = None) -> InvokeResult:
        return self.pools[logical_id].invoke(event, timeout)

    def reconfigure(self, functions: dict[str, FunctionSpec], aws_endpoint: str) -> None:
        for logical_id, pool in self.pools.items():
            if logical_id in functions:
                pool.spec = functions[logical_id]
            pool.reconfigure(aws_endpoint)

    def close(self) -> None:
        threads = [threading.Thread(target=pool.close) for pool in self.pools.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
