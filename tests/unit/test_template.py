"""Rules of template.yaml that a review would otherwise have to remember."""

from pathlib import Path

from offline.template import load_template

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = load_template(ROOT / "template.yaml")["Resources"]
FUNCTIONS = {k: v["Properties"] for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
# SAM policy templates that grant dynamodb:Scan.
SCANNING_TEMPLATES = {"DynamoDBCrudPolicy", "DynamoDBReadPolicy", "DynamoDBReconfigurePolicy"}


def _actions(policies) -> list[str]:
    found = []
    for policy in policies or []:
        if isinstance(policy, dict):
            for statement in policy.get("Statement", []):
                actions = statement.get("Action", [])
                found += [actions] if isinstance(actions, str) else actions
    return found


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
        ]
        assert {"Ref": "CursorKeySecret"} in readable, f"{name} pages lists but cannot read CursorKeySecret"
    assert RESOURCES["CursorKeySecret"]["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
