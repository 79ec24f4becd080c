"""Runs every benchmark script in this folder, one after another (`make bench`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SKIP = {"__init__.py", "support.py", "run_all.py"}


def main() -> int:
    failed = []
    for script in sorted(p for p in HERE.glob("*.py") if p.name not in SKIP):
        print(f"\n## {script.stem}", flush=True)
        if subprocess.run([sys.executable, "-m", f"benchmarks.{script.stem}"], cwd=HERE.parent).returncode:
            failed.append(script.stem)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
