"""Which adapter speaks for which provider. An adapter module loads on first use, so a function that
talks to one provider (or none: history, plans) never imports the others' SDKs."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from integration_core.domain.payments import Provider
from integration_core.ports.payments import PaymentProvider

ADAPTERS = {
    Provider.STRIPE: "integration_core.adapters.stripe_api",
    Provider.PAYPAL: "integration_core.adapters.paypal_api",
}


def adapter(provider: Provider | str) -> PaymentProvider:
    module = importlib.import_module(ADAPTERS[Provider(provider)])
    found: PaymentProvider = module.ADAPTER
    return found


def only_for(feature: Callable[[PaymentProvider], bool]) -> str:
    """ "only for Stripe": the reason a request names what its provider does not take."""
    names = [adapter(p).name for p in ADAPTERS if feature(adapter(p))]
    return "only for " + " or ".join(names)
