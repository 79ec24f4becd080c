"""Request validation against an OData CSDL document (Microsoft Graph's v1.0 $metadata).

CSDL names entity sets (users, subscriptions), entity and complex types with their properties (and
base types), navigation properties (user -> onlineMeetings -> attendanceReports) and bound actions
(onlineMeetings/createOrGet). `CsdlDocument` resolves a path below the service root ("/v1.0")
through the entity container and navigation properties to the type it addresses, and checks a JSON
body's property names and value kinds (string, boolean, integer, date-time, enum member, collection,
complex type) against that type, or against an action's parameters. It offers what the sandbox asks
of an OpenAPI document (`path`, `covers`, `validate`) and reports the same `Violation`s.

Stricter than OData in one way: an entity type the metadata marks open (onlineMeeting is) still
gets its unknown property names reported, since for an adapter a name Graph does not define is a
typo. An open complex type (identity, identitySet) takes other names: they carry the properties of
derived types (communicationsUserIdentity's tenantId). Instance annotations ("@odata.type") are
allowed everywhere.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from offline.sandbox.validation import Violation

_EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
ROOT = "/v1.0"


@dataclass
class CsdlType:
    name: str  # microsoft.graph.onlineMeeting
    kind: str  # entity, complex, enum
    base: str | None = None
    properties: dict[str, str] = field(default_factory=dict)  # name -> type (Edm.String, Collection(graph.x))
    navigation: dict[str, str] = field(default_factory=dict)
    members: set[str] = field(default_factory=set)  # of an enum
    open: bool = False  # OpenType="true"


@dataclass
class CsdlAction:
    name: str
    binding: str  # the bound parameter's type, e.g. Collection(microsoft.graph.onlineMeeting)
    parameters: dict[str, str]


def _strip_collection(type_name: str) -> tuple[str, bool]:
    if type_name.startswith("Collection(") and type_name.endswith(")"):
        return type_name[len("Collection(") : -1], True
    return type_name, False


class CsdlDocument:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.types: dict[str, CsdlType] = {}
        self.actions: dict[tuple[str, str], CsdlAction] = {}  # (binding type, name)
        self.entity_sets: dict[str, str] = {}  # users -> microsoft.graph.user
        self.singletons: dict[str, str] = {}
        aliases: dict[str, str] = {}
        tree = ET.parse(path)  # noqa: S314 (a document carried in the repository, not input)
        for schema in tree.getroot().iter(f"{_EDM}Schema"):
            namespace = schema.get("Namespace", "")
            if schema.get("Alias"):
                aliases[schema.get("Alias", "")] = namespace
            for element in schema:
                tag = element.tag.removeprefix(_EDM)
                name = f"{namespace}.{element.get('Name')}"
                if tag in ("EntityType", "ComplexType"):
                    item = CsdlType(name, "entity" if tag == "EntityType" else "complex", element.get("BaseType"))
                    item.open = element.get("OpenType") == "true"
                    for child in element:
                        child_tag = child.tag.removeprefix(_EDM)
                        if child_tag == "Property":
                            item.properties[child.get("Name", "")] = child.get("Type", "")
                        elif child_tag == "NavigationProperty":
                            item.navigation[child.get("Name", "")] = child.get("Type", "")
                    self.types[name] = item
                elif tag == "EnumType":
                    members = {m.get("Name", "") for m in element if m.tag == f"{_EDM}Member"}
                    self.types[name] = CsdlType(name, "enum", members=members)
                elif tag == "Action" and element.get("IsBound") == "true":
                    parameters = [(p.get("Name", ""), p.get("Type", "")) for p in element.iter(f"{_EDM}Parameter")]
                    if parameters:
                        binding = parameters[0][1]
                        action = CsdlAction(element.get("Name", ""), binding, dict(parameters[1:]))
                        self.actions[(binding, action.name)] = action
                elif tag == "EntityContainer" and namespace == "microsoft.graph":
                    for child in element:
                        kind = child.tag.removeprefix(_EDM)
                        if kind == "EntitySet":
                            self.entity_sets[child.get("Name", "")] = child.get("EntityType", "")
                        elif kind == "Singleton":
                            self.singletons[child.get("Name", "")] = child.get("Type", "")
        self._aliases = aliases
        # Type references use the alias ("graph.onlineMeeting"): write them all out in full.
        for item in self.types.values():
            item.base = self.full(item.base) if item.base else None
            item.properties = {k: self.full(v) for k, v in item.properties.items()}
            item.navigation = {k: self.full(v) for k, v in item.navigation.items()}
        self.actions = {
            (self.full(b), n): CsdlAction(a.name, self.full(b), {k: self.full(v) for k, v in a.parameters.items()})
            for (b, n), a in self.actions.items()
        }
        self.entity_sets = {k: self.full(v) for k, v in self.entity_sets.items()}
        self.singletons = {k: self.full(v) for k, v in self.singletons.items()}

    def full(self, type_name: str) -> str:
        inner, collection = _strip_collection(type_name)
        alias, _, rest = inner.partition(".")
        if alias in self._aliases:
            inner = f"{self._aliases[alias]}.{rest}"
        return f"Collection({inner})" if collection else inner

    # ------------------------------------------------------------------ the type model
    def lineage(self, type_name: str) -> list[CsdlType]:
        found = []
        current: str | None = self.full(type_name)
        while current and current in self.types:
            found.append(self.types[current])
            current = self.types[current].base
        return found

    def properties(self, type_name: str) -> dict[str, str]:
        merged: dict[str, str] = {}
        for item in reversed(self.lineage(type_name)):
            merged.update(item.properties)
        return merged

    def navigation(self, type_name: str) -> dict[str, str]:
        merged: dict[str, str] = {}
        for item in reversed(self.lineage(type_name)):
            merged.update(item.navigation)
        return merged

    def action(self, type_name: str, collection: bool, name: str) -> CsdlAction | None:
        for item in self.lineage(type_name):
            binding = f"Collection({item.name})" if collection else item.name
            if (binding, name) in self.actions:
                return self.actions[(binding, name)]
        return None

    # ------------------------------------------------------------------ paths
    def resolve(self, path: str) -> tuple[str, bool, CsdlAction | None] | Violation:
        """The type a path below /v1.0 addresses (and whether a collection of it), or the bound
        action it calls; a Violation naming the first segment that is not in the metadata."""
        segments = [s for s in path.removeprefix(ROOT).split("/") if s]
        if not segments:
            return Violation("path", path, "operation", "the service root is not an operation")
        first = segments[0]
        if first in self.entity_sets:
            current, collection = self.entity_sets[first], True
        elif first in self.singletons:
            current, collection = self.singletons[first], False
        else:
            return Violation("path", first, "operation", f"{first!r} is not an entity set of the metadata")
        for segment in segments[1:]:
            action = self.action(current, collection, segment)
            if action is not None:
                return current, collection, action
            if collection:
                collection = False  # a key
                continue
            navigation = self.navigation(current)
            if segment in navigation:
                current, collection = _strip_collection(navigation[segment])
                continue
            properties = self.properties(current)
            if segment in properties or segment == "$value":
                return properties.get(segment, "Edm.Stream"), False, None
            name = current.rsplit(".", 1)[-1]
            return Violation("path", segment, "operation", f"{segment!r} is not a property or action of {name}")
        return current, collection, None

    def covers(self, path: str) -> bool:
        return path == ROOT or path.startswith(ROOT + "/")

    def validate(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes, content_type: str
    ) -> list[Violation]:
        resolved = self.resolve(path)
        if isinstance(resolved, Violation):
            return [resolved]
        type_name, _, action = resolved
        if method not in ("POST", "PATCH", "PUT") or not body:
            return []
        try:
            payload = json.loads(body)
        except ValueError as exc:
            return [Violation("body", "/", "syntax", f"malformed JSON: {exc}")]
        if action is not None:
            return self._check_object(action.parameters, payload, "", f"action {action.name}")
        return self.check(type_name, payload, "")

    # ------------------------------------------------------------------ values
    def check(self, type_name: str, value: Any, pointer: str) -> list[Violation]:
        """Problems of `value` as a `type_name` (Edm.*, an enum, a complex or entity type, Collection(...))."""
        if value is None:
            return []
        inner, collection = _strip_collection(self.full(type_name))
        if collection:
            if not isinstance(value, list):
                return [Violation("body", pointer or "/", "type", f"expected an array of {inner}", value)]
            return [p for i, item in enumerate(value) for p in self.check(inner, item, f"{pointer}/{i}")]
        if inner.startswith("Edm."):
            return _check_edm(inner, value, pointer)
        item = self.types.get(inner)
        if item is None:
            return []
        if item.kind == "enum":
            names = [n.strip() for n in str(value).split(",")] if isinstance(value, str) else [None]
            if any(n not in item.members for n in names):
                allowed = ", ".join(sorted(item.members))
                return [Violation("body", pointer or "/", "enum", f"not a member of {inner} ({allowed})", value)]
            return []
        lenient = item.kind == "complex" and item.open
        names = {**self.properties(inner), **self.navigation(inner)}  # navigation: $expand, deep insert
        return self._check_object(names, value, pointer, inner, lenient)

    def _check_object(
        self, properties: dict[str, str], value: Any, pointer: str, what: str, lenient: bool = False
    ) -> list[Violation]:
        if not isinstance(value, dict):
            return [Violation("body", pointer or "/", "type", f"expected an object ({what})", value)]
        problems: list[Violation] = []
        for key, item in value.items():
            where = f"{pointer}/{key}"
            if "@" in key:
                continue  # instance annotations: @odata.type, property@odata.bind
            if key not in properties:
                if lenient:
                    continue
                message = f"The property '{key}' does not exist on type '{what}'."
                problems.append(Violation("body", where, "additionalProperties", message, key))
                continue
            problems += self.check(properties[key], item, where)
        return problems


def _check_edm(kind: str, value: Any, pointer: str) -> list[Violation]:
    where = pointer or "/"
    if kind == "Edm.Boolean":
        ok = isinstance(value, bool)
    elif kind in ("Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte"):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind in ("Edm.Double", "Edm.Single", "Edm.Decimal"):
        ok = isinstance(value, int | float | str) and not isinstance(value, bool)
    elif kind == "Edm.DateTimeOffset":
        if not isinstance(value, str):
            ok = False
        else:
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
                ok = True
            except ValueError:
                return [Violation("body", where, "format", "not an ISO 8601 date-time", value)]
    elif kind in ("Edm.String", "Edm.Guid", "Edm.Date", "Edm.TimeOfDay", "Edm.Duration", "Edm.Binary"):
        ok = isinstance(value, str)
    else:
        ok = True
    return [] if ok else [Violation("body", where, "type", f"expected {kind}", value)]


@lru_cache(maxsize=4)
def load(path: Path) -> CsdlDocument:
    """A CSDL document, parsed once per process (Graph's metadata is 3.5 MB)."""
    return CsdlDocument(path)
