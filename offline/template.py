"""Reads a SAM template: CloudFormation intrinsic tags, Globals, parameters, conditions, and the
intrinsic functions, resolved against the physical names of the local resources.

Nothing here talks to AWS. `load_template` gives the raw document, `Resolver` turns intrinsics into
values once `Refs` are known, and `dependency_order` says which resource must exist before which.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
NO_VALUE = object()  # AWS::NoValue: the key or list item disappears


class TemplateError(Exception):
    """The template cannot be read or a value in it cannot be resolved locally."""


# ------------------------------------------------------------------------------------ YAML tags
class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A SafeLoader that turns CloudFormation short-form tags into their long JSON form (libyaml's
    parser where PyYAML has it: ten times faster than the pure-Python one on this template)."""


def _construct(tag: str) -> Callable[[_CfnLoader, yaml.Node], dict[str, Any]]:
    def build(loader: _CfnLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        if tag == "Ref":
            return {"Ref": value}
        if tag == "Condition":
            return {"Condition": value}
        if tag == "GetAtt" and isinstance(value, str):
            # !GetAtt A.B.C means resource A, attribute B.C
            resource, _, attribute = value.partition(".")
            return {"Fn::GetAtt": [resource, attribute]}
        return {f"Fn::{tag}": value}

    return build


for _tag in [
    "Ref",
    "Condition",
    "GetAtt",
    "Sub",
    "Join",
    "Select",
    "Split",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "FindInMap",
    "Base64",
    "GetAZs",
    "ImportValue",
    "Cidr",
    "Length",
    "ToJsonString",
    "Transform",
]:
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def _unique_mapping(loader: _CfnLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    # YAML lets a later key replace an earlier one silently; CloudFormation refuses the template.
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_CfnLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_template(path: Path) -> dict[str, Any]:
    """Parse a SAM/CloudFormation template (YAML or JSON) with its intrinsic tags."""
    try:
        document = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 (SafeLoader subclass)
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"cannot read {path}: {exc}") from exc
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path} has no Resources section")
    return document


# ------------------------------------------------------------------------------------ Globals
def _merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's rule: maps merge (local wins), lists append (globals first), scalars are replaced."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        if any(k.startswith("Fn::") or k == "Ref" for k in local_value):
            return local_value
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = _merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


def apply_globals(document: dict[str, Any]) -> dict[str, Any]:
    """Return the resources with the template's Globals merged into each serverless resource."""
    global_sections = document.get("Globals") or {}
    by_type = {
        "AWS::Serverless::Function": global_sections.get("Function"),
        "AWS::Serverless::HttpApi": global_sections.get("HttpApi"),
        "AWS::Serverless::Api": global_sections.get("Api"),
        "AWS::Serverless::SimpleTable": global_sections.get("SimpleTable"),
        "AWS::Serverless::StateMachine": global_sections.get("StateMachine"),
        "AWS::Serverless::LayerVersion": global_sections.get("LayerVersion"),
    }
    resources = copy.deepcopy(document["Resources"])
    for resource in resources.values():
        defaults = by_type.get(resource.get("Type", ""))
        if defaults:
            resource["Properties"] = _merge_globals(copy.deepcopy(defaults), resource.get("Properties") or {})
    return resources


# ------------------------------------------------------------------------------------ references
@dataclass
class Refs:
    """What `!Ref` and `!GetAtt` give for one local resource."""

    ref: str
    attrs: dict[str, str] = field(default_factory=dict)


def _references(value: Any) -> set[str]:
    """Logical ids that a value refers to (Ref, GetAtt, Sub variables)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                if isinstance(text, str):
                    for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
                        found.add(name.split(".")[0])
                if isinstance(inner, list) and len(inner) > 1:
                    found |= _references(inner[1])
            else:
                found |= _references(inner)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def dependency_order(resources: dict[str, Any]) -> list[str]:
    """Logical ids ordered so that every resource comes after the ones it refers to."""
    deps: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn") or []
        if isinstance(depends_on, str):
            depends_on = [depends_on]
        refs = _references(resource.get("Properties") or {}) | set(depends_on)
        deps[logical_id] = {r for r in refs if r in resources and r != logical_id}
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(node: str) -> None:
        if node in ordered:
            return
        if node in visiting:
            raise TemplateError(f"circular reference through {node}")
        visiting.add(node)
        for dep in sorted(deps[node]):
            visit(dep)
        visiting.discard(node)
        ordered.append(node)

    for logical_id in resources:
        visit(logical_id)
    return ordered


# ------------------------------------------------------------------------------------ resolver
class Resolver:
    """Evaluates intrinsic functions against parameters, conditions and local resource refs."""

    def __init__(
        self,
        document: dict[str, Any],
        stack_name: str,
        overrides: dict[str, str] | None = None,
    ) -> None:
        self.document = document
        self.stack_name = stack_name
        self.refs: dict[str, Refs] = {}
        self.parameters = self._parameters(document.get("Parameters") or {}, overrides or {})
        self._conditions: dict[str, bool] = {}

    @staticmethod
    def _parameters(declared: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameter override(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            raw = overrides.get(name, spec.get("Default"))
            if raw is None:
                raise TemplateError(f"parameter {name} has no Default; pass it with --parameter {name}=...")
            if spec.get("Type", "String") == "CommaDelimitedList" or str(spec.get("Type")).startswith("List<"):
                values[name] = [p.strip() for p in raw.split(",")] if isinstance(raw, str) else list(raw)
            else:
                values[name] = str(raw)
        return values

    def pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{self.stack_name}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }.get(name)

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            declared = self.document.get("Conditions") or {}
            if name not in declared:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = bool(self.resolve(declared[name]))
        return self._conditions[name]

    def ref(self, name: str) -> Any:
        pseudo = self.pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name].ref
        raise TemplateError(f"!Ref {name}: no such parameter or local resource")

    def getatt(self, name: str, attribute: str) -> str:
        refs = self.refs.get(name)
        if refs is None:
            raise TemplateError(f"!GetAtt {name}.{attribute}: no such local resource")
        if attribute not in refs.attrs:
            raise TemplateError(f"!GetAtt {name}.{attribute}: attribute not emulated locally")
        return refs.attrs[attribute]

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr.startswith("!"):
                return "${" + expr[1:] + "}"
            if expr in variables:
                return str(variables[expr])
            if "." in expr and self.pseudo(expr) is None:
                resource, _, attribute = expr.partition(".")
                return self.getatt(resource, attribute)
            value = self.ref(expr)
            return ",".join(value) if isinstance(value, list) else str(value)

        return re.sub(r"\$\{([^}]*)\}", replace, text)

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside `value`; AWS::NoValue entries are dropped."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = self._FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    # each intrinsic: (resolver, argument) -> value
    def _fn_ref(self, arg: Any) -> Any:
        return self.ref(self.resolve(arg))

    def _fn_getatt(self, arg: Any) -> Any:
        parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
        return self.getatt(self.resolve(parts[0]), self.resolve(parts[1]))

    def _fn_sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self.resolve(arg[1] if len(arg) > 1 else {})
        else:
            text, variables = arg, {}
        return self._sub(text, variables)

    def _fn_join(self, arg: Any) -> str:
        sep, items = arg
        resolved = self.resolve(items)
        return str(self.resolve(sep)).join(str(i) for i in resolved)

    def _fn_select(self, arg: Any) -> Any:
        index, items = self.resolve(arg)
        return items[int(index)]

    def _fn_split(self, arg: Any) -> list[str]:
        sep, text = self.resolve(arg)
        return str(text).split(sep)

    def _fn_if(self, arg: Any) -> Any:
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(name) else when_false)

    def _fn_equals(self, arg: Any) -> bool:
        left, right = self.resolve(arg)
        return str(left) == str(right)

    def _fn_not(self, arg: Any) -> bool:
        return not self.resolve(arg[0] if isinstance(arg, list) else arg)

    def _fn_and(self, arg: Any) -> bool:
        return all(self.resolve(a) for a in arg)

    def _fn_or(self, arg: Any) -> bool:
        return any(self.resolve(a) for a in arg)

    def _fn_condition(self, arg: Any) -> bool:
        return self.condition(arg)

    def _fn_find_in_map(self, arg: Any) -> Any:
        map_name, top, second = self.resolve(arg)
        return self.document["Mappings"][map_name][top][second]

    def _fn_base64(self, arg: Any) -> str:
        import base64

        return base64.b64encode(str(self.resolve(arg)).encode()).decode()

    def _fn_get_azs(self, arg: Any) -> list[str]:
        return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]

    def _fn_to_json_string(self, arg: Any) -> str:
        return json.dumps(self.resolve(arg), separators=(",", ":"))

    def _fn_length(self, arg: Any) -> int:
        return len(self.resolve(arg))

    def _fn_unsupported(self, arg: Any) -> Any:
        raise TemplateError(f"intrinsic not available offline: {arg!r}")

    _FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
        "Ref": _fn_ref,
        "Fn::GetAtt": _fn_getatt,
        "Fn::Sub": _fn_sub,
        "Fn::Join": _fn_join,
        "Fn::Select": _fn_select,
        "Fn::Split": _fn_split,
        "Fn::If": _fn_if,
        "Fn::Equals": _fn_equals,
        "Fn::Not": _fn_not,
        "Fn::And": _fn_and,
        "Fn::Or": _fn_or,
        "Condition": _fn_condition,
        "Fn::FindInMap": _fn_find_in_map,
        "Fn::Base64": _fn_base64,
        "Fn::GetAZs": _fn_get_azs,
        "Fn::ToJsonString": _fn_to_json_string,
        "Fn::Length": _fn_length,
        "Fn::ImportValue": _fn_unsupported,
        "Fn::Cidr": _fn_unsupported,
    }

    def included(self, resource: dict[str, Any]) -> bool:
        """False when the resource's Condition is false (it does not exist in this deployment)."""
        name = resource.get("Condition")
        return True if name is None else self.condition(name)


def resources_of_type(resources: dict[str, Any], *types: str) -> Iterable[tuple[str, dict[str, Any]]]:
    for logical_id, resource in resources.items():
        if resource.get("Type") in types:
            yield logical_id, resource
