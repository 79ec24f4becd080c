"""Keys live in keys.py and the stores: a key prefix written as a literal anywhere else in the
product fails here. The prefixes are read from keys.py itself, so a new key pattern is guarded
as soon as it is added. (The payment prefixes have a test of their own.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CORE = ROOT / "layers" / "core" / "integration_core"
KEYS = CORE / "keys.py"
STORES = CORE / "stores"
PAYMENT_PREFIXES = {"PAYREF", "PLAN", "PAYMENT", "PAYMENTS", "REFUND", "SUBSCRIPTION", "PROVIDER", "PROVIDER_EVENT"}
NOT_KEYS = {"GSI1"}  # the index's name, which the table adapter uses
ENTITY_KINDS = {"STUDENT", "TEACHER", "COURSE"}  # keys.entity_pk writes `<KIND>#<id>` from the kind


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal, the literal parts of f-strings included."""
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def key_words() -> tuple[set[str], set[str]]:
    """(prefixes such as STUDENT, written `STUDENT#...`; whole keys such as CATALOG or STATS)."""
    tree = ast.parse(KEYS.read_text())
    prefixes, whole = set(), set()
    for _, text in _strings(tree):
        match = re.match(r"^([A-Z][A-Z_]*)#", text)
        if match:
            prefixes.add(match.group(1))
        elif re.fullmatch(r"[A-Z][A-Z_#]*", text):
            whole.add(text)
    for node in tree.body:  # module constants: OUTBOX = "OUTBOX", FAILING_WEBHOOKS = "FAILING#WEBHOOKS"
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            value = node.value.value
            (prefixes if value.endswith("#") else whole).add(value.rstrip("#"))
    return (prefixes | ENTITY_KINDS) - PAYMENT_PREFIXES, whole - NOT_KEYS - PAYMENT_PREFIXES


def offending(path: Path, prefixes: set[str], whole: set[str]) -> list[str]:
    pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(sorted(map(re.escape, prefixes))) + r")#")
    return [
        f"{path.name}:{line}: {text!r}"
        for line, text in _strings(ast.parse(path.read_text()))
        if pattern.search(text) or text in whole
    ]


def product_files() -> list[Path]:
    files = [*(ROOT / "layers").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    # The payment modules' keys are the payment prefixes' test's to guard (their provider-event
    # rows share the word EVENT with the outbox's).
    return [f for f in files if f != KEYS and STORES not in f.parents and "payment" not in f.name]


def test_the_prefixes_are_read_from_keys_py():
    prefixes, whole = key_words()
    assert {
        "STUDENT",
        "TEACHER",
        "COURSE",
        "ENROLLMENT",
        "SESSION",
        "EMAIL",
        "WEBHOOK",
        "SUBS",
        "DELIVERY",
        "ATTEMPT",
    } <= prefixes
    assert {"CATALOG", "OUTBOX", "FAILING#WEBHOOKS", "PROFILE", "STATS"} <= whole


def test_the_check_sees_a_literal(tmp_path):
    prefixes, whole = key_words()
    sample = tmp_path / "sample.py"
    sample.write_text('a = f"ENROLLMENT#{x}"\nb = "SESSION#"\nc = "CATALOG"\nd = "not a key: sessions"\n')
    assert sorted(hit.split(": ", 1)[1] for hit in offending(sample, prefixes, whole)) == [
        "'CATALOG'",
        "'ENROLLMENT#'",
        "'SESSION#'",
    ]


def test_no_key_literal_outside_keys_and_the_stores():
    prefixes, whole = key_words()
    hits = [hit for path in product_files() for hit in offending(path, prefixes, whole)]
    assert hits == [], "key literals outside keys.py and stores/:\n" + "\n".join(hits)
