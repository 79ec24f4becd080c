"""Every function answers its sample event from events/ (the events a deployer can replay with
`sam local invoke -e` or the console's test button)."""

from tests.support.lambdas import LambdaContext, invoke, load_function, sample_event


def test_webhooks_sample_lists_the_users_webhooks(aws):
    answer = invoke("webhooks", sample_event("webhooks/list_user_webhooks.json"))
    assert (answer.status, answer.body["items"]) == (200, [])


def test_dispatcher_sample_batch_of_an_unknown_delivery_is_consumed_not_retried(aws):
    result = load_function("webhook_dispatcher").handler(
        sample_event("webhook_dispatcher/sqs_batch.json"), LambdaContext()
    )
    assert result == {"batchItemFailures": []}


def test_maintenance_samples_run_their_task(aws):
    handler = load_function("webhook_maintenance").handler
    assert handler(sample_event("webhook_maintenance/sweep.json"), LambdaContext())["task"] == "sweep"
    assert handler(sample_event("webhook_maintenance/auto_disable.json"), LambdaContext()) == {
        "task": "auto_disable",
        "disabled": [],
    }


def test_payments_sample_reads_an_empty_history(aws):
    answer = invoke("payments", sample_event("payments/get_history.json"))
    assert (answer.status, answer.body) == (200, {"items": [], "nextCursor": None})


def test_calendar_sample_shows_a_user_not_connected(aws):
    answer = invoke("calendar", sample_event("calendar/get_status.json"))
    assert (answer.status, answer.body["connected"], answer.body["status"]) == (200, False, "not_connected")


def test_calendar_events_sample_of_an_unknown_course_is_consumed_not_retried(aws):
    result = load_function("calendar_events").handler(
        sample_event("calendar_events/student_enrolled.json"), LambdaContext()
    )
    assert result == {"batchItemFailures": []}
