"""Domain errors. Every failure a caller can see is one of these; the HTTP edge turns them into
RFC 9457 `application/problem+json` answers in one place (`integration_core.http`)."""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://integration.school.example/problems/"
PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    status = 500
    slug = "internal-error"
    title = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        retry_after: int | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.retry_after = retry_after
        self.extensions = extensions

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        if self.retry_after is not None:
            body["retryAfter"] = self.retry_after
        body.update(self.extensions)
        return body


class BadRequest(DomainError):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"


class UnsupportedMediaType(DomainError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class Unprocessable(DomainError):
    status, slug, title = 422, "validation-error", "The request is not valid"


class PaymentRequired(DomainError):
    status, slug, title = 402, "payment-failed", "Payment failed"


class TooManyRequests(DomainError):
    status, slug, title = 429, "too-many-requests", "Too Many Requests"


class ProviderRejected(DomainError):
    """The provider understood the call and refused it; retrying the same call will not help."""

    status, slug, title = 502, "provider-rejected", "The provider rejected the request"


class ProviderUnavailable(DomainError):
    """The provider (or an AWS dependency) is down, slow or throttling; the caller may retry."""

    status, slug, title = 503, "provider-unavailable", "A provider is unavailable"

    def __init__(self, detail: str, *, retry_after: int = 5, **extensions: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extensions)


def field_error(field: str, reason: str) -> dict[str, str]:
    return {"field": field, "reason": reason}


def invalid(field: str, reason: str) -> Unprocessable:
    """A 422 naming one field, for rules a model cannot express (a price the currency cannot hold)."""
    return Unprocessable(f"{field}: {reason}", errors=[field_error(field, reason)])


class QuotaExhausted(DomainError):
    """A provider's allowance for the day is used up (Zoom: 100 meeting creates and updates per
    user per UTC day): a 429 naming when it refills (`resetsAt`), never retried blindly."""

    status, slug, title = 429, "provider-quota-exhausted", "The provider's daily quota is used up"
