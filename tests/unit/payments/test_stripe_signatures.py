"""The Stripe callback check (`stripe_api.verify_event`) held against the Stripe SDK's own:
what Stripe signs is accepted, and nothing is accepted that the SDK would refuse."""

import json
import time

import pytest
import stripe
from hypothesis import given
from hypothesis import strategies as st

from integration_core.adapters import stripe_api
from integration_core.ports.payments import Callback, CallbackRefused

SECRET = "whsec_test_secret"
BODY = json.dumps({"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1"}}}).encode()


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stripe_api, "_secret", lambda: {"webhookSecret": SECRET})


def signed(body: bytes, timestamp: int, secret: str = SECRET) -> str:
    """The Stripe-Signature header Stripe sends (the SDK's own helper for signing test payloads)."""
    return str(stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp))


def sdk_accepts(body: bytes, header: str) -> bool:
    try:
        return bool(stripe.WebhookSignature.verify_header(body.decode(), header, SECRET, tolerance=300))
    except stripe.SignatureVerificationError:
        return False


def ours_accepts(body: bytes, header: str, now: float | None = None) -> bool:
    try:
        stripe_api.verify_event(body, header, now=now)
    except ValueError:
        return False
    return True


def test_an_event_signed_as_stripe_signs_is_accepted_and_returned() -> None:
    assert stripe_api.verify_event(BODY, signed(BODY, int(time.time()))) == json.loads(BODY)


def test_any_of_several_v1_signatures_may_match_as_during_a_secret_roll() -> None:
    now = int(time.time())
    old = signed(BODY, now, "whsec_old").split(",")[1]
    assert ours_accepts(BODY, f"{signed(BODY, now)},{old}")
    assert ours_accepts(BODY, f"t={now},{old},{signed(BODY, now).split(',')[1]}")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "v1=abc",
        "t=notanumber,v1=abc",
        "t=1700000000",
        "t=1700000000,v0=abc",
    ],
)
def test_a_malformed_header_is_refused(header: str | None) -> None:
    with pytest.raises(ValueError):
        stripe_api.verify_event(BODY, header)


def test_a_tampered_body_another_secret_and_an_old_or_future_timestamp_are_refused() -> None:
    now = int(time.time())
    assert not ours_accepts(BODY + b" ", signed(BODY, now))
    assert not ours_accepts(BODY, signed(BODY, now, "whsec_other"))
    assert not ours_accepts(BODY, signed(BODY, now - 301))
    assert not ours_accepts(BODY, signed(BODY, now + 301))
    assert ours_accepts(BODY, signed(BODY, now - 299))


def test_without_a_configured_secret_nothing_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    now = int(time.time())
    for empty in ("", " ", None):
        monkeypatch.setattr(stripe_api, "_secret", lambda empty=empty: {"webhookSecret": empty})
        assert not ours_accepts(BODY, signed(BODY, now, ""))


headers = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda age, extra, secret: (
            f"t={int(time.time()) - age},{extra}v1=" + signed(BODY, int(time.time()) - age, secret).split("v1=")[1]
        ),
        st.integers(min_value=-400, max_value=400),
        st.sampled_from(["", "v0=abc,", "v1=deadbeef,", "x=1,"]),
        st.sampled_from([SECRET, "whsec_other"]),
    ),
)


@given(header=headers, body=st.sampled_from([BODY, BODY + b"x", b"{}"]))
def test_ours_accepts_only_what_the_sdk_accepts(header: str, body: bytes) -> None:
    if ours_accepts(body, header):
        assert sdk_accepts(body, header)
    # For well-formed headers with a timestamp not ahead of now, the two agree the other way too.
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    well_formed = all(part.count("=") == 1 for part in header.split(",")) and fields.get("t", "x").isdigit()
    if well_formed and int(fields["t"]) <= time.time() and sdk_accepts(body, header):
        assert ours_accepts(body, header)


@pytest.mark.parametrize(
    "event",
    [
        [],
        {"type": "payment_intent.succeeded", "data": {"object": {}}},
        {"id": "", "type": "payment_intent.succeeded", "data": {"object": {}}},
        {"id": 7, "type": "payment_intent.succeeded", "data": {"object": {}}},
        {"id": "evt_1", "type": "x" * 256, "data": {"object": {}}},
        {"id": "evt_1", "type": "payment_intent.succeeded"},
        {"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": None}},
        {"id": "evt_1", "type": "payment_intent.succeeded", "data": []},
    ],
)
def test_a_signed_body_that_is_not_a_stripe_event_is_refused(event):
    body = json.dumps(event).encode()
    headers = {"stripe-signature": signed(body, int(time.time()))}
    with pytest.raises(CallbackRefused, match="not a Stripe event"):
        stripe_api.ADAPTER.verify_callback(body, headers)


def test_a_signed_stripe_event_gives_its_id_type_and_object():
    headers = {"stripe-signature": signed(BODY, int(time.time()))}
    callback = stripe_api.ADAPTER.verify_callback(BODY, headers)
    assert (callback.event_id, callback.event_type, callback.payload) == (
        "evt_1",
        "payment_intent.succeeded",
        {"id": "pi_1"},
    )


@pytest.mark.parametrize(
    ("event", "refused"),
    [
        ({"id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": {"id": "c1"}}, False),
        ({"id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED"}, False),  # PayPal may send no resource
        ({"id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": None}, True),
        ({"id": "WH-1", "resource": {}}, True),
        ("WH-1", True),
    ],
)
def test_the_paypal_envelope_needs_an_id_a_type_and_an_object(event, refused):
    payload = event.get("resource", {}) if isinstance(event, dict) else None
    if refused:
        with pytest.raises(CallbackRefused, match="not a PayPal event"):
            Callback.of(event, "event_type", payload, "PayPal")
    else:
        assert Callback.of(event, "event_type", payload, "PayPal").payload == payload
