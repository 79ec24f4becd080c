"""Each consumer's rule on the bus matches exactly the event types its reactions module declared,
and feeds a queue with a dead letter queue and a function that reports partial batch failures."""

from pathlib import Path

import integration_core.services.calendar.reactions
import integration_core.services.reminders.reactions  # noqa: F401 (declares the reminders' handlers)
from integration_core.domain.events import CATALOG
from integration_core.internal_events import CONSUMERS
from integration_core.services import directory_reactions  # noqa: F401 (declares the directory's handlers)
from integration_core.services.video import reactions as video_reactions  # noqa: F401 (declares video's handlers)
from offline.template import load_template

ROOT = Path(__file__).resolve().parents[3]
RESOURCES = load_template(ROOT / "template.yaml")["Resources"]
# Consumer name -> the prefix of its resources in the template (<Prefix>Rule, Queue, Function).
PREFIXES = {
    "directory": "DirectoryEvents",
    "reminders": "RemindersEvents",
    "calendar": "CalendarEvents",
    "video": "VideoEvents",
}


def test_every_consumer_has_its_rule_queue_dlq_and_function():
    assert set(CONSUMERS) == set(PREFIXES)
    for name, prefix in PREFIXES.items():
        rule = RESOURCES[f"{prefix}Rule"]["Properties"]
        assert rule["EventBusName"] == {"Ref": "DomainEventBus"}
        assert rule["EventPattern"]["source"] == ["school.integration"]
        assert sorted(rule["EventPattern"]["detail-type"]) == CONSUMERS[name].event_types
        [target] = rule["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [f"{prefix}Queue", "Arn"]}
        queue = RESOURCES[f"{prefix}Queue"]["Properties"]
        assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [f"{prefix}DeadLetterQueue", "Arn"]}
        assert queue["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "InternalEventMaxReceiveCount"}
        function = RESOURCES[f"{prefix}Function"]["Properties"]
        # Its one SQS source is its queue (video's function also runs video's schedule).
        [source] = [e for e in function["Events"].values() if e["Type"] == "SQS"]
        assert source["Properties"]["Queue"] == {"Fn::GetAtt": [f"{prefix}Queue", "Arn"]}
        assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        # Lambda's advice: the visibility timeout at least 6 times the function's timeout.
        assert int(queue["VisibilityTimeout"]) >= 6 * int(function["Timeout"])


def test_consumers_declare_only_catalog_types():
    for owner in CONSUMERS.values():
        assert set(owner.event_types) <= set(CATALOG), owner.name
