"""An instructor adds an assignment in one sitting, in a scratch copy of the course: `autograder new 05-momentum`,
a second exercise and its check filled in, `autograder release`, then `nbgrader autograde` right after the release
(no other nbgrader command), `autograder grade` with the same scores, and feedback and the class report that
name the mistake a student made."""
import json
import os
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.course.config import load_course
from builders import cell_index, replaced, write
from course_files import copy_course

pytestmark = pytest.mark.slow  # release, grade and nbgrader on a new assignment

A5, NOTEBOOK = "05-momentum", "momentum.ipynb"

MOMENTUM_CELLS = [
    nbformat.v4.new_markdown_cell("## Exercise 2: `momentum_step` (3 points)\n\nWrite `momentum_step(velocity, "
                                  "gradient, beta)` that returns the new velocity `beta * velocity - gradient`."),
    nbformat.v4.new_code_cell(
        "def momentum_step(velocity, gradient, beta):\n"
        '    """Return the velocity after one step of gradient descent with momentum."""\n'
        "    ### BEGIN SOLUTION\n"
        "    return beta * velocity - gradient\n"
        "    ### END SOLUTION",
        metadata={"nbgrader": {"grade": False, "grade_id": "momentum_step", "locked": False, "schema_version": 3,
                               "solution": True}}),
    nbformat.v4.new_code_cell(
        "### BEGIN HIDDEN TESTS\n"
        "_keep_going = True\n"
        "### END HIDDEN TESTS\n"
        'check("momentum_step(1.0, 0.5, 0.9)", lambda: momentum_step(1.0, 0.5, 0.9), 0.4)\n'
        "### BEGIN HIDDEN TESTS\n"
        "from autograder.checking.checks import assert_hidden_checks_pass\n"
        'assert_hidden_checks_pass("05-momentum", "momentum_step", momentum_step=momentum_step)\n'
        "### END HIDDEN TESTS",
        metadata={"nbgrader": {"grade": True, "grade_id": "check_momentum_step", "locked": True, "points": 3,
                               "schema_version": 3, "solution": False}}),
]

MOMENTUM_CHECK = '''

def reference_momentum_step(velocity, gradient, beta):
    return beta * velocity - gradient


@pytest.mark.exercise("momentum_step")
def test_momentum_step_on_new_numbers(submission, rng):
    velocity, gradient, beta = rounded(rng.uniform(1, 3, 4)), rounded(rng.uniform(1, 3, 4)), 0.9
    expect_close(submission.momentum_step(velocity, gradient, beta), reference_momentum_step(velocity, gradient, beta),
                 describe_call("momentum_step", (velocity, gradient, beta)), mistakes=[
                     Mistake("added the gradient instead of subtracting it", beta * velocity + gradient,
                             "Momentum steps against the gradient too.")])
'''
WRONG_STEP = "def momentum_step(velocity, gradient, beta):\n    return beta * velocity + gradient\n"
# Half right: one number's squared error is right, an array's is summed up (fails one visible check, not the first).
SUMMED = "import numpy as np\ndef squared_error(prediction, target):\n    return np.sum((prediction - target) ** 2)\n"


def run(*command, root):
    done = subprocess.run([sys.executable, "-m", *command], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "AUTOGRADER_COURSE_ROOT": str(root)})
    assert done.returncode == 0, f"{command}:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def momentum(tmp_path_factory):
    """The scratch course after `autograder new`, the filled-in exercise, `autograder release`, three students'
    submissions (the solution, the release, the second exercise wrong, the first half
    right), `nbgrader autograde` into the gradebook
    the release registered, and `autograder grade` into a gradebook of its own."""
    root = copy_course(tmp_path_factory.mktemp("new_assignment") / "course")
    assert "wrote source/05-momentum/momentum.ipynb" in run("autograder", "new", A5, root=root)
    source = root / "source" / A5 / NOTEBOOK
    notebook = nbformat.read(str(source), as_version=4)
    at = cell_index(notebook, "check_squared_error") + 1
    notebook.cells[at:at] = MOMENTUM_CELLS
    nbformat.write(notebook, str(source))
    check_file = root / "hidden" / "test_05_momentum.py"
    check_file.write_text(check_file.read_text() + MOMENTUM_CHECK)
    assert "released release/05-momentum/momentum.ipynb" in run("autograder", "release", A5, root=root)
    solved = nbformat.read(str(source), as_version=4)
    submissions = {"ann": solved, "cy": nbformat.read(str(root / "release" / A5 / NOTEBOOK), as_version=4),
                   "dee": replaced(solved, "momentum_step", WRONG_STEP),
                   "eve": replaced(solved, "squared_error", SUMMED)}
    for student, submitted in submissions.items():
        write(submitted, root / "submitted" / student / A5 / NOTEBOOK)
    run("nbgrader", "autograde", A5, "--log-level=ERROR", root=root)
    summary = run("autograder", "grade", A5, "--json", "results.json", "--no-progress", "--db",
                  f"sqlite:///{root / 'ours.db'}", root=root)
    return root, summary


EXPECTED = {"ann": 5.0, "cy": 0.0, "dee": 2.0, "eve": 4.0}


def test_nbgrader_autograde_works_right_after_the_release(momentum):
    root, _ = momentum
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_notebook("momentum", A5)
        assert {cell.name: cell.max_score for cell in notebook.grade_cells} == {
            "check_squared_error": 2.0, "check_momentum_step": 3.0, "why_square_the_error": 1.0}
        scores = {student: gradebook.find_submission_notebook("momentum", A5, student).score
                  for student in EXPECTED}
    assert scores == EXPECTED


def test_autograder_grade_gives_nbgrader_s_scores_and_counts_the_written_answer_apart(momentum):
    root, summary = momentum
    assert "05-momentum: 4 submissions" in summary
    assert "score: mean 2.75, median 3.00 (out of 5 autograded; 1 by hand)" in summary
    results = json.loads((root / "results.json").read_text())
    assert {entry["student"]: entry["score"] for entry in results} == EXPECTED
    dee = next(entry for entry in results if entry["student"] == "dee")
    step = next(test for test in dee["tests"] if test["name"] == "check_momentum_step")
    assert "It looks like you added the gradient instead of subtracting it" in step["output"]


def test_a_half_right_exercise_earns_partial_credit_with_a_message_in_words(momentum):
    """The scaffold's check cell turns partial credit on: squared_error right for one number but summed for an
    array earns 1 of its 2 points, and the student reads what went wrong, not the name of an exception class."""
    root, _ = momentum
    eve = next(entry for entry in json.loads((root / "results.json").read_text()) if entry["student"] == "eve")
    test = next(test for test in eve["tests"] if test["name"] == "check_squared_error")
    assert (test["score"], test["max_score"]) == (1.0, 2.0)
    assert test["output"].startswith("- The check cell under this exercise failed: squared_error(np.array([-1, 0, "
                                     "1]), 1) returned 5, but [4, 1, 0] was expected.")
    assert "It looks like you added up the squared errors instead of returning one for every entry" in test["output"]
    assert "CheckFailed" not in test["output"] and "Error" not in test["output"]
    run("autograder", "feedback", A5, "--student", "eve", root=root)
    page = (root / "autograder_feedback" / "eve" / A5 / "feedback.html").read_text()
    assert "added up the squared errors" in page and "CheckFailed" not in page


def test_feedback_and_the_report_cover_the_new_assignment(momentum):
    root, _ = momentum
    run("autograder", "feedback", A5, "--student", "dee", root=root)
    page = (root / "autograder_feedback" / "dee" / A5 / "feedback.html").read_text()
    assert "added the gradient instead of subtracting it" in page and "momentum_step" in page
    assert "The squared error for the target" in page  # the scaffolded check's figure
    summary = run("autograder", "report", A5, root=root)
    assert "05-momentum: 4 submissions" in summary
    assert "added the gradient instead of subtracting it" in (root / "reports" / f"{A5}.html").read_text()
    assert list(load_course(root).assignments)[-1] == A5
