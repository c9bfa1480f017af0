"""The labelled set (labelled_cases.py), graded for real: every submission goes through the sandboxes
and the hidden checks in one batch per assignment, then each case's exercises must earn exactly the
points its label says, each failing exercise's feedback must name the expected mistake, and a passing
exercise must show no complaint."""
import dataclasses
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.course import notebook as nb
from autograder.grading.batch import grade_assignments
from autograder.course.config import load_course
from autograder.grading.grade import assignment_spec
from labelled_cases import CASES, Code
from make_class import VARIANTS, build_notebook

pytestmark = pytest.mark.slow  # grades the labelled class in sandboxes

ROOT = Path(__file__).resolve().parents[2]


def submission(course_root: Path, case) -> nbformat.NotebookNode:
    """The notebook the case's student hands in."""
    names = {exercise: "correct" for exercise in VARIANTS[case.assignment]}
    names.update({grade_id: "correct" if isinstance(choice, Code) else choice
                  for grade_id, choice in case.cells.items()})
    notebook = build_notebook(course_root, case.assignment, names, case.extra_cells)
    for cell in notebook.cells:
        if isinstance(case.cells.get(nb.grade_id(cell)), Code):
            cell.source = case.cells[nb.grade_id(cell)]
    return notebook


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(student, assignment) -> SubmissionResult, for every case, graded in one batch of every assignment on a
    course copy."""
    root = tmp_path_factory.mktemp("labelled")
    for name in ("source", "release", "hidden"):
        shutil.copytree(ROOT / name, root / name)
    for name in ("course_config.py", "nbgrader_config.py"):
        shutil.copy(ROOT / name, root / name)
    # the labels judge scores and messages; rendering figures would only slow the 107 cases down
    course = dataclasses.replace(load_course(root), keep_figures=False)
    for case in CASES:
        folder = root / "submitted" / case.student / case.assignment
        folder.mkdir(parents=True)
        nbformat.write(submission(root, case), str(folder / course.notebook(case.assignment)))
    results = {}
    grade_assignments(course, list(course.assignments), db_url=None, workers=3, progress=False,  # one pool for all
                      on_result=lambda result: results.__setitem__((result.student, result.assignment), result))
    return course, results


def test_the_labelled_set_is_large_and_covers_every_assignment():
    assert len(CASES) >= 50
    assert len({case.student for case in CASES}) == len(CASES)
    for assignment in VARIANTS:
        cases = [case for case in CASES if case.assignment == assignment]
        assert len(cases) >= 10, assignment
        assert any(not case.failing for case in cases), f"{assignment} has no fully correct case"


@pytest.mark.parametrize("case", CASES, ids=[case.student for case in CASES])
def test_each_exercise_earns_its_label_and_names_the_mistake(graded, case):
    course, results = graded
    result = results[(case.student, case.assignment)]
    assert result.status == "graded", result.reason
    exercises = assignment_spec(course, case.assignment).exercises
    assert set(case.failing) <= {exercise.name for exercise in exercises}, "a label names an unknown exercise"
    by_grade_id = {test.name: test for test in result.tests}
    for exercise in exercises:
        test = by_grade_id[exercise.grade_id]
        helpers = case.charged_to.get(exercise.name, ())
        assert test.helpers == tuple(helpers), f"{exercise.name} re-checked without {test.helpers}: {test.output}"
        if helpers:
            names = " and ".join(f"`{name}`" for name in helpers)
            assert f"`{exercise.name}` " in test.output and names in test.output, test.output
        if exercise.name in case.failing:
            assert test.score == case.earns.get(exercise.name, 0), f"{exercise.name}: {test.score}: {test.output}"
            assert case.failing[exercise.name] in test.output, f"{exercise.name}: {test.output}"
        else:
            assert test.score == exercise.points, f"{exercise.name} should pass: {test.output}"
            note = f"- `{exercise.name}` is right when {names} " if helpers else "-"
            assert test.output.endswith("passed.") and test.output.count("\n- ") == 0, test.output
            assert not test.output.startswith("-") or test.output.startswith(note), test.output
    expected_total = round(sum(case.earns.get(e.name, 0) if e.name in case.failing else e.points
                               for e in exercises), 4)  # as the grader rounds partial credit
    assert result.score == expected_total


def test_no_check_trips_over_what_a_student_returned(graded):
    _, results = graded
    crashed = [(student, test.name, test.output) for (student, _), result in results.items()
               for test in result.tests if "could not be checked (" in test.output]
    assert crashed == []
