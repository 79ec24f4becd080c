"""Crash injection (tests/e2e/faults/consumers.py says what each consumer does and checks): every
event consumer's worker is SIGKILLed at its point of each phase of a batch, and once the system
has settled nothing was lost and nothing happened twice beyond at-least-once delivery.

`make test` runs each consumer at its telling point: after the provider or receiver call and
before its record (or, for a consumer without a call, after its record and before the
acknowledgement). `make crash` (CRASH_POINTS=all) runs every consumer at every point."""

from __future__ import annotations

import os

import pytest

from tests.e2e.faults.consumers import CONSUMERS, PHASES, World

EVERY_POINT = os.environ.get("CRASH_POINTS") == "all"
DEFAULT_PHASES = ("after_call", "after_record")  # the first of these each consumer has


def _cases() -> list[tuple[str, str, int, str]]:
    cases = []
    for consumer in CONSUMERS:
        phases = [p for p in PHASES if p in consumer.points]
        if not EVERY_POINT:
            phases = [next(p for p in (*DEFAULT_PHASES, "before_ack") if p in consumer.points)]
        cases += [(consumer.name, *consumer.points[phase], phase) for phase in phases]
    return cases


@pytest.mark.parametrize(("consumer", "point", "nth", "phase"), _cases(), ids=lambda v: str(v).replace(" ", "-"))
def test_a_consumer_killed_at_this_point_of_a_batch_loses_nothing_and_does_nothing_twice(
    consumer, point, nth, phase, crash, crash_stack, api
):
    scenario = next(c.scenario for c in CONSUMERS if c.name == consumer)
    scenario(World(crash_stack[0], api), crash, point, nth)
