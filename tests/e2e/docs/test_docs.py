"""Every shell block of README.md and docs/ runs as written against a stack started as `make run`
starts it (its template parameters, the sample data), on free ports.

A block fenced ```sh is run; each file's blocks run in order in one bash (`set -euo pipefail`), so a
later block may use a variable an earlier one set. The documented addresses (127.0.0.1:3000, :4010,
:4566) are pointed at this stack's ports and `make token` at its state folder; nothing else is
changed. Every `curl` must answer below 400. A block that cannot run offline carries, on the line
before its fence, `<!-- docs-test: skip: <why> -->`, and a shell block fenced otherwise fails the test.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from offline.testing import RunningStack, start_stack

ROOT = Path(__file__).resolve().parents[3]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"<!-- docs-test: skip: (.+?) -->")
# What `make run` passes (Makefile LOCAL_PARAMETERS).
MAKE_RUN_PARAMETERS = [
    "--parameter",
    "WebhooksAllowLoopback=true",
    "--parameter",
    "SignInRedirectUris="
    + ",".join(
        f"http://127.0.0.1:3000/api/v1/integration/oauth/{p}/callback" for p in ("google", "microsoft", "github")
    )
    + ",http://127.0.0.1:3000/console/callback,http://localhost:3000/console/callback"
    + ",http://localhost:8080/signin/callback",
    "--parameter",
    "SignInReturnTo=http://127.0.0.1:3000/console/,http://localhost:3000/console/,http://localhost:8080/",
]
# Prints each curl's status on stderr, where the test reads it, leaving stdout to the command.
PRELUDE = """curl() { command curl -w '%{stderr}HTTP %{http_code} %{method} %{url}\\n' "$@"; }\n"""


def blocks(path: Path) -> list[tuple[int, str, str, str | None]]:
    """(line, language, text, skip reason) of every fenced block of a Markdown file."""
    found = []
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening:
            start, language = index, opening.group(1)
            index += 1
            body = []
            while index < len(lines) and not lines[index].startswith("```"):
                body.append(lines[index])
                index += 1
            marker = SKIP.search(lines[start - 1]) if start else None
            found.append((start + 1, language, "\n".join(body), marker.group(1) if marker else None))
        index += 1
    return found


def _looks_like_shell(text: str) -> bool:
    return bool(re.search(r"^\s*(curl|make|export|\.venv|python3?|aws|[A-Z_]+=\$\()", text, re.M))


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shell_block_is_fenced_sh_so_that_it_is_run(path):
    for line, language, text, _ in blocks(path):
        if language not in ("sh", "python", "json", "text") and _looks_like_shell(text):
            pytest.fail(f"{path.relative_to(ROOT)}:{line}: a shell block fenced ```{language}: fence it ```sh")


@pytest.fixture(scope="module")
def docs_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_stack(ROOT / "template.yaml", tmp_path_factory.mktemp("offline-docs"), *MAKE_RUN_PARAMETERS)
    yield stack
    stack.stop()


def _script(path: Path, stack: RunningStack) -> str:
    script = "\n".join(_runnable(path))
    ports = {
        "127.0.0.1:3000": stack.api_url,
        "127.0.0.1:4010": stack.sandbox_url,
        "127.0.0.1:4566": stack.aws_endpoint,
    }
    for documented, actual in ports.items():
        script = script.replace(f"http://{documented}", actual)
    return script


def _runnable(path: Path) -> list[str]:
    return [text for _, language, text, skip in blocks(path) if language == "sh" and skip is None]


@pytest.mark.parametrize("path", [d for d in DOCS if _runnable(d)], ids=lambda p: str(p.relative_to(ROOT)))
def test_the_shell_blocks_run_as_written(path, docs_stack):
    script = _script(path, docs_stack)
    env = {**os.environ, "OFFLINE_STATE_DIR": str(docs_stack.state_dir)}
    env.pop("AWS_ENDPOINT_URL", None)
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + PRELUDE + script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    refused = [line for line in docs_stack.console().splitlines() if " 4" in line or " 5" in line][-20:]
    authorizer_log = docs_stack.state_dir / "logs" / "AuthorizerFunction.log"  # absent until a call needs it
    report = (
        f"{path.relative_to(ROOT)}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
        + "\n--- the stack's console\n"
        + "\n".join(refused)
        + "\n--- authorizer\n"
        + (authorizer_log.read_text(errors="replace")[-2000:] if authorizer_log.exists() else "(not invoked)")
    )
    assert done.returncode == 0, report
    statuses = [(int(code), what) for code, what in re.findall(r"^HTTP (\d{3}) (.*)$", done.stderr, re.M)]
    assert [s for s in statuses if s[0] >= 400 or s[0] == 0] == [], report
