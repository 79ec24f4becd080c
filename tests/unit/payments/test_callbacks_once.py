"""Provider callbacks against in-memory fakes: a callback is applied once however often it comes,
one about a record not yet written is asked for again later, and the adapters turn provider payloads
into provider events (the services never read them)."""

from __future__ import annotations

import pytest

from integration_core.adapters import paypal_api, stripe_api
from integration_core.domain.payments import PaymentStatus, Provider, SubscriptionStatus
from integration_core.errors import BadRequest
from integration_core.ports.payments import (
    Callback,
    CallbackRefused,
    PaymentChanged,
    PaymentRefunded,
    SubscriptionChanged,
    SubscriptionCharged,
    Unrelated,
)
from integration_core.services.payments import callbacks
from tests.unit.payments.conftest import provider_says


def _deliver(world, body: bytes, event_type: str, event) -> callbacks.Outcome:
    world.provider.callbacks[body] = (Callback(body.decode(), event_type, {}), event)
    return callbacks.receive(Provider.STRIPE, body, {})


def test_a_success_delivered_three_times_is_applied_once(world):
    item = world.payment()
    event = PaymentChanged(item["payment_id"], item["transaction_id"], provider_says(item, PaymentStatus.SUCCEEDED))
    outcomes = [_deliver(world, b"evt_1", "payment_intent.succeeded", event) for _ in range(3)]
    assert [(o.applied, o.note) for o in outcomes] == [
        (True, ""),
        (False, "already applied"),
        (False, "already applied"),
    ]
    assert world.event_types() == ["payment_completed", "student_enrolled"]
    assert world.stored(item)["status"] == "succeeded"


def test_two_events_of_one_success_change_it_once(world):
    item = world.payment()
    update = provider_says(item, PaymentStatus.SUCCEEDED)
    first = _deliver(world, b"evt_1", "payment_intent.succeeded", PaymentChanged(None, item["transaction_id"], update))
    second = _deliver(world, b"evt_2", "charge.succeeded", PaymentChanged(item["payment_id"], None, update))
    assert (first.applied, second.applied) == (True, False)
    assert world.event_types().count("payment_completed") == 1


def test_an_event_about_a_payment_not_yet_written_is_asked_for_again(world):
    update = provider_says({"transaction_id": "pi_x", "amount_minor": 5000, "currency": "USD"}, PaymentStatus.SUCCEEDED)
    with pytest.raises(callbacks.NotYetKnown) as later:
        _deliver(world, b"evt_1", "payment_intent.succeeded", PaymentChanged("pay_notyet01", "pi_x", update))
    assert later.value.status == 409
    assert world.state.provider_events == set()  # not recorded: the next delivery is applied


def test_an_event_about_nothing_of_ours_is_recorded_and_changes_nothing(world):
    outcome = _deliver(world, b"evt_1", "invoice.paid", Unrelated())
    assert outcome.applied is False
    assert ("stripe", "evt_1") in world.state.provider_events
    assert _deliver(world, b"evt_1", "invoice.paid", Unrelated()).note == "already applied"


def test_an_event_type_the_ledger_does_not_use_is_acknowledged(world):
    outcome = _deliver(world, b"evt_1", "customer.created", None)
    assert (outcome.applied, outcome.note) == (False, "not an event this service uses")


def test_a_refused_callback_is_a_400_naming_why(world, monkeypatch):
    def refuse(raw_body, headers):
        raise CallbackRefused("the signature is not valid")

    monkeypatch.setattr(world.provider, "verify_callback", refuse)
    with pytest.raises(BadRequest, match="the signature is not valid"):
        callbacks.receive(Provider.STRIPE, b"{}", {})


# ---------------------------------------------------------------- the adapters' parsing
def _stripe(kind: str, obj: dict):
    return stripe_api.ADAPTER.parse_callback(Callback("evt_1", kind, obj))


def _paypal(kind: str, resource: dict):
    return paypal_api.ADAPTER.parse_callback(Callback("WH-1", kind, resource))


def test_stripe_an_invoice_names_its_subscription_on_its_parent():
    invoice = {
        "id": "in_1",
        "amount_paid": 1500,
        "amount_due": 1500,
        "currency": "usd",
        "parent": {"subscription_details": {"subscription": "sub_1", "metadata": {"subscription_id": "sbs_ours0001"}}},
    }
    event = _stripe("invoice.paid", invoice)
    assert isinstance(event, SubscriptionCharged)
    assert (event.provider_id, event.awaited, event.charge_id, event.succeeded) == (
        "sub_1",
        "sbs_ours0001",
        "in_1",
        True,
    )
    assert (event.amount.amount_minor, event.amount.currency) == (1500, "USD")
    assert _stripe("invoice.paid", {"id": "in_2", "currency": "usd"}) == Unrelated()


def test_stripe_a_refunded_charge_asks_which_refunds_and_a_deleted_subscription_is_cancelled():
    event = _stripe("charge.refunded", {"id": "ch_1", "payment_intent": "pi_1", "metadata": {"payment_id": "pay_1"}})
    assert event == PaymentRefunded(None, "pi_1", "pay_1", None)
    sub = {"id": "sub_1", "status": "active", "metadata": {"subscription_id": "sbs_1"}}
    deleted = _stripe("customer.subscription.deleted", sub)
    assert isinstance(deleted, SubscriptionChanged)
    assert (deleted.reference, deleted.status) == ("sbs_1", SubscriptionStatus.CANCELED)
    assert _stripe("customer.created", {}) is None


def test_paypal_a_capture_names_its_order_in_supplementary_data():
    capture = {
        "id": "CAP1",
        "custom_id": "pay_ours0001",
        "amount": {"value": "12.50", "currency_code": "EUR"},
        "supplementary_data": {"related_ids": {"order_id": "ORDER1"}},
    }
    event = _paypal("PAYMENT.CAPTURE.COMPLETED", capture)
    assert isinstance(event, PaymentChanged)
    assert (event.reference, event.provider_id, event.update.capture_id) == ("pay_ours0001", "ORDER1", "CAP1")
    assert (event.update.status, event.update.amount_minor) == (PaymentStatus.SUCCEEDED, 1250)
    denied = _paypal("PAYMENT.CAPTURE.DENIED", capture)
    assert (denied.update.status, denied.update.failure_code) == (PaymentStatus.FAILED, "DENIED")


def test_paypal_a_refund_names_its_capture_in_the_up_link_and_a_sale_its_agreement():
    refund = {
        "id": "REF1",
        "custom_id": "pay_ours0001",
        "status": "COMPLETED",
        "amount": {"value": "5.00", "currency_code": "USD"},
        "links": [{"rel": "up", "href": "https://api.paypal.example/v2/payments/captures/CAP1"}],
    }
    event = _paypal("PAYMENT.CAPTURE.REFUNDED", refund)
    assert isinstance(event, PaymentRefunded)
    assert (event.provider_id, event.awaited, [r.refund_id for r in event.refunds]) == (
        "CAP1",
        "pay_ours0001",
        ["REF1"],
    )
    sale = {
        "id": "SALE1",
        "billing_agreement_id": "I-SUB1",
        "state": "completed",
        "amount": {"total": "9.99", "currency": "USD"},
    }
    charged = _paypal("PAYMENT.SALE.COMPLETED", sale)
    assert isinstance(charged, SubscriptionCharged)
    assert (charged.provider_id, charged.charge_id, charged.amount.amount_minor, charged.succeeded) == (
        "I-SUB1",
        "SALE1",
        999,
        True,
    )
