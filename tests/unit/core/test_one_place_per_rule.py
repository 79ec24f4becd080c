"""One place for each rule, checked over the product's source: configuration is read only in the
config modules, id patterns are built from ids.py, and GET /health does not load boto3 at import."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PRODUCT = [p for d in ("layers", "functions") for p in sorted((ROOT / d).rglob("*.py")) if "/build/" not in str(p)]
CONFIG_MODULES = {
    "config.py",
    "webhook_config.py",
    "payment_config.py",
    "reminder_config.py",
    "calendar_config.py",
    "video_config.py",
    "signin_config.py",
    "operations_config.py",
}


def _reads_environment(path: Path) -> list[int]:
    """Lines that touch os.environ or os.getenv (attribute access or a from-import)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv"):
            found.append(node.lineno)
        names = {a.name for a in node.names} if isinstance(node, ast.ImportFrom) and node.module == "os" else set()
        if names & {"environ", "getenv"}:
            found.append(node.lineno)
    return found


def test_configuration_is_read_only_in_config_modules():
    assert PRODUCT, "no product source found"
    offenders = {
        str(p.relative_to(ROOT)): lines
        for p in PRODUCT
        if p.name not in CONFIG_MODULES and (lines := _reads_environment(p))
    }
    assert offenders == {}, f"read configuration through config.py / *_config.py instead: {offenders}"


def test_id_patterns_are_built_from_ids_py():
    # The id body written out anywhere but ids.py is a second definition that can drift.
    written = re.compile(r"\[a-z0-9\]\{4,40\}")
    offenders = [str(p.relative_to(ROOT)) for p in PRODUCT if p.name != "ids.py" and written.search(p.read_text())]
    assert offenders == [], f"use integration_core.ids.id_pattern / ANY_ID: {offenders}"


def test_health_does_not_import_boto3_when_it_loads():
    # (Powertools' user agent imports botocore's top-level package, under a millisecond; the
    # clients and their service models come with boto3, on the first check.)
    probe = (
        "import sys; sys.path[:0] = ['layers/core', 'functions/health']; import app; "
        "print(sorted(m for m in sys.modules if m == 'boto3' or m.startswith('boto3.')))"
    )
    answer = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "[]", answer.stdout + answer.stderr
