"""The bus's asynchronous half in component tests: what an event source mapping does with a
consumer's queue (receive a batch, call the function, delete what it did not report failed)."""

from __future__ import annotations

from typing import Any

import boto3

from tests.support.aws import consumer_queues
from tests.support.lambdas import LambdaContext, load_function

# Function logical id -> its folder under functions/.
FOLDERS = {"DirectoryEventsFunction": "directory_events", "RemindersEventsFunction": "reminders_events"}


def deliver_bus_events(function: str = "DirectoryEventsFunction", rounds: int = 20) -> list[dict[str, Any]]:
    """Hand the function what its queue holds until the queue is empty (or `rounds` batches);
    returns each batch's answer."""
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=consumer_queues()[function])["QueueUrl"]
    answers = []
    for _ in range(rounds):
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0
        ).get("Messages", [])
        if not messages:
            break
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "eventSource": "aws:sqs",
            }
            for m in messages
        ]
        answer = load_function(FOLDERS[function]).handler({"Records": records}, LambdaContext())
        answers.append(answer)
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return answers
