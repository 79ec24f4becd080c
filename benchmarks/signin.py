"""Sign-in callback figures (docs/sign-in.md): `POST /oauth/authenticate` p50/p99 per provider,
through the local stack against the sandbox's emulators (real HTTP, real PKCE, id_tokens verified
against the emulator's JWKS, cached after the first sign-in; provider tokens sealed with KMS).

Each sample is one whole callback: state checked and consumed, the code exchanged, the identity
verified, the account found or created in the directory, the service's session issued. The first
sign-ins (new people) and repeat sign-ins (known people) are timed apart. The health route's p50,
taken in the same run, is the yardstick: a ratio to it does not depend on the machine's speed.

    .venv/bin/python -m benchmarks.signin [--people 30]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from benchmarks.support import ROOT, summary
from offline.testing import start_stack
from tests.support.signin_flow import PROVIDERS, REDIRECT, RETURN_TO, SignInFlow

PARAMETERS = {
    "SignInRedirectUris": REDIRECT,
    "SignInReturnTo": RETURN_TO,
    "SignInClientAttempts": "100000",
    "SignInAccountAttempts": "1000",
}


def _timed_callback(flow: SignInFlow, provider: str, who: str) -> float:
    back = flow.authorize(provider, who)
    started = time.perf_counter()
    answer = flow.authenticate(provider, back)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"{provider} sign-in answered {answer.status_code}: {answer.text[:300]}")
    return elapsed


def _health_ms(api: str, count: int) -> list[float]:
    samples = []
    with httpx.Client(timeout=30) as client:
        for _ in range(count):
            started = time.perf_counter()
            client.get(f"{api}/health").raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def run(people: int) -> dict[str, Any]:
    arguments = [arg for k, v in PARAMETERS.items() for arg in ("--parameter", f"{k}={v}")]
    with tempfile.TemporaryDirectory() as state:
        stack = start_stack(ROOT / "template.yaml", Path(state), *arguments)
        try:
            api = f"{stack.api_url}/api/v1/integration"
            flow = SignInFlow(api, stack.sandbox_url)
            figures: dict[str, Any] = {"people_per_provider": people}
            for provider in PROVIDERS:
                emails = [f"bench-{uuid.uuid4().hex[:10]}@school.example" for _ in range(people)]
                for email in emails:
                    flow.add_account(provider, email)
                _timed_callback(flow, provider, emails[0])  # warms the worker and the JWKS cache
                first = [_timed_callback(flow, provider, email) for email in emails[1:]]
                again = [_timed_callback(flow, provider, email) for email in emails[1:]]
                figures[provider] = {"first_sign_in_ms": summary(first), "repeat_sign_in_ms": summary(again)}
            health = summary(_health_ms(api, 50))
            figures["health_ms"] = health
            for provider in PROVIDERS:
                for kind in ("first_sign_in_ms", "repeat_sign_in_ms"):
                    figures[provider][kind]["p50_over_health_p50"] = round(
                        figures[provider][kind]["p50"] / health["p50"], 1
                    )
            return figures
        finally:
            stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=30, help="people signed in per provider")
    print(json.dumps(run(parser.parse_args().people), indent=2))


if __name__ == "__main__":
    main()
