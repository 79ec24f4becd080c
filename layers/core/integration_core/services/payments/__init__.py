"""Payments: course payments at any provider behind the payments port (Stripe by card, PayPal),
refunds, subscriptions on plans, provider callbacks, and one ledger across providers.

The ledger holds one payment per attempt under its student (so a student's history is one Query),
with a status that only moves forward (`domain.payments.RANK`, enforced by the store's conditional
writes). A payment becoming succeeded, the enrollment it buys and the events it publishes are one
transaction (ledger.PaymentSuccess): confirm and callbacks may race, repeat or arrive out of order,
and the change still happens exactly once. Provider calls carry an idempotency key derived from the
caller's.

Modules, each read in one sitting: common (who pays, how much, the record as shown), providers
(which adapter speaks for which provider), ledger (the transitions), checkout (course payments and
confirm), refunds, plans, subscriptions, callbacks.
"""

from integration_core.services.payments.checkout import (
    confirm,
    history,
    paypal_process,
    paypal_transaction,
    stripe_initialize,
    stripe_status,
)
from integration_core.services.payments.common import Attempt, reload
from integration_core.services.payments.ledger import advance
from integration_core.services.payments.plans import create_plan, get_plan, list_plans
from integration_core.services.payments.refunds import refund
from integration_core.services.payments.subscriptions import (
    cancel_subscription,
    create_subscription,
    get_subscription,
)

__all__ = [
    "Attempt",
    "advance",
    "cancel_subscription",
    "confirm",
    "create_plan",
    "create_subscription",
    "get_plan",
    "get_subscription",
    "history",
    "list_plans",
    "paypal_process",
    "paypal_transaction",
    "refund",
    "reload",
    "stripe_initialize",
    "stripe_status",
]
