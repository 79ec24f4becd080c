"""The embedded AWS: moto in server mode on loopback, provisioned from the template's resources.

`MotoServer` runs moto as a child process (offline/_moto.py: an outage closes its port and keeps
its data; a reset starts it afresh), and `Provisioner` creates every supported resource in
dependency order, registering what `!Ref` and `!GetAtt` give for it. A resource type with no local
equivalent is reported by name.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import json
import logging
import os
import secrets
import signal
import socket
import string
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from offline.model import function_refs
from offline.secrets import LocalContext, local_value
from offline.template import ACCOUNT_ID, REGION, Refs, Resolver, dependency_order

log = logging.getLogger("offline.aws")

# The dummy credentials every local client uses; moto accepts anything.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def preexec_die_with_parent() -> None:
    """Run in a child before exec: it gets SIGTERM when the stack process dies, even by SIGKILL."""
    import ctypes
    import signal

    # Not Linux: children are still stopped by the normal shutdown path.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, and requests are served on
# short-lived threads: so every child is forked from this one long-lived thread.
_SPAWNER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="spawner")


def spawn(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """subprocess.Popen from the spawner thread, the child dying with the stack."""
    kwargs.setdefault("start_new_session", True)
    return _SPAWNER.submit(lambda: subprocess.Popen(args, preexec_fn=preexec_die_with_parent, **kwargs)).result()


class MotoServer:
    """The embedded AWS (moto, through offline/_moto.py) as a child process on 127.0.0.1:port.

    `stop()`/`start()` end and start the process (a reset: every table, queue and secret is gone);
    `outage()`/`resume()` close and open its port, the process and its data staying.
    """

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.serving = False

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        repo = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, **LOCAL_CREDENTIALS, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}
        log_file = self.log_path.open("ab")
        self.process = spawn(
            [sys.executable, "-m", "offline._moto", str(self.port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log_file.close()
        self._wait_ready(timeout)

    def _ready(self) -> bool:
        try:
            # Only our launcher answers this path: anything else on the port is not our AWS.
            answer = httpx.get(f"{self.endpoint}/_offline/ready", timeout=0.5)
            body = answer.json()
            # Another stack's AWS on the port (two stacks picked the same free port) is not ours:
            # this process then fails to bind and exits, and the stack picks another port.
            mine = self.process is not None and body.get("pid") == self.process.pid
            return answer.status_code == 200 and body.get("aws") == "moto" and mine
        except (httpx.TransportError, ValueError):
            return False

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                self.serving = False
                raise RuntimeError(f"embedded AWS (moto) exited at start; see {self.log_path}")
            if self._ready():
                self.serving = True
                return
            time.sleep(0.05)
        raise RuntimeError(f"embedded AWS (moto) did not answer within {timeout:.0f} s; see {self.log_path}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def sent_emails(self) -> list[dict[str, Any]]:
        """The emails SES sent, as the launcher reads them from moto's backend (offline/_moto.py)."""
        answer = httpx.get(f"{self.endpoint}/_offline/ses/sent", timeout=5)
        answer.raise_for_status()
        return list(answer.json()["items"])

    def outage(self, timeout: float = 10.0) -> None:
        """Close the port (connections refused), keeping the process and everything stored in it."""
        if not self.alive() or not self.serving:
            return
        self.process.send_signal(signal.SIGUSR1)  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                probe.settimeout(0.5)
                if probe.connect_ex(("127.0.0.1", self.port)) == errno.ECONNREFUSED:
                    self.serving = False
                    return
            time.sleep(0.05)
        raise RuntimeError(f"embedded AWS (moto) still listens {timeout:.0f} s after the outage; see {self.log_path}")

    def resume(self, timeout: float = 10.0) -> None:
        """Open the port again after an outage: the same process, the same data."""
        if not self.alive():
            raise RuntimeError(f"embedded AWS (moto) is not running; see {self.log_path}")
        if self.serving:
            return
        self.process.send_signal(signal.SIGUSR2)  # type: ignore[union-attr]
        self._wait_ready(timeout)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.serving = False


def client(service: str, endpoint: str) -> Any:
    """A boto3 client at the local endpoint, with short timeouts (everything is on loopback)."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
        config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2}),
    )


# Types that exist locally without anything to create: permissions are not enforced offline, and
# the serverless resources are run by the gateway, the workers and the event sources.
RUN_LOCALLY = {
    "AWS::Serverless::Function",
    "AWS::Serverless::LayerVersion",
    "AWS::Serverless::HttpApi",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Scheduler::Schedule",
    "AWS::Lambda::Permission",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::SQS::QueuePolicy",
}


class ProvisionError(Exception):
    """A resource of the template the embedded AWS refused, named with the reason."""


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    if isinstance(exc, KeyError):
        return f"missing property {exc}"
    return str(exc)


class Provisioner:
    """Creates the template's resources in moto and registers their refs in the resolver."""

    def __init__(
        self, resolver: Resolver, resources: dict[str, Any], endpoint: str, visibility_cap: int | None = None
    ) -> None:
        self.resolver = resolver
        self.visibility_cap = visibility_cap  # crash tests: no queue hides a message for longer
        self.resources = resources
        self.endpoint = endpoint
        self.secret_values: dict[str, str] = {}  # kept across AWS restarts
        self._clients: dict[str, Any] = {}
        self._handlers: dict[str, Callable[[str, dict[str, Any]], Refs]] = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::Serverless::SimpleTable": self._simple_table,
            "AWS::SQS::Queue": self._queue,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::KMS::Key": self._kms_key,
            "AWS::KMS::Alias": self._kms_alias,
            "AWS::Scheduler::ScheduleGroup": self._schedule_group,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::SNS::Topic": self._topic,
            "AWS::S3::Bucket": self._bucket,
            "AWS::Events::EventBus": self._event_bus,
            "AWS::Events::Rule": self._event_rule,
            "AWS::SSM::Parameter": self._ssm_parameter,
            "AWS::SES::EmailIdentity": self._email_identity,
        }

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(service, self.endpoint)
        return self._clients[service]

    def provision(self, ctx: LocalContext) -> list[str]:
        """Create everything; returns 'LogicalId (Type)' of each resource not emulated offline."""
        self.ctx = ctx
        unsupported: list[str] = []
        for logical_id in dependency_order(self.resources):
            resource = self.resources[logical_id]
            if not self.resolver.included(resource):
                continue
            kind = resource.get("Type", "")
            props = resource.get("Properties") or {}
            if kind == "AWS::Serverless::Function":
                refs = function_refs(logical_id, props, self.resolver)
            elif kind in self._handlers:
                try:
                    refs = self._handlers[kind](logical_id, self.resolver.resolve(props))
                except (ClientError, ParamValidationError, KeyError, ValueError) as exc:
                    raise ProvisionError(f"{logical_id} ({kind}): {_reason(exc)}") from exc
            elif kind in RUN_LOCALLY:
                refs = self._placeholder(logical_id, kind)
            else:
                unsupported.append(f"{logical_id} ({kind})")
                refs = self._placeholder(logical_id, kind)
            self.resolver.refs[logical_id] = refs
        return unsupported

    def _name(self, logical_id: str, given: Any) -> str:
        return str(given) if given else f"{self.resolver.stack_name}-{logical_id}"

    def _placeholder(self, logical_id: str, kind: str) -> Refs:
        service = kind.split("::")[1].lower()
        name = self._name(logical_id, None)
        if kind == "AWS::Serverless::HttpApi":
            name = "local"
        return Refs(ref=name, attrs={"Arn": f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{name}"})

    # ------------------------------------------------------------------------- resource handlers
    def _table(self, logical_id: str, props: dict[str, Any]) -> Refs:
        name = self._name(logical_id, props.get("TableName"))
        ddb = self._client("dynamodb")
        args: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        throughput = props.get("ProvisionedThroughput")
        if args["BillingMode"] == "PROVISIONED":
            args["ProvisionedThroughput"] = throughput or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(key):
                indexes = [dict(i) for i in props[key]]
                if args["BillingMode"] == "PROVISIONED":
                    for index in indexes:
                        index.setdefault("ProvisionedThroughput", args["ProvisionedThroughput"])
                args[key] = indexes
        if props.get("StreamSpecification"):
            args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        described = ddb.create_table(**args)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        attrs = {"Arn": described["TableArn"]}
        if described.get("LatestStreamArn"):
            attrs["StreamArn"] = described["LatestStreamArn"]
        return Refs(ref=name, attrs=attrs)

    def _simple_table(self, logical_id: str, props: dict[str, Any]) -> Refs:
        key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
        kind = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
        return self._table(
            logical_id,
            {
                "TableName": props.get("TableName"),
                "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": kind}],
                "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
        )

    _QUEUE_ATTRIBUTES = (
        "DelaySeconds",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "VisibilityTimeout",
        "FifoQueue",
        "ContentBasedDeduplication",
        "DeduplicationScope",
        "FifoThroughputLimit",
    )

    def _queue(self, logical_id: str, props: dict[str, Any]) -> Refs:
        fifo = bool(props.get("FifoQueue"))
        name = self._name(logical_id, props.get("QueueName"))
        if fifo and not name.endswith(".fifo"):
            name += ".fifo"
        attributes = {
            k: str(props[k]).lower() if isinstance(props[k], bool) else str(props[k])
            for k in self._QUEUE_ATTRIBUTES
            if k in props
        }
        if self.visibility_cap is not None:
            attributes["VisibilityTimeout"] = str(
                min(int(attributes.get("VisibilityTimeout", 30)), self.visibility_cap)
            )
        if props.get("RedrivePolicy"):
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        if props.get("RedriveAllowPolicy"):
            attributes["RedriveAllowPolicy"] = json.dumps(props["RedriveAllowPolicy"])
        sqs = self._client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
        return Refs(ref=url, attrs={"Arn": arn, "QueueName": name, "QueueUrl": url})

    def _secret(self, logical_id: str, props: dict[str, Any]) -> Refs:
        name = self._name(logical_id, props.get("Name"))
        if logical_id not in self.secret_values:
            value = local_value(logical_id, self.ctx)
            if value is None:
                value = props.get("SecretString") or self._generated(props.get("GenerateSecretString"))
            if value is None:
                log.warning("secret %s has no local value (register one in offline/secrets.py)", logical_id)
                value = "{}"
            self.secret_values[logical_id] = value
        created = self._client("secretsmanager").create_secret(
            Name=name, SecretString=self.secret_values[logical_id], Description=props.get("Description", "")
        )
        return Refs(ref=created["ARN"], attrs={"Id": created["ARN"]})

    @staticmethod
    def _generated(spec: dict[str, Any] | None) -> str | None:
        if spec is None:
            return None
        excluded = set(spec.get("ExcludeCharacters", "")) | (
            set(string.punctuation) if spec.get("ExcludePunctuation") else set()
        )
        alphabet = [c for c in string.ascii_letters + string.digits + string.punctuation if c not in excluded]
        password = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
        template = spec.get("SecretStringTemplate")
        if template and spec.get("GenerateStringKey"):
            return json.dumps({**json.loads(template), spec["GenerateStringKey"]: password})
        return password

    def _kms_key(self, logical_id: str, props: dict[str, Any]) -> Refs:
        # A stable key id per logical id keeps references valid when the embedded AWS restarts.
        key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.resolver.stack_name}/{logical_id}"))
        args: dict[str, Any] = {
            "Description": props.get("Description", logical_id),
            "KeyUsage": props.get("KeyUsage", "ENCRYPT_DECRYPT"),
            "KeySpec": props.get("KeySpec", "SYMMETRIC_DEFAULT"),
            "Tags": [{"TagKey": "_custom_key_id_", "TagValue": key_id}],
        }
        if props.get("KeyPolicy"):
            args["Policy"] = json.dumps(props["KeyPolicy"])
        metadata = self._client("kms").create_key(**args)["KeyMetadata"]
        return Refs(ref=metadata["KeyId"], attrs={"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]})

    def _kms_alias(self, logical_id: str, props: dict[str, Any]) -> Refs:
        self._client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
        return Refs(ref=props["AliasName"])

    def _schedule_group(self, logical_id: str, props: dict[str, Any]) -> Refs:
        name = self._name(logical_id, props.get("Name"))
        arn = self._client("scheduler").create_schedule_group(Name=name)["ScheduleGroupArn"]
        return Refs(ref=name, attrs={"Arn": arn})

    def _log_group(self, logical_id: str, props: dict[str, Any]) -> Refs:
        name = self._name(logical_id, props.get("LogGroupName"))
        self._client("logs").create_log_group(logGroupName=name)
        return Refs(ref=name, attrs={"Arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:*"})

    def _topic(self, logical_id: str, props: dict[str, Any]) -> Refs:
        name = self._name(logical_id, props.get("TopicName"))
        arn = self._client("sns").create_topic(Name=name)["TopicArn"]
        return Refs(ref=arn, attrs={"TopicName": name, "TopicArn": arn})

    def _bucket(self, logical_id: str, props: dict[str, Any]) -> Refs:
        name = self._name(logical_id, props.get("BucketName")).lower()
        self._client("s3").create_bucket(Bucket=name)
        return Refs(
            ref=name,
            attrs={"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"},
        )

    def _event_bus(self, logical_id: str, props: dict[str, Any]) -> Refs:
        name = self._name(logical_id, props.get("Name"))
        arn = self._client("events").create_event_bus(Name=name)["EventBusArn"]
        return Refs(ref=name, attrs={"Arn": arn, "Name": name})

    def _event_rule(self, logical_id: str, props: dict[str, Any]) -> Refs:
        """A rule on a bus with its targets: moto matches each PutEvents against the rule's pattern
        and sends what matches to SQS targets itself, inside the embedded AWS (the queue's pollers
        then invoke the function, as an event source mapping does)."""
        events = self._client("events")
        name = self._name(logical_id, props.get("Name"))
        bus = str(props.get("EventBusName") or "default")
        args: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": props.get("State", "ENABLED")}
        if props.get("EventPattern") is not None:
            pattern = props["EventPattern"]
            args["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if props.get("ScheduleExpression"):
            args["ScheduleExpression"] = props["ScheduleExpression"]
        arn = events.put_rule(**args)["RuleArn"]
        targets = [
            {"Id": t["Id"], "Arn": t["Arn"], **({"Input": t["Input"]} if "Input" in t else {})}
            for t in props.get("Targets") or []
        ]
        if targets:
            failed = events.put_targets(Rule=name, EventBusName=bus, Targets=targets).get("FailedEntries") or []
            if failed:
                raise ValueError(f"targets refused: {failed}")
        return Refs(ref=f"{bus}|{name}", attrs={"Arn": arn})

    def _ssm_parameter(self, logical_id: str, props: dict[str, Any]) -> Refs:
        name = self._name(logical_id, props.get("Name"))
        self._client("ssm").put_parameter(Name=name, Value=str(props["Value"]), Type=props.get("Type", "String"))
        return Refs(ref=name, attrs={"Type": props.get("Type", "String"), "Value": str(props["Value"])})

    def _email_identity(self, logical_id: str, props: dict[str, Any]) -> Refs:
        """An SES sender: verified at once (moto verifies what it is asked to), so the functions'
        emails are accepted; GET /_local/aws/emails shows what they sent."""
        identity = str(props["EmailIdentity"])
        ses = self._client("ses")
        if "@" in identity:
            ses.verify_email_identity(EmailAddress=identity)
        else:
            ses.verify_domain_identity(Domain=identity)
        return Refs(ref=identity)
