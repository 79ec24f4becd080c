"""Every key of the payment ledger is built in integration_core.keys and used by the payments store:
a payment key prefix written anywhere else in the product (a service, an adapter, a handler) fails
here, so the ledger's item shapes cannot drift apart."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CORE = ROOT / "layers" / "core" / "integration_core"
ALLOWED = {CORE / "keys.py"}
ALLOWED_DIRS = (CORE / "stores",)
PAYMENT_PREFIXES = (
    "PAYREF#",
    "PLAN#",
    "PAYMENT#",
    "PAYMENTS#",
    "REFUND#",
    "SUBSCRIPTION#",
    "PROVIDER_EVENT#",
    "PROVIDER#",
)
LITERAL = re.compile(r"""["'](?:""" + "|".join(re.escape(p) for p in PAYMENT_PREFIXES) + ")")


def offenders(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        if path in ALLOWED or any(d in path.parents for d in ALLOWED_DIRS):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if LITERAL.search(line):
                name = path.relative_to(ROOT) if ROOT in path.parents else path
                found.append(f"{name}:{number}: {line.strip()}")
    return found


def product_files() -> list[Path]:
    return sorted([*(ROOT / "layers").rglob("*.py"), *(ROOT / "functions").rglob("*.py")])


def test_no_payment_key_prefix_outside_keys_and_the_stores():
    assert offenders(product_files()) == []


def test_the_check_finds_a_prefix_written_in_a_service(tmp_path):
    service = tmp_path / "service.py"
    service.write_text('def pk(plan_id):\n    return f"PLAN#{plan_id}"\n\nSK = "PAYMENT#"\n')
    found = offenders([service])
    assert len(found) == 2


def test_every_payment_prefix_is_built_in_keys():
    text = (CORE / "keys.py").read_text()
    for prefix in PAYMENT_PREFIXES:
        assert f'"{prefix}' in text, prefix
