"""Amazon SES: one plain-text email to one recipient (the class reminders)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from integration_core.adapters import aws


@lru_cache(maxsize=1)
def client() -> Any:
    return aws.client("ses")


def send_text(sender: str, recipient: str, subject: str, text: str) -> str:
    """Send it; SES's message id. Errors (an unverified sender, throttling) are raised: the caller's
    invocation fails and is tried again."""
    answer = client().send_email(
        Source=sender,
        Destination={"ToAddresses": [recipient]},
        Message={
            "Subject": {"Data": subject, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
        },
    )
    return str(answer["MessageId"])
