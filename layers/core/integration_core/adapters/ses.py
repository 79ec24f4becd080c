"""Amazon SES: one plain-text email to one recipient (the class reminders)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config


@lru_cache(maxsize=1)
def client() -> Any:
    return boto3.client(
        "ses", config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
    )


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
