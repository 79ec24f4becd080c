"""The runnable shape of a template: functions, HTTP routes, authorizers, Function URLs, SQS event
source mappings and schedules, with every value resolved to the local resources.

`build_model` reads the SAM shorthands (Events of Type HttpApi, SQS, Schedule, ScheduleV2;
FunctionUrlConfig; HttpApi Auth) so the gateway and the pollers never look at raw YAML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offline.template import ACCOUNT_ID, REGION, Refs, Resolver, TemplateError, resources_of_type

IMPLICIT_API = "ServerlessHttpApi"


@dataclass
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    timeout: int
    memory: int
    env: dict[str, str]
    layer_dirs: list[Path]
    runtime: str


@dataclass
class AuthorizerSpec:
    name: str
    function: str  # logical id of the authorizer function
    payload_version: str
    simple_responses: bool
    identity_headers: list[str]
    identity_query: list[str]
    ttl_seconds: int


@dataclass
class RouteSpec:
    method: str  # GET, POST, ... or ANY
    path: str  # /a/{b}/{c+} or $default
    function: str
    api: str
    authorizer: str | None  # name in the API's authorizers, None when public

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass
class CorsSpec:
    allow_origins: list[str]
    allow_headers: list[str]
    allow_methods: list[str]
    expose_headers: list[str]
    max_age: int | None
    allow_credentials: bool


@dataclass
class ApiSpec:
    logical_id: str
    authorizers: dict[str, AuthorizerSpec]
    default_authorizer: str | None
    cors: CorsSpec | None


@dataclass
class FunctionUrlSpec:
    function: str
    auth_type: str
    cors: CorsSpec | None


@dataclass
class SqsMappingSpec:
    function: str
    queue_url: str
    queue_arn: str
    batch_size: int
    batching_window: float
    report_failures: bool
    enabled: bool
    # ScalingConfig.MaximumConcurrency: batches handed to the function at once.
    max_concurrency: int = 2


@dataclass
class ScheduleSpec:
    """A schedule declared in the template (rule or Scheduler schedule) targeting a function."""

    name: str
    function: str
    expression: str
    timezone: str
    input: str | None
    kind: str  # "rule" (EventBridge rule payload) or "scheduler" (Input as is)
    enabled: bool


@dataclass
class StackModel:
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    apis: dict[str, ApiSpec] = field(default_factory=dict)
    routes: list[RouteSpec] = field(default_factory=list)
    urls: list[FunctionUrlSpec] = field(default_factory=list)
    sqs: list[SqsMappingSpec] = field(default_factory=list)
    schedules: list[ScheduleSpec] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def function_by_arn(self, arn: str) -> FunctionSpec | None:
        bare = arn.split(":function:")[-1].split(":")[0]
        for spec in self.functions.values():
            if arn in (spec.arn, spec.name) or bare == spec.name:
                return spec
        return None


def function_refs(logical_id: str, props: dict[str, Any], resolver: Resolver) -> Refs:
    name = resolver.resolve(props.get("FunctionName")) or f"{resolver.stack_name}-{logical_id}"
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
    return Refs(ref=name, attrs={"Arn": arn})


def _function_target(value: Any, resolver: Resolver, model_ids: set[str]) -> str | None:
    """Logical id of the function that an ARN-valued property points at (GetAtt F.Arn, Ref F)."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            logical = target[0] if isinstance(target, list) else str(target).split(".")[0]
            return logical if logical in model_ids else None
        if "Ref" in value and value["Ref"] in model_ids:
            return value["Ref"]
    return None


def _cors(config: Any, resolver: Resolver) -> CorsSpec | None:
    config = resolver.resolve(config)
    if not config:
        return None
    if config is True:
        return CorsSpec(["*"], ["*"], ["*"], [], None, False)

    def as_list(key: str) -> list[str]:
        value = config.get(key) or []
        return [value] if isinstance(value, str) else [str(v) for v in value]

    return CorsSpec(
        allow_origins=as_list("AllowOrigins"),
        allow_headers=[h.lower() for h in as_list("AllowHeaders")],
        allow_methods=[m.upper() for m in as_list("AllowMethods")],
        expose_headers=as_list("ExposeHeaders"),
        max_age=int(config["MaxAge"]) if config.get("MaxAge") is not None else None,
        allow_credentials=bool(config.get("AllowCredentials", False)),
    )


def _api_spec(logical_id: str, props: dict[str, Any], resolver: Resolver, ids: set[str]) -> ApiSpec:
    auth = props.get("Auth") or {}
    authorizers: dict[str, AuthorizerSpec] = {}
    for name, raw in (auth.get("Authorizers") or {}).items():
        if "JwtConfiguration" in raw:
            raise TemplateError(f"{logical_id}: JWT authorizer {name} is not emulated offline")
        function = _function_target(raw.get("FunctionArn"), resolver, ids)
        if function is None:
            raise TemplateError(f"{logical_id}: authorizer {name} must point at a function of the template")
        identity = resolver.resolve(raw.get("Identity") or {})
        authorizers[name] = AuthorizerSpec(
            name=name,
            function=function,
            payload_version=str(resolver.resolve(raw.get("AuthorizerPayloadFormatVersion", "2.0"))),
            simple_responses=bool(resolver.resolve(raw.get("EnableSimpleResponses", False))),
            identity_headers=[h.lower() for h in identity.get("Headers") or []],
            identity_query=list(identity.get("QueryStrings") or []),
            ttl_seconds=int(identity.get("ReauthorizeEvery", 300)),
        )
    default = resolver.resolve(auth.get("DefaultAuthorizer"))
    return ApiSpec(logical_id, authorizers, default, _cors(props.get("CorsConfiguration"), resolver))


def build_model(document: dict[str, Any], resources: dict[str, Any], resolver: Resolver, root: Path) -> StackModel:
    """Everything the gateway, workers and pollers need, resolved; `root` is the template's folder."""
    model = StackModel()
    included = {lid: r for lid, r in resources.items() if resolver.included(r)}
    function_ids = {lid for lid, _ in resources_of_type(included, "AWS::Serverless::Function")}
    layers = {
        lid: root / str(resolver.resolve(r["Properties"].get("ContentUri", ".")))
        for lid, r in resources_of_type(included, "AWS::Serverless::LayerVersion")
    }
    for logical_id, resource in resources_of_type(included, "AWS::Serverless::HttpApi"):
        model.apis[logical_id] = _api_spec(logical_id, resource.get("Properties") or {}, resolver, function_ids)

    for logical_id, resource in resources_of_type(included, "AWS::Serverless::Function"):
        props = resource.get("Properties") or {}
        refs = resolver.refs[logical_id]
        code_uri = resolver.resolve(props.get("CodeUri"))
        if not isinstance(code_uri, str):
            model.warnings.append(f"{logical_id}: CodeUri must be a local folder offline; skipped")
            continue
        layer_dirs: list[Path] = []
        for layer in props.get("Layers") or []:
            target = layer.get("Ref") if isinstance(layer, dict) else None
            if target in layers:
                layer_dirs.append(layers[target])
            else:
                model.warnings.append(f"{logical_id}: layer {resolver.resolve(layer)} is not in the template")
        variables = resolver.resolve((props.get("Environment") or {}).get("Variables") or {})
        model.functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=refs.ref,
            arn=refs.attrs["Arn"],
            code_dir=root / code_uri,
            handler=str(resolver.resolve(props.get("Handler", "app.handler"))),
            timeout=int(resolver.resolve(props.get("Timeout", 3))),
            memory=int(resolver.resolve(props.get("MemorySize", 128))),
            env={k: (",".join(v) if isinstance(v, list) else str(v)) for k, v in variables.items()},
            layer_dirs=layer_dirs,
            runtime=str(resolver.resolve(props.get("Runtime", "python3.11"))),
        )
        url_config = props.get("FunctionUrlConfig")
        if url_config:
            model.urls.append(
                FunctionUrlSpec(
                    function=logical_id,
                    auth_type=str(resolver.resolve(url_config.get("AuthType", "AWS_IAM"))),
                    cors=_cors(url_config.get("Cors"), resolver),
                )
            )
        for event_name, event in (props.get("Events") or {}).items():
            _add_event(model, logical_id, event_name, event, resolver, included)

    # Plain CloudFormation resources that wire functions to sources.
    for logical_id, resource in resources_of_type(included, "AWS::Lambda::EventSourceMapping"):
        props = resource["Properties"]
        function = _function_target(props.get("FunctionName"), resolver, function_ids)
        source = props.get("EventSourceArn")
        queue = _queue_of(source, included)
        if function and queue:
            model.sqs.append(_sqs_mapping(function, queue, props, resolver))
        else:
            model.warnings.append(f"{logical_id}: only SQS mappings to template functions are emulated")
    for logical_id, resource in resources_of_type(included, "AWS::Scheduler::Schedule"):
        props = resource["Properties"]
        function = _function_target((props.get("Target") or {}).get("Arn"), resolver, function_ids)
        if function is None:
            model.warnings.append(f"{logical_id}: schedule target is not a template function; not emulated")
            continue
        target = props["Target"]
        model.schedules.append(
            ScheduleSpec(
                name=str(resolver.resolve(props.get("Name", logical_id))),
                function=function,
                expression=str(resolver.resolve(props["ScheduleExpression"])),
                timezone=str(resolver.resolve(props.get("ScheduleExpressionTimezone", "UTC"))),
                input=resolver.resolve(target.get("Input")),
                kind="scheduler",
                enabled=resolver.resolve(props.get("State", "ENABLED")) == "ENABLED",
            )
        )
    return model


def _queue_of(source: Any, resources: dict[str, Any]) -> str | None:
    if isinstance(source, dict) and "Fn::GetAtt" in source:
        target = source["Fn::GetAtt"]
        logical = target[0] if isinstance(target, list) else str(target).split(".")[0]
        if resources.get(logical, {}).get("Type") == "AWS::SQS::Queue":
            return logical
    return None


# Without ScalingConfig.MaximumConcurrency AWS scales a mapping up to hundreds of batches at once;
# offline a mapping runs this many, enough for concurrency bugs to show without loading the machine.
DEFAULT_SQS_CONCURRENCY = 2


def _sqs_mapping(function: str, queue: str, props: dict[str, Any], resolver: Resolver) -> SqsMappingSpec:
    refs = resolver.refs[queue]
    response_types = resolver.resolve(props.get("FunctionResponseTypes") or [])
    scaling = resolver.resolve(props.get("ScalingConfig") or {})
    return SqsMappingSpec(
        function=function,
        queue_url=refs.ref,
        queue_arn=refs.attrs["Arn"],
        batch_size=int(resolver.resolve(props.get("BatchSize", 10))),
        batching_window=float(resolver.resolve(props.get("MaximumBatchingWindowInSeconds", 0))),
        report_failures="ReportBatchItemFailures" in response_types,
        enabled=bool(resolver.resolve(props.get("Enabled", True))),
        max_concurrency=int(scaling.get("MaximumConcurrency") or DEFAULT_SQS_CONCURRENCY),
    )


def _add_event(
    model: StackModel,
    function: str,
    event_name: str,
    event: dict[str, Any],
    resolver: Resolver,
    resources: dict[str, Any],
) -> None:
    kind = event.get("Type")
    props = event.get("Properties") or {}
    if kind == "HttpApi":
        api_ref = props.get("ApiId")
        api = api_ref["Ref"] if isinstance(api_ref, dict) and "Ref" in api_ref else IMPLICIT_API
        if api not in model.apis:
            model.apis[api] = ApiSpec(api, {}, None, None)
        auth = props.get("Auth") or {}
        authorizer = resolver.resolve(auth.get("Authorizer")) or model.apis[api].default_authorizer
        if authorizer == "NONE":
            authorizer = None
        if authorizer is not None and authorizer not in model.apis[api].authorizers:
            raise TemplateError(f"{function}.{event_name}: unknown authorizer {authorizer}")
        path = str(resolver.resolve(props.get("Path", "$default")))
        method = str(resolver.resolve(props.get("Method", "ANY"))).upper()
        if path == "$default":
            method = "ANY"
        model.routes.append(RouteSpec(method, path, function, api, authorizer))
    elif kind == "SQS":
        queue = _queue_of(props.get("Queue"), resources)
        if queue is None:
            model.warnings.append(f"{function}.{event_name}: SQS queue must be !GetAtt <Queue>.Arn of the template")
            return
        model.sqs.append(_sqs_mapping(function, queue, props, resolver))
    elif kind in ("Schedule", "ScheduleV2"):
        expression = props.get("Schedule") if kind == "Schedule" else props.get("ScheduleExpression")
        state = resolver.resolve(props.get("State"))
        enabled = resolver.resolve(props.get("Enabled", True)) and state != "DISABLED"
        raw_input = resolver.resolve(props.get("Input"))
        model.schedules.append(
            ScheduleSpec(
                name=str(resolver.resolve(props.get("Name", f"{function}-{event_name}"))),
                function=function,
                expression=str(resolver.resolve(expression)),
                timezone=str(resolver.resolve(props.get("ScheduleExpressionTimezone", "UTC"))),
                input=raw_input if raw_input is None or isinstance(raw_input, str) else json.dumps(raw_input),
                kind="rule" if kind == "Schedule" else "scheduler",
                enabled=bool(enabled),
            )
        )
    else:
        model.warnings.append(f"{function}.{event_name}: event type {kind} is not emulated offline")
