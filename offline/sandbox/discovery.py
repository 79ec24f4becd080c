"""Request validation against a Google API discovery document (e.g. calendar.v3.json).

A discovery document is not OpenAPI: its `resources.*.methods` name an `httpMethod`, a `path` below
`servicePath`, typed `parameters` (path or query, `required`, `enum`, `minimum`/`maximum`, `repeated`)
and a `request` schema (`$ref` into `schemas`). `DiscoveryDocument` offers what the sandbox asks of
an `OpenApiDocument` (`path`, `covers`, `validate`) and reports the same `Violation`s: a query
parameter the method does not take, a wrong parameter value, a body property the schema does not
have (`additionalProperties`) or of the wrong type. `load` picks the reader a document needs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from offline.sandbox import csdl
from offline.sandbox.csdl import CsdlDocument
from offline.sandbox.validation import OpenApiDocument, Violation, path_pattern


def load(path: Path) -> OpenApiDocument | DiscoveryDocument | CsdlDocument:
    """The document at `path`, read as OData CSDL (.xml, Graph's metadata), as discovery (it has
    "discoveryVersion") or as OpenAPI."""
    if path.suffix == ".xml":
        return csdl.load(path)
    if path.suffix == ".json" and '"discoveryVersion"' in path.read_text()[:4000]:
        return DiscoveryDocument(path)
    return OpenApiDocument(path)


@dataclass
class _Method:
    name: str  # events.insert
    http_method: str
    template: str  # /calendar/v3/calendars/{calendarId}/events
    pattern: re.Pattern[str]
    names: list[str]
    spec: dict[str, Any]


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?", re.IGNORECASE)


def valid_datetime(text: str) -> bool:
    """RFC 3339 as Google takes it (the offset may be missing only where a timeZone says it)."""
    if not _RFC3339.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


class DiscoveryDocument:
    """One Google discovery document, loaded once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.document = json.loads(path.read_text())
        self.schemas: dict[str, Any] = self.document.get("schemas", {})
        self.global_parameters: dict[str, Any] = self.document.get("parameters", {})
        base = "/" + self.document.get("servicePath", "").strip("/")
        self.methods: list[_Method] = []
        self._collect(self.document.get("resources", {}), "", base)
        # Static paths before templated ones: /events/import before /events/{eventId}.
        self.methods.sort(key=lambda m: m.template.count("{"))

    def _collect(self, resources: dict[str, Any], prefix: str, base: str) -> None:
        for resource_name, resource in resources.items():
            for method_name, spec in resource.get("methods", {}).items():
                template = f"{base}/{spec['path']}".replace("{+", "{")
                pattern, names = path_pattern(template)
                name = f"{prefix}{resource_name}.{method_name}"
                self.methods.append(_Method(name, spec["httpMethod"], template, pattern, names, spec))
            self._collect(resource.get("resources", {}), f"{prefix}{resource_name}.", base)

    def find(self, method: str, path: str) -> tuple[_Method, dict[str, str]] | None:
        for candidate in self.methods:
            if candidate.http_method != method:
                continue
            found = candidate.pattern.fullmatch(path)
            if found:
                return candidate, dict(zip(candidate.names, found.groups(), strict=True))
        return None

    def covers(self, path: str) -> bool:
        return any(m.pattern.fullmatch(path) for m in self.methods)

    def method_name(self, method: str, path: str) -> str | None:
        found = self.find(method, path)
        return found[0].name if found else None

    # ------------------------------------------------------------------ validation
    def validate(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes, content_type: str
    ) -> list[Violation]:
        found = self.find(method, path)
        if found is None:
            return [Violation("path", path, "operation", f"{method} {path} is not a method of {self.path.name}")]
        operation, path_values = found
        parameters = {**self.global_parameters, **operation.spec.get("parameters", {})}
        problems: list[Violation] = []
        for name in query:
            if name not in parameters or parameters[name].get("location") != "query":
                problems.append(Violation("query", name, "unknown", f"{operation.name} has no parameter {name}", name))
        for name, parameter in parameters.items():
            source = path_values if parameter.get("location") == "path" else query
            if name not in source:
                if parameter.get("required"):
                    problems.append(Violation(parameter.get("location", "query"), name, "required", "required"))
                continue
            problems += _check_parameter(name, parameter, source[name])
        request = operation.spec.get("request")
        if request and body:
            try:
                payload = json.loads(body)
            except ValueError as exc:
                return [*problems, Violation("body", "/", "syntax", f"malformed JSON: {exc}")]
            problems += self._check_value(request, payload, "")
        return problems

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"]]
        return schema

    def _check_value(self, schema: dict[str, Any], value: Any, pointer: str) -> list[Violation]:
        schema = self._resolve(schema)
        kind = schema.get("type", "any")
        mismatch = [Violation("body", pointer or "/", "type", f"expected {kind}", value)]
        if kind == "any" or value is None:
            return []
        if kind == "object":
            if not isinstance(value, dict):
                return mismatch
            problems: list[Violation] = []
            properties = schema.get("properties", {})
            extra = schema.get("additionalProperties")
            for key, item in value.items():
                where = f"{pointer}/{key}"
                if key in properties:
                    problems += self._check_value(properties[key], item, where)
                elif extra is not None:
                    problems += self._check_value(extra, item, where)
                else:
                    problems.append(Violation("body", where, "additionalProperties", f"unknown name {key!r}", key))
            return problems
        if kind == "array":
            if not isinstance(value, list):
                return mismatch
            items = schema["items"]
            return [p for i, item in enumerate(value) for p in self._check_value(items, item, f"{pointer}/{i}")]
        if kind == "boolean":
            return [] if isinstance(value, bool) else mismatch
        if kind in ("integer", "number"):
            if isinstance(value, bool):
                return mismatch
            if isinstance(value, int | float) or (isinstance(value, str) and _numeric(value)):
                return []
            return mismatch
        # string: int64/uint64 and other numeric formats travel as strings, but a number is taken too
        if schema.get("format") in ("int64", "uint64") and isinstance(value, int) and not isinstance(value, bool):
            return []
        if not isinstance(value, str):
            return mismatch
        return _check_format(schema, value, pointer)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_format(schema: dict[str, Any], value: str, pointer: str) -> list[Violation]:
    fmt = schema.get("format")
    if fmt == "date-time" and not valid_datetime(value):
        return [Violation("body", pointer, "format", "not an RFC 3339 date-time", value)]
    if fmt == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return [Violation("body", pointer, "format", "not a yyyy-mm-dd date", value)]
    if "enum" in schema and value not in schema["enum"]:
        return [Violation("body", pointer, "enum", f"not one of {schema['enum']}", value)]
    return []


def _check_parameter(name: str, parameter: dict[str, Any], text: str) -> list[Violation]:
    where = parameter.get("location", "query")
    kind = parameter.get("type", "string")
    if kind == "integer":
        try:
            number = int(text)
        except ValueError:
            return [Violation(where, name, "type", f"Invalid integer value: '{text}'.", text)]
        low, high = parameter.get("minimum"), parameter.get("maximum")
        if (low is not None and number < int(low)) or (high is not None and number > int(high)):
            return [Violation(where, name, "range", f"Invalid value '{text}'. Values must be within the range", text)]
        return []
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            return [Violation(where, name, "type", f"Invalid boolean value: '{text}'.", text)]
        return []
    if "enum" in parameter and text not in parameter["enum"]:
        return [Violation(where, name, "enum", f"Invalid value '{text}'. Allowed: {parameter['enum']}", text)]
    if parameter.get("format") == "date-time" and not valid_datetime(text):
        return [Violation(where, name, "format", f"Invalid value '{text}': not an RFC 3339 date-time.", text)]
    return []
