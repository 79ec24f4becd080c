"""The fuzzing's tally: how many requests it made and what they were answered, printed at the end
(an empty tally would mean the fuzzing tested nothing)."""

from __future__ import annotations

from collections import Counter

ANSWERS: Counter[int] = Counter()


def pytest_terminal_summary(terminalreporter) -> None:
    if ANSWERS:
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(ANSWERS.items()))
        terminalreporter.write_line(f"schema fuzzing: {sum(ANSWERS.values())} requests answered ({statuses})")
