"""Writing results into nbgrader's own gradebook (any SQLAlchemy URL), as `nbgrader autograde` does.

The assignment's cells are recorded with nbgrader's own preprocessors, so `nbgrader formgrader`,
`export` and `generate_feedback` see exactly what they would after `generate_assignment` and
`autograde`. Regrading updates the student's existing submission: grades are replaced, manual
scores an instructor already gave are kept, nothing is duplicated.
"""
from __future__ import annotations

import sys
import warnings
from datetime import datetime
from pathlib import Path

# nbgrader's import chain reaches jsonschema, which compiles a grammar for the "iri" string format (about
# 0.9 s) if rfc3987_syntax is installed; no notebook or gradebook schema uses that format.
sys.modules.setdefault("rfc3987_syntax", None)

from nbgrader import utils  # noqa: E402
from nbgrader.api import Gradebook, MissingEntry  # noqa: E402
from sqlalchemy.exc import SAWarning  # noqa: E402
from traitlets.config.loader import PyFileConfigLoader  # noqa: E402

from . import notebook as nb  # noqa: E402
from .config import CONFIG_FILE, Course  # noqa: E402
from .grade import AssignmentSpec, SubmissionResult  # noqa: E402


def record_assignment(db_url: str, course: Course, spec: AssignmentSpec) -> None:
    """Make the gradebook know the assignment, its notebook and cells, as generate_assignment records them."""
    if _recorded(db_url, spec):
        return
    from nbgrader.preprocessors import ClearOutput, ClearSolutions, ComputeChecksums, SaveCells

    config = PyFileConfigLoader(CONFIG_FILE, path=str(course.root)).load_config()
    source = nb.read(course.source_notebook(spec.name))
    resources = {"nbgrader": {"notebook": Path(spec.notebook).stem, "assignment": spec.name, "db_url": db_url}}
    with Gradebook(db_url) as gradebook:
        gradebook.update_or_create_assignment(spec.name)
    for step in (ClearSolutions(config=config), ClearOutput(config=config), ComputeChecksums(config=config),
                 SaveCells(config=config)):
        source, resources = step.preprocess(source, resources)


def _recorded(db_url: str, spec: AssignmentSpec) -> bool:
    """Whether the gradebook already has this notebook with the source's grade cells and points."""
    with Gradebook(db_url) as gradebook:
        try:
            notebook = gradebook.find_notebook(Path(spec.notebook).stem, spec.name)
        except MissingEntry:
            return False
        recorded = {cell.name: cell.max_score for cell in notebook.grade_cells}
    wanted = {exercise.grade_id: exercise.points for exercise in spec.exercises} | dict(spec.manual)
    return recorded == wanted


class GradebookWriter:
    """One open gradebook; `save` records one graded submission in a single transaction."""

    def __init__(self, db_url: str, course: Course, spec: AssignmentSpec):
        # nbgrader's update_or_create_submission trips SQLAlchemy's autoflush warnings; autograde shows them too
        warnings.filterwarnings("ignore", category=SAWarning, module="nbgrader.api")
        self.spec = spec
        self.notebook_id = Path(spec.notebook).stem
        record_assignment(db_url, course, spec)
        self.gradebook = Gradebook(db_url)
        self._released_checksums = {cell.name: cell.checksum for cell in
                                    self.gradebook.find_notebook(self.notebook_id, spec.name).source_cells}

    def save(self, result: SubmissionResult, submitted, timestamp: datetime | None = None) -> None:
        gradebook = self.gradebook
        try:
            gradebook.update_or_create_student(result.student)
            submission = gradebook.update_or_create_submission(
                self.spec.name, result.student, **({"timestamp": timestamp} if timestamp else {}))
            notebook = next(n for n in submission.notebooks if n.name == self.notebook_id)
            grades = {grade.name: grade for grade in notebook.grades}
            for test in result.tests:
                grade = grades[test.name]
                if test.manual:
                    grade.auto_score = 0.0 if self._unchanged(submitted, test.name) else None
                else:
                    grade.auto_score = test.score
                # as nbgrader: a grade an instructor already touched, or none at all, needs a look
                grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
            for comment in notebook.comments:  # as nbgrader: an answer left as released says so
                comment.auto_comment = "No response." if self._unchanged(submitted, comment.name) else None
            gradebook.db.commit()
        except Exception:
            gradebook.db.rollback()
            raise

    def _unchanged(self, submitted, grade_id) -> bool:
        """Whether the student left the cell `grade_id` as it was released (or deleted it)."""
        cells = [cell for cell in (submitted.cells if submitted else []) if nb.grade_id(cell) == grade_id]
        return not cells or _checksum(cells[0]) == self._released_checksums.get(grade_id)

    def close(self):
        self.gradebook.close()


def _checksum(cell) -> str | None:
    """nbgrader's checksum of a submitted cell; None when its metadata is too broken to compute one."""
    try:
        return utils.compute_checksum(cell)
    except (KeyError, AttributeError, TypeError, ValueError):
        return None
