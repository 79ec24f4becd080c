"""The webhook dispatcher: consumes the delivery queue in batches and reports the messages to try
again later as batch item failures (their visibility already set to the retry schedule's delay).
Thin: the delivery rules live in integration_core.services.delivery."""

from __future__ import annotations

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core.domain.deliveries import DeliveryMessage, MalformedMessage
from integration_core.observability import lambda_handler, logger, metrics
from integration_core.services.delivery import QueuedDelivery, process_batch


def _queued(record: dict) -> QueuedDelivery | None:
    try:
        message = DeliveryMessage.parse(record["body"])
    except MalformedMessage:
        logger.error("malformed delivery message; leaving it to the DLQ", extra={"message_id": record["messageId"]})
        return None
    return QueuedDelivery(
        message_id=record["messageId"],
        receipt_handle=record["receiptHandle"],
        receive_count=int(record.get("attributes", {}).get("ApproximateReceiveCount", "1")),
        delivery_id=message.delivery_id,
        webhook_id=message.webhook_id,
        event_id=message.event_id,
    )


@lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    raw = event.get("Records", [])
    queued = {r["messageId"]: _queued(r) for r in raw}
    # The process's shared sender: its threads and connections to receivers outlive the invocation.
    result = process_batch([q for q in queued.values() if q is not None])
    later = set(result.failed_message_ids) | {m for m, q in queued.items() if q is None}
    logger.info(
        "batch processed",
        extra={
            "messages": len(raw),
            "delivered": result.delivered,
            "retrying": result.retried,
            "dead": result.dead,
            "duplicates": result.duplicates,
        },
    )
    # What an operator alarms on: deliveries that exhausted their retries, and the retry volume.
    metrics.add_metric(name="WebhookDelivered", unit=MetricUnit.Count, value=result.delivered)
    metrics.add_metric(name="WebhookRetried", unit=MetricUnit.Count, value=result.retried)
    metrics.add_metric(name="WebhookDeadLettered", unit=MetricUnit.Count, value=result.dead)
    # The partial batch response (ReportBatchItemFailures): only these messages come back.
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in raw if r["messageId"] in later]}
