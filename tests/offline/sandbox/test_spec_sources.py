"""The sandbox validates against specifications the repository carries (or a pinned package
installs), says which are absent, and takes the optional ones from PROVIDER_SPECS_DIR."""

from __future__ import annotations

import json

from offline.sandbox import spec_sources
from offline.sandbox.base import SandboxContext, SandboxRequest
from offline.sandbox.callbacks import Callbacks
from offline.sandbox.providers.paypal import PayPal
from offline.sandbox.server import Sandbox, specification_report


def test_paypal_is_validated_against_documents_carried_in_the_repository_with_their_licence():
    emulator = PayPal(SandboxContext(Callbacks({})))
    assert len(emulator.documents) == 4 and not emulator.missing_specs
    for document in emulator.documents:
        assert spec_sources.CARRIED in document.path.parents
        assert (document.path.parent / "LICENSE").is_file()
    bad = SandboxRequest("POST", "/v2/checkout/orders", {}, {"content-type": "application/json"}, b'{"intent": 5}')
    assert [v.field for v in emulator.validate(bad) if v.kind in ("type", "enum")], "a wrong intent is a violation"


def test_googles_discovery_document_comes_from_the_pinned_package():
    status = spec_sources.locate("google/calendar.v3.json", None)
    assert status.active and "google-api-python-client" in status.origin
    assert json.loads(status.path.read_text())["name"] == "calendar"


def test_zoom_is_reported_absent_without_an_optional_folder_and_active_with_one(tmp_path):
    absent = spec_sources.locate("zoom/meetings.json", None)
    assert not absent.active and "PROVIDER_SPECS_DIR" in absent.origin
    assert any("zoom" in line and "absent" in line for line in specification_report(None))
    (tmp_path / "zoom").mkdir()
    (tmp_path / "zoom" / "meetings.json").write_text('{"openapi": "3.0.0", "paths": {}}')
    present = spec_sources.locate("zoom/meetings.json", tmp_path)
    assert present.active and present.path == tmp_path / "zoom" / "meetings.json"


def test_the_providers_control_lists_active_and_absent_documents():
    sandbox = Sandbox(SandboxContext(Callbacks({})))
    from offline.http import Request

    listed = sandbox(Request("GET", "/_sandbox/providers", "", [], b"", "127.0.0.1", "localhost")).body
    by_prefix = {p["prefix"]: p for p in json.loads(listed)}
    assert len(by_prefix["paypal"]["specs"]) == 4 and by_prefix["paypal"]["specsMissing"] == []
    assert any("NOT validated" in line for line in sandbox.validation_report() if line.startswith("stripe"))
