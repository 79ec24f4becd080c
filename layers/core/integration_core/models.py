"""Base pydantic models for the API edge: camelCase on the wire, snake_case in Python, unknown
fields refused on input, strings stripped and bounded, and text printable.

Text rules (every string of a request body, `RequestModel._printable_text`): a one-line field (a
name, title, email, id, reason...) refuses control characters (Cc: NUL, the ESC of ANSI sequences,
CR, LF, tab, DEL, C1), format characters (Cf: bidirectional overrides and isolates, zero-width
space, byte order mark), surrogates and line or paragraph separators, with a 422 naming the field
and the character. Joiners (U+200C, U+200D) are format characters that Persian and Indic names and
emoji sequences need: they are taken. A model lists its multi-line fields (descriptions: tab and
newline are taken there too) and its verbatim ones (a payload whose signature is checked).

Every model builds its validator and serializer on first use (`defer_build`), not at import: a
function imports a whole domain module but serves a few of its models per request, and building
them all cost ~10-30 ms of cold start per module."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from integration_core.money import AMOUNT_PATTERN, decimal_text_problem

T = TypeVar("T")

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_JOINERS = frozenset({"\u200c", "\u200d"})
MULTI_LINE = frozenset({"\t", "\n"})


def text_problem(value: str, allowed: frozenset[str] = frozenset()) -> str | None:
    """Why `value` is not printable text (None when it is): the first refused character."""
    if value.isprintable():  # the common case, at C speed: no Other and no Separator but space
        return None
    for index, char in enumerate(value):
        if char in allowed or char in _JOINERS or unicodedata.category(char) not in _REFUSED_CATEGORIES:
            continue
        name = unicodedata.name(char, "a control character")
        taken = "printable text, tab and newline" if allowed else "printable text on one line"
        return f"contains U+{ord(char):04X} ({name}) at position {index}; only {taken} is taken"
    return None


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
    """A request body: unknown fields are an error, not silently dropped; text is printable."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", str_max_length=4000)
    # Python names of fields that take tab and newline, and of fields taken exactly as sent.
    multi_line_fields: ClassVar[frozenset[str]] = frozenset()
    verbatim_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _printable_text(cls, value: Any, info: ValidationInfo) -> Any:
        # Before the field's own validation, so that the reason is the character, whatever the type.
        name = info.field_name or ""
        if name in cls.verbatim_fields:
            return value
        allowed = MULTI_LINE if name in cls.multi_line_fields else frozenset()
        for text in value if isinstance(value, list) else (value,):
            if isinstance(text, str) and (problem := text_problem(text, allowed)):
                raise ValueError(problem)
        return value


class PageOf(ApiModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")


def _decimal_text(value: str) -> str:
    problem = decimal_text_problem(value)
    if problem:
        raise PydanticCustomError("decimal_amount", problem)
    return value


# An amount in a request: a JSON string in money's one form (its currency's places are checked later).
DecimalText = Annotated[
    str,
    Field(json_schema_extra={"pattern": AMOUNT_PATTERN, "maxLength": 32}, examples=["99.99"]),
    AfterValidator(_decimal_text),
]
