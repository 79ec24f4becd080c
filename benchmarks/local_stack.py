"""Benchmarks of the local stack (figures go to the README):

1. `make run` to the first healthy response: a warm restart (venv present) and, with --cold, a
   first run on a fresh clone (venv created and requirements installed from the registry).
2. Local API overhead: requests/s and p50/p99 latency of the health route through the local API
   versus calling the same handler in-process with the same event, against the same embedded AWS.

    .venv/bin/python benchmarks/local_stack.py [--requests 500] [--restarts 3] [--cold]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "core"), str(ROOT)]

from offline.gateway import http_event  # noqa: E402
from offline.http import Request, free_port  # noqa: E402
from offline.testing import start_stack  # noqa: E402

HEALTH = "/api/v1/integration/health"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def time_make_run(repo: Path, timeout: float) -> float:
    """Seconds from `make run` to the first 200 of the health route; the stack is stopped after."""
    ports = {name: str(free_port()) for name in ("API_PORT", "AWS_PORT", "SANDBOX_PORT", "URL_PORT")}
    env = {**os.environ, "OFFLINE_STATE_DIR": tempfile.mkdtemp(prefix="bench-offline-")}
    env.pop("PYTHONPATH", None)
    return _time_start(["make", "run", *(f"{k}={v}" for k, v in ports.items())], repo, env, ports, timeout)


def time_stack_start(timeout: float) -> float:
    """Seconds from what `make run` starts (`python -m offline run`, the venv in place) to the first
    200 of the health route: the same start without make, which in a git worktree would want to
    set the venv up again."""
    ports = {name: str(free_port()) for name in ("API_PORT", "AWS_PORT", "SANDBOX_PORT", "URL_PORT")}
    env = {
        **os.environ,
        "OFFLINE_STATE_DIR": tempfile.mkdtemp(prefix="bench-offline-"),
        "PYTHONPATH": f"{ROOT / 'layers' / 'core'}:{ROOT}",
    }
    command = [sys.executable, "-m", "offline", "run", "--parameter", "WebhooksAllowLoopback=true"]
    for name, flag in (("API_PORT", "--api-port"), ("AWS_PORT", "--aws-port"), ("SANDBOX_PORT", "--sandbox-port")):
        command += [flag, ports[name]]
    command += ["--url-port", ports["URL_PORT"]]
    return _time_start(command, ROOT, env, ports, timeout)


def _time_start(command: list[str], cwd: Path, env: dict[str, str], ports: dict[str, str], timeout: float) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{ports['API_PORT']}{HEALTH}"
    try:
        while time.perf_counter() - started < timeout:
            if process.poll() is not None:
                raise RuntimeError(f"{' '.join(command[:3])} exited with {process.returncode}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"no healthy answer within {timeout:.0f} s")
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def cold_first_run(timeout: float) -> float:
    """A fresh clone of the committed tree: `make run` creates the venv and installs everything."""
    work = Path(tempfile.mkdtemp(prefix="bench-clone-"))
    try:
        subprocess.run(["git", "clone", "-q", str(ROOT), str(work / "main")], check=True)
        return time_make_run(work / "main", timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _health_handler(state: dict[str, Any]) -> Any:
    """The health handler imported in this process with the environment the stack gives it."""
    os.environ.update(state["functions"]["HealthFunction"]["env"])
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": state["awsEndpoint"],
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    sys.path.insert(0, str(ROOT / "functions" / "health"))
    spec = importlib.util.spec_from_file_location("health_app", ROOT / "functions" / "health" / "app.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["health_app"] = module  # pydantic resolves the models' annotations through it
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.handler


class _Context:
    function_name = "HealthFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:HealthFunction"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 5000


def overhead(requests: int) -> dict[str, float]:
    stack = start_stack(ROOT / "template.yaml", Path(tempfile.mkdtemp(prefix="bench-overhead-")), "--no-seed")
    try:
        through_api: list[float] = []
        with httpx.Client(timeout=30) as client:
            for _ in range(20):  # warm both environments first
                client.get(stack.api_url + HEALTH)
            for _ in range(requests):
                started = time.perf_counter()
                assert client.get(stack.api_url + HEALTH).status_code == 200
                through_api.append(time.perf_counter() - started)
        handler = _health_handler(stack.state)
        host = stack.api_url.removeprefix("http://")
        request = Request("GET", HEALTH, "", [("Host", host)], b"", "127.0.0.1", host)
        event = http_event(request, f"GET {HEALTH}", "local", "bench")
        in_process: list[float] = []
        for _ in range(20):
            handler(event, _Context())
        for _ in range(requests):
            started = time.perf_counter()
            answer = handler(event, _Context())
            assert answer["statusCode"] == 200, answer
            in_process.append(time.perf_counter() - started)
    finally:
        stack.stop()
    api_p50, proc_p50 = statistics.median(through_api) * 1000, statistics.median(in_process) * 1000
    return {
        "api_rps": requests / sum(through_api),
        "api_p50_ms": api_p50,
        "api_p99_ms": _percentile(through_api, 0.99) * 1000,
        "inproc_rps": requests / sum(in_process),
        "inproc_p50_ms": proc_p50,
        "inproc_p99_ms": _percentile(in_process, 0.99) * 1000,
        "p50_ratio": api_p50 / proc_p50,
        "overhead_p50_ms": api_p50 - proc_p50,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="also time a first run on a fresh clone")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    if args.cold:
        print(f"make run, first run on a fresh clone (install included): {cold_first_run(900):.1f} s")
    warm = [time_make_run(ROOT, 120) for _ in range(args.restarts)]
    if warm:
        print(
            f"make run, warm restart to first healthy response: median {statistics.median(warm):.2f} s "
            f"(runs: {', '.join(f'{w:.2f}' for w in warm)})"
        )
    figures = overhead(args.requests)
    print(
        f"health through the local API: {figures['api_rps']:.0f} req/s, p50 {figures['api_p50_ms']:.1f} ms, "
        f"p99 {figures['api_p99_ms']:.1f} ms"
    )
    print(
        f"health handler in-process:    {figures['inproc_rps']:.0f} req/s, p50 {figures['inproc_p50_ms']:.1f} ms, "
        f"p99 {figures['inproc_p99_ms']:.1f} ms"
    )
    print(
        f"local API overhead: p50 ratio {figures['p50_ratio']:.2f}x, +{figures['overhead_p50_ms']:.1f} ms per request"
    )


if __name__ == "__main__":
    main()
