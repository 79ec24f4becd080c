"""Settings of the payments capability, read once from the environment the template sets
(`PaymentReturnUrl`, `PaymentReturnOrigins`, `FullRefundEndsEnrollment`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from integration_core.domain.payments import origin

DEFAULT_RETURN_URL = "https://app.school.example/payments"


@dataclass(frozen=True)
class PaymentSettings:
    return_url: str  # PayPal sends the buyer back to <this>/return and <this>/cancel by default
    return_origins: frozenset[str]  # the only origins a request's returnUrl/cancelUrl may name
    full_refund_ends_enrollment: bool


@lru_cache(maxsize=1)
def payment_settings() -> PaymentSettings:
    env = os.environ
    # PAYMENT_RETURN_ORIGINS is the template's PaymentReturnOrigins, or AllowedOrigins when that is empty.
    raw = env.get("PAYMENT_RETURN_ORIGINS") or env.get("ALLOWED_ORIGINS") or "https://app.school.example"
    return PaymentSettings(
        return_url=env.get("PAYMENT_RETURN_URL") or DEFAULT_RETURN_URL,
        return_origins=frozenset(origin(o.strip()) for o in raw.split(",") if o.strip()),
        full_refund_ends_enrollment=env.get("FULL_REFUND_ENDS_ENROLLMENT", "true").lower() != "false",
    )


@dataclass(frozen=True)
class ProviderSettings:
    stripe_secret_name: str
    paypal_secret_name: str
    timeout_seconds: float  # the template's ProviderTimeoutSeconds


def provider_settings() -> ProviderSettings:
    # Read on every call (it is three lookups): the secret names are fixed per deployment, and
    # reading them late lets a test point a warm process at another secret.
    env = os.environ
    return ProviderSettings(
        stripe_secret_name=env.get("STRIPE_SECRET_NAME", ""),
        paypal_secret_name=env.get("PAYPAL_SECRET_NAME", ""),
        timeout_seconds=float(env.get("PROVIDER_TIMEOUT_SECONDS", "5")),
    )
