"""A visible check and the grade never disagree: `autograder release` runs every exercise's check cell and its
weighted hidden checks on the solution with one small change each, and refuses a change that fails the check cell
but earns every hidden point (relu_slope returning 1 at exactly 0 did)."""
import numpy as np
import pytest

from autograder.authoring import check_audit
from autograder.checking.checks import check_file, run_exercise
from autograder.results.model import earned
from autograder.engine.submission import local_submission
from course_files import ASSIGNMENTS

ZERO_CHECK_START = '@pytest.mark.exercise("relu_slope")\ndef test_relu_slope_is_zero_at_exactly_zero'


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_check_cell_agrees_with_the_hidden_checks(course, assignment):
    assert check_audit.disagreements(check_file(assignment), course.source_notebook(assignment)) == []


def test_release_refuses_relu_slope_graded_without_its_value_at_zero(course, tmp_path):
    text = check_file("03-backpropagation").read_text()
    start = text.index(ZERO_CHECK_START)
    path = tmp_path / "test_03_backpropagation.py"
    path.write_text(text[:start] + text[text.index("\n\n\n@", start) + 3:])
    problems = check_audit.disagreements(path, course.source_notebook("03-backpropagation"))
    assert problems == [f"{path}: the check cell of 'relu_slope' fails when the solution's relu_slope has "
                        "`return (np.asarray(x) >= 0).astype(float)` for `return (np.asarray(x) > 0).astype(float)`, "
                        "but every hidden check worth points passes: a student could fail the visible check and earn "
                        "full marks. Add a weighted hidden check of what that check cell asserts."]


def test_release_runs_the_check_file_s_known_mistakes_through_the_check_cell(course, tmp_path):
    text = check_file("03-backpropagation").read_text()
    start = text.index(ZERO_CHECK_START)
    path = tmp_path / "test_03_backpropagation.py"
    path.write_text(text[:start] + text[text.index("\n\n\n@", start) + 3:] + (
        "\n\ndef at_zero_mistakes(x):\n"
        "    return [Mistake('returned 1 at exactly 0', (np.asarray(x) >= 0).astype(float), 'Use x > 0.')]\n"))
    problems = check_audit.disagreements(path, course.source_notebook("03-backpropagation"))
    assert problems == [f"{path}: the check cell of 'relu_slope' fails when a student returned 1 at exactly 0 "
                        "(at_zero_mistakes), but every hidden check worth points passes: a student could fail the "
                        "visible check and earn full marks. Add a weighted hidden check of what that check cell "
                        "asserts."]


def test_relu_slope_returning_one_at_zero_loses_points_and_is_named(course):
    submission = local_submission({"relu_slope": lambda x: (np.asarray(x) >= 0).astype(float)})
    results = run_exercise("03-backpropagation", "relu_slope", submission, "grace_hopper")
    assert earned(results, 1.0) < 1.0
    failed = [result for result in results if not result.passed]
    assert [result.mistake for result in failed if result.weight] == ["returned 1 at exactly 0"]
    assert "use x > 0, not x >= 0" in failed[0].message


def test_a_value_exercise_s_check_cell_and_grade_agree_on_wrong_values(course):
    source = course.source_notebook("01-gradient-descent")
    namespace = check_audit._notebook_namespace(check_audit.nb.read(source))
    cell = next(cell for cell in check_audit.nb.read(source).cells
                if check_audit.nb.grade_id(cell) == "check_max_stable_learning_rate")
    visible = check_audit.nb.visible_part(cell.source)
    assert check_audit._passes(visible, namespace)
    assert not check_audit._passes(visible, dict(namespace, max_stable_learning_rate=0.5))
    assert not check_audit._passes(visible, dict(namespace, max_stable_learning_rate=2.0))


def test_the_small_changes_include_the_usual_slips(course):
    definition = check_audit._solution_function(check_audit.nb.read(course.source_notebook("01-gradient-descent")),
                                                "df")
    changes = [change for _, change in check_audit._mutants(definition)]
    assert changes == [f"the solution's df has `{changed}` for `return 2 * (x - 3)`" for changed in
                       ("return 2 / (x - 3)", "return 3 * (x - 3)", "return 2 * (x + 3)", "return 2 * (x - 4)")]


def test_release_refuses_a_check_cell_that_fails_on_the_solution_itself(course, tmp_path):
    source = course.source_notebook("01-gradient-descent")
    broken = tmp_path / source.name
    text = source.read_text()
    assert 'lambda: df(5), 4,' in text
    broken.write_text(text.replace('lambda: df(5), 4,', 'lambda: df(5), 5,'))
    assert check_audit.disagreements(check_file("01-gradient-descent"), broken) == [
        f"{broken}: the check cell of 'df' fails on the solution itself. Fix the check cell or the solution: "
        "students would be told a right answer is wrong."]


def test_a_function_with_a_while_loop_is_left_unchanged():
    import ast

    definition = ast.parse("def halve(x):\n    while x > 1:\n        x = x / 2\n    return x").body[0]
    assert list(check_audit._mutants(definition)) == []  # x * 2 would never end
