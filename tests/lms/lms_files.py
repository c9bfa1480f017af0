"""Canvas and Moodle files in the exact shape those LMSs write them, for the roster, collect and export tests."""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path



@dataclass(frozen=True)
class Person:
    first: str
    last: str
    canvas_id: str          # Canvas user id ("ID")
    sis_user_id: str
    login: str              # Canvas "SIS Login ID"
    id_number: str          # Moodle "ID number" (may be empty)
    email: str
    section: str = "NN101 Section 1"

    @property
    def sortable(self) -> str:
        return f"{self.last}, {self.first}"

    @property
    def squashed(self) -> str:   # Canvas's file-name form of the sortable name
        return re.sub(r"[^a-z0-9]", "", f"{self.last}{self.first}".lower())


CLASS = [
    Person("Ada", "Lovelace", "101", "S1001", "alovelace@uni.example", "S1001", "ada.lovelace@uni.example"),
    Person("Alan", "Turing", "102", "S1002", "aturing", "S1002", "alan.turing@uni.example"),
    Person("Grace", "Hopper", "103", "", "", "", "grace.hopper@uni.example"),
    Person("Kurt", "Gödel", "104", "S1004", "kgodel", "S1004", "kurt.godel@uni.example"),
    Person("Émilie", "du Châtelet", "105", "S1005", "edc", "S1005", "emilie.chatelet@uni.example"),
]
TEST_STUDENT = Person("Test", "Student", "999", "", "", "", "")
CANVAS_ASSIGNMENTS = ["Gradient descent (5551)", "Slopes and updates (5552)"]


def canvas_csv(people=CLASS, *, points_row=True, test_student=True, encoding="utf-8-sig", extra_rows=()) -> bytes:
    """Canvas's Grades > Export: identity columns, assignment columns, a Points Possible row, the test student."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *CANVAS_ASSIGNMENTS,
                     "Current Score", "Final Score"])
    if points_row:
        writer.writerow(["    Points Possible", "", "", "", "", "7.00", "9.00", "(read only)", "(read only)"])
    for p in people:
        writer.writerow([p.sortable, p.canvas_id, p.sis_user_id, p.login, p.section, "", "", "", ""])
    if test_student:
        writer.writerow(["Student, Test", TEST_STUDENT.canvas_id, "", "", "NN101 Section 1", "", "", "", ""])
    for row in extra_rows:
        writer.writerow(row)
    return buffer.getvalue().encode(encoding)


def moodle_csv(people=CLASS, *, separator=",", encoding="utf-8", last_name="Last name", extra_rows=()) -> bytes:
    """Moodle's Grades > Export > Plain text file, with its default user fields."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=separator)
    writer.writerow(["First name", last_name, "ID number", "Institution", "Department", "Email address",
                     "Assignment: Gradient descent (Real)", "Course total (Real)", "Last downloaded from this course"])
    for p in people:
        writer.writerow([p.first, p.last, p.id_number, "University", "Informatics", p.email, "-", "-",
                         "1763650980"])
    for row in extra_rows:
        writer.writerow(row)
    return buffer.getvalue().encode(encoding)


def canvas_member(person: Person, filename: str, *, late=False, submission_id="7000001") -> str:
    """A file's name in Canvas's Download Submissions zip."""
    return f"{person.squashed}{'_LATE' if late else ''}_{person.canvas_id}_{submission_id}_{filename}"


def moodle_member(person: Person, filename: str, *, participant="123456", folders=True) -> str:
    """A file's path in Moodle's Download all submissions zip (folders: Moodle 3.1+ default)."""
    prefix = f"{person.first} {person.last}_{participant}_assignsubmission_file_"
    return f"{prefix}/{filename}" if folders else f"{prefix}{filename}"


def write_zip(path: Path, files: dict[str, bytes], date_time=(2026, 11, 20, 14, 3, 0)) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time), content)
    return path


def notebook_bytes(marker: str) -> bytes:
    """A small valid notebook whose one cell says `marker`, so tests can tell submissions apart."""
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"# {marker}", id="only-cell")])
    return nbformat.writes(notebook).encode()


def student_ids(db_url: str) -> dict[str, tuple]:
    """id -> (first_name, last_name, email, lms_user_id) of every student in the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gradebook:
        return {s.id: (s.first_name, s.last_name, s.email, s.lms_user_id) for s in gradebook.students}
