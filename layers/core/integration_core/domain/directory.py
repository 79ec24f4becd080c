"""The directory's models: students, teachers, courses, class sessions, enrollments."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import EmailStr, Field, computed_field, field_validator, model_validator

from integration_core import timeutil
from integration_core.domain.currency_rules import providers_for
from integration_core.ids import ANY_ID
from integration_core.models import ApiModel, DecimalText, LongText, RequestModel, ShortText, unchanged_if_absent
from integration_core.money import Money

Weekday = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
MAX_SESSIONS_PER_REQUEST = 366
MAX_CAPACITY = 10_000


def _zone(value: str) -> str:
    if not timeutil.is_valid_zone(value):
        raise ValueError("must be an IANA time zone such as Europe/London")
    return value


def _id_pattern(prefix: str) -> str:
    return rf"^{prefix}_[a-z0-9]{{4,40}}$"


# ---------------------------------------------------------------- people
class PersonCreate(RequestModel):
    email: EmailStr = Field(max_length=254)
    name: ShortText
    time_zone: str = Field(default="UTC", max_length=64)

    _check_zone = field_validator("time_zone")(_zone)


class StudentCreate(PersonCreate):
    id: Annotated[str, Field(pattern=_id_pattern("stu"))] | None = Field(
        default=None, description="Optional id from another system; generated when absent."
    )


class TeacherCreate(PersonCreate):
    id: Annotated[str, Field(pattern=_id_pattern("tch"))] | None = None


class PersonUpdate(RequestModel):
    """Fields left out stay as they are; none of them may be null (a person always has each)."""

    email: EmailStr = unchanged_if_absent(max_length=254)
    name: ShortText = unchanged_if_absent()
    time_zone: str = unchanged_if_absent(max_length=64)

    _check_zone = field_validator("time_zone")(_zone)

    @model_validator(mode="after")
    def _not_empty(self) -> PersonUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self


class Person(ApiModel):
    id: str
    email: str
    name: str
    time_zone: str
    created_at: str
    updated_at: str


class Student(Person):
    pass


class Teacher(Person):
    pass


# ---------------------------------------------------------------- courses
class PriceIn(RequestModel):
    amount: DecimalText = Field(description='Decimal string in the currency\'s units, e.g. "99.99"; "0" is free')
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")


class Price(ApiModel):
    amount: str
    currency: str
    amount_minor: int


class CourseCreate(RequestModel):
    multi_line_fields = frozenset({"description"})

    id: Annotated[str, Field(pattern=_id_pattern("crs"))] | None = None
    title: ShortText
    description: LongText = ""
    price: PriceIn
    time_zone: str = Field(max_length=64)
    teacher_id: str = Field(pattern=_id_pattern("tch"))
    published: bool = Field(
        default=False, strict=True, description="Shown in the catalog; a new course is a draft until published"
    )
    capacity: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=MAX_CAPACITY,
        description="Seats; null for no limit. Admin enrollments stop there",
    )

    _check_zone = field_validator("time_zone")(_zone)


class CourseUpdate(RequestModel):
    """Fields left out stay as they are; null is refused except for the description, which it
    clears, and the capacity, which it removes."""

    multi_line_fields = frozenset({"description"})

    title: ShortText = unchanged_if_absent()
    description: LongText | None = Field(default=None, description="null clears it")
    price: PriceIn = unchanged_if_absent()
    time_zone: str = unchanged_if_absent(max_length=64)
    teacher_id: str = unchanged_if_absent(pattern=_id_pattern("tch"))
    published: bool = unchanged_if_absent(strict=True)
    capacity: int | None = Field(default=None, strict=True, ge=1, le=MAX_CAPACITY, description="null removes the limit")

    _check_zone = field_validator("time_zone")(_zone)

    @model_validator(mode="after")
    def _not_empty(self) -> CourseUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self


class ScheduleSummary(ApiModel):
    time_zone: str
    session_count: int = 0
    first_session_at: str | None = Field(default=None, description="UTC")
    last_session_at: str | None = Field(default=None, description="UTC")


class Course(ApiModel):
    """The full record (staff, and the course's own teacher and students)."""

    id: str
    title: str
    description: str
    price: Price
    time_zone: str
    teacher_id: str
    published: bool = False
    capacity: int | None = None
    enrolled_count: int = Field(default=0, description="Enrollments, kept with each enrollment and unenrollment")
    seats_left: int | None = Field(
        default=None, description="capacity - enrolledCount, at least 0; null without a limit"
    )
    schedule: ScheduleSummary | None = None
    created_at: str
    updated_at: str

    # mypy takes no decorator over @property; pydantic's docs give this very ignore for computed_field.
    @computed_field(description="The payment providers that can take this price (by their currency rules)")  # type: ignore[prop-decorator]
    @property
    def providers(self) -> list[str]:
        return providers_for(Money(self.price.amount_minor, self.price.currency))


# ---------------------------------------------------------------- the catalog (what a buyer sees)
class CatalogTeacher(ApiModel):
    id: str
    name: str


class CatalogSchedule(ScheduleSummary):
    next_session_at: str | None = Field(default=None, description="UTC; in GET /directory/catalog/{courseId} only")


class CatalogCourse(ApiModel):
    """A published course as a student or visitor sees it: no enrollments, no internal fields."""

    id: str
    title: str
    description: str
    price: Price
    teacher: CatalogTeacher
    schedule: CatalogSchedule
    capacity: int | None = None
    seats_left: int | None = Field(description="null when the course has no seat limit")


# ---------------------------------------------------------------- class sessions
class ExplicitSession(RequestModel):
    starts_at: datetime = Field(description="Local time in the course's zone, or with an explicit offset")
    duration_minutes: int = Field(ge=5, le=600)


class WeeklyRecurrence(RequestModel):
    days_of_week: list[Weekday] = Field(min_length=1, max_length=7)
    start_time: time = Field(description="Local wall-clock time in the course's zone, e.g. 18:00")
    duration_minutes: int = Field(ge=5, le=600)
    from_date: date
    until_date: date | None = None
    count: int | None = Field(default=None, ge=1, le=MAX_SESSIONS_PER_REQUEST)

    @model_validator(mode="after")
    def _bounded(self) -> WeeklyRecurrence:
        if (self.until_date is None) == (self.count is None):
            raise ValueError("give exactly one of untilDate or count")
        if self.until_date and self.until_date < self.from_date:
            raise ValueError("untilDate is before fromDate")
        if self.until_date and (self.until_date - self.from_date).days > 3 * 366:
            raise ValueError("a recurrence spans at most three years")
        return self


class SessionsCreate(RequestModel):
    sessions: list[ExplicitSession] | None = Field(default=None, max_length=MAX_SESSIONS_PER_REQUEST)
    recurrence: WeeklyRecurrence | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> SessionsCreate:
        if (self.sessions is None) == (self.recurrence is None):
            raise ValueError("give either sessions or recurrence")
        return self


class SessionUpdate(RequestModel):
    """A move: a new start, a new length, or both."""

    starts_at: datetime = unchanged_if_absent(description="Local time in the course's zone, or with an explicit offset")
    duration_minutes: int = unchanged_if_absent(ge=5, le=600)


class ClassSession(ApiModel):
    id: str
    course_id: str
    starts_at: str = Field(description="UTC")
    ends_at: str = Field(description="UTC")
    local_starts_at: str = Field(description="The same instant in the course's zone")
    time_zone: str
    status: Literal["scheduled", "cancelled"] = "scheduled"
    version: int = Field(default=1, description="Goes up by one with each move or cancellation")
    join_url: str | None = Field(
        default=None,
        description="In the course's sessions listing: an enrolled student's personal video link for this "
        "class, the meeting's link for its teacher; absent for anyone else and before the meeting exists",
    )


class SessionsCreated(ApiModel):
    created: list[ClassSession]
    already_existed: int


# ---------------------------------------------------------------- enrollments
class EnrollmentCreate(RequestModel):
    course_id: str = Field(pattern=_id_pattern("crs"))
    student_id: str = Field(pattern=_id_pattern("stu"))


class Enrollment(ApiModel):
    course_id: str
    student_id: str
    enrolled_at: str
    source: str
    payment_id: str | None = Field(default=None, description="The payment that bought it, when one did")


ID_RE = re.compile(ANY_ID)
