"""One Lambda execution environment: a long-lived process that imports one function's handler and
serves invocations sent over a socket by offline/workers.py.

Run as a script, not as part of the `offline` package, so the function sees only its own folder and
its layers on sys.path (as in Lambda) and never the stack's modules. Frames are a 4-byte big-endian
length followed by JSON.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from typing import Any


def recv_frame(sock: socket.socket) -> Any:
    header = _recv_exact(sock, 4)
    if header is None:
        return None
    (length,) = struct.unpack(">I", header)
    body = _recv_exact(sock, length)
    return None if body is None else json.loads(body)


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            return None
        chunks.extend(chunk)
    return bytes(chunks)


def send_frame(sock: socket.socket, message: Any) -> None:
    body = json.dumps(message).encode()
    sock.sendall(struct.pack(">I", len(body)) + body)


class LambdaContext:
    """The attributes and method of the Python runtime's context object."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = os.environ["OFFLINE_FUNCTION_ARN"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request_id
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "ok": False,
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


class CrashPoints:
    """Fault injection for the crash tests (tests/e2e/faults): off unless the stack was started with
    `--crash-plans DIR` (OFFLINE_CRASH_PLANS). Before each invocation the worker reads its function's
    plan, DIR/<logical id>.json, `{"point": ..., "match": [text, ...], "nth": 1}`; when the
    invocation's event (as JSON) contains every `match`, the worker SIGKILLs itself the `nth` time it
    reaches `point`:

    - `before:http` / `after:http`: before a provider or receiver request is sent / once its answer
      has come back (any HTTP client on httpcore: httpx, the Stripe SDK, the webhook sender);
    - `before:aws:<service>:<Operation>` / `after:aws:<service>:<Operation>`: around an AWS call
      (`after:aws:dynamodb:TransactWriteItems`: the record is written, nothing after it is);
    - `return`: the handler returned and its answer was not sent (the batch was not acknowledged).

    The process that fires renames the plan to <logical id>.json.fired first, so a plan fires once,
    in one process. `"trace": true` instead appends every point reached to <logical id>.trace (to
    find a function's points). Nothing of it is in the product's code: the hooks wrap library
    classes inside this process only."""

    def __init__(self, folder: str, function_id: str) -> None:
        self.path = os.path.join(folder, f"{function_id}.json")
        self.plan: dict[str, Any] | None = None
        self.count = 0
        self.installed = False
        self.lock = threading.Lock()

    def begin(self, event: Any) -> None:
        self.plan, self.count = None, 0
        try:
            with open(self.path) as file:
                plan = json.load(file)
        except (OSError, ValueError):
            return
        text = json.dumps(event)
        if any(m not in text for m in plan.get("match", [])):
            return
        self.plan = plan
        self._install()

    def reached(self, point: str) -> None:
        with self.lock:
            plan = self.plan
            if plan is not None and plan.get("trace"):
                with open(self.path.removesuffix(".json") + ".trace", "a") as trace:
                    trace.write(point + "\n")
                return
            if plan is None or plan.get("point") != point:
                return
            self.count += 1
            if self.count < int(plan.get("nth", 1)):
                return
            try:
                os.replace(self.path, f"{self.path}.fired")  # one process, once
            except OSError:
                return
            print(f"CRASH at {point} (plan: {json.dumps(plan)})", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    def _install(self) -> None:
        if self.installed:
            return
        self.installed = True
        import botocore.client
        import httpcore

        points = self
        make_api_call = botocore.client.BaseClient._make_api_call

        def _make_api_call(client: Any, operation: str, params: Any) -> Any:
            name = f"aws:{client.meta.service_model.service_name}:{operation}"
            points.reached(f"before:{name}")
            answer = make_api_call(client, operation, params)
            points.reached(f"after:{name}")
            return answer

        botocore.client.BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
        handle_request = httpcore.ConnectionPool.handle_request

        def _handle_request(pool: Any, request: Any) -> Any:
            points.reached("before:http")
            response = handle_request(pool, request)
            points.reached("after:http")
            return response

        httpcore.ConnectionPool.handle_request = _handle_request  # type: ignore[method-assign]


def main() -> None:
    fd = int(sys.argv[1])
    code_dir = os.environ["LAMBDA_TASK_ROOT"]
    layers = [p for p in os.environ.get("OFFLINE_LAYER_DIRS", "").split(os.pathsep) if p]
    # sys.path[0] is offline/: replace it with what Lambda puts first (task root, then layers).
    sys.path[0:1] = [code_dir, *layers]
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    sock = socket.socket(fileno=fd)
    handler = None
    crash_plans = os.environ.get("OFFLINE_CRASH_PLANS")
    crash = CrashPoints(crash_plans, os.environ.get("OFFLINE_FUNCTION_ID", "")) if crash_plans else None
    while True:
        request = recv_frame(sock)
        if request is None:
            return  # the stack closed the channel: this environment is shut down
        request_id = request["requestId"]
        print(f"START RequestId: {request_id} Version: $LATEST", flush=True)
        started = time.perf_counter()
        init_ms = None
        if handler is None:
            try:
                handler = getattr(importlib.import_module(module_name), function_name)
            except Exception as exc:
                traceback.print_exc()
                send_frame(sock, _error(exc, "Runtime.ImportModuleError"))
                continue
            init_ms = (time.perf_counter() - started) * 1000
            # The init phase is over: the invocation's Timeout runs from here (as Lambda's does).
            send_frame(sock, {"init": True})
        context = LambdaContext(request_id, request["deadlineMs"] + int(init_ms or 0))
        if crash is not None:
            crash.begin(request["event"])
        try:
            result = handler(request["event"], context)
            reply: dict[str, Any] = {"ok": True, "result": result}
        except Exception as exc:
            traceback.print_exc()
            reply = _error(exc)
        except SystemExit as exc:
            traceback.print_exc()
            reply = _error(exc, "Runtime.ExitError")
        if crash is not None:
            crash.reached("return")
        duration = (time.perf_counter() - started) * 1000
        reply["initMs"] = init_ms
        print(f"END RequestId: {request_id}", flush=True)
        print(f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms", flush=True)
        try:
            send_frame(sock, reply)
        except (TypeError, ValueError) as exc:  # Lambda fails the same way on an unserializable result
            send_frame(sock, {**_error(exc, "Runtime.MarshalError"), "initMs": init_ms})


if __name__ == "__main__":
    main()
