"""Command line of the local stack.

python -m offline [run] [--api-port 3000] [--aws-port 4566] [--sandbox-port 4010] [--url-port 3001]
                        [--template template.yaml] [--state-dir .offline] [--parameter Key=Value ...]
python -m offline token --role admin [--sub adm_office]   a token for the running stack
python -m offline status                         where the running stack listens
python -m offline specs                          which provider specifications the sandbox validates against
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from offline.http import PortInUse
from offline.stack import (
    BANNER_SUBJECTS,
    REPO,
    AlreadyRunning,
    Options,
    Stack,
    StepFailed,
    optional_specs_dir_from_env,
    port_in_use_message,
    read_state,
)
from offline.template import TemplateError


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m offline", description="The offline local stack.")
    parser.add_argument("command", nargs="?", default="run", choices=["run", "token", "status", "specs"])
    parser.add_argument("--template", type=Path, default=REPO / "template.yaml")
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("OFFLINE_STATE_DIR", REPO / ".offline")))
    parser.add_argument("--stack-name", default="school-integration")
    parser.add_argument("--api-port", type=int, default=_env_int("API_PORT", 3000))
    parser.add_argument("--aws-port", type=int, default=_env_int("AWS_PORT", 4566))
    parser.add_argument("--sandbox-port", type=int, default=_env_int("SANDBOX_PORT", 4010))
    parser.add_argument(
        "--url-port",
        type=int,
        default=_env_int("URL_PORT", 3001),
        help="port of the first Function URL, the others follow; 0 picks free ports",
    )
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="KEY=VALUE", help="template parameter override (repeatable)"
    )
    parser.add_argument("--max-instances", type=int, default=2, help="warm environments per function")
    parser.add_argument("--no-seed", action="store_true", help="do not load the sample data")
    parser.add_argument("--sqs-poll-interval", type=float, default=0.2)
    parser.add_argument(
        "--crash-plans", type=Path, default=None, help="crash tests: the plans' folder (offline/_worker.py CrashPoints)"
    )
    parser.add_argument(
        "--visibility-cap", type=int, default=None, help="crash tests: no queue's VisibilityTimeout above this (s)"
    )
    parser.add_argument("--role", default="admin", choices=sorted(BANNER_SUBJECTS))
    # An id of the role's kind (stu_, tch_, adm_, svc_); without one, the banner's subject of the role.
    parser.add_argument("--sub", nargs="?", default=None, const=None)
    parser.add_argument("--ttl", type=int, default=3600)
    return parser


def _token(state: dict[str, Any], role: str, sub: str, ttl: int) -> str:
    """Mint a token with the running stack's signing key (read from its embedded AWS)."""
    from offline.aws import client
    from offline.secrets import _core_module

    settings = state["tokens"]
    secret = client("secretsmanager", state["awsEndpoint"]).get_secret_value(SecretId=settings["secretId"])
    tokens: Any = _core_module("integration_core.tokens")
    return str(
        tokens.issue_token(sub, role, secret["SecretString"], settings["issuer"], settings["audience"], ttl_seconds=ttl)
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "specs":
        from offline.sandbox.server import specification_report

        print("\n".join(specification_report(optional_specs_dir_from_env())))
        return 0
    if args.command in ("token", "status"):
        state = read_state(args.state_dir)
        if not state:
            print("the local stack is not running: start it with `make run`", file=sys.stderr)
            return 1
        if args.command == "status":
            print(json.dumps(state, indent=2))
            return 0
        if not state.get("tokens"):
            print("the template gives no TOKEN_ISSUER / TOKEN_AUDIENCE / SIGNING_KEY_SECRET_NAME", file=sys.stderr)
            return 1
        try:
            print(_token(state, args.role, args.sub or BANNER_SUBJECTS[args.role], args.ttl))
        except ValueError as error:  # a sub that does not fit the role, a lifetime over an hour
            print(error, file=sys.stderr)
            return 2
        return 0
    try:
        parameters = dict(p.split("=", 1) for p in args.parameter)
    except ValueError:
        print("--parameter takes KEY=VALUE", file=sys.stderr)
        return 2
    options = Options(
        template=args.template.resolve(),
        state_dir=args.state_dir.resolve(),
        stack_name=args.stack_name,
        api_port=args.api_port,
        aws_port=args.aws_port,
        sandbox_port=args.sandbox_port,
        url_port=args.url_port,
        parameters=parameters,
        max_instances=args.max_instances,
        seed=not args.no_seed,
        sqs_poll_interval=args.sqs_poll_interval,
        crash_plans=args.crash_plans.resolve() if args.crash_plans else None,
        visibility_cap=args.visibility_cap,
    )
    try:
        Stack(options).run()
    except AlreadyRunning as exc:
        print(exc, file=sys.stderr)
        return 1
    except PortInUse as exc:
        print(port_in_use_message(exc), file=sys.stderr)
        return 1
    except TemplateError as exc:
        print(f"template: {exc}", file=sys.stderr)
        return 1
    except StepFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
