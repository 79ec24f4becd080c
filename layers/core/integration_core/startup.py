"""What every function imports first (its own isort section, see pyproject.toml): two savings on
the init phase, about a quarter of a bare boto3 cold start together, that change nothing else.

- The cyclic garbage collector pauses until the first invocation has been served: an init phase
  makes hundreds of thousands of objects (modules, classes, pydantic schemas) and none of them is
  garbage, so each collection meanwhile is pure cost. Then everything made so far is frozen out of
  the collector's scans (`gc.freeze()`) and it resumes (`first_invocation_served`). Only in Lambda
  (or the local stack's workers), where the handler is then called; a test process that merely
  imports a handler keeps its collector.
- Powertools' packages load what a function uses, not every name their `__init__` re-exports:
  `event_handler/__init__` imports every resolver (AppSync brings asyncio, Bedrock, VPC Lattice,
  ...) and `utilities.data_classes/__init__` every event class. Every Powertools package whose
  `__init__` only re-exports names from its submodules (a docstring, `__all__`, `from .x import y`,
  nothing else) gets a module `__getattr__` (PEP 562) that imports a name's submodule when the
  name is first read. A package whose `__init__` does anything else (the top-level one registers
  its user agent) is imported as usual, so an upgrade that adds work to an `__init__` still runs
  it in full.
"""

from __future__ import annotations

import ast
import gc
import importlib
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType
from typing import Any

from integration_core.config import in_lambda

PACKAGE = "aws_lambda_powertools"


def _reexports(source: str, package: str) -> tuple[dict[str, tuple[str, str]], list[ast.stmt]] | None:
    """name -> (submodule, its name) and the `__dunder__` assignments, or None if the `__init__`
    does anything but re-export."""
    names: dict[str, tuple[str, str]] = {}
    dunders: list[ast.stmt] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.Assign) and all(
            isinstance(t, ast.Name) and t.id.startswith("__") and t.id.endswith("__") for t in node.targets
        ):
            dunders.append(node)
            continue
        if not isinstance(node, ast.ImportFrom) or any(alias.name == "*" for alias in node.names):
            return None
        module = f"{package}.{node.module}" if node.level == 1 else node.module
        if node.level > 1 or not module or not module.startswith(package + "."):
            return None
        for alias in node.names:
            names[alias.asname or alias.name] = (module, alias.name)
    return names, dunders


# Plain classes, as the import system only calls their methods: importlib.abc would import
# importlib.resources (pathlib, tempfile, shutil, ...), a few per cent of a cold start.
class _ReexportingPackage:
    def __init__(self, names: dict[str, tuple[str, str]], dunders: list[ast.stmt]) -> None:
        self.names, self.dunders = names, dunders

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # the default module

    def exec_module(self, module: ModuleType) -> None:
        names = self.names

        def __getattr__(name: str) -> Any:
            if name not in names:
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
            submodule, attribute = names[name]
            value = getattr(importlib.import_module(submodule), attribute)
            setattr(module, name, value)
            return value

        def __dir__() -> list[str]:
            return sorted(set(vars(module)) | set(names))

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        module.__dir__ = __dir__  # type: ignore[method-assign]
        own_dunders = compile(ast.Module(body=self.dunders, type_ignores=[]), module.__file__ or "", "exec")
        exec(own_dunders, vars(module))  # noqa: S102  # the package's own `__all__ = [...]`


class _Finder:
    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if not name.startswith(PACKAGE + ".") or path is None:
            return None
        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.submodule_search_locations is None or not spec.origin:
            return None  # not found here, or a module, not a package
        with open(spec.origin, encoding="utf-8") as init:
            found = _reexports(init.read(), name)
        if found is None:
            return spec
        loader: Any = _ReexportingPackage(*found)  # a Loader in all but name
        lazy = ModuleSpec(name, loader, origin=spec.origin, is_package=True)
        lazy.submodule_search_locations = spec.submodule_search_locations
        lazy.has_location = True
        return lazy


_collector_paused = in_lambda() and gc.isenabled()
if _collector_paused:
    gc.disable()
if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _Finder())


def first_invocation_served() -> None:
    """The init phase is over: what it made stays, out of the collector's scans, which resume."""
    global _collector_paused
    if _collector_paused:
        _collector_paused = False
        gc.freeze()
        gc.enable()
