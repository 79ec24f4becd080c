"""Start and stop a local stack from tests and benchmarks: `start_stack` runs `python -m offline`
on free ports with its own state folder and returns once it is ready (state.json written).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from offline.aws import client
from offline.secrets import _core_module
from offline.stack import REPO


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    state_dir: Path
    initial_state: dict[str, Any]
    console_path: Path

    @property
    def state(self) -> dict[str, Any]:
        """The stack's state.json as it is now (it changes when the embedded AWS restarts)."""
        try:
            return json.loads((self.state_dir / "state.json").read_text())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return self.initial_state

    @property
    def api_url(self) -> str:
        return str(self.state["apiUrl"])

    @property
    def aws_endpoint(self) -> str:
        return str(self.state["awsEndpoint"])

    @property
    def sandbox_url(self) -> str:
        return str(self.state["sandboxUrl"])

    def client(self, service: str) -> Any:
        """A boto3 client at the stack's embedded AWS."""
        return client(service, self.aws_endpoint)

    def console(self) -> str:
        return self.console_path.read_text(errors="replace")

    def control(self, name: str) -> dict[str, Any]:
        """POST /_local/<name> (aws/stop, aws/start)."""
        response = httpx.post(f"{self.api_url}/_local/{name}", timeout=60)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def token(self, role: str, sub: str, ttl_seconds: int = 3600) -> str:
        settings = self.state["tokens"]
        secret = self.client("secretsmanager").get_secret_value(SecretId=settings["secretId"])["SecretString"]
        tokens: Any = _core_module("integration_core.tokens")
        return str(tokens.issue_token(sub, role, secret, settings["issuer"], settings["audience"], ttl_seconds))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def launch(template: Path, state_dir: Path, *extra: str, api_port: int = 0) -> subprocess.Popen[bytes]:
    """`python -m offline run` on free ports, its console written to state_dir/console.log."""
    state_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "layers" / "core"), str(REPO)])}
    env.pop("AWS_ENDPOINT_URL", None)
    with (state_dir / "console.log").open("ab") as console:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "offline",
                "run",
                "--template",
                str(template),
                "--state-dir",
                str(state_dir),
                "--api-port",
                str(api_port),
                "--aws-port",
                "0",
                "--sandbox-port",
                "0",
                "--url-port",
                "0",
                *extra,
            ],
            cwd=REPO,
            env=env,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def free_port() -> int:
    """A port free on 127.0.0.1 now, for a stack whose address must be known before it starts (the
    web console's sign-in callback is a template parameter)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_stack(template: Path, state_dir: Path, *extra: str, timeout: float = 90.0, api_port: int = 0) -> RunningStack:
    process = launch(template, state_dir, *extra, api_port=api_port)
    state_file = state_dir / "state.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the local stack exited ({process.returncode}):\n"
                + (state_dir / "console.log").read_text(errors="replace")[-4000:]
            )
        if state_file.exists():
            state = json.loads(state_file.read_text())
            if state.get("pid") == process.pid:
                return RunningStack(process, state_dir, state, state_dir / "console.log")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the local stack was not ready within {timeout:.0f} s")
