"""What shipping bytecode saves a cold start in Lambda, whose code folders are read-only.

The core layer and each measured function are built with the same packaging/Makefile that
`sam build` runs (for this machine's architecture instead of arm64, so that their compiled
wheels load here), into a temporary folder. Then, in alternation, a fresh interpreter imports the
function's handler from that build as it is (each module's bytecode beside it) and from a copy
without any `__pycache__`, run with `-B` as Lambda would leave it (nothing can be written): the
shape SAM's Python builder shipped. botocore comes from the development environment with its
bytecode, as the runtime provides boto3; the handlers load it on their first request, which this
does not make. The ratio is the median of the pairs' ratios.

    .venv/bin/python -m benchmarks.bytecode [--runs 7] [--functions operations,payments,directory]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.support import FUNCTION_ENV, ROOT

PROBE = r"""
import os, sys, time
sys.path[:0] = [os.environ["PROBE_CODE_DIR"], os.environ["PROBE_LAYER_DIR"]]
started = time.perf_counter()
import app
print((time.perf_counter() - started) * 1000)
"""


def without_bytecode(tree: Path, out: Path) -> None:
    shutil.copytree(tree, out, ignore=shutil.ignore_patterns("__pycache__"))


def build(target: str, source: Path, out: Path) -> None:
    """`make build-<target>` of packaging/Makefile in a copy of `source`, as sam build runs it."""
    work = out.parent / f"{out.name}-source"
    without_bytecode(source, work)
    machine = {"x86_64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64"}[platform.machine()]
    subprocess.run(
        ["make", "--makefile", str(ROOT / "packaging" / "Makefile"), f"build-{target}", f"PLATFORM={machine}"],
        cwd=work,
        env=os.environ | {"ARTIFACTS_DIR": str(out), "PYTHON": sys.executable},
        check=True,
        capture_output=True,
    )


def import_ms(code: Path, layer: Path, *, bytecode: bool) -> float:
    env = os.environ | FUNCTION_ENV | {"PROBE_CODE_DIR": str(code), "PROBE_LAYER_DIR": str(layer)}
    env |= {"PYDANTIC_DISABLE_PLUGINS": "__all__"}  # as the template sets it
    command = [sys.executable, *([] if bytecode else ["-B"]), "-c", PROBE]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def run(functions: list[str], runs: int) -> dict[str, dict[str, float]]:
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        build("CoreLayer", ROOT / "layers" / "core", root / "layer")
        without_bytecode(root / "layer", root / "layer-source-only")
        for name in functions:
            build(name, ROOT / "functions" / name, root / name)
            without_bytecode(root / name, root / f"{name}-source-only")
            shipped, source_only = [], []
            for _ in range(runs):
                shipped.append(import_ms(root / name, root / "layer" / "python", bytecode=True))
                source_only.append(
                    import_ms(root / f"{name}-source-only", root / "layer-source-only" / "python", bytecode=False)
                )
            results[name] = {
                "import_ms_with_bytecode": round(statistics.median(shipped), 1),
                "import_ms_without": round(statistics.median(source_only), 1),
                "ratio": round(statistics.median(b / a for a, b in zip(shipped, source_only, strict=True)), 2),
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--functions", default="operations,payments,directory")
    args = parser.parse_args()
    results = run(args.functions.split(","), args.runs)
    print("| function | handler import ms, with bytecode | without (sources only, -B) | without / with |")
    print("|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['import_ms_with_bytecode']} | {r['import_ms_without']} | {r['ratio']:.2f}x |")
    (ROOT / "benchmarks" / "results" / "bytecode.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
