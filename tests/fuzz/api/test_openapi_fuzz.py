"""Schema fuzzing of the whole API, in one process.

Schemathesis reads functions/api_docs/openapi.json and, for every operation, generates requests
that fit the document and requests that break it (wrong types, missing and unknown fields, odd
strings and numbers). Each goes through the template's HTTP API as the local stack serves it
(tests/support/inprocess_api.py: the gateway's routing, the authorizer, payload 2.0 events) to the
handlers, which run against moto in-process with the provider emulators on loopback (one
environment for the whole run, tests/fuzz/conftest.py), with a token of a role drawn per request.
A 5xx, or an answer the document does not describe (status, content type, body schema), fails the
operation and prints the request that caused it.

Bounded: FUZZ_EXAMPLES requests per operation (40 in `make test`, the same ones every run, about
two minutes on two cores; `make fuzz` runs 400 new ones each time). In-process rather than against
`make run`: no worker processes, ports or state shared with the end-to-end tests, and several times
the requests per second on this machine.
"""

from __future__ import annotations

import json
import os

import hypothesis
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from scripts.build_openapi import OUTPUT
from tests.fuzz.conftest import CALLERS

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_dict(json.loads(OUTPUT.read_text()))
# Security parameters are ours (a real token per role), not generated.
schema.config.generation.update(modes=["positive", "negative"], max_examples=EXAMPLES, with_security_parameters=False)
# The coverage phase's boundary cases are thousands per operation; examples and fuzzing remain.
schema.config.phases.coverage.enabled = False
# The document's own examples cannot be combined with the drawn role (schemathesis refuses it).
schema.config.phases.examples.enabled = False


@schema.parametrize()
@schema.given(role=st.sampled_from(sorted(CALLERS)))
@hypothesis.settings(
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    # The same requests every run in `make test`; new ones every run of `make fuzz` (FUZZ_RANDOM=1).
    derandomize=not os.environ.get("FUZZ_RANDOM"),
)
def test_no_request_gets_a_5xx_or_an_answer_the_document_does_not_describe(case, role, fuzz_api):
    headers = {"Authorization": f"Bearer {fuzz_api.tokens[role]}"}
    case.call_and_validate(app=fuzz_api, headers=headers, checks=CHECKS)
