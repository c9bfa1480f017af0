"""Reading back from nbgrader's gradebook what instructors give by hand in formgrader, through nbgrader's API."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

_local = threading.local()   # one nbgrader Gradebook per server thread: its session is not thread-safe


def _gradebook(db_url: str):
    from ..grading.gradebook import open_gradebook

    books = getattr(_local, "books", None)
    if books is None:
        books = _local.books = {}
    if db_url not in books:
        books[db_url] = open_gradebook(db_url)
    return books[db_url]


@dataclass(frozen=True)
class GradebookMarks:
    """What nbgrader's gradebook adds to a counting attempt's autograded result."""
    hand_grades: dict = field(default_factory=dict)   # grade id -> gradebook.HandGrade given in formgrader
    late_penalty: float = 0.0                          # nbgrader's late-submission penalty, in points

    def key(self) -> tuple:
        """A hashable form, for the result pages' cache."""
        return tuple(sorted(self.hand_grades.items())), self.late_penalty


def counting_marks(db_url: str, assignment: str, student: str, notebook: str) -> GradebookMarks:
    """The hand grades and late penalty nbgrader's gradebook holds for the student's submission; none if not found."""
    from nbgrader.api import MissingEntry

    from ..grading.gradebook import notebook_hand_grades

    gradebook = _gradebook(db_url)
    try:
        submitted = gradebook.find_submission_notebook(Path(notebook).stem, assignment, student)
        return GradebookMarks(notebook_hand_grades(submitted), float(submitted.late_submission_penalty or 0.0))
    except MissingEntry:
        return GradebookMarks()
    finally:
        gradebook.db.rollback()  # the next read sees what formgrader wrote since


def students(db_url: str) -> list[str]:
    """The ids of the students in the gradebook, in name order."""
    gradebook = _gradebook(db_url)
    try:
        return sorted(student.id for student in gradebook.students)
    finally:
        gradebook.db.rollback()
