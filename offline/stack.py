"""The whole local stack: reads the template, starts the embedded AWS and provisions it, binds the
local API, the Function URLs and the provider sandbox, starts workers and event sources, loads the
sample data, writes .offline/state.json and prints the banner. `Stack.run` blocks until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offline import console
from offline.aws import LOCAL_CREDENTIALS, MotoServer, Provisioner, ProvisionError
from offline.event_sources import EventSources
from offline.gateway import FunctionUrl, LocalApi
from offline.http import PortInUse, Request, Response, Server, check_port_free, free_port
from offline.model import build_model
from offline.sandbox.base import SandboxContext
from offline.sandbox.callbacks import Callbacks
from offline.sandbox.server import Sandbox
from offline.secrets import LocalContext, _core_module
from offline.template import Resolver, TemplateError, apply_globals, load_template
from offline.workers import Workers

log = logging.getLogger("offline.stack")
REPO = Path(__file__).resolve().parent.parent
ROLES = ("admin", "teacher", "student", "service")
BANNER_SUBJECTS = {"admin": "adm_office", "teacher": "tch_james0001", "student": "stu_ana00001", "service": "svc_local"}


class AlreadyRunning(Exception):
    pass


class StepFailed(Exception):
    """A start-up step failed: which one, why, and what to do (printed instead of a traceback)."""


# Failures that already say what to do in their own words.
_SELF_EXPLAINED = (AlreadyRunning, PortInUse, TemplateError)


def _label(name: str) -> str:
    """A step's name, padded as scripts/step pads the set-up steps of `make run`."""
    return f"  {name} ...".ljust(39) + " "


@contextlib.contextmanager
def step(name: str, hint: str) -> Iterator[None]:
    """One line on the console for a start-up step: its name and its time, or FAILED and why."""
    label = _label(name)
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        print(f"{label}FAILED after {time.perf_counter() - started:.1f} s", flush=True)
        if isinstance(exc, _SELF_EXPLAINED):
            raise
        reason = str(exc) if isinstance(exc, (ProvisionError, RuntimeError)) else f"{type(exc).__name__}: {exc}"
        raise StepFailed(f"{name} failed: {reason}\n  what to do: {hint}") from exc
    print(f"{label}done in {time.perf_counter() - started:.1f} s", flush=True)


@dataclass
class Options:
    template: Path = REPO / "template.yaml"
    state_dir: Path = REPO / ".offline"
    stack_name: str = "school-integration"
    api_port: int = 3000
    aws_port: int = 4566
    sandbox_port: int = 4010
    url_port: int = 3001  # the first Function URL; the others follow (0: any free port)
    parameters: dict[str, str] = field(default_factory=dict)
    max_instances: int = 2
    seed: bool = True
    # A folder of provider documents the repository may not carry (Zoom's), if you have them.
    optional_specs_dir: Path | None = field(default_factory=lambda: optional_specs_dir_from_env())
    sqs_poll_interval: float = 0.2
    # Crash tests (tests/e2e/faults): a folder of plans the workers read (offline/_worker.py CrashPoints),
    # and a ceiling on every queue's VisibilityTimeout, so that a killed batch comes back in seconds.
    crash_plans: Path | None = None
    visibility_cap: int | None = None


class _Late:
    """An app bound to a port before the app itself exists (ports are reserved first)."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, request: Request) -> Response:
        if self.app is None:
            return Response.json(503, {"message": "Service Unavailable"})
        return self.app(request)  # type: ignore[no-any-return]


class Stack:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.log_dir = options.state_dir / "logs"
        self.servers: list[Server] = []
        self.moto: MotoServer | None = None
        self.workers: Workers | None = None
        self.sources: EventSources | None = None
        self._lock_file: Any = None
        self._aws_lock = threading.Lock()
        self.state: dict[str, Any] = {}

    # ------------------------------------------------------------------------------ lifecycle
    def acquire(self) -> None:
        """Refuse to start twice on one state folder (a second `make run`)."""
        self.options.state_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = (self.options.state_dir / "lock").open("w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            self._lock_file = None
            state = read_state(self.options.state_dir)
            where = f" (pid {state.get('pid')}, API {state.get('apiUrl')})" if state else ""
            raise AlreadyRunning(f"the local stack is already running{where}; stop it with Ctrl-C first") from None

    def start(self) -> dict[str, Any]:
        """Start everything, one console line per step; `acquire()` first."""
        started = time.perf_counter()
        opts = self.options
        if self._lock_file is None:
            self.acquire()
        (opts.state_dir / "state.json").unlink(missing_ok=True)
        console.setup(self.log_dir)
        aws_log = self.log_dir / "aws.log"
        print(f"Starting the local stack ({opts.template.name}):", flush=True)
        with step(f"template ({opts.template.name})", "fix the template where the message above points"):
            document = load_template(opts.template)
            resources = apply_globals(document)
            self.resolver = Resolver(document, opts.stack_name, opts.parameters)
            url_functions = [
                lid
                for lid, r in resources.items()
                if r.get("Type") == "AWS::Serverless::Function"
                and (r.get("Properties") or {}).get("FunctionUrlConfig")
                and self.resolver.included(r)
            ]
        aws_port = opts.aws_port or free_port()
        with step(
            f"embedded AWS (moto, port {aws_port})",
            f"its own output is in {aws_log}; if moto is missing or broken, run `make install` again",
        ):
            # Every fixed port is checked before anything starts, so a clash is reported by name at
            # once; the embedded AWS starts first, so no port picked for it can be taken by our servers.
            check_port_free("embedded AWS", opts.aws_port)
            check_port_free("local API", opts.api_port)
            check_port_free("provider sandbox", opts.sandbox_port)
            for attempt in range(3):
                self.moto = MotoServer(aws_port, aws_log)
                try:
                    self.moto.start()
                    break
                except RuntimeError:
                    if opts.aws_port or attempt == 2:
                        raise
                    aws_port = free_port()  # another stack bound the free port we had picked
        api_app, sandbox_app = _Late(), _Late()
        url_apps: dict[str, _Late] = {}
        with step(f"ports (API, sandbox, {len(url_functions)} URL)", "stop what uses the port named above"):
            self.servers.append(Server("local API", opts.api_port, api_app))
            self.servers.append(Server("provider sandbox", opts.sandbox_port, sandbox_app))
            for index, function in enumerate(url_functions):
                url_apps[function] = _Late()
                port = opts.url_port + index if opts.url_port else 0
                self.servers.append(
                    Server(f"Function URL of {function}", port, url_apps[function], max_body=6 * 1024 * 1024)
                )
        api_server, sandbox_server = self.servers[0], self.servers[1]
        function_urls = {f: f"{s.url}/" for f, s in zip(url_functions, self.servers[2:], strict=True)}

        self.provisioner = Provisioner(self.resolver, resources, self.moto.endpoint, opts.visibility_cap)
        self.local_ctx = LocalContext(opts.stack_name, sandbox_server.url, api_server.url, function_urls)
        with step(
            f"resources ({len(resources)} in {opts.template.name})",
            f"check that resource's properties in {opts.template.name}; the embedded AWS's answer is in {aws_log}",
        ):
            unsupported = self.provisioner.provision(self.local_ctx)
            if unsupported:
                log.warning("not emulated offline (created as placeholders): %s", ", ".join(unsupported))
            self.resources, self.document = resources, document
            self.model = build_model(document, resources, self.resolver, opts.template.parent)
            for warning in self.model.warnings:
                log.warning("%s", warning)

        with step(
            f"workers ({len(self.model.functions)} functions)",
            f"check the function's CodeUri, Handler and Layers in {opts.template.name}",
        ):
            self.workers = Workers(
                self.model.functions,
                self.moto.endpoint,
                self.log_dir,
                opts.max_instances,
                self.model.sqs,
                opts.crash_plans,
            )
            self.api = LocalApi(self.model, self.workers)
            self.api.controls = {
                "status": self._status,
                "aws/stop": self._aws_stop,
                "aws/start": self._aws_start,
                "aws/reset": self._aws_reset,
                "aws/emails": self._aws_emails,
            }
            api_app.app = self.api
            for function, app in url_apps.items():
                app.app = FunctionUrl(
                    function,
                    self.workers,
                    next(u.cors for u in self.model.urls if u.function == function),
                    url_id=f"local{function.lower()}",
                )
        with step(
            "servers and event sources",
            f"see the message above; the functions' output is in {self.log_dir}/<Function>.log",
        ):
            callbacks = Callbacks(function_urls)
            self.sandbox = Sandbox(
                SandboxContext(
                    callbacks, dict(self.provisioner.secret_values), sandbox_server.url, opts.optional_specs_dir
                )
            )
            sandbox_app.app = self.sandbox
            for server in self.servers:
                server.start()
            self.sources = EventSources(self.model, self.workers, self.moto.endpoint, opts.sqs_poll_interval)
            self.sources.start()
        seeded = self._seed()
        self.state = self._write_state(function_urls, seeded, time.perf_counter() - started)
        return self.state

    def stop(self) -> None:
        if self.sources:
            self.sources.stop()
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.stop()
        if self.workers:
            self.workers.close()
        if self.moto:
            self.moto.stop()
        if self._lock_file:
            # Only the stack holding the lock owns state.json: a refused second run leaves it alone.
            (self.options.state_dir / "state.json").unlink(missing_ok=True)
            self._lock_file.close()
            self._lock_file = None

    def run(self) -> None:
        """Start, print the banner, and serve until SIGINT or SIGTERM."""
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        signal.signal(signal.SIGINT, lambda *_: done.set())
        self.acquire()  # refused: nothing of the running stack is touched
        try:
            self.start()
            print(banner(self.state, self.tokens()), flush=True)
            while not done.wait(1.0):
                if self.moto and self.moto.process is not None and not self.moto.alive():
                    log.error("the embedded AWS stopped unexpectedly; see %s", self.log_dir / "aws.log")
                    self.moto.process = None
        finally:
            print("\nstopping the local stack ...", flush=True)
            self.stop()
            print("stopped.", flush=True)

    # ------------------------------------------------------------------------------ pieces
    def _seed(self) -> str:
        """Load the sample data (one console line, like the steps); a failure is reported, not fatal."""
        script = REPO / "scripts" / "seed_directory.py"
        label = _label("sample data (seed_directory.py)")
        if not self.options.seed:
            print(f"{label}off (--no-seed)", flush=True)
            return "off"
        if not script.exists():
            print(f"{label}skipped: {script.relative_to(REPO)} not found", flush=True)
            return "skipped (no scripts/seed_directory.py)"
        started = time.perf_counter()
        env = {**os.environ, **LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": self.moto.endpoint}  # type: ignore[union-attr]
        for spec in self.model.functions.values():
            env.update({k: v for k, v in spec.env.items() if k not in env or k.endswith("_NAME")})
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "layers" / "core"), str(REPO)])
        # As a module: run as a file, scripts/ would come first on sys.path and its token.py would
        # shadow the standard library's `token`.
        done = subprocess.run(
            [sys.executable, "-m", "scripts.seed_directory"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        took = time.perf_counter() - started
        if done.returncode != 0:
            log.error("sample data: seed_directory.py failed:\n%s", done.stderr[-2000:])
            print(
                f"{label}FAILED after {took:.1f} s: its error is above; the stack serves without sample data "
                "(fix seed/directory.json or scripts/seed_directory.py, then start again)",
                flush=True,
            )
            return "failed (see above)"
        print(f"{label}done in {took:.1f} s", flush=True)
        return "loaded"

    def token_settings(self) -> dict[str, str]:
        """Issuer, audience and signing secret as the template gives them to the functions."""
        for spec in self.model.functions.values():
            if {"TOKEN_ISSUER", "TOKEN_AUDIENCE", "SIGNING_KEY_SECRET_NAME"} <= spec.env.keys():
                return {
                    "issuer": spec.env["TOKEN_ISSUER"],
                    "audience": spec.env["TOKEN_AUDIENCE"],
                    "secretId": spec.env["SIGNING_KEY_SECRET_NAME"],
                }
        return {}

    def tokens(self) -> dict[str, str]:
        """A token per role; the student and teacher are people of seed/directory.json, so their
        tokens see data at once."""
        settings = self.token_settings()
        secret = self.provisioner.secret_values.get("SigningKeySecret")
        if not settings or not secret:
            return {}
        try:
            tokens_module: Any = _core_module("integration_core.tokens")
            return {
                role: tokens_module.issue_token(
                    BANNER_SUBJECTS.get(role, f"local-{role}"), role, secret, settings["issuer"], settings["audience"]
                )
                for role in ROLES
            }
        except Exception as exc:  # the core may be mid-change in a working tree: say so, keep serving
            log.warning("cannot mint tokens yet (%s: %s)", type(exc).__name__, exc)
            return {}

    def _write_state(self, function_urls: dict[str, str], seeded: str, startup: float) -> dict[str, Any]:
        api = self.servers[0].url
        state = {
            "pid": os.getpid(),
            "template": str(self.options.template),
            "stackName": self.options.stack_name,
            "apiUrl": api,
            "awsEndpoint": self.moto.endpoint,  # type: ignore[union-attr]
            "sandboxUrl": self.servers[1].url,
            "functionUrls": function_urls,
            # The template's variables of each function (names of resources and secrets, never values).
            "functions": {lid: {"name": f.name, "arn": f.arn, "env": f.env} for lid, f in self.model.functions.items()},
            "resources": {lid: {"ref": r.ref, **r.attrs} for lid, r in self.resolver.refs.items()},
            "routes": [r.route_key for r in self.model.routes],
            "routeAuthorizers": {r.route_key: r.authorizer for r in self.model.routes},
            "tokens": self.token_settings(),
            "logDir": str(self.log_dir),
            "seed": seeded,
            "specifications": self.sandbox.validation_report(),
            "startupSeconds": round(startup, 2),
        }
        path = self.options.state_dir / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)  # readers never see half a file
        return state

    # ------------------------------------------------------------------------------ /_local controls
    def _status(self, request: Request) -> Response:
        running = bool(self.moto and self.moto.alive() and self.moto.serving)
        return Response.json(200, {**self.state, "awsRunning": running})

    def _aws_stop(self, request: Request) -> Response:
        """An AWS outage: the embedded AWS refuses connections; everything stored in it stays."""
        if request.method != "POST":
            return Response.json(405, {"message": "use POST"})
        with self._aws_lock:
            if self.moto:
                self.moto.outage()
        log.warning("embedded AWS unreachable (outage, by /_local/aws/stop); /_local/aws/start ends it")
        return Response.json(200, {"aws": "stopped"})

    def _aws_start(self, request: Request) -> Response:
        """End an outage: the same embedded AWS, with the same data, reachable again. If it is not
        running at all (it crashed), it is started afresh, as a reset does."""
        if request.method != "POST":
            return Response.json(405, {"message": "use POST"})
        with self._aws_lock:
            assert self.moto is not None
            if self.moto.alive():
                self.moto.resume()
            else:
                self._restart_aws()
        log.warning("embedded AWS reachable again (by /_local/aws/start)")
        return Response.json(200, {"aws": "running"})

    def _aws_reset(self, request: Request) -> Response:
        """A new, empty embedded AWS: provisioned from the template and seeded again."""
        if request.method != "POST":
            return Response.json(405, {"message": "use POST"})
        with self._aws_lock:
            self._restart_aws()
        log.warning("embedded AWS reset (by /_local/aws/reset): provisioned and seeded afresh")
        return Response.json(200, {"aws": "reset"})

    def _aws_emails(self, request: Request) -> Response:
        """The emails the functions sent through SES (moto keeps them), oldest first; `?to=` keeps
        those to one address."""
        if request.method != "GET":
            return Response.json(405, {"message": "use GET"})
        assert self.moto is not None
        try:
            items = self.moto.sent_emails()
        except Exception:  # an outage, a restart: say so rather than fail the control
            return Response.json(503, {"message": "the embedded AWS is not reachable"})
        to = request.query_params().get("to")
        if to:
            items = [m for m in items if to.lower() in (a.lower() for a in m.get("to", []))]
        return Response.json(200, {"items": items})

    def _restart_aws(self) -> None:
        assert self.moto is not None and self.workers is not None
        self.moto.stop()
        self.moto.start()
        self.provisioner.provision(self.local_ctx)
        self.model = build_model(self.document, self.resources, self.resolver, self.options.template.parent)
        self.workers.reconfigure(self.model.functions, self.moto.endpoint)
        seeded = self._seed()
        # New ARNs (secrets get a random suffix): keep `make token` and the tests pointed right.
        self.state = self._write_state(self.state["functionUrls"], seeded, self.state["startupSeconds"])


def optional_specs_dir_from_env() -> Path | None:
    value = os.environ.get("PROVIDER_SPECS_DIR")
    return Path(value).resolve() if value else None


def read_state(state_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((state_dir / "state.json").read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return {}


def _pick_routes(state: dict[str, Any], model_routes: list[str]) -> tuple[str | None, str | None, str | None]:
    gets = [r.split(" ", 1)[1] for r in model_routes if r.startswith("GET ") and "{" not in r]
    health = next((p for p in gets if p.endswith("/health")), None)
    docs = next((p for p in gets if p.endswith("/docs")), None)
    listing = next((p for p in gets if p.endswith("/students")), None)
    return health, docs, listing


def banner(state: dict[str, Any], tokens: dict[str, str]) -> str:
    api = state["apiUrl"]
    health, docs, listing = _pick_routes(state, state["routes"])
    lines = [
        "",
        "=" * 78,
        f"  Local stack ready in {state['startupSeconds']:.1f} s  (template: {Path(state['template']).name})",
        "=" * 78,
        f"  API            {api}",
    ]
    if docs:
        lines.append(f"  API docs       {api}{docs}")
    lines += [
        f"  Local AWS      {state['awsEndpoint']}   (export AWS_ENDPOINT_URL={state['awsEndpoint']})",
        f"  Sandbox        {state['sandboxUrl']}   (controls: {state['sandboxUrl']}/_sandbox/providers)",
    ]
    for function, url in state["functionUrls"].items():
        lines.append(f"  Function URL   {url}   ({function})")
    lines.append(f"  Sample data    {state['seed']}")
    lines.append("  Provider specifications (the sandbox validates requests against them):")
    lines += [f"    {line}" for line in state["specifications"]]
    lines.append(
        f"  Logs           invocations here and in {state['logDir']}/invocations.jsonl; "
        f"function output in {state['logDir']}/<Function>.log"
    )
    if tokens:
        lines.append("  Tokens (1 h; `make token ROLE=<role> SUB=<id>` for another):")
        for role, token in tokens.items():
            lines.append(f"    {role:<8} ({BANNER_SUBJECTS.get(role, 'local-' + role)}) {token}")
    lines.append("  Try:")
    if health:
        lines.append(f"    curl -s {api}{health}")
    if listing and "admin" in tokens:
        lines.append(f'    curl -s -H "Authorization: Bearer {tokens["admin"]}" {api}{listing}')
    lines += ["  Ctrl-C stops everything.", "=" * 78, ""]
    return "\n".join(lines)


def port_in_use_message(exc: PortInUse) -> str:
    hints = {"local API": "API_PORT", "embedded AWS": "AWS_PORT", "provider sandbox": "SANDBOX_PORT"}
    hint = hints.get(exc.name, "URL_PORT")
    return f"{exc}: stop what uses it or pick another port, e.g. make run {hint}=<port>"
