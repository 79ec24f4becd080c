"""Request validation against a provider's published OpenAPI document (3.0 or 3.1).

`OpenApiDocument.validate` finds the operation for a method and path and checks the path, query
and header parameters and the JSON request body; each problem becomes a `Violation`. A request
that no operation of the document describes is reported too, so an adapter calling a path the
provider does not have is caught.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openapi_schema_validator as osv
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

_BASE = "urn:provider-spec"


@dataclass
class Violation:
    location: str  # path, query, header, body
    field: str  # JSON pointer inside the location ("/purchase_units/0/amount") or the parameter name
    kind: str  # the failed rule: required, type, enum, maxLength, additionalProperties, ... or "operation"
    message: str
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"location": self.location, "field": self.field, "kind": self.kind, "message": self.message}


@dataclass
class _Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    names: list[str]  # of the template's path variables
    spec: dict[str, Any]
    path_item: dict[str, Any]


def path_pattern(template: str) -> tuple[re.Pattern[str], list[str]]:
    """A path template ("/v2/orders/{id}") as the pattern of its paths (a trailing slash allowed) and
    the names of its variables, in order; the emulators' routes match paths the same way."""
    regex = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template))
    return re.compile(regex + "/?"), re.findall(r"\{([^}]+)\}", template)


def _pointer(parts: Any) -> str:
    return "/" + "/".join(str(p) for p in parts)


class OpenApiDocument:
    """One provider specification, loaded once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.document = json.loads(path.read_text())
        version = str(self.document.get("openapi", "3.0"))
        self._validator_class = osv.OAS30Validator if version.startswith("3.0") else osv.OAS31Validator
        spec = DRAFT4 if version.startswith("3.0") else DRAFT202012
        self._registry: Registry[Any] = Registry().with_resource(
            _BASE, Resource.from_contents(self.document, default_specification=spec)
        )
        self.operations: list[_Operation] = []
        for template, item in (self.document.get("paths") or {}).items():
            pattern, names = path_pattern(template)
            for method, operation in item.items():
                if method.lower() in ("get", "put", "post", "delete", "patch", "head", "options"):
                    self.operations.append(_Operation(method.upper(), template, pattern, names, operation, item))
        # Static paths before templated ones, so /orders/batch never matches /orders/{id}.
        self.operations.sort(key=lambda op: op.template.count("{"))

    def _resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def _schema_errors(self, schema: dict[str, Any], value: Any, location: str, prefix: str) -> list[Violation]:
        validator = self._validator_class(_anchored(schema), registry=self._registry, format_checker=None)
        found = []
        for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
            found.append(
                Violation(
                    location,
                    prefix + _pointer(error.absolute_path).rstrip("/") or "/",
                    str(error.validator),
                    error.message[:300],
                    error.instance,
                )
            )
        return found

    def find(self, method: str, path: str) -> tuple[_Operation, dict[str, str]] | None:
        for operation in self.operations:
            if operation.method != method:
                continue
            match = operation.pattern.fullmatch(path)
            if match:
                return operation, dict(zip(operation.names, match.groups(), strict=True))
        return None

    def covers(self, path: str) -> bool:
        return any(op.pattern.fullmatch(path) for op in self.operations)

    def validate(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes, content_type: str
    ) -> list[Violation]:
        found = self.find(method, path)
        if found is None:
            return [Violation("path", path, "operation", f"{method} {path} is not an operation of {self.path.name}")]
        operation, path_values = found
        problems: list[Violation] = []
        parameters = [self._resolve(p) for p in operation.path_item.get("parameters", [])]
        parameters += [self._resolve(p) for p in operation.spec.get("parameters", [])]
        lowered = {k.lower(): v for k, v in headers.items()}
        for parameter in parameters:
            where, name = parameter.get("in"), parameter.get("name", "")
            if where == "header" and name.lower() in ("authorization", "content-type", "accept"):
                continue  # authentication and content negotiation are the emulator's to answer
            source = {"path": path_values, "query": query, "header": lowered}.get(where)
            if source is None:
                continue
            key = name.lower() if where == "header" else name
            if key not in source:
                if parameter.get("required"):
                    problems.append(Violation(where, name, "required", f"{where} parameter {name} is required"))
                continue
            schema = self._resolve(parameter.get("schema") or {})
            problems += self._schema_errors(schema, _coerce(source[key], schema), where, name)
        request_body = self._resolve(operation.spec.get("requestBody") or {})
        media = (request_body.get("content") or {}).get("application/json")
        if request_body.get("required") and not body:
            problems.append(Violation("body", "/", "required", "a request body is required"))
        elif body and media and "json" in (content_type or "application/json"):
            try:
                payload = json.loads(body)
            except ValueError as exc:
                problems.append(Violation("body", "/", "syntax", f"malformed JSON: {exc}"))
            else:
                problems += self._schema_errors(media.get("schema") or {}, payload, "body", "")
        return problems


def _anchored(schema: Any) -> Any:
    """An inline schema with its local `#/...` references pointed at the whole document."""
    if isinstance(schema, dict):
        return {
            k: (f"{_BASE}{v}" if k == "$ref" and isinstance(v, str) and v.startswith("#") else _anchored(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_anchored(v) for v in schema]
    return schema


def _coerce(text: str, schema: dict[str, Any]) -> Any:
    """Query, path and header values arrive as text; read them as the schema's type."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        return text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    if kind == "array":
        return text.split(",")
    return text
