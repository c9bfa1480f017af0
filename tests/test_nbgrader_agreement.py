"""nbgrader itself grades the course: full marks for the solutions, zero for the untouched release, one
mistake costing exactly the points of the checks it fails (partial credit), and a wrong helper costing only its
own points (a mistake is charged once); `autograder grade` gives the same per-notebook scores. The points come
from the source notebooks; an assignment without a curated mistake below loses its last exercise, left as
released."""
import json
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.course import notebook as nb
from autograder.grading.grade import assignment_spec
from course_files import ASSIGNMENTS, copy_course

pytestmark = pytest.mark.slow  # runs nbgrader autograde beside autograder grade

# One wrong exercise per assignment: (solution cell, wrong body, points it loses: those of the checks it fails).
ONE_MISTAKE = {
    "01-gradient-descent": ("df", "def df(x):\n    return x - 3\n", 1),
    "02-slopes-and-updates": ("train", "def train(input_data, target, weights, learning_rate, n_updates):\n"
                              "    losses = []\n"
                              "    for _ in range(n_updates):\n"
                              "        losses.append(get_error(input_data, target, weights) ** 2)\n"
                              "        slope = get_slope(input_data, target, weights)\n"
                              "        weights = update_weights(weights, slope, learning_rate)\n"
                              "    return weights, np.array(losses)\n", 2),  # its final weights are right
    "03-backpropagation": ("numerical_gradient", "def numerical_gradient(loss, weights, h=1e-5):\n"
                           "    base = loss(weights)\n"
                           "    gradients = {}\n"
                           "    for key, value in weights.items():\n"
                           "        grid = np.zeros(np.shape(value))\n"
                           "        for index in np.ndindex(grid.shape):\n"
                           "            moved = {k: np.array(v, dtype=float) for k, v in weights.items()}\n"
                           "            moved[key][index] += h\n"
                           "            grid[index] = (loss(moved) - base) / h\n"
                           "        gradients[key] = grid\n"
                           "    return gradients\n", 2),
    "04-linear-regression": ("fit", "def fit(x, y, learning_rate, epochs, weight=0.0, bias=0.0):\n"
                             "    history = []\n"
                             "    for _ in range(epochs):\n"
                             "        d_weight, _ = sse_gradient(x, y, weight, bias)\n"
                             "        weight = weight - learning_rate * d_weight\n"
                             "        _, d_bias = sse_gradient(x, y, weight, bias)\n"
                             "        bias = bias - learning_rate * d_bias\n"
                             "        history.append(sse(x, y, weight, bias))\n"
                             "    return weight, bias, np.array(history)\n", 3),
}
# A wrong helper under right callers: (helper's cell, wrong body, the helper's points: all the submission loses).
WRONG_HELPER = {
    "01-gradient-descent": ("gradient_descent_update", "def gradient_descent_update(x, gradx, learning_rate):\n"
                            "    return x + learning_rate * gradx\n", 2),
    "04-linear-regression": ("linear", "def linear(x, weight, bias):\n"
                             "    return bias * np.asarray(x, dtype=float) + weight\n", 1),
}

# A wrong helper whose caller overflows when tried with it (numpy warns on stderr, which nbgrader takes for an error):
# only the helper's points are lost, in nbgrader as in `autograder grade`.
OVERFLOWING_HELPER = {
    "04-linear-regression": ("sse_gradient", "def sse_gradient(x, y, weight, bias):\n"
                             "    x = np.asarray(x, dtype=float)\n"
                             "    errors = np.asarray(y, dtype=float) - linear(x, weight, bias)\n"
                             "    return float(2 * np.sum(errors * x)), float(2 * np.sum(errors))\n", 3),
}

# Students with a wrong helper under right callers, each with its cases by assignment.
HELPER_MISTAKES = {"wrong_helper": WRONG_HELPER, "overflowing_helper": OVERFLOWING_HELPER}


def one_mistake(course, assignment) -> tuple[str, str, float]:
    """(solution cell, wrong source, points lost): the curated mistake, else the last exercise left as released."""
    exercises = {exercise.name: exercise.points for exercise in assignment_spec(course, assignment).exercises}
    if assignment in ONE_MISTAKE:
        return ONE_MISTAKE[assignment]
    last = list(exercises)[-1]
    release = nbformat.read(str(course.release_notebook(assignment)), as_version=4)
    return last, next(cell.source for cell in release.cells if nb.grade_id(cell) == last), exercises[last]


def auto_points(course, assignment) -> float:
    return sum(exercise.points for exercise in assignment_spec(course, assignment).exercises)


def with_cell(notebook, grade_id, source):
    changed = nbformat.from_dict(notebook)
    next(cell for cell in changed.cells if nb.grade_id(cell) == grade_id).source = source
    return changed


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory, course):
    """A course folder whose three students nbgrader has autograded, per assignment."""
    root = copy_course(tmp_path_factory.mktemp("nbgrader") / "course")
    for assignment in ASSIGNMENTS:
        name = course.notebook(assignment)
        solution = nbformat.read(str(course.source_notebook(assignment)), as_version=4)
        grade_id, wrong, _ = one_mistake(course, assignment)
        notebooks = {"sol_student": solution, "one_mistake": with_cell(solution, grade_id, wrong),
                     "blank_student": nbformat.read(str(course.release_notebook(assignment)), as_version=4)}
        for student, cases in HELPER_MISTAKES.items():
            if assignment in cases:
                notebooks[student] = with_cell(solution, *cases[assignment][:2])
        for student, notebook in notebooks.items():
            folder = root / "submitted" / student / assignment
            folder.mkdir(parents=True)
            nbformat.write(notebook, str(folder / name))
        for step in ("generate_assignment", "autograde"):
            done = subprocess.run([sys.executable, "-m", "nbgrader", step, assignment, "--force"], cwd=root,
                                  capture_output=True, text=True)
            assert done.returncode == 0, done.stderr[-3000:]
    return root


def nbgrader_scores(root, course):
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return {(student, assignment): gradebook.find_submission_notebook(
                    course.notebook(assignment).removesuffix(".ipynb"), assignment, student).score
                for assignment in ASSIGNMENTS for student in ("sol_student", "one_mistake", "blank_student")
                + tuple(student for student, cases in HELPER_MISTAKES.items() if assignment in cases)}


def test_nbgrader_gives_the_solutions_full_marks(graded_course, course):
    scores = nbgrader_scores(graded_course, course)
    assert {a: scores["sol_student", a] for a in ASSIGNMENTS} == {a: auto_points(course, a) for a in ASSIGNMENTS}


def test_nbgrader_gives_the_untouched_release_zero(graded_course, course):
    scores = nbgrader_scores(graded_course, course)
    assert {a: scores["blank_student", a] for a in ASSIGNMENTS} == {a: 0 for a in ASSIGNMENTS}


def test_nbgrader_takes_exactly_the_wrong_exercise(graded_course, course):
    scores = nbgrader_scores(graded_course, course)
    assert {a: scores["one_mistake", a] for a in ASSIGNMENTS} == pytest.approx({
        a: auto_points(course, a) - one_mistake(course, a)[2] for a in ASSIGNMENTS}, abs=1e-9)


@pytest.mark.parametrize("student", HELPER_MISTAKES)
def test_nbgrader_charges_a_wrong_helper_once(graded_course, course, student):
    scores, cases = nbgrader_scores(graded_course, course), HELPER_MISTAKES[student]
    assert {a: scores[student, a] for a in cases} == {a: auto_points(course, a) - cases[a][2] for a in cases}


@pytest.fixture(scope="module")
def ours(graded_course, tmp_path_factory):
    """`autograder grade --all` on the notebooks nbgrader graded, into a gradebook of its own: (gradebook, report)."""
    folder = tmp_path_factory.mktemp("ours")
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", "--all", "--no-progress",
                           "--json", str(folder / "report.json"), "--db", f"sqlite:///{folder / 'ours.db'}"],
                          cwd=graded_course, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder / "ours.db", json.loads((folder / "report.json").read_text())


def test_autograder_grade_agrees_with_nbgrader_autograde(graded_course, course, ours):
    expected = nbgrader_scores(graded_course, course)
    got = {(entry["student"], entry["assignment"]): entry["score"] for entry in ours[1]}
    assert got == pytest.approx(expected, abs=1e-9)


def gradebook_rows(db):
    """Every row nbgrader's tools read for a graded submission, keyed by names rather than random ids."""
    with Gradebook(f"sqlite:///{db}") as gradebook:
        rows = {}
        for assignment in ASSIGNMENTS:
            for submission in gradebook.assignment_submissions(assignment):
                for notebook in submission.notebooks:
                    key = (assignment, submission.student_id, notebook.name)
                    rows[key + ("notebook",)] = (notebook.flagged, notebook.late_submission_penalty, notebook.score,
                                                 notebook.needs_manual_grade)
                    for grade in notebook.grades:
                        rows[key + ("grade", grade.name)] = (grade.auto_score, grade.manual_score, grade.extra_credit,
                                                             grade.needs_manual_grade, grade.max_score)
                    for comment in notebook.comments:
                        rows[key + ("comment", comment.name)] = (comment.auto_comment, comment.manual_comment)
        return rows


def test_our_gradebook_rows_are_the_ones_nbgrader_writes(graded_course, ours):
    """Grades, comments and flags, cell by cell, equal those `nbgrader autograde` wrote for the same notebooks,
    so formgrader, export and generate_feedback cannot tell the two apart."""
    theirs, ours = gradebook_rows(graded_course / "gradebook.db"), gradebook_rows(ours[0])
    assert len(theirs) > 100
    assert {key: value for key, value in ours.items() if value != theirs.get(key)} == {}
    assert ours.keys() == theirs.keys()
