"""What an assignment asks, read from its source notebook: the exercises, their points, the cells nbgrader restores.

Below the checks and the runner (grade.py, which also loads the check file when it reads a spec): the hidden
checks' nbgrader cell (checks.assert_hidden_checks_pass) reads the spec here without importing the runner."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import notebook as nb
from .config import Course


@dataclass(frozen=True)
class Exercise:
    grade_id: str               # the autograded test cell
    name: str                   # the exercise in the hidden check file
    names: tuple[str, ...]      # what of the notebook its checks receive
    points: float


@dataclass(frozen=True)
class AssignmentSpec:
    name: str
    notebook: str               # file name, e.g. gradient_descent.ipynb
    exercises: tuple[Exercise, ...]
    manual: dict                # grade id -> points of answers graded by hand
    locked: dict                # grade id -> source of cells nbgrader restores (read-only and test cells)
    grade_ids: frozenset        # every grade id of the source notebook
    prefix: tuple[str, ...] = ()  # the code cells before the first exercise: the course's, the same for all

    @property
    def max_score(self) -> float:
        return sum(exercise.points for exercise in self.exercises) + sum(self.manual.values())


def read_spec(course: Course, assignment: str) -> AssignmentSpec:
    """The spec of `assignment` from the course's source notebook (its check file is not loaded: see grade.py)."""
    return notebook_spec(course.source_notebook(assignment), assignment, course.notebook(assignment))


@lru_cache(maxsize=None)
def notebook_spec(source_path: Path, assignment: str, notebook_name: str) -> AssignmentSpec:
    """What the source notebook at `source_path` asks: its exercises and written answers, their points and cells."""
    source = nb.read(source_path)
    exercises, manual, locked = [], {}, {}
    for cell in source.cells:
        meta, grade_id = nb.nbgrader_meta(cell), nb.grade_id(cell)
        if nb.is_autograder_test(cell):
            call = nb.hidden_call(cell.source)
            exercises.append(Exercise(grade_id, call.exercise, call.names, float(meta["points"])))
            locked[grade_id] = nb.graded_part(cell.source)
        elif meta.get("grade") and meta.get("solution"):
            manual[grade_id] = float(meta["points"])
        elif meta.get("locked") and cell.cell_type == "code":
            locked[grade_id] = cell.source
    prefix = []
    for cell in source.cells:
        if nb.is_solution(cell) or nb.is_autograder_test(cell):
            break
        if cell.cell_type == "code":
            prefix.append(locked.get(nb.grade_id(cell), cell.source))
    return AssignmentSpec(assignment, notebook_name, tuple(exercises), manual, locked,
                          frozenset(filter(None, (nb.grade_id(cell) for cell in source.cells))), tuple(prefix))


@dataclass(frozen=True)
class GradedCell:
    """A graded cell of an nbgrader notebook: an autograder test cell, or (`by_hand`) a written answer or task."""
    notebook: str               # the notebook's name without .ipynb, as nbgrader's gradebook names it
    grade_id: str
    points: float
    by_hand: bool = False


@dataclass(frozen=True)
class NbgraderSpec:
    """An assignment of an nbgrader course as it is, graded by its notebooks' own test cells (nbtests.py): one
    submission is a folder of several notebooks (and other files); its cells' points add up to the maximum."""
    name: str
    notebooks: tuple[str, ...]  # file names in source/<name>/, in name order
    cells: tuple[GradedCell, ...]

    @property
    def notebook(self) -> str:
        """The notebooks' names, for messages that name what a submission holds."""
        return ", ".join(self.notebooks)

    @property
    def manual(self) -> dict:
        """notebook/grade id -> points of the cells graded by hand."""
        return {f"{cell.notebook}/{cell.grade_id}": cell.points for cell in self.cells if cell.by_hand}

    @property
    def max_score(self) -> float:
        return sum(cell.points for cell in self.cells)

    def error_tests(self, reason: str) -> list:
        """Every graded cell at 0 with `reason` (results.model.error_result: nothing could be graded)."""
        from ..results.model import TestResult

        return [TestResult(cell.grade_id, 0.0, cell.points, reason, manual=cell.by_hand, notebook=cell.notebook)
                for cell in self.cells]

    @property
    def grade_ids(self) -> frozenset:
        """The graded cells' ids, of every notebook: what tells a notebook of this assignment from another's."""
        return frozenset(cell.grade_id for cell in self.cells)
