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
confirm), refunds, plans, subscriptions, callbacks. Each is imported by name: the package loads
none of them, so the callback function does not load the API's models with checkout.
"""
