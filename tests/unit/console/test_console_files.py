"""The console function serves its packaged files and nothing else: the right content types, a
strict same-origin Content-Security-Policy on every answer, revalidation by ETag, the page for the
sign-in callback, and a 404 page for any other path (no path from a request reaches the disk)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from tests.support.lambdas import invoke, sample_event

STATIC = Path(__file__).resolve().parents[3] / "functions" / "console" / "static"


def get(path: str, headers: dict[str, str] | None = None):
    event = copy.deepcopy(sample_event("console/get_page.json"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["headers"] = {"host": "abc123.execute-api.eu-west-1.amazonaws.com", **(headers or {})}
    return invoke("console", event)


def header(answer, name: str) -> str:
    return {k.lower(): v for k, v in answer.headers.items()}.get(name.lower(), "")


@pytest.mark.parametrize(
    ("path", "media", "marker"),
    [
        ("/console", "text/html", '<script type="module" src="/console/js/app.js">'),
        ("/console/", "text/html", "School integration console"),
        ("/console/callback", "text/html", '<main id="main"'),
        ("/console/js/app.js", "text/javascript", "VIEW_MODULES"),
        ("/console/js/views/student.js", "text/javascript", "register("),
        ("/console/css/console.css", "text/css", ":focus-visible"),
    ],
)
def test_pages_and_files_are_served_with_their_content_type(path, media, marker):
    answer = get(path)
    assert answer.status == 200
    assert header(answer, "Content-Type").startswith(media)
    assert marker in answer.body


def test_every_answer_has_a_strict_same_origin_policy():
    for path in ("/console", "/console/js/api.js", "/console/no/such/file.js"):
        answer = get(path)
        policy = dict(
            part.strip().split(" ", 1) for part in header(answer, "Content-Security-Policy").split(";") if part.strip()
        )
        assert policy["default-src"] == "'none'"
        for directive in ("script-src", "style-src", "connect-src"):
            assert policy[directive] == "'self'", directive  # no inline code, no other origin
        assert policy["frame-ancestors"] == "'none'"
        assert header(answer, "X-Content-Type-Options") == "nosniff"
        assert header(answer, "Referrer-Policy") == "no-referrer"  # the callback URL holds a code


def test_files_are_revalidated_and_an_unchanged_one_answers_304():
    first = get("/console/js/session.js")
    assert header(first, "Cache-Control") == "no-cache"
    etag = header(first, "ETag")
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    again = get("/console/js/session.js", {"if-none-match": etag})
    assert again.status == 304 and not again.body
    stale = get("/console/js/session.js", {"if-none-match": '"0000"'})
    assert stale.status == 200 and "sessionStorage" in stale.body


@pytest.mark.parametrize(
    "path",
    [
        "/console/nothing-here",
        "/console/../app.py",
        "/console/%2e%2e/app.py",
        "/console/js/../../app.py",
        "/console/app.py",
        "/console//etc/passwd",
    ],
)
def test_anything_else_is_the_not_found_page(path):
    answer = get(path)
    assert answer.status == 404
    assert header(answer, "Content-Type").startswith("text/html")
    assert "no such page" in answer.body and "import" not in answer.body


def test_the_pages_have_no_inline_script_or_style_the_policy_would_block():
    for page in STATIC.rglob("*.html"):
        text = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), page
        assert "<style" not in text and " style=" not in text, page
        assert not re.search(r"\son[a-z]+=", text), page


def test_every_view_module_is_listed_and_registers_itself():
    listed = re.findall(r'"\./(\w+\.js)"', (STATIC / "js" / "views" / "index.js").read_text())
    for module in listed:
        assert "register(" in (STATIC / "js" / "views" / module).read_text(), module
    registering = {p.name for p in (STATIC / "js" / "views").glob("*.js") if "register(" in p.read_text()}
    assert registering == set(listed)
