"""Loads the sample directory (seed/directory.json) through the directory service, so seeded data
obeys the same rules as data created through the API. Running it twice changes nothing.

    TABLE_NAME=... AWS_ENDPOINT_URL=http://127.0.0.1:<moto port> python scripts/seed_directory.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "core"), str(ROOT)]

from integration_core.domain.directory import CourseCreate, SessionsCreate, StudentCreate, TeacherCreate  # noqa: E402
from integration_core.errors import Conflict  # noqa: E402
from integration_core.principal import Principal, Role  # noqa: E402
from integration_core.services import directory  # noqa: E402

SEED_FILE = ROOT / "seed" / "directory.json"
SEEDER = Principal(sub="adm_seed", role=Role.ADMIN)


def _ignore_existing(action) -> bool:
    try:
        action()
        return True
    except Conflict:
        return False


def seed(path: Path = SEED_FILE) -> dict[str, int]:
    data = json.loads(path.read_text())
    created = {"teachers": 0, "students": 0, "courses": 0, "sessions": 0, "enrollments": 0}
    for teacher in data["teachers"]:
        created["teachers"] += _ignore_existing(
            lambda t=teacher: directory.create_person(SEEDER, "teacher", TeacherCreate(**t))
        )
    for student in data["students"]:
        created["students"] += _ignore_existing(
            lambda s=student: directory.create_person(SEEDER, "student", StudentCreate(**s))
        )
    for course in data["courses"]:
        fields = {k: v for k, v in course.items() if k != "recurrence"}
        created["courses"] += _ignore_existing(lambda c=fields: directory.create_course(SEEDER, CourseCreate(**c)))
        if "recurrence" in course:
            sessions = SessionsCreate(recurrence=course["recurrence"])
            created["sessions"] += len(directory.create_sessions(SEEDER, course["id"], sessions).created)
    for enrollment in data["enrollments"]:
        created["enrollments"] += _ignore_existing(
            lambda e=enrollment: directory.enroll(SEEDER, e["courseId"], e["studentId"])
        )
    return created


if __name__ == "__main__":
    counts = seed(Path(sys.argv[1]) if len(sys.argv) > 1 else SEED_FILE)
    sys.stdout.write("seeded: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()) + "\n")
