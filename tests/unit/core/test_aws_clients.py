"""The AWS adapters talk through botocore clients, not boto3 (whose import, with s3transfer, costs a
tenth of a cold start): what they store and read is what boto3's own serializer would, and no
adapter, client or secret read loads boto3."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from integration_core.adapters import dynamodb, dynamodb_types

ROOT = Path(__file__).resolve().parents[3]


def _stable_id(value: object) -> str:
    """repr, with a set's members sorted: test ids must not follow the hash seed (pytest-xdist
    compares the collections of its workers)."""
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(map(repr, value))) + "}"
    return repr(value)


VALUES = [
    None,
    True,
    False,
    0,
    -7,
    12345678901234567890,
    Decimal("19.99"),
    Decimal("-0.001"),
    "",
    "Ana Pérez 🎓",
    b"\x00\xff",
    ["a", 1, None, {"b": [True]}],
    ("t", 2),
    {"nested": {"deep": [Decimal("1.5"), "x"]}, "empty": {}},
    {"a", "b"},
    {1, Decimal("2.5")},
    {b"x", b"y"},
]


@pytest.mark.parametrize("value", VALUES, ids=_stable_id)
def test_values_are_stored_as_boto3_stores_them(value):
    ours, theirs = dynamodb_types.serialize(value), TypeSerializer().serialize(value)
    if isinstance(value, set):  # set order is arbitrary on both sides
        assert {k: sorted(v) for k, v in ours.items()} == {k: sorted(v) for k, v in theirs.items()}
    else:
        assert ours == theirs


@pytest.mark.parametrize("value", VALUES, ids=_stable_id)
def test_values_are_read_as_boto3_reads_them(value):
    stored = TypeSerializer().serialize(value)
    ours, theirs = dynamodb_types.deserialize(stored), TypeDeserializer().deserialize(stored)
    assert ours == theirs  # boto3's Binary compares equal to the bytes we give back


@pytest.mark.parametrize(
    "value", [1.5, float("nan"), Decimal("NaN"), Decimal("Infinity"), Decimal("1." + "1" * 40), object()]
)
def test_what_boto3_refuses_is_refused(value):
    with pytest.raises((TypeError, ArithmeticError)) as theirs:
        TypeSerializer().serialize(value)
    with pytest.raises((TypeError, ArithmeticError)) as ours:
        dynamodb_types.serialize(value)
    assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))


def test_an_item_round_trips_to_plain_python():
    item = {"PK": "STUDENT#stu_ana00001", "count": 3, "price": Decimal("19.99"), "tags": {"x"}, "gone": None}
    stored = dynamodb.to_item(item)
    assert "gone" not in stored
    assert dynamodb.from_item(stored) == {"PK": "STUDENT#stu_ana00001", "count": 3, "price": 19.99, "tags": ["x"]}


def test_no_adapter_client_or_secret_read_loads_boto3():
    probe = (
        "import sys; sys.path[:0] = ['layers/core']\n"
        "from integration_core.adapters import dynamodb, eventbridge, kms, probes, scheduler, secrets, ses, sqs\n"
        "[c() for c in (dynamodb.client, eventbridge.client, kms._client, scheduler.client, ses.client, sqs.client)]\n"
        "probes.fast_client('dynamodb'); secrets._client()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 's3transfer')))"
    )
    env = {"PATH": "", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    answer = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, env=env)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "[]", answer.stdout


def test_no_function_loads_boto3_when_it_loads():
    # One interpreter imports every function's handler in turn: whichever first brings boto3 (or
    # s3transfer) in is named. Powertools' idempotency store imports boto3, on its routes only.
    functions = sorted(str(p.parent.relative_to(ROOT)) for p in ROOT.glob("functions/*/app.py"))
    probe = (
        "import sys; sys.path[:0] = ['layers/core']\n"
        f"for folder in {functions!r}:\n"
        "    sys.path.insert(0, folder); import app; sys.path.pop(0); del sys.modules['app']\n"
        "    loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 's3transfer', 'asyncio'))\n"
        "    if loaded: print(folder, loaded[:3]); break\n"
    )
    env = {"PATH": "", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    answer = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, env=env)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "", answer.stdout
