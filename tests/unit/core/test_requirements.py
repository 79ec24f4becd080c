"""Every requirements file installs on a fresh machine: nothing names a local path or a URL, every
package is pinned to one version, and the lock files are the resolver's output (`make lock`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FILES = sorted(
    [
        *ROOT.glob("requirements/*.txt"),
        *ROOT.glob("requirements/*.in"),
        *ROOT.glob("layers/*/requirements.*"),
        *ROOT.glob("functions/*/requirements.*"),
    ]
)
LOCKS = [
    ROOT / "requirements" / "constraints.txt",
    ROOT / "requirements" / "sam.txt",
    *ROOT.glob("layers/*/requirements.txt"),
    *ROOT.glob("functions/*/requirements.txt"),
]
PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==[A-Za-z0-9.+!-]+(\s*;\s*[^@]+)?$")
INCLUDE = re.compile(r"^-[rc]\s+(\S+)$")


def _lines(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            found.append((number, line))
    return found


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for _, line in _lines(path):
        if not INCLUDE.match(line):
            name, version = line.split(";")[0].split("==")
            pins[re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()] = version.strip()
    return pins


def test_the_requirement_files_are_found():
    assert len(FILES) >= 8 and all(path in FILES for path in LOCKS)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_line_is_a_pinned_package_or_an_include_of_a_file_in_the_repository(path):
    for number, line in _lines(path):
        where = f"{path.relative_to(ROOT)}:{number}: {line}"
        assert "://" not in line and " @ " not in line and not line.startswith(("-e", "--")), where
        include = INCLUDE.match(line)
        if include:
            target = (path.parent / include.group(1)).resolve()
            assert target.is_file() and ROOT in target.parents, where
        else:
            assert PINNED.match(line), f"not pinned to one version: {where}"


@pytest.mark.parametrize("path", LOCKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_lock_files_are_written_by_the_lock_command(path):
    assert "#    make lock" in path.read_text(), f"{path.relative_to(ROOT)}: regenerate it with `make lock`"


def test_the_development_pins_agree_with_the_lock():
    locked = _pins(ROOT / "requirements" / "constraints.txt")
    for source in [ROOT / "requirements" / "dev.txt", *ROOT.glob("functions/*/requirements.in")]:
        for name, version in _pins(source).items():
            assert locked.get(name) == version, f"{source.relative_to(ROOT)}: {name}=={version}; run `make lock`"
