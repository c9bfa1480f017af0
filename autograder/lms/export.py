"""`autograder export --format canvas|moodle|plain|nbgrader`: the gradebook's scores, as each LMS imports them.

A score is nbgrader's: the submission's autograded and manual points, less any late penalty, never below 0
(as `nbgrader export`). A student without a submission gets an empty cell, which Canvas and Moodle leave alone.
- canvas: Canvas's gradebook CSV (Grades > Import): `Student`, `ID`, `SIS User ID`, `SIS Login ID`, `Section`, then
  one column per assignment titled `<assignment> (<Canvas assignment id>)` (ids from c.Autograder.canvas_assignment_ids)
  and a "Points Possible" row. Canvas finds each student by `ID`: students without a Canvas user id are left out.
  With `--roster` (Canvas's own gradebook export), its students and identity columns are used as they are.
- moodle: for Moodle's "Import > CSV file": `First name`, `Last name`, an identifier (`Email address` or `ID number`,
  mapped in Moodle's "Identify user by"), one column per assignment, and with `--feedback` a `<assignment> feedback`
  column each (every exercise's points).
- plain: `student`, one column per assignment, `total`.
- nbgrader: `nbgrader export`'s own CSV, written by nbgrader itself.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..results.scores import fraction
from .csvfiles import LmsFileError, write_table

logger = logging.getLogger(__name__)

FORMATS = ("canvas", "moodle", "plain", "nbgrader")
DEFAULT_FILES = {"canvas": "canvas_grades.csv", "moodle": "moodle_grades.csv", "plain": "grades.csv",
                 "nbgrader": "nbgrader_grades.csv"}
MOODLE_IDENTIFIERS = {"email": "Email address", "idnumber": "ID number"}
CANVAS_POINTS_POSSIBLE = "    Points Possible"


@dataclass(frozen=True)
class StudentRecord:
    id: str
    first_name: str
    last_name: str
    email: str
    lms_user_id: str
    id_number: str = ""      # Moodle's, as the roster import recorded it


@dataclass(frozen=True)
class Grades:
    """Everything an export needs from the gradebook, read in one go."""
    assignments: list[str]                          # the course's, in teaching order
    max_scores: dict[str, float | None]             # assignment -> points (None: not in the gradebook yet)
    students: list[StudentRecord]                   # by last name, first name, id
    scores: dict[tuple[str, str], float]            # (student, assignment) -> score, for each submission
    feedback: dict[tuple[str, str], str]            # (student, assignment) -> "exercise 2/2; ..."
    needs_manual_grade: list[tuple[str, str]]       # submissions whose manual grading is not finished

    def score(self, student: str, assignment: str) -> float | None:
        return self.scores.get((student, assignment))

    def total(self, student: str) -> float:
        return sum(self.scores.get((student, assignment), 0.0) for assignment in self.assignments)


def read_grades(db_url: str, assignments: list[str]) -> Grades:
    """Every student's score of every assignment, as nbgrader's export computes it."""
    from ..grading.gradebook import lms_score, open_gradebook  # first: it makes nbgrader's import fast
    from nbgrader.api import MissingEntry  # noqa: I001

    scores, feedback, max_scores, unfinished = {}, {}, {}, []
    from .roster import id_numbers

    with open_gradebook(db_url) as gradebook:
        numbers = id_numbers(gradebook.db)
        students = sorted((StudentRecord(s.id, s.first_name or "", s.last_name or "", s.email or "",
                                         s.lms_user_id or "", numbers.get(s.id, "")) for s in gradebook.students),
                          key=lambda s: (s.last_name.casefold(), s.first_name.casefold(), s.id))
        for name in assignments:
            try:
                assignment = gradebook.find_assignment(name)
            except MissingEntry:
                max_scores[name] = None
                continue
            max_scores[name] = assignment.max_score
            for submission in assignment.submissions:
                key = (submission.student_id, name)
                scores[key] = lms_score(submission)
                feedback[key] = "; ".join(_feedback_part(grade, comments)
                                          for notebook in submission.notebooks
                                          for comments in [{c.name: (c.manual_comment or "").strip()
                                                            for c in notebook.comments}]
                                          for grade in notebook.grades)
                if submission.needs_manual_grade:
                    unfinished.append(key)
    return Grades(list(assignments), max_scores, students, scores, feedback, sorted(unfinished))


def _feedback_part(grade, comments: dict[str, str]) -> str:
    """One cell in a feedback column: its points and the grader's comment; a written answer nobody has graded
    yet says so, where nbgrader's score would read 0."""
    if grade.manual_score is None and grade.auto_score is None:
        return f"{grade.name}: to be graded by your instructor, not counted yet"
    comment = comments.get(grade.name) if grade.manual_score is not None else ""
    return f"{grade.name} {fraction(grade.score, grade.max_score)}" + (f" ({comment})" if comment else "")


def _number(value: float | None) -> str:
    """A score as people write it: 3, 2.5, 0.333333."""
    return "" if value is None else f"{value:.6g}"


def canvas_table(grades: Grades, canvas_ids: dict[str, int], roster_rows: list[dict[str, str]] | None = None
                 ) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, rows and the students left out, of Canvas's gradebook import CSV."""
    unset = [a for a in grades.assignments if not (canvas_ids or {}).get(a)]
    if unset:
        raise LmsFileError("Canvas needs each assignment's Canvas id; set c.Autograder.canvas_assignment_ids in "
                           f"course_config.py for: {', '.join(unset)} (the number at the end of the assignment's "
                           "address in Canvas, .../assignments/123456)")
    identity = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    header = identity + [f"{a} ({canvas_ids[a]})" for a in grades.assignments]
    rows = [[CANVAS_POINTS_POSSIBLE, "", "", "", ""] + [_number(grades.max_scores[a]) for a in grades.assignments]]
    by_lms = {s.lms_user_id: s for s in grades.students if s.lms_user_id}
    if roster_rows is None:
        roster_rows = [{"Student": f"{s.last_name}, {s.first_name}" if s.first_name else s.last_name,
                        "ID": s.lms_user_id} for s in grades.students if s.lms_user_id]
    for row in roster_rows:
        student = by_lms.get(row["ID"])
        scores = [_number(grades.score(student.id, a)) if student else "" for a in grades.assignments]
        rows.append([row.get(column, "") for column in identity] + scores)
    listed = {row["ID"] for row in roster_rows}
    left_out = [s.id for s in grades.students if s.lms_user_id not in listed]
    return header, rows, left_out


def moodle_table(grades: Grades, identifier: str = "email", with_feedback: bool = False
                 ) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, rows and the students left out (no identifier), for Moodle's CSV grade import."""
    column = MOODLE_IDENTIFIERS[identifier]
    header = ["First name", "Last name", column]
    for assignment in grades.assignments:
        header += [assignment] + ([f"{assignment} feedback"] if with_feedback else [])
    rows, left_out = [], []
    for student in grades.students:
        key = student.email if identifier == "email" else student.id_number
        if not key:
            left_out.append(student.id)
            continue
        row = [student.first_name, student.last_name, key]
        for assignment in grades.assignments:
            row.append(_number(grades.score(student.id, assignment)))
            if with_feedback:
                row.append(grades.feedback.get((student.id, assignment), ""))
        rows.append(row)
    return header, rows, left_out


def plain_table(grades: Grades) -> tuple[list[str], list[list[str]], list[str]]:
    """Header and rows of a plain CSV: student, one score per assignment, total."""
    header = ["student", *grades.assignments, "total"]
    rows = [[s.id, *(_number(grades.score(s.id, a)) for a in grades.assignments), _number(grades.total(s.id))]
            for s in grades.students]
    return header, rows, []


def nbgrader_export(course_root: Path, db_url: str, destination: Path) -> Path:
    """Run `nbgrader export` on the gradebook into `destination` (written beside it, then renamed)."""
    destination = Path(destination).resolve()
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    os.close(handle)
    try:
        done = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--db", db_url, "--to", temporary],
                              cwd=course_root, capture_output=True, text=True)
        if done.returncode != 0:
            raise LmsFileError(f"nbgrader export failed (exit {done.returncode}):\n{done.stderr.strip()}")
        os.replace(temporary, destination)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return destination


def add_command(commands) -> None:
    parser = commands.add_parser("export", help="write the gradebook's scores for Canvas, Moodle or a spreadsheet")
    parser.add_argument("--format", choices=FORMATS, default="plain",
                        help="canvas: Canvas gradebook import; moodle: Moodle CSV grade import; plain: one row per "
                             "student; nbgrader: nbgrader's own export (default: plain)")
    parser.add_argument("--to", type=Path, metavar="PATH", help="the CSV file to write (default: " +
                        ", ".join(f"{name} for {fmt}" for fmt, name in DEFAULT_FILES.items()) + ")")
    parser.add_argument("--db", help="gradebook SQLAlchemy URL (default: the course's)")
    parser.add_argument("--roster", type=Path, metavar="FILE",
                        help="canvas: Canvas's gradebook export, whose students and columns the import keeps")
    parser.add_argument("--identifier", choices=sorted(MOODLE_IDENTIFIERS), default="email",
                        help="moodle: how Moodle finds each student (default: email)")
    parser.add_argument("--feedback", action="store_true", help="moodle: add a feedback column per assignment")
    parser.set_defaults(run=run_export)


def run_export(args) -> int:
    from ..course.config import load_course
    from ..grading.nbtests import nbgrader_assignments  # assignments graded by their own test cells

    course = load_course()
    db_url = args.db or course.db_url
    destination = args.to or Path(DEFAULT_FILES[args.format])
    try:
        if args.format == "nbgrader":
            path = nbgrader_export(course.root, db_url, destination)
            print(f"nbgrader export wrote {path}")
            return 0
        grades = read_grades(db_url, [*course.assignments, *nbgrader_assignments(course)])
        if args.format == "canvas":
            roster_rows = _canvas_roster_rows(args.roster) if args.roster else None
            header, rows, left_out = canvas_table(grades, course.canvas_assignment_ids, roster_rows)
        elif args.format == "moodle":
            header, rows, left_out = moodle_table(grades, args.identifier, args.feedback)
        else:
            header, rows, left_out = plain_table(grades)
        students = len(rows) - (1 if args.format == "canvas" else 0)  # Canvas's table has a "Points Possible" row
        if not students:
            raise LmsFileError(_nobody(args, left_out, db_url))
        path = write_table(destination, header, rows)
    except LmsFileError as error:
        logger.error("Nothing exported: %s", error)
        return 1
    assignments = len(grades.assignments)
    print(f"wrote {path}: {students} student{'' if students == 1 else 's'} x {assignments} "
          f"assignment{'' if assignments == 1 else 's'} ({args.format})")
    if left_out:
        why = {"canvas": "no Canvas user id (import Canvas's roster)", "moodle": f"no {args.identifier}",
               "plain": ""}[args.format]
        logger.warning("left out, %s: %s", why, ", ".join(left_out))
    if grades.needs_manual_grade:
        count = len(grades.needs_manual_grade)
        logger.warning(f"{count} submission{'' if count == 1 else 's'} still need{'s' if count == 1 else ''} "
                     "manual grading (formgrader); until then, a written answer nobody has graded counts 0 in these "
                     "scores (the autograded points so far): "
                     + ", ".join(f"{student}/{assignment}" for student, assignment in grades.needs_manual_grade[:10])
                     + (" ..." if count > 10 else ""))
    return 0


def _nobody(args, left_out: list[str], db_url: str) -> str:
    """Why an export would hold no student (then nothing is written: an import of a header alone changes nothing)."""
    from ..grading.gradebook import safe_url

    if not left_out:
        return f"the gradebook {safe_url(db_url)} has no students yet. Grade first (autograder grade), or give --db."
    fix = {"canvas": "a Canvas user id: import Canvas's gradebook export first (autograder roster import FILE), or "
                     "give it as --roster FILE",
           "moodle": f"{'an email address' if args.identifier == 'email' else 'an ID number'}: import the class "
                     "list first (autograder roster import FILE), or choose another --identifier"}.get(args.format, "")
    return (f"none of the {len(left_out)} students of the gradebook has {fix}. Left out: "
            f"{', '.join(left_out[:10])}{' ...' if len(left_out) > 10 else ''}")


def _canvas_roster_rows(path: Path) -> list[dict[str, str]]:
    from .roster import read_roster

    roster = read_roster(path)
    if roster.lms != "canvas":
        raise LmsFileError(f"{path}: --roster takes Canvas's gradebook export; this is a {roster.lms.title()} file")
    return [student.identity for student in roster.students]
