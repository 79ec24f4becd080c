"""The directory API: students, teachers, courses, class sessions, enrollments.
Thin: routes and models here, rules in integration_core.services.directory."""

from __future__ import annotations

from typing import Annotated

import integration_core.startup  # noqa: F401  # before Powertools: see its docstring

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from integration_core.config import settings
from integration_core.domain.directory import (
    CatalogCourse,
    ClassSession,
    Course,
    CourseCreate,
    CourseUpdate,
    Enrollment,
    EnrollmentCreate,
    PersonUpdate,
    SessionsCreate,
    SessionsCreated,
    SessionUpdate,
    Student,
    StudentCreate,
    Teacher,
    TeacherCreate,
)
from integration_core.http import caller, make_resolver
from integration_core.ids import id_pattern
from integration_core.models import PageOf
from integration_core.observability import lambda_handler
from integration_core.services import directory

app = make_resolver()

Limit = Annotated[int, Query(ge=1, le=100, description="Page size")]
Cursor = Annotated[str | None, Query(max_length=2048, description="nextCursor of the previous page")]
StudentId = Annotated[str, Path(pattern=id_pattern("student"))]
TeacherId = Annotated[str, Path(pattern=id_pattern("teacher"))]
CourseId = Annotated[str, Path(pattern=id_pattern("course"))]
SessionId = Annotated[str, Path(pattern=id_pattern("session"))]


# A route that returns a Response has no return annotation, and says why: Powertools documents a
# route's return annotation as its response body, and a 204 (or a page that is not JSON) has none.
def no_content() -> Response[str]:
    return Response(status_code=204, body="")


# ---------------------------------------------------------------- students
@app.get("/directory/students", tags=["directory"], summary="List students (admin, service)")
def list_students(limit: Limit = 25, cursor: Cursor = None) -> PageOf[Student]:
    return directory.list_people(caller(app), "student", limit, cursor)


@app.post("/directory/students", tags=["directory"], summary="Create a student (admin)", status_code=201)
def create_student(body: StudentCreate) -> Student:
    return directory.create_person(caller(app), "student", body)


@app.get("/directory/students/<studentId>", tags=["directory"], summary="A student (admin, service, self)")
def get_student(studentId: StudentId) -> Student:
    return directory.get_person(caller(app), "student", studentId)


@app.patch("/directory/students/<studentId>", tags=["directory"], summary="Change a student (admin)")
def update_student(studentId: StudentId, body: PersonUpdate) -> Student:
    return directory.update_person(caller(app), "student", studentId, body)


@app.delete("/directory/students/<studentId>", tags=["directory"], summary="Delete a student (admin)", status_code=204)
def delete_student(studentId: StudentId):  # type: ignore[no-untyped-def]  # a Response: see no_content
    directory.delete_person(caller(app), "student", studentId)
    return no_content()


# ---------------------------------------------------------------- teachers
@app.get("/directory/teachers", tags=["directory"], summary="List teachers (admin, service)")
def list_teachers(limit: Limit = 25, cursor: Cursor = None) -> PageOf[Teacher]:
    return directory.list_people(caller(app), "teacher", limit, cursor)


@app.post("/directory/teachers", tags=["directory"], summary="Create a teacher (admin)", status_code=201)
def create_teacher(body: TeacherCreate) -> Teacher:
    return directory.create_person(caller(app), "teacher", body)


@app.get("/directory/teachers/<teacherId>", tags=["directory"], summary="A teacher (admin, service, self)")
def get_teacher(teacherId: TeacherId) -> Teacher:
    return directory.get_person(caller(app), "teacher", teacherId)


@app.patch("/directory/teachers/<teacherId>", tags=["directory"], summary="Change a teacher (admin)")
def update_teacher(teacherId: TeacherId, body: PersonUpdate) -> Teacher:
    return directory.update_person(caller(app), "teacher", teacherId, body)


@app.delete("/directory/teachers/<teacherId>", tags=["directory"], summary="Delete a teacher (admin)", status_code=204)
def delete_teacher(teacherId: TeacherId):  # type: ignore[no-untyped-def]  # a Response: see no_content
    directory.delete_person(caller(app), "teacher", teacherId)
    return no_content()


# ---------------------------------------------------------------- courses
@app.get("/directory/courses", tags=["directory"], summary="Courses the caller may see")
def list_courses(limit: Limit = 25, cursor: Cursor = None) -> PageOf[Course]:
    return directory.list_courses(caller(app), limit, cursor)


@app.post("/directory/courses", tags=["directory"], summary="Create a course (admin)", status_code=201)
def create_course(body: CourseCreate) -> Course:
    return directory.create_course(caller(app), body)


@app.get("/directory/courses/<courseId>", tags=["directory"], summary="A course (its teacher, its students)")
def get_course(courseId: CourseId) -> Course:
    return directory.get_course(caller(app), courseId)


@app.patch("/directory/courses/<courseId>", tags=["directory"], summary="Change a course (admin)")
def update_course(courseId: CourseId, body: CourseUpdate) -> Course:
    return directory.update_course(caller(app), courseId, body)


@app.delete("/directory/courses/<courseId>", tags=["directory"], summary="Delete a course (admin)", status_code=204)
def delete_course(courseId: CourseId):  # type: ignore[no-untyped-def]  # a Response: see no_content
    directory.delete_course(caller(app), courseId)
    return no_content()


# ---------------------------------------------------------------- the catalog
def _catalog_reader() -> None:
    """Any signed-in caller reads the catalog; anyone at all where the school made it public (the
    CatalogPublic parameter: its routes then have no authorizer and carry no caller)."""
    if not settings().catalog_public:
        caller(app)


@app.get("/directory/catalog", tags=["directory"], summary="Published courses: price, teacher, schedule, seats left")
def list_catalog(limit: Limit = 25, cursor: Cursor = None) -> PageOf[CatalogCourse]:
    _catalog_reader()
    return directory.catalog(limit, cursor)


@app.get("/directory/catalog/<courseId>", tags=["directory"], summary="A published course, with its next session")
def get_catalog_course(courseId: CourseId) -> CatalogCourse:
    _catalog_reader()
    return directory.catalog_course(courseId)


# ---------------------------------------------------------------- class sessions
@app.get("/directory/courses/<courseId>/sessions", tags=["directory"], summary="A course's sessions in time order")
def list_sessions(courseId: CourseId, limit: Limit = 25, cursor: Cursor = None) -> PageOf[ClassSession]:
    return directory.list_sessions(caller(app), courseId, limit, cursor)


@app.post(
    "/directory/courses/<courseId>/sessions",
    tags=["directory"],
    summary="Add sessions, explicit or by a weekly rule in the course's zone (admin)",
    status_code=201,
)
def create_sessions(courseId: CourseId, body: SessionsCreate) -> SessionsCreated:
    return directory.create_sessions(caller(app), courseId, body)


@app.patch(
    "/directory/courses/<courseId>/sessions/<sessionId>",
    tags=["directory"],
    summary="Move a session: a new start, a new length, or both (admin)",
)
def move_session(courseId: CourseId, sessionId: SessionId, body: SessionUpdate) -> ClassSession:
    return directory.move_session(caller(app), courseId, sessionId, body)


@app.delete(
    "/directory/courses/<courseId>/sessions/<sessionId>",
    tags=["directory"],
    summary="Cancel a session (it stays, cancelled, so calendars show the cancellation) (admin)",
    status_code=204,
)
def delete_session(courseId: CourseId, sessionId: SessionId):  # type: ignore[no-untyped-def]  # a Response: see no_content
    directory.delete_session(caller(app), courseId, sessionId)
    return no_content()


# ---------------------------------------------------------------- enrollments
@app.get("/directory/enrollments", tags=["directory"], summary="Enrollments of a course or a student")
def list_enrollments(
    courseId: Annotated[str | None, Query(pattern=id_pattern("course"))] = None,
    studentId: Annotated[str | None, Query(pattern=id_pattern("student"))] = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> PageOf[Enrollment]:
    return directory.list_enrollments(caller(app), courseId, studentId, limit, cursor)


@app.post("/directory/enrollments", tags=["directory"], summary="Enroll a student (admin)", status_code=201)
def create_enrollment(body: EnrollmentCreate) -> Enrollment:
    return directory.enroll(caller(app), body.course_id, body.student_id)


@app.delete(
    "/directory/enrollments/<courseId>/<studentId>", tags=["directory"], summary="Unenroll (admin)", status_code=204
)
def delete_enrollment(courseId: CourseId, studentId: StudentId):  # type: ignore[no-untyped-def]  # a Response: see no_content
    directory.unenroll(caller(app), courseId, studentId)
    return no_content()


@lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
