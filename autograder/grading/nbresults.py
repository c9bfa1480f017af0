"""What grading leaves of a submission to an nbgrader assignment graded by its own test cells (nbtests.py), laid out
as for the course's other assignments: `autograded/<student>/<assignment>/` holds each autograded notebook, for
formgrader's manual grading and `nbgrader generate_feedback`, and `results.json`, which `autograder feedback`,
`report` and the result views read (one SubmissionResult for all the assignment's notebooks).

A test cell's source in the autograded copy is the one the student received (hidden tests cleared): the hidden tests
stay in the source notebook. Its outputs are the ones that decided its points.
"""
from __future__ import annotations

import copy
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..course import notebook as nb
from .autograded import RESULTS, write_atomically
from ..results.model import SubmissionResult, TestResult


def submission_result(student: str, assignment: str, graded: list, seconds: float = 0.0) -> SubmissionResult:
    """One result of a student's notebooks (nbtests.NotebookGrade, in the assignment's order): every test cell and
    written answer, named by its grade id (prefixed with its notebook when two notebooks share one), and what to
    look at (flags, notes), each naming its notebook when the assignment has several."""
    several = len(graded) > 1
    ids = Counter(test.name for notebook in graded for test in notebook.tests)
    tests, notes, flags = [], [], []
    for notebook in graded:
        stem = Path(notebook.notebook).stem
        tests += [TestResult(f"{stem}/{test.name}" if ids[test.name] > 1 else test.name, test.score, test.max_score,
                             test.output, test.manual, pending=test.pending, notebook=stem) for test in notebook.tests]
        notes += [f"{notebook.notebook}: {note}" if several and not note.startswith(notebook.notebook) else note
                  for note in [*notebook.flags, *notebook.notes]]
        flags += [f"{notebook.notebook}: {flag}" for flag in notebook.flags]  # for the instructor's pages
    return SubmissionResult(student, assignment, round(sum(test.score for test in tests), 4),
                            round(sum(test.max_score for test in tests), 4), "graded", tests=tests, notes=notes,
                            seconds=seconds, flags=flags, notebooks=list(graded),
                            missing=[notebook.notebook for notebook in graded if getattr(notebook, "missing", False)])


@dataclass
class NotGraded:
    """A notebook of the assignment that could not be graded (not handed in, unreadable): each of its graded cells
    earns 0, and the note says why, so that the result's maximum stays the assignment's."""
    notebook: str
    tests: list[TestResult]
    notes: list[str]
    flags: tuple = ()
    missing: bool = False   # not handed in (rather than unreadable)


def not_graded(source_path: Path, why: str, missing: bool = False) -> NotGraded:
    tests = [TestResult(nb.grade_id(cell), 0.0, float(nb.nbgrader_meta(cell).get("points", 0)), why,
                        manual=not nb.is_autograder_test(cell))
             for cell in nb.read(source_path).cells if nb.grade_id(cell) and (
                 nb.nbgrader_meta(cell).get("grade") or nb.nbgrader_meta(cell).get("task"))]
    return NotGraded(Path(source_path).name, tests, [why], missing=missing)


def autograded_notebook(source_path: Path, submitted_path: Path, graded) -> nbformat.NotebookNode:
    """The submitted notebook as `nbgrader autograde` leaves it: cells the source locks put back, the source's
    nbgrader metadata on each of its cells, this run's outputs under each code cell, test cells as released."""
    source = nbformat.read(str(source_path), as_version=4)
    notebook = nbformat.read(str(submitted_path), as_version=4)
    ours = {nb.grade_id(cell): cell for cell in source.cells if nb.grade_id(cell)}
    outputs = getattr(graded, "cell_outputs", {})
    for index, cell in enumerate(notebook.cells):
        original = ours.get(nb.grade_id(cell))
        if original is not None:
            cell.metadata["nbgrader"] = copy.deepcopy(nb.nbgrader_meta(original))
            if nb.grade_id(cell) in graded.cells:  # a test cell: the outputs that decided its points
                cell.source = nb.visible_part(original.source)
                cell.outputs = copy.deepcopy(graded.cells[nb.grade_id(cell)].outputs)
                continue
            if nb.nbgrader_meta(original).get("locked"):
                cell.source = original.source
        if cell.cell_type != "code":
            continue
        output, error = outputs.get(index, ("", None))
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)] if output else []
        if error:
            cell.outputs.append(nbformat.v4.new_output("error", ename=str(error.get("type")),
                                                       evalue=str(error.get("text")), traceback=[]))
    return notebook


def write_submission(course_root: Path, assignment: str, student: str, notebooks: list[tuple[Path, Path, object]],
                     seconds: float = 0.0) -> SubmissionResult:
    """Write `autograded/<student>/<assignment>/`: each (source, submitted, NotebookGrade) notebook's autograded copy
    (a NotGraded one has none), the submission's timestamp.txt and its results.json, each file whole or not at all;
    the result written."""
    folder = Path(course_root) / "autograded" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for source_path, submitted_path, graded in notebooks:
        if not isinstance(graded, NotGraded):
            write_atomically(folder / Path(submitted_path).name,
                             nbformat.writes(autograded_notebook(source_path, submitted_path, graded)))
    timestamp = Path(course_root) / "submitted" / student / assignment / "timestamp.txt"
    if timestamp.is_file():
        write_atomically(folder / "timestamp.txt", timestamp.read_text(errors="replace"))
    result = submission_result(student, assignment, [graded for _, _, graded in notebooks], seconds)
    write_atomically(folder / RESULTS, json.dumps(result.to_json(), ensure_ascii=False))
    return result


@dataclass
class Autograded:
    """A notebook's autograded copy made where it was graded (a Dask worker: distributed.py), as its text."""
    notebook: str
    text: str


def autograded_copies(source: Path, result: SubmissionResult, submitted: Path | None) -> list[Autograded]:
    """The autograded copy of each notebook of `result` graded here (result.notebooks: a result read back from JSON
    has none), from `source`/<notebook> and the `submitted` folder; a copy made elsewhere (Autograded) as it is."""
    copies = []
    for graded in result.notebooks:
        if isinstance(graded, Autograded):
            copies.append(graded)
        elif not isinstance(graded, NotGraded) and submitted is not None and (submitted / graded.notebook).is_file():
            copies.append(Autograded(graded.notebook, nbformat.writes(
                autograded_notebook(source / graded.notebook, submitted / graded.notebook, graded))))
    return copies


def write_graded(folder: Path, source: Path, result: SubmissionResult, submitted: Path | None,
                 timestamp_file: Path | None) -> None:
    """The autograded copy of a submission graded through the pipeline into `folder`: each notebook's
    (autograded_copies), the timestamp and results.json, each file whole or not at all, results.json last."""
    folder.mkdir(parents=True, exist_ok=True)
    for made in autograded_copies(source, result, submitted):
        if (source / made.notebook).is_file() and Path(made.notebook).name == made.notebook:  # a name, never a path
            write_atomically(folder / made.notebook, made.text)
    if timestamp_file and timestamp_file.is_file():
        write_atomically(folder / "timestamp.txt", timestamp_file.read_text(errors="replace"))
    write_atomically(folder / RESULTS, json.dumps(result.to_json(), ensure_ascii=False))


def locked_ids(source_path: Path) -> frozenset[str]:
    """The grade ids of the cells a student may not change (locked, and test cells): the report looks at the rest."""
    source = nb.read(source_path)
    return frozenset(nb.grade_id(cell) for cell in source.cells if nb.grade_id(cell) and (
        nb.nbgrader_meta(cell).get("locked") or nb.is_autograder_test(cell)))
