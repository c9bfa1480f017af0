"""Reading back from nbgrader's gradebook what instructors give by hand in formgrader, through nbgrader's API."""
from __future__ import annotations

import threading
from pathlib import Path

_local = threading.local()   # one nbgrader Gradebook per server thread: its session is not thread-safe


def _gradebook(db_url: str):
    from ..gradebook import open_gradebook

    books = getattr(_local, "books", None)
    if books is None:
        books = _local.books = {}
    if db_url not in books:
        books[db_url] = open_gradebook(db_url)
    return books[db_url]


def manual_grades(db_url: str, assignment: str, student: str, notebook: str) -> dict[str, float]:
    """Grade cell name -> manual score, for every cell an instructor graded by hand; {} if none or not found."""
    from nbgrader.api import MissingEntry

    gradebook = _gradebook(db_url)
    try:
        submitted = gradebook.find_submission_notebook(Path(notebook).stem, assignment, student)
        return {grade.name: float(grade.manual_score) for grade in submitted.grades if grade.manual_score is not None}
    except MissingEntry:
        return {}
    finally:
        gradebook.db.rollback()  # the next read sees what formgrader wrote since


def students(db_url: str) -> list[str]:
    """The ids of the students in the gradebook, in name order."""
    gradebook = _gradebook(db_url)
    try:
        return sorted(student.id for student in gradebook.students)
    finally:
        gradebook.db.rollback()
