"""Where the provider specifications come from, and which of them are active.

Three sources, in this order (see offline/sandbox/specs/README.md):
- carried in the repository, with their licences: offline/sandbox/specs/<provider>/...;
- a pinned package: Google's discovery documents inside google-api-python-client;
- an optional folder (PROVIDER_SPECS_DIR) for documents whose licence does not let us carry them
  (Zoom's).
A document that no source has is reported as missing, with what would bring it, so the sandbox never
validates against nothing without saying so.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

CARRIED = Path(__file__).resolve().parent / "specs"
GOOGLE_PACKAGE = "google-api-python-client"

# Every document an emulator may ask for: its name (as emulators list it) and where it may come from.
KNOWN: dict[str, str] = {
    "paypal/checkout_orders_v2.json": "repository",
    "paypal/payments_payment_v2.json": "repository",
    "paypal/billing_subscriptions_v1.json": "repository",
    "paypal/notifications_webhooks_v1.json": "repository",
    "microsoft-graph/v1.0-metadata.xml": "repository",
    "google/calendar.v3.json": "package",
    "zoom/meetings.json": "optional",
    "zoom/meeting-events.json": "optional",
}


@dataclass(frozen=True)
class SpecStatus:
    name: str
    path: Path | None  # None: not available
    origin: str  # where it was found, or why it is missing and what brings it

    @property
    def active(self) -> bool:
        return self.path is not None


def _google_documents() -> tuple[Path | None, str]:
    spec = importlib.util.find_spec("googleapiclient")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None, f"the {GOOGLE_PACKAGE} package is not installed (make install)"
    folder = Path(next(iter(spec.submodule_search_locations))) / "discovery_cache" / "documents"
    return folder, f"{GOOGLE_PACKAGE} {importlib.metadata.version(GOOGLE_PACKAGE)}"


def locate(name: str, optional_dir: Path | None) -> SpecStatus:
    """Where the document `name` is, or why it is not there."""
    kind = KNOWN.get(name, "repository")
    if kind == "repository":
        path = CARRIED / name
        return SpecStatus(name, path, "repository") if path.is_file() else SpecStatus(name, None, f"missing: {path}")
    if kind == "package":
        folder, origin = _google_documents()
        path = folder / Path(name).name if folder else None
        if path and path.is_file():
            return SpecStatus(name, path, origin)
        return SpecStatus(name, None, origin if folder is None else f"missing from {origin}")
    if optional_dir is not None and (optional_dir / name).is_file():
        return SpecStatus(name, optional_dir / name, f"PROVIDER_SPECS_DIR ({optional_dir})")
    return SpecStatus(name, None, "not carried for its licence; set PROVIDER_SPECS_DIR to a folder holding it")


def catalog(optional_dir: Path | None) -> list[SpecStatus]:
    return [locate(name, optional_dir) for name in KNOWN]


def summary(optional_dir: Path | None) -> list[str]:
    """One line per provider: its active documents and their origin, or what is missing."""
    by_provider: dict[str, list[SpecStatus]] = {}
    for status in catalog(optional_dir):
        by_provider.setdefault(status.name.split("/", 1)[0], []).append(status)
    lines = []
    for provider, statuses in by_provider.items():
        active = [s for s in statuses if s.active]
        missing = [s for s in statuses if not s.active]
        parts = []
        if active:
            origins = sorted({s.origin for s in active})
            parts.append(f"{len(active)} active ({', '.join(origins)})")
        if missing:
            names = ", ".join(Path(s.name).name for s in missing)
            parts.append(f"absent: {names} ({missing[0].origin})")
        lines.append(f"{provider}: {'; '.join(parts)}")
    return lines
