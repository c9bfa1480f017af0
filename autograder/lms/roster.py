"""`autograder roster import FILE`: the students of a Canvas or Moodle gradebook export, into nbgrader's gradebook.

Canvas ("Grades > Export"): `Student` ("Last, First"), `ID` (the Canvas user id), `SIS User ID`, `SIS Login ID`,
`Section` (some instances add `Integration ID`), then one column per assignment; a "Points Possible" row and a
"Student, Test" row are not students. Moodle ("Grades > Export > Plain text file"): `First name`, `Last name` (older
versions: `Surname`), `ID number`, `Institution`, `Department`, `Email address`, then the grade items.

A student's nbgrader id is the first non-empty column of `c.Autograder.lms_student_id[lms]` in course_config.py
(a value with an @ counts by the part before it). The LMS user id recorded (nbgrader's `lms_user_id`, what LTI
grade passback addresses a score by) is Canvas's `ID`, which Canvas's AGS accepts as a user id. Moodle's grade
export has no user id at all: its `ID number` and email are no Moodle user ids (a numeric ID number can even be
another person's), so a Moodle import leaves `lms_user_id` alone (`autograder lti roster` records it from the LMS),
clears one an earlier import set to the ID number or email, and keeps the ID number in its own table of the
gradebook (`autograder_lms_identity`) for `autograder export --identifier idnumber`. An import validates every
row before it writes anything and then writes them in one transaction: students are added or updated, never deleted.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .csvfiles import LmsFileError, read_table
from .csvfiles import Table as CsvTable

logger = logging.getLogger(__name__)

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_COLUMNS = ("First name", "Email address")
MOODLE_LAST_NAME = ("Last name", "Surname")
DEFAULT_ID_COLUMNS = {"canvas": ["SIS Login ID", "SIS User ID", "ID"], "moodle": ["ID number", "Email address"]}
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")   # also a folder name under submitted/
CANVAS_TEST_STUDENT = "Student, Test"


@cache
def lms_identity():
    """Identifiers an LMS knows a student by that nbgrader's student table has no column for (Moodle's ID number).
    Made when first needed: SQLAlchemy takes a good part of a second to import, and every `autograder` command
    imports this module to list its verb."""
    from sqlalchemy import Column, MetaData, String, Table

    return Table("autograder_lms_identity", MetaData(), Column("student", String(128), primary_key=True),
                 Column("id_number", String(255), nullable=True))


@dataclass(frozen=True)
class RosterStudent:
    id: str
    first_name: str
    last_name: str
    email: str | None
    lms_user_id: str | None
    line: int                       # where it is in the file, for messages
    identity: dict[str, str]        # the LMS's own identity columns, as exported (Canvas: Student, ID, SIS ..., Section)


@dataclass(frozen=True)
class Roster:
    path: Path
    lms: str                        # "canvas" or "moodle"
    students: list[RosterStudent]
    table: CsvTable


@dataclass
class ImportReport:
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    kept: int                       # students already in the gradebook and not in this roster (never deleted)
    cleared: list[str] = field(default_factory=list)  # lms_user_id that was a Moodle ID number or email: removed


def detect_lms(table: CsvTable) -> str:
    """"canvas" or "moodle", from the header row; LmsFileError naming the file and its columns otherwise."""
    columns = set(table.header)
    if {"Student", "ID"} <= columns and ({"SIS User ID", "SIS Login ID"} & columns):
        return "canvas"
    if set(MOODLE_COLUMNS) <= columns and columns & set(MOODLE_LAST_NAME):
        return "moodle"
    shown = ", ".join(table.header[:8]) + (", ..." if len(table.header) > 8 else "")
    raise LmsFileError(
        f"{table.path}: neither a Canvas gradebook export (columns {', '.join(CANVAS_COLUMNS)}) nor a Moodle grades "
        f"export (columns First name, Last name, ID number, ..., Email address); its columns are: {shown}"
        + (f" (read as {table.encoding} with {table.separator!r} between cells)" if len(table.header) == 1 else ""))


def read_roster(path: Path, id_columns: dict[str, list[str]] | None = None) -> Roster:
    """Every student of a Canvas or Moodle export, each with a valid, unique nbgrader id and LMS user id.

    Raises LmsFileError naming the file and every bad row (no id, an id that cannot be a folder name,
    a student twice) before anything is returned.
    """
    table = read_table(path)
    lms = detect_lms(table)
    columns = id_columns_for(lms, id_columns)
    missing = [column for column in columns if column not in table.header]
    if missing:
        raise LmsFileError(f"{table.path}: the id column(s) {', '.join(missing)} named in c.Autograder.lms_student_id"
                           f"[{lms!r}] are not in this {lms.title()} export (it has: {', '.join(table.header)})")
    parse = _canvas_student if lms == "canvas" else _moodle_student
    problems, students = [], []
    for line, row in table.rows:
        try:
            student = parse(line, row, columns)
        except ValueError as problem:
            problems.append(f"{table.path}, line {line}: {problem}")
            continue
        if student is not None:
            students.append(student)
    problems += _duplicates(table.path, students)
    if problems:
        raise LmsFileError("\n".join(problems))
    if not students:
        raise LmsFileError(f"{table.path}: no students in this {lms.title()} export")
    return Roster(Path(path), lms, students, table)


def id_columns_for(lms: str, configured: dict[str, list[str]] | None) -> list[str]:
    """The roster columns that give a student's nbgrader id, first choice first."""
    return list((configured or {}).get(lms) or DEFAULT_ID_COLUMNS[lms])


def _canvas_student(line: int, row: dict[str, str], columns: list[str]) -> RosterStudent | None:
    name = row["Student"]
    if not row["ID"] and (not name or name.lower().endswith("points possible")):
        return None  # the "Points Possible" row, and the blank "(read only)" / posting-policy rows
    if name == CANVAS_TEST_STUDENT:
        return None
    if not row["ID"]:
        raise ValueError(f"{name or 'a student'} has no Canvas ID")
    last, _, first = name.partition(",")
    identity = {column: row.get(column, "") for column in ("Student", "ID", "SIS User ID", "SIS Login ID",
                                                           "Integration ID", "Section") if column in row}
    login = row.get("SIS Login ID", "")
    return RosterStudent(_student_id(row, columns, name), first.strip(), last.strip(),
                         login if "@" in login else None, row["ID"], line, identity)


def _moodle_student(line: int, row: dict[str, str], columns: list[str]) -> RosterStudent | None:
    last = next(row[column] for column in MOODLE_LAST_NAME if column in row)
    name = f"{row['First name']} {last}".strip()
    if not name and not row["Email address"]:
        return None
    email = row["Email address"] or None
    identity = {column: row.get(column, "") for column in ("First name", *MOODLE_LAST_NAME, "ID number",
                                                           "Email address") if column in row}
    return RosterStudent(_student_id(row, columns, name), row["First name"], last, email, None, line, identity)


def _student_id(row: dict[str, str], columns: list[str], name: str) -> str:
    value = next((row[column] for column in columns if row.get(column)), "")
    if not value:
        raise ValueError(f"{name or 'a student'} has none of {', '.join(columns)}")
    value = value.split("@")[0] if "@" in value else value
    if not STUDENT_ID.fullmatch(value):
        raise ValueError(f"{name or 'a student'}: {value!r} cannot be a student id (letters, digits and . _ + - only, "
                         "starting with a letter or digit, at most 128)")
    return value


def _duplicates(path: Path, students: list[RosterStudent]) -> list[str]:
    problems = []
    for key, label in (("id", "student id"), ("lms_user_id", "LMS user id")):
        seen: dict[str, RosterStudent] = {}
        for student in students:
            value = getattr(student, key)
            if value is None:
                continue
            if value in seen:
                problems.append(f"{path}, line {student.line}: {label} {value!r} again (first on line {seen[value].line});"
                                " two students cannot share it")
            else:
                seen[value] = student
    return problems


def import_roster(db_url: str, roster: Roster) -> ImportReport:
    """Add the roster's students to the gradebook and update those it already has, in one transaction.

    Nothing is written if any student conflicts with the gradebook (a known LMS user id under another id);
    students of the gradebook missing from the roster stay as they are.
    """
    from ..grading.gradebook import open_gradebook  # first: it makes nbgrader's import fast
    from nbgrader.api import Student  # noqa: I001

    with open_gradebook(db_url) as gradebook:
        session = gradebook.db
        try:
            known = {student.id: student for student in session.query(Student).all()}
            by_lms = {student.lms_user_id: student for student in known.values() if student.lms_user_id}
            conflicts = [
                f"{roster.path}, line {entry.line}: {entry.first_name} {entry.last_name} (LMS user id "
                f"{entry.lms_user_id}) is student {by_lms[entry.lms_user_id].id!r} in the gradebook, but this roster "
                f"makes them {entry.id!r}; check c.Autograder.lms_student_id, or change the id in the gradebook first"
                for entry in roster.students
                if entry.lms_user_id in by_lms and by_lms[entry.lms_user_id].id != entry.id]
            if conflicts:
                raise LmsFileError("\n".join(conflicts))
            report = ImportReport([], [], [], 0)
            for entry in roster.students:
                wanted = {"first_name": entry.first_name or None, "last_name": entry.last_name or None,
                          "email": entry.email, "lms_user_id": entry.lms_user_id}
                student = known.get(entry.id)
                if student is None:
                    session.add(Student(id=entry.id, **wanted))
                    report.added.append(entry.id)
                    continue
                # an empty cell in the roster never erases what the gradebook knows
                changes = {key: value for key, value in wanted.items() if value and getattr(student, key) != value}
                if roster.lms == "moodle" and student.lms_user_id and student.lms_user_id in (
                        entry.identity.get("ID number"), entry.identity.get("Email address")):
                    changes["lms_user_id"] = None  # an earlier import's: no Moodle user id, AGS would misread it
                    report.cleared.append(entry.id)
                for key, value in changes.items():
                    setattr(student, key, value)
                (report.updated if changes else report.unchanged).append(entry.id)
            report.kept = len(set(known) - {entry.id for entry in roster.students})
            if roster.lms == "moodle":
                session.flush()
                _record_id_numbers(session, {e.id: e.identity.get("ID number") for e in roster.students})
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return report


def _record_id_numbers(session, id_numbers: dict[str, str | None]) -> None:
    """Keep each student's Moodle ID number (an empty cell never erases one), in the import's transaction."""
    from sqlalchemy import select

    table = lms_identity()
    connection = session.connection()
    table.create(connection, checkfirst=True)
    held = dict(connection.execute(select(table.c.student, table.c.id_number)).all())
    for student, number in id_numbers.items():
        if not number or held.get(student) == number:
            continue
        if student in held:
            connection.execute(table.update().where(table.c.student == student).values(id_number=number))
        else:
            connection.execute(table.insert().values(student=student, id_number=number))


def id_numbers(session) -> dict[str, str]:
    """student -> Moodle ID number, as Moodle roster imports recorded them ({} before the first)."""
    from sqlalchemy import inspect, select

    table = lms_identity()
    connection = session.connection()
    if not inspect(connection).has_table(table.name):
        return {}
    return {student: number for student, number in
            connection.execute(select(table.c.student, table.c.id_number)).all() if number}


def add_command(commands) -> None:
    roster = commands.add_parser("roster", help="import the class list from a Canvas or Moodle gradebook export")
    actions = roster.add_subparsers(dest="roster_action", required=True)
    load = actions.add_parser("import", help="add or update the students of a Canvas or Moodle gradebook CSV")
    load.add_argument("file", type=Path, metavar="FILE", help="Canvas: Grades > Export; Moodle: Grades > Export > "
                      "Plain text file")
    load.add_argument("--db", help="gradebook SQLAlchemy URL (default: the course's)")
    load.set_defaults(run=run_import)


def run_import(args) -> int:
    from ..course.config import load_course

    course = load_course()
    db_url = args.db or course.db_url
    try:
        roster = read_roster(args.file, course.lms_student_id)
        report = import_roster(db_url, roster)
    except LmsFileError as error:
        logger.error("Roster not imported, the gradebook is unchanged:\n%s", error)
        return 1
    print(f"{roster.path}: a {roster.lms.title()} roster of {len(roster.students)} students "
          f"(ids from: {', '.join(id_columns_for(roster.lms, course.lms_student_id))})")
    print(f"  added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}; "
          f"{report.kept} other student(s) already in the gradebook kept")
    for label, ids in (("added", report.added), ("updated", report.updated)):
        if ids:
            print(f"  {label}: {', '.join(ids)}")
    if report.cleared:
        print(f"  LMS user id removed ({len(report.cleared)}: it was the ID number or email, which Moodle's grade "
              f"service would misread): {', '.join(report.cleared)}")
    if roster.lms == "moodle":
        print("  Moodle's export has no Moodle user ids: for LTI grade passback, record them with "
              "`autograder lti roster`.")
    print(f"  gradebook: {db_url}")
    return 0
