"""Base pydantic models for the API edge: camelCase on the wire, snake_case in Python, unknown
fields refused on input, strings stripped and bounded.

Every model builds its validator and serializer on first use (`defer_build`), not at import: a
function imports a whole domain module but serves a few of its models per request, and building
them all cost ~10-30 ms of cold start per module."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

T = TypeVar("T")

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def unchanged_if_absent(**constraints: Any) -> Any:
    """A PATCH field that may be left out (nothing changes) but not set to null. Declare it with
    its plain type (`name: ShortText = unchanged_if_absent()`): the default None is never validated,
    so an explicit null fails as that type does, with a 422 naming the field; the schema keeps the
    plain type and shows no default. Fields where null means "clear" are declared `X | None`."""
    return Field(default=None, json_schema_extra=_no_default, **constraints)


class ApiModel(BaseModel):
    """A response body."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, defer_build=True
    )


class RequestModel(ApiModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", str_max_length=4000)


class PageOf(ApiModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")
