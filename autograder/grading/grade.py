"""Grading one submitted notebook: run it in the sandbox, then its exercises' hidden checks.

What to check, and for how many points, comes from the SOURCE notebook (`AssignmentSpec`), never from
the submitted file: a student who edits metadata, deletes or reorders cells changes nothing but what
their own code does. An exercise earns its points split over its hidden checks by weight (nbgrader's
partial credit), unless its check cell crashed, judged right after its check cell has run, as `nbgrader
autograde` would judge it (a failed visible check is reported but, as the graded cell's hidden part sets
`_keep_going`, does not stop the cell). A mistake is charged once: an exercise failing while a
helper it calls fails its own checks is re-checked with the helper's reference (`checks.run_fairly`).
"""
from __future__ import annotations

import logging
import time
from functools import lru_cache
from pathlib import Path

from ..course import notebook as nb
from ..engine.budgets import Budgets, cell_key, duration, reference_for
from ..checking.checks import check_file, helper_note, load_checks, run_fairly
from ..course.config import Course
from ..checking.expect import course_tolerances
from ..engine.sandbox import CourseSetupError, Run, Sandbox, SandboxError
from ..course.spec import AssignmentSpec, Exercise, notebook_spec
from ..results.model import MAX_NOTES, SubmissionResult, TestResult, bounded, earned, error_result
from ..results.wording import check_cell_verdict, essential, explained_once, in_our_style

logger = logging.getLogger(__name__)

MAX_RESTARTS = 6


def assignment_spec(course: Course, assignment: str) -> AssignmentSpec:
    """What to grade in an assignment, read from its source notebook and check file."""
    return _spec(course.source_notebook(assignment), assignment, course.notebook(assignment), course.root)


@lru_cache(maxsize=None)
def _spec(source_path: Path, assignment: str, notebook_name: str, root: Path) -> AssignmentSpec:
    spec = notebook_spec(source_path, assignment, notebook_name)
    load_checks(assignment, root)  # fail now, not mid-batch, if the check file is broken
    return spec


def grade_notebook(sandbox: Sandbox, course: Course, spec: AssignmentSpec, student: str,
                   path: Path, other_specs: tuple[AssignmentSpec, ...] = ()) -> SubmissionResult:
    """Grade one submitted notebook; whatever it contains, the result is a score and messages.

    Its cells and calls get time budgets from the instructor's solution (budgets.py), timed in this sandbox the
    first time this process grades the assignment."""
    started = time.monotonic()
    try:
        reference = reference_for(course, spec.name, check_file(spec.name, course.root), lambda measurement: _grade(
            sandbox, course, spec, "reference", course.source_notebook(spec.name), other_specs, measurement.for_cells))
        started = time.monotonic()  # the reference's run (once a process) is not this submission's time
        result = _grade(sandbox, course, spec, student, path, other_specs,
                        lambda keys: Budgets(course, reference, keys))
    except CourseSetupError as error:  # every submission needs those cells: an error each, never a silent 0
        logger.error("grading %s's %s: %s", student, spec.notebook, error)
        result = error_result(spec, student, f"The grader could not prepare this assignment: {error}. Nothing you "
                                             "wrote is to blame; your instructor will look at it, and nothing you "
                                             "submitted was lost.")
    except SandboxError:  # the grader's own machinery: no submission is to blame, so the batch stops
        raise
    except Exception as error:  # whatever a submission does, it ends as that submission's result
        logger.warning("grading %s's %s failed inside the grader", student, spec.notebook, exc_info=True)
        result = error_result(spec, student, "The grader could not finish checking this notebook "
                                             f"({type(error).__name__}: {bounded(str(error), 300)}). Your instructor "
                                             "will look at it; nothing you submitted was lost.")
    result.seconds = time.monotonic() - started
    return result


def _grade(sandbox, course, spec, student, path, other_specs, budgets_for) -> SubmissionResult:
    try:
        notebook = nb.read(path, max_bytes=int(course.max_notebook_mb * 1e6))
    except nb.NotebookError as error:
        return error_result(spec, student, f"The notebook could not be opened: {error}. Nothing in it could be run; "
                                     "download a fresh copy of the notebook and copy your code into it.")
    submitted_ids = {nb.grade_id(cell) for cell in notebook.cells} - {None}
    shared = set().union(*(spec.grade_ids & other.grade_ids for other in other_specs))  # e.g. "imports"
    if not submitted_ids & (spec.grade_ids - shared):
        for other in other_specs:
            if submitted_ids & (other.grade_ids - shared):
                return error_result(spec, student, f"This is the notebook of {other.name} ({other.notebook}), "
                                                   f"not of {spec.name} ({spec.notebook}). Please submit {spec.notebook}.")
    cells = cells_to_run(spec, notebook)
    budgets = budgets_for({index: _course_cell_key(spec, notebook.cells[index], source) for index, source in cells})
    test_cells = {nb.grade_id(cell): index for index, cell in enumerate(notebook.cells)}
    deadline = time.monotonic() + course.submission_timeout
    by_cell = {test_cells[e.grade_id]: e for e in spec.exercises if e.grade_id in test_cells}
    runner = Runner(sandbox, cells, deadline, tuple(sorted(by_cell)), spec.prefix, budgets)
    result = SubmissionResult(student, spec.name, 0.0, spec.max_score, "graded")
    graded: dict[str, TestResult] = {}
    try:  # each exercise is judged when its check cell has run, as nbgrader would; the rest at the end
        for run, index in runner.checkpoints():
            due = [by_cell[index]] if index is not None else spec.exercises
            for exercise in due:
                if exercise.grade_id not in graded:
                    wrong = [e.name for e in spec.exercises if course.cascade and e.grade_id in graded
                             and graded[e.grade_id].score < e.points]
                    with course_tolerances(course):
                        graded[exercise.grade_id] = _check(run, runner, spec, exercise, student,
                                                           test_cells.get(exercise.grade_id), wrong, course.root)
    finally:
        runner.close()
    result.tests = [graded.get(e.grade_id) or TestResult(
        e.grade_id, 0.0, e.points, "Not checked: the time limit for the whole notebook was reached.")
        for e in spec.exercises]
    answers = {nb.grade_id(cell): cell.source for cell in notebook.cells if nb.grade_id(cell) in spec.manual}
    for grade_id, points in spec.manual.items():
        text, pending = "Written answer: to be graded by your instructor.", True
        if grade_id not in answers:
            text, pending = "Written answer: the cell is missing from the notebook.", False
        elif str(answers[grade_id]).strip() in ("", "YOUR ANSWER HERE"):
            text, pending = "Written answer: not answered yet.", False
        result.tests.append(TestResult(grade_id, 0.0, points, text, manual=True, pending=pending))
    result.score = round(sum(test.score for test in result.tests), 4)
    result.notes = runner.notes
    result.cell_outputs = runner.cell_outputs
    result.cell_displays = runner.cell_displays
    result.peak_memory_mb = runner.peak_rss_kb / 1024
    return result


def _course_cell_key(spec: AssignmentSpec, cell, source: str) -> str | None:
    """The budget key of a cell the course wrote (read-only, check or worked-example cell); None for a cell whose
    content is the student's (a solution cell, a cell of their own), which no reference time can speak for."""
    grade_id = nb.grade_id(cell)
    if grade_id is None or grade_id in spec.locked:
        return cell_key(grade_id, source)
    return None


def _check(run: Run, runner: "Runner", spec: AssignmentSpec, exercise: Exercise, student: str,
           check_cell: int | None, wrong_helpers: list[str], root: Path) -> TestResult:
    """One exercise's hidden checks (the course's at `root`) against the notebook as it stands (a wrong helper it
    calls replaced by the reference, so that the exercise earns what its own code earns), plus its visible checks'
    verdict."""
    submission = run.submission(exercise.names, runner.missing_reason())
    checks, helpers = run_fairly(spec.name, exercise.name, submission, student,
                                 wrong_helpers if run.alive else (), run.rebind, root)
    visible, crashed = runner.visible_failure(check_cell)
    # the check cell compared the worked example's value: its message reports it, a hidden check of it would repeat it
    subject = visible.split(" gave ")[0] + " " if " gave " in visible else None
    repeats = [check for check in checks if not check.passed and subject and (
        "worked_example" in check.check or check.message.startswith(subject))]
    failed = explained_once([check for check in checks if not check.passed and check not in repeats])
    own_mistake = any(not check.passed for check in checks)
    if visible and (own_mistake or crashed or not helpers):  # with right helpers, a failed visible check was theirs
        named = dict.fromkeys(check.message[check.message.index(" It looks like you "):] for check in repeats
                              if " It looks like you " in check.message)  # the mistake the repeat named, kept
        failed.insert(0, f"The check cell under this exercise failed: {in_our_style(visible)}{''.join(named)}")
    lines = ([helper_note(exercise.name, helpers, own_mistake, crashed)] if helpers else []) + essential(failed)
    output = "\n".join(f"- {bounded(line)}" for line in lines)
    if not failed:
        output += ("\n" if output else "") + (f"All {len(checks)} checks passed." if len(checks) > 1
                                              else "The check passed.")
    score = 0.0 if crashed else earned(checks, exercise.points)  # as nbgrader scores a cell that raised
    return TestResult(exercise.grade_id, score, exercise.points, output,
                      checks=tuple(checks), visible_failed=bool(visible), helpers=helpers)


def cells_to_run(spec: AssignmentSpec, notebook) -> list[tuple[int, str]]:
    """The code cells to execute, in submitted order: the student's own cells as they are, read-only cells
    as the source has them, and test cells with only their visible checks (the hidden ones run in the grader)."""
    cells = []
    for index, cell in enumerate(notebook.cells):
        if cell.get("cell_type") != "code":
            continue
        source = spec.locked.get(nb.grade_id(cell), cell.source)
        cells.append((index, source if isinstance(source, str) else ""))
    return cells


class Runner:
    """Runs the notebook, pausing at check cells; reruns it after the student's code killed it,
    without the cell that did."""

    def __init__(self, sandbox: Sandbox, cells, deadline: float, check_cells: tuple[int, ...],
                 prefix: tuple[str, ...], budgets: Budgets | None = None):
        self.sandbox, self.cells, self.deadline, self.budgets = sandbox, cells, deadline, budgets
        self.check_cells = check_cells
        # when the notebook starts with the course's own cells untouched, a template has already run them
        self.prefix = prefix if prefix and tuple(source for _, source in cells[:len(prefix)]) == prefix \
            and sandbox.fits_template(prefix) else ()
        self.skipped: set[int] = set()
        self.notes: list[str] = []
        self.cell_outputs: dict = {}
        self.cell_displays: dict = {}
        self.run: Run | None = None
        self.runs: list[Run] = []
        self.restarts = 0

    @property
    def peak_rss_kb(self) -> int:
        return max((run.max_rss_kb for run in self.runs), default=0)

    def checkpoints(self):
        """Yield (run, index) each time a check cell has run, then (run, None) when every cell has."""
        seen = set()
        while (run := self._start()) is not None:
            while (index := run.advance()) is not None:
                self._record(run)
                if index not in seen:
                    seen.add(index)
                    yield run, index
            self._record(run)
            if run.alive and run.finished:
                yield run, None
                return

    def _start(self) -> Run | None:
        if time.monotonic() >= self.deadline or self.restarts > MAX_RESTARTS:
            self._note("Grading stopped: the time limit for the whole notebook was reached.")
            return None
        self.restarts += 1
        cells = [cell for cell in self.cells[len(self.prefix):] if cell[0] not in self.skipped]
        self.run = self.sandbox.run(cells, self.deadline, self.prefix, self.check_cells, self.budgets)
        self.runs.append(self.run)
        return self.run

    def _record(self, run: Run):
        for outcome in run.outcomes:
            self.cell_outputs[outcome.index] = (outcome.output, outcome.error)
            self.cell_displays[outcome.index] = outcome.displays
            if outcome.error and outcome.error.get("type") == "CellTimeout" and \
                    "had already run out of time once" in str(outcome.error.get("text")):
                self._note(f"Cell {outcome.index + 1} was stopped: {outcome.error['text']}. Look for a loop that "
                           f"never ends in it. The cells after it still ran.{self._quote(outcome.index)}")
            elif outcome.error and outcome.error.get("type") == "CellTimeout":
                self._note(f"Cell {outcome.index + 1} ran longer than {duration(run.budgets.cell(outcome.index))} "
                           f"and was stopped ({run.budgets.cell_hint(outcome.index)}): look for a loop that never "
                           f"ends. The cells after it still ran.{self._quote(outcome.index)}")
        if run.fatal_cell is not None:
            self.skipped.add(run.fatal_cell)
            what = ("did not finish and had to be stopped" if run.ended == "timeout" else
                    "interfered with the grader (it wrote on the grader's connection)" if run.ended == "interfered"
                    else "ended the Python process (exit, os._exit, a crash or too much memory)")
            self._note(f"Cell {run.fatal_cell + 1} {what}; it was skipped and the notebook run again without it."
                       f"{self._quote(run.fatal_cell)}")
            self.cell_outputs[run.fatal_cell] = ("", {"type": "Stopped", "text": what})

    def _quote(self, index: int) -> str:
        """" It begins with `while True:`.": the cell's first line, so the student finds the cell."""
        source = next((source for number, source in self.cells if number == index), "")
        first = next((line.strip() for line in source.splitlines() if line.strip()), "").replace("`", "'")
        # shortened with one "…", and without a period of its own before the sentence's: never "..`." nor ".`."
        first = (first if len(first) <= 60 else first[:59] + "\N{HORIZONTAL ELLIPSIS}").rstrip(".")
        return f" It begins with `{first}`." if first else ""

    def _note(self, text):
        if text not in self.notes and len(self.notes) < MAX_NOTES:
            self.notes.append(text)

    def visible_failure(self, index: int | None) -> tuple[str, bool]:
        """check_cell_verdict of the test cell at `index` ("" and False if it never ran)."""
        output, error = self.cell_outputs.get(index, ("", None)) if index is not None else ("", None)
        return check_cell_verdict(output, error)

    def missing_reason(self) -> str:
        errors = [(index, error) for index, (_, error) in sorted(self.cell_outputs.items())
                  if error and index not in self.check_cells]
        if not errors:
            return "it is not defined anywhere in your notebook"
        index, error = errors[0]
        if error["type"] == "NotImplementedError":
            return f"it is not written yet: cell {index + 1} still raises NotImplementedError()"
        return (f"it is not defined after running your notebook (cell {index + 1} raised {error['type']}: "
                f"{error['text'][:200]})")

    def close(self):
        if self.run is not None:
            self.run.close()
