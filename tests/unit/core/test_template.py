"""Rules of template.yaml that a review would otherwise have to remember."""

from pathlib import Path

from offline.template import load_template

ROOT = Path(__file__).resolve().parents[3]
RESOURCES = load_template(ROOT / "template.yaml")["Resources"]
FUNCTIONS = {k: v["Properties"] for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
# SAM policy templates that grant dynamodb:Scan.
SCANNING_TEMPLATES = {"DynamoDBCrudPolicy", "DynamoDBReadPolicy", "DynamoDBReconfigurePolicy"}


def _statements(policies) -> list[dict]:
    """The statements a function's Policies grant: its inline ones and those of the managed policies
    it references (SAM policy templates are not statements)."""
    found = []
    for policy in policies or []:
        if isinstance(policy, dict) and set(policy) == {"Ref"}:
            managed = RESOURCES[policy["Ref"]]
            assert managed["Type"] == "AWS::IAM::ManagedPolicy", policy
            found += managed["Properties"]["PolicyDocument"]["Statement"]
        elif isinstance(policy, dict):
            found += policy.get("Statement", [])
    return found


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _actions(policies) -> list[str]:
    return [action for statement in _statements(policies) for action in _listed(statement.get("Action", []))]


def test_no_function_may_scan_a_table():
    for name, props in FUNCTIONS.items():
        policies = props.get("Policies") or []
        templates = {key for p in policies if isinstance(p, dict) for key in p}
        assert not templates & SCANNING_TEMPLATES, f"{name} uses a policy template that allows Scan"
        assert not [a for a in _actions(policies) if a in ("dynamodb:Scan", "dynamodb:*", "*")], name


def test_every_function_has_a_sample_event():
    for name, props in FUNCTIONS.items():
        folder = ROOT / "events" / Path(props["CodeUri"]).name
        assert list(folder.glob("*.json")), f"{name} has no sample event in {folder}"


def test_api_functions_answer_within_api_gateways_30_second_limit():
    for name, props in FUNCTIONS.items():
        events = (props.get("Events") or {}).values()
        if any(e["Type"] == "HttpApi" for e in events):
            assert int(props.get("Timeout", 10)) <= 29, name


def test_the_catalog_is_anonymous_only_when_the_school_sets_catalog_public():
    """Exactly one function serves each catalog route whatever the parameter: without a token
    requirement only when CatalogPublic is true."""
    from offline.template import Resolver

    document = load_template(ROOT / "template.yaml")
    for public, authorizer in (("false", None), ("true", "NONE")):
        resolver = Resolver(document, "t", {"CatalogPublic": public})
        served: dict[str, list] = {}
        for resource in document["Resources"].values():
            if resource["Type"] != "AWS::Serverless::Function" or not resolver.included(resource):
                continue
            for event in (resource["Properties"].get("Events") or {}).values():
                if event["Type"] == "HttpApi":
                    spec = event["Properties"]
                    served.setdefault(spec["Path"], []).append(((spec.get("Auth") or {}).get("Authorizer"), resource))
        for path in ("/api/v1/integration/directory/catalog", "/api/v1/integration/directory/catalog/{courseId}"):
            [(found, resource)] = served[path]
            assert found == authorizer, (public, path)
            assert resource["Properties"]["Environment"]["Variables"]["CATALOG_PUBLIC"] == public


def test_a_key_given_twice_is_refused_not_silently_replaced(tmp_path):
    import pytest

    from offline.template import TemplateError

    doubled = tmp_path / "template.yaml"
    doubled.write_text(
        "Conditions:\n  A: !Equals [a, a]\nResources:\n  T: {Type: AWS::SQS::Queue}\nConditions:\n  B: x\n"
    )
    with pytest.raises(TemplateError, match="duplicate key 'Conditions'"):
        load_template(doubled)


def test_every_function_with_a_paged_list_route_may_read_the_cursor_key():
    import re

    for name, props in FUNCTIONS.items():
        app = (ROOT / props["CodeUri"] / "app.py").read_text()
        if not re.search(r"\bcursor: Cursor\b", app):
            continue
        readable = [
            p["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]
            for p in props.get("Policies") or []
            if isinstance(p, dict) and "AWSSecretsManagerGetSecretValuePolicy" in p
        ] + [
            resource
            for statement in _statements(props.get("Policies"))
            if "secretsmanager:GetSecretValue" in _listed(statement.get("Action", []))
            for resource in _listed(statement.get("Resource", []))
        ]
        assert {"Ref": "CursorKeySecret"} in readable, f"{name} pages lists but cannot read CursorKeySecret"
    assert RESOURCES["CursorKeySecret"]["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32


def _inline_statements(policies) -> list[dict]:
    return [s for p in policies or [] if isinstance(p, dict) and "Statement" in p for s in p["Statement"]]


def test_no_two_functions_repeat_an_inline_policy_statement():
    """An access need two functions share is an AWS::IAM::ManagedPolicy they both reference."""
    import json

    seen: dict[str, str] = {}
    for name, props in FUNCTIONS.items():
        for statement in _inline_statements(props.get("Policies")):
            for action in _listed(statement.get("Action", [])):
                for resource in _listed(statement.get("Resource", [])):
                    grant = json.dumps([statement.get("Effect"), action, resource], sort_keys=True)
                    assert grant not in seen or seen[grant] == name, (
                        f"{name} and {seen[grant]} both grant {grant} inline: declare a managed policy"
                    )
                    seen[grant] = name


def test_every_managed_policy_is_referenced_and_every_reference_is_a_managed_policy():
    managed = {k for k, v in RESOURCES.items() if v["Type"] == "AWS::IAM::ManagedPolicy"}
    referenced = {
        p["Ref"]
        for props in FUNCTIONS.values()
        for p in props.get("Policies") or []
        if isinstance(p, dict) and "Ref" in p
    }
    assert referenced <= managed, referenced - managed
    assert managed <= referenced, f"managed policies no function uses: {sorted(managed - referenced)}"


def test_the_cold_start_benchmark_measures_every_functions_code():
    """Each code folder once (the catalog functions run the directory's code)."""
    from benchmarks.cold_start import SAMPLES

    measured = {FUNCTIONS[name]["CodeUri"] for name in SAMPLES}
    assert measured == {props["CodeUri"] for props in FUNCTIONS.values()}
    assert all((ROOT / "events" / sample).is_file() for sample in SAMPLES.values())


def test_a_first_delivery_waits_for_no_batching_window():
    """POST /events to the receiver's first byte stays under 0.3 s only while the dispatcher's
    mapping takes a message at once: a batch over 10 would need a window of at least 1 s."""
    mapping = FUNCTIONS["WebhookDispatcherFunction"]["Events"]["Deliveries"]["Properties"]
    assert int(mapping["BatchSize"]) <= 10
    assert float(mapping.get("MaximumBatchingWindowInSeconds", 0)) == 0


def test_a_consumer_with_reserved_concurrency_polls_its_queue_within_it():
    """Lambda throttles a batch beyond the reserved concurrency, and a throttled SQS batch counts as
    a receive: without MaximumConcurrency within the cap, a burst would dead-letter messages."""
    capped = {name: props for name, props in FUNCTIONS.items() if "ReservedConcurrentExecutions" in props}
    assert "WebhookDispatcherFunction" in capped
    for name, props in capped.items():
        for event in (props.get("Events") or {}).values():
            if event["Type"] == "SQS":
                scaling = event["Properties"].get("ScalingConfig") or {}
                assert scaling.get("MaximumConcurrency"), f"{name}: its queue mapping needs MaximumConcurrency"
                assert int(scaling["MaximumConcurrency"]) <= int(props["ReservedConcurrentExecutions"]), name


def test_every_queue_table_secret_and_log_group_is_encrypted_with_the_stacks_key():
    key = {"Ref": "UserTokenKey"}
    for name, resource in RESOURCES.items():
        props = resource.get("Properties") or {}
        kind = resource["Type"]
        if kind == "AWS::SQS::Queue":
            assert props.get("KmsMasterKeyId") == key, name
        elif kind == "AWS::DynamoDB::Table":
            assert props["SSESpecification"].get("KMSMasterKeyId") == key, name
            assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
        elif kind == "AWS::SecretsManager::Secret":
            assert props.get("KmsKeyId") == key, name
        elif kind == "AWS::Logs::LogGroup":
            assert props.get("KmsKeyId") == {"Fn::GetAtt": ["UserTokenKey", "Arn"]}, name
    assert RESOURCES["UserTokenKey"]["DeletionPolicy"] == "Retain"  # the retained table needs its key


def test_only_the_webhook_api_and_the_dispatcher_may_use_the_key_for_webhook_secrets():
    from integration_core.services.webhook_secrets import PURPOSE

    policy = RESOURCES["WebhookSecretKeyPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Condition"]["StringEquals"]["kms:EncryptionContext:purpose"] for s in policy] == [PURPOSE]
    key_policy = {"Ref": "WebhookSecretKeyPolicy"}
    users = sorted(name for name, props in FUNCTIONS.items() if key_policy in props.get("Policies", []))
    assert users == ["WebhookDispatcherFunction", "WebhooksFunction"]
    # No other statement of any function lets it decrypt with the key without a purpose condition.
    for name, props in FUNCTIONS.items():
        for statement in _statements(props.get("Policies")):
            if "kms:Decrypt" in _listed(statement.get("Action", [])):
                assert "kms:EncryptionContext:purpose" in str(statement.get("Condition")), name


def test_the_layer_and_every_function_are_built_with_their_bytecode():
    # packaging/Makefile ships each module's bytecode; SAM's own Python builder ships none, and
    # Lambda's read-only code folders then compile the sources at every cold start.
    built = {k: v.get("Metadata", {}) for k, v in RESOURCES.items() if k in FUNCTIONS or k == "CoreLayer"}
    assert len(built) == len(FUNCTIONS) + 1
    others = {k for k, m in built.items() if (m.get("BuildMethod"), m.get("ContextPath")) != ("makefile", "packaging")}
    assert not others, f"not built by packaging/Makefile: {sorted(others)}"
