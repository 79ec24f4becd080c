"""Checks what `sam build` made (packaging/Makefile): every Python source of the layer and of each
function has its bytecode beside it, for the runtime's Python (3.11) and as an unchecked hash, so
that a cold start in Lambda (read-only code folders) imports it instead of compiling the source.

    .venv/bin/python scripts/check_bytecode.py [.aws-sam/build]
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

RUNTIME = (3, 11)
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked


def problems(sources: list[Path]) -> list[str]:
    found = []
    for source in sources:
        cached = Path(importlib.util.cache_from_source(str(source)))
        if not cached.exists():
            found.append(f"{source}: no {cached.name}")
            continue
        header = cached.read_bytes()[:8]
        if header[:4] != importlib.util.MAGIC_NUMBER:
            found.append(f"{cached}: not Python {RUNTIME[0]}.{RUNTIME[1]} bytecode")
        elif int.from_bytes(header[4:8], "little") != UNCHECKED_HASH:
            found.append(f"{cached}: not an unchecked hash (Lambda would compile the source again)")
    return found


def main() -> int:
    if sys.version_info[:2] != RUNTIME:
        print(f"check_bytecode: run with Python {RUNTIME[0]}.{RUNTIME[1]}, the runtime's", file=sys.stderr)
        return 2
    build_dir = Path(sys.argv[1] if len(sys.argv) > 1 else ".aws-sam/build")
    sources = sorted(build_dir.rglob("*.py"))
    found = problems(sources) if sources else [f"{build_dir}: no Python sources (run sam build first)"]
    for line in found[:20]:
        print(line, file=sys.stderr)
    if found:
        print(f"check_bytecode: {len(found)} sources without their bytecode", file=sys.stderr)
        return 1
    print(f"bytecode: each of the {len(sources)} sources has its own")
    return 0


if __name__ == "__main__":
    sys.exit(main())
