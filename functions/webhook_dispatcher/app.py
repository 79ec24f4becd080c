"""The webhook dispatcher: consumes the delivery queue in batches and reports the messages to try
again later as batch item failures (their visibility already set to the retry schedule's delay).
Thin: the delivery rules live in integration_core.services.delivery."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from integration_core.domain.webhooks import DELIVERY_ID_PATTERN, EVENT_ID_PATTERN, WEBHOOK_ID_PATTERN
from integration_core.observability import logger, metrics
from integration_core.services.delivery import QueuedDelivery, process_batch


class DeliveryMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    delivery_id: str = Field(alias="deliveryId", pattern=DELIVERY_ID_PATTERN)
    webhook_id: str = Field(alias="webhookId", pattern=WEBHOOK_ID_PATTERN)
    event_id: str = Field(alias="eventId", pattern=EVENT_ID_PATTERN)


class RetryLater(Exception):
    """Marks a record as a batch item failure: SQS shows it again when its visibility ends."""


def _queued(record: dict) -> QueuedDelivery | None:
    try:
        message = DeliveryMessage.model_validate_json(record["body"])
    except ValidationError:
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


@logger.inject_lambda_context(clear_state=True)
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

    def outcome(record: SQSRecord) -> None:
        if record.message_id in later:
            raise RetryLater(record.message_id)

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=outcome, processor=processor, context=context)
