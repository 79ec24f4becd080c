"""Every key and access pattern of the single DynamoDB table, in one place.

Table keys: PK (partition), SK (sort). One GSI, GSI1 (GSI1PK, GSI1SK), serves the alternate
lookups. Items that expire carry `expiresAt` (epoch seconds, the table's TTL attribute).

| item                    | PK                   | SK                 | GSI1PK              | GSI1SK           |
|-------------------------|----------------------|--------------------|---------------------|------------------|
| student                 | STUDENT#<id>         | PROFILE            | TYPE#student        | <createdAt>#<id> |
| teacher                 | TEACHER#<id>         | PROFILE            | TYPE#teacher        | <createdAt>#<id> |
| email uniqueness lock   | EMAIL#<kind>#<email> | LOCK               |                     |                  |
| course                  | COURSE#<id>          | PROFILE            | TYPE#course         | <createdAt>#<id> |
| teacher -> course link  | TEACHER#<teacherId>  | COURSE#<courseId>  |                     |                  |
| class session           | COURSE#<courseId>    | SESSION#<id>       | SESSIONS#<courseId> | <startsAt>#<id>  |
| enrollment (by course)  | COURSE#<courseId>    | ENROLLMENT#<stuId> |                     |                  |
| enrollment (by student) | STUDENT#<studentId>  | ENROLLMENT#<crsId> |                     |                  |

Access patterns (all Query/GetItem/BatchGetItem, never Scan):
- a student, teacher or course by id: GetItem (PK, PROFILE)
- all students / teachers / courses, oldest first, paginated: Query GSI1 TYPE#<kind>
- a teacher's courses: Query PK=TEACHER#<id>, SK begins_with COURSE#
- a course's sessions in time order: Query GSI1 SESSIONS#<courseId>
- a course's enrollments: Query PK=COURSE#<id>, SK begins_with ENROLLMENT#
- a student's enrollments (and so courses): Query PK=STUDENT#<id>, SK begins_with ENROLLMENT#,
  then BatchGetItem of the courses
- is this email taken: GetItem EMAIL#<kind>#<email> (written in the same transaction as the profile)

Later capabilities add their rows to this table and their patterns to this list.
"""

from __future__ import annotations

PROFILE = "PROFILE"
LOCK = "LOCK"
GSI1 = "GSI1"


def entity_pk(kind: str, entity_id: str) -> str:
    return f"{kind.upper()}#{entity_id}"


def listing_pk(kind: str) -> str:
    return f"TYPE#{kind}"


def listing_sk(created_at: str, entity_id: str) -> str:
    return f"{created_at}#{entity_id}"


def email_lock_pk(kind: str, email: str) -> str:
    return f"EMAIL#{kind}#{email.lower()}"


def course_link_sk(course_id: str) -> str:
    return f"COURSE#{course_id}"


def session_sk(session_id: str) -> str:
    return f"SESSION#{session_id}"


def sessions_pk(course_id: str) -> str:
    return f"SESSIONS#{course_id}"


def enrollment_sk(other_id: str) -> str:
    return f"ENROLLMENT#{other_id}"
