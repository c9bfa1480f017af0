"""Grading a notebook of an nbgrader course as it is: its autograder test cells are the checks (issue 28).

They run as `nbgrader autograde` runs them, with nbgrader's own scoring (`nbgrader.utils.determine_grade`: no points
for an error or output on stderr, partial credit from a numeric result, else full points), but safer:
- the student's cells run first, in the sandbox, with each test cell as released (its hidden tests cleared, as the
  student saw it); only once they have all finished are the test cells, hidden tests restored from the source,
  sent to the student's process and run in order. nbgrader runs each test cell in its place instead: a student cell
  below a test cell that changes what it tested is the one case in which the two can differ;
- before the tests, builtins and the modules tests assert with are put back as they were before the student's first
  cell; what the student's code had changed is flagged, and it earns nothing;
- introspection that could read a test (frames, the garbage collector, tracing) is seen by an audit hook set before
  the student's first cell: it is flagged, and a test during which it happened earns 0;
- the feedback names a test cell and its error, never its source.
"""
from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from ..results.model import bounded
from ..course import notebook as nb
from ..course.config import Course
from .grade import Runner
from ..results.model import SubmissionResult, TestResult, error_result
from ..engine.sandbox import Sandbox, SandboxError
from ..course.spec import GradedCell, NbgraderSpec

logger = logging.getLogger(__name__)


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test_cell(cell) -> bool:
    """An autograder test cell, as nbgrader tells one: a graded code cell that is not a solution."""
    meta = _meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def released(source: str) -> str:
    """A test cell's source as the student received it: nbgrader's ClearHiddenTests on it."""
    from nbgrader.preprocessors import ClearHiddenTests

    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True}
    cleared, _ = ClearHiddenTests().preprocess_cell(cell, {}, 0)
    return cleared.source


@dataclass
class NotebookGrade:
    notebook: str
    tests: list[TestResult] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)   # why the instructor should look: the report's "needs attention"
    notes: list[str] = field(default_factory=list)
    cells: dict = field(default_factory=dict)        # grade id -> the test cell with this run's outputs (gradebook)
    cell_outputs: dict = field(default_factory=dict)  # index of a submitted cell -> (its output, its error or None)

    @property
    def score(self) -> float:
        return round(sum(test.score for test in self.tests), 4)


def grade_nbgrader_notebook(sandbox: Sandbox, course: Course, source_path: Path, submitted_path: Path
                            ) -> NotebookGrade:
    """Grade one submitted notebook of an nbgrader assignment against its source notebook's test cells."""
    source = nbformat.read(str(source_path), as_version=4)
    submitted = nbformat.read(str(submitted_path), as_version=4)
    result = NotebookGrade(Path(source_path).name)
    by_id = {_meta(cell).get("grade_id"): cell for cell in source.cells if _meta(cell).get("grade_id")}
    tests = [cell for cell in source.cells if is_test_cell(cell)]
    cells = []
    for index, cell in enumerate(submitted.cells):
        if cell.get("cell_type") != "code":
            continue
        ours = by_id.get(_meta(cell).get("grade_id"))
        if ours is not None and is_test_cell(ours):
            text = released(ours.source)
        elif ours is not None and _meta(ours).get("locked"):  # as nbgrader's OverwriteCells puts it back
            text = ours.source
        else:
            text = cell.source
        cells.append((index, text if isinstance(text, str) else ""))
    replies: dict[str, dict | None] = {}
    restored: dict = {}
    runner = Runner(sandbox, cells, time.monotonic() + course.submission_timeout, (), ())
    try:
        for run, index in runner.checkpoints():
            if index is not None:
                continue
            restored = run.restore() or {}
            changed = [name for name in restored.get("changed", ()) if isinstance(name, str)]
            if changed:
                result.flags.append("changed what the tests rely on (put back before the tests): "
                                    + ", ".join(bounded(name, 60) for name in changed[:10]))
            seen = _count(restored)
            for cell in tests:
                reply = run.test(cell.source, course.cell_timeout)
                replies[_meta(cell)["grade_id"]] = reply
                if isinstance(reply, dict) and _count(reply) > seen:
                    result.flags.append(f"looked into the grader's frames or memory during test "
                                        f"{_meta(cell)['grade_id']}: {', '.join(map(str, reply.get('events', ())))}"
                                        [:300])
                    reply["cheated"] = True
                    seen = _count(reply)
            if restored.get("events"):
                result.flags.append("used introspection that can read the tests: "
                                    + ", ".join(map(str, restored["events"]))[:200])
    finally:
        runner.close()
    result.notes = runner.notes
    result.cell_outputs = runner.cell_outputs
    tampered = bool(restored.get("events")) if replies else False  # a trace or a hunt set up before the tests
    submitted_ids = {_meta(cell).get("grade_id"): cell for cell in submitted.cells}
    for cell in source.cells:
        meta = _meta(cell)
        if not (meta.get("grade") or meta.get("task")):  # a task cell is graded by hand, as a whole
            continue
        grade_id, points = meta["grade_id"], float(meta.get("points", 0))
        if is_test_cell(cell):
            test, result.cells[grade_id] = _test_result(cell, replies.get(grade_id), tampered)
            result.tests.append(test)
        else:
            answer = submitted_ids.get(grade_id)
            score = None if meta.get("task") else _grade_of(answer) if answer is not None else 0.0
            result.tests.append(TestResult(grade_id, score or 0.0, points, "To be graded by your instructor."
                                           if score is None else "Written answer: not answered yet.", manual=True,
                                           pending=score is None))
    return result


def _count(reply: dict) -> int:
    """How many watched events the child had seen (its reply is the student's process's word: only an int counts)."""
    return reply.get("seen") if type(reply.get("seen")) is int else 0


def _grade_of(cell) -> float | None:
    from nbgrader.utils import determine_grade

    return determine_grade(cell)[0]


def _test_result(cell, reply: dict | None, tampered: bool) -> tuple[TestResult, NotebookNode]:
    """A test cell's points by nbgrader's determine_grade over the outputs this run gave it."""
    from nbgrader.utils import determine_grade

    meta = _meta(cell)
    graded = copy.deepcopy(cell)
    graded.outputs = []
    if not isinstance(reply, dict):
        what = "did not finish (the notebook's process ended or hung in it)"
        graded.outputs.append(nbformat.v4.new_output("error", ename="Stopped", evalue=what, traceback=[]))
        return TestResult(meta["grade_id"], 0.0, float(meta["points"]), f"The test {what}."), graded
    if isinstance(reply.get("stdout"), str) and reply["stdout"]:
        graded.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=reply["stdout"]))
    if isinstance(reply.get("stderr"), str) and reply["stderr"]:
        graded.outputs.append(nbformat.v4.new_output("stream", name="stderr", text=reply["stderr"]))
    error = reply.get("error") if isinstance(reply.get("error"), dict) else None
    if error:
        graded.outputs.append(nbformat.v4.new_output("error", ename=str(error.get("type")),
                                                     evalue=str(error.get("text")), traceback=[]))
    elif isinstance(reply.get("result"), str):
        graded.outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": reply["result"]},
                                                     execution_count=1))
    try:
        score, points = determine_grade(NotebookNode(graded))
    except ValueError:  # a result above the cell's points: nbgrader stops there; here the test earns nothing
        score, points = 0.0, float(meta["points"])
        error = {"type": "ValueError", "text": "the test's result is more than its points"}
    if reply.get("cheated") or (tampered and score):
        score = 0.0
        text = "The test's points are held back: your instructor will look at this notebook."
        graded.outputs.append(nbformat.v4.new_output("error", ename="HeldBack", evalue=text, traceback=[]))
    elif error and str(error.get("text")).strip():
        text = f"The test failed: {bounded(str(error.get('type')), 100)}: {bounded(str(error.get('text')), 300)}"
    elif error:  # a bare `assert` says nothing more than its type
        text = f"The test failed: {bounded(str(error.get('type')), 100)}" + (
            " (one of its assertions does not hold for your code)." if error.get("type") == "AssertionError" else ".")
    elif score < points:
        text = ("The test wrote to stderr, which counts as failed." if reply.get("stderr") else
                f"The test gave {score:g} of {points:g} points.")
    else:
        text = "The test passed."
    return TestResult(meta["grade_id"], float(score), float(points), text), graded


def nbgrader_assignments(course: Course) -> dict[str, tuple[str, ...]]:
    """The assignments of `source/` that nbgrader finds and course_config.py does not list, each with its notebooks:
    graded by their own test cells (an assignment with a hidden check file is graded by it, as before)."""
    from ..checking.checks import check_file

    found = {}
    for folder in sorted((course.root / "source").glob("*/")):
        notebooks = tuple(sorted(path.name for path in folder.glob("*.ipynb")))
        if folder.name in course.assignments or not notebooks:
            continue
        if not check_file(folder.name, course.root).is_file():
            found[folder.name] = notebooks
    return found


def nbgrader_spec(course: Course, assignment: str) -> NbgraderSpec:
    """What the nbgrader assignment asks: its notebooks and their graded cells, read from source/<assignment>/."""
    folder = course.root / "source" / assignment
    notebooks = nbgrader_assignments(course).get(assignment)
    if notebooks is None:
        raise KeyError(f"unknown assignment {assignment!r}: no folder source/{assignment} with notebooks")
    return _spec(folder, notebooks, tuple((folder / name).stat().st_mtime_ns for name in notebooks))


@lru_cache(maxsize=64)
def _spec(folder: Path, notebooks: tuple[str, ...], _stamps: tuple) -> NbgraderSpec:
    cells = []
    for name in notebooks:
        for cell in nbformat.read(str(folder / name), as_version=4).cells:
            meta = _meta(cell)
            if meta.get("grade") or meta.get("task"):  # as grade_nbgrader_notebook grades them, in this order
                cells.append(GradedCell(Path(name).stem, str(meta["grade_id"]), float(meta.get("points") or 0),
                                        by_hand=not is_test_cell(cell)))
    return NbgraderSpec(folder.name, notebooks, tuple(cells))


def submission_files(course: Course, spec: NbgraderSpec, files: list[Path]) -> tuple[dict[str, Path], list[Path]]:
    """One student's files of `spec`'s assignment sorted out: notebook name -> the file that is that notebook (by its
    name, else by its graded cells: a download may have been renamed), and the files that are none of its notebooks
    (nor its other files in source/, nor nbgrader's timestamp.txt), which are not graded."""
    expected = {path.name for path in (course.root / "source" / spec.name).iterdir()} | {"timestamp.txt"}
    found = {path.name: path for path in files if path.name in spec.notebooks}
    ids = {name: {cell.grade_id for cell in spec.cells if cell.notebook == Path(name).stem} for name in spec.notebooks}
    ignored = []
    for path in files:
        if path.name in expected:
            continue
        try:
            graded = {nb.grade_id(cell) for cell in nb.read(path).cells} if path.suffix == ".ipynb" else set()
        except nb.NotebookError:  # not a notebook: named among the files not graded
            graded = set()
        name = next((name for name in spec.notebooks if graded & ids[name]), None)
        if name is None or name in found:
            ignored.append(path)
        else:
            found[name] = path
    return found, ignored


def grade_nbgrader_submission(sandbox: Sandbox, course: Course, spec: NbgraderSpec, student: str, folder: Path
                              ) -> SubmissionResult:
    """Grade a submission of an nbgrader assignment (a folder holding its notebooks): each notebook by its test
    cells, one after another in this sandbox, into one result (nbresults.submission_result) that keeps each
    notebook's grade for its autograded copy; whatever the notebooks contain, the result is a score and messages."""
    from ..results.wording import not_handed_in
    from .nbresults import not_graded, submission_result

    started, graded = time.monotonic(), []
    try:
        for name in spec.notebooks:
            source, path = course.root / "source" / spec.name / name, Path(folder) / name
            if not path.is_file():
                graded.append(not_graded(source, not_handed_in(name), missing=True))
                continue
            try:
                graded.append(grade_nbgrader_notebook(sandbox, course, source, path))
            except (OSError, ValueError, KeyError, AttributeError, TypeError) as error:  # not a notebook nbformat reads
                logger.warning("%s's %s could not be read: %s", student, name, error)
                graded.append(not_graded(source, f"{name} could not be read: open it in Jupyter, save it and hand it "
                                                 "in again."))
        result = submission_result(student, spec.name, graded)
    except SandboxError:  # the grader's own machinery: no submission is to blame
        raise
    except Exception as error:  # whatever a submission does, it ends as that submission's result
        logger.warning("grading %s's %s failed inside the grader", student, spec.name, exc_info=True)
        result = error_result(spec, student, "The grader could not finish checking these notebooks "
                                             f"({type(error).__name__}: {bounded(str(error), 300)}). Your "
                                             "instructor will look at it; nothing you submitted was lost.")
    result.seconds = time.monotonic() - started
    return result
