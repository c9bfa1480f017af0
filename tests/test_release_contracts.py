"""`autograder release` checks the contracts the grader relies on, each with a message that names the fix:
the hidden-check file's name, its exercise marks, the check helper cell, solution cells named after their
exercises, and every exercise's checks called from the notebook."""
import shutil

import nbformat
import pytest

from autograder.course import notebook as nb
from autograder.course.config import course_at
from autograder.checking.checks import load_checks
from autograder.authoring.lint import KEEP_GOING, keeps_going, lint_source
from autograder.authoring.scaffold import new_assignment
from course_files import ROOT

A5 = "05-momentum"


@pytest.fixture
def scaffolded(tmp_path, monkeypatch):
    """A course root holding the configuration and a new assignment 05-momentum, as `autograder new` writes it."""
    for name in ("course_config.py", "nbgrader_config.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    monkeypatch.setenv("AUTOGRADER_COURSE_ROOT", str(tmp_path))
    course_at.cache_clear()
    made = new_assignment(tmp_path, A5)
    yield made
    course_at.cache_clear()


def edit_cell(path, grade_id, change):
    notebook = nbformat.read(str(path), as_version=4)
    change(next(cell for cell in notebook.cells if nb.grade_id(cell) == grade_id))
    nbformat.write(notebook, str(path))


def test_the_scaffolded_assignment_keeps_every_contract(scaffolded):
    assert lint_source(scaffolded.notebook, A5) == []


def test_a_check_file_under_another_name_is_refused_naming_the_right_one(scaffolded):
    scaffolded.check_file.rename(scaffolded.check_file.with_name("test_05-momentum.py"))
    problems = lint_source(scaffolded.notebook, A5)
    assert len(problems) == 1
    assert "no hidden-check file" in problems[0] and "test_05_momentum.py" in problems[0]
    assert "rename test_05-momentum.py to it" in problems[0]


def test_checks_left_inside_the_package_folder_are_refused_saying_where_they_belong(scaffolded):
    """A course made while the checks shipped in the package kept them in autograder/hidden/: nothing is read from
    there, and release says to move them."""
    old = scaffolded.check_file.parent.parent / "autograder" / "hidden" / scaffolded.check_file.name
    old.parent.mkdir(parents=True)
    scaffolded.check_file.rename(old)
    problems = lint_source(scaffolded.notebook, A5)
    assert problems == [f"{scaffolded.check_file}: no hidden-check file. The course's checks are in "
                        "autograder/hidden/, inside the package's folder, where they were kept before; they now "
                        "belong to the course in hidden/: move the folder (`git mv autograder/hidden hidden`)."]


def test_a_check_without_its_exercise_mark_is_refused(scaffolded):
    text = scaffolded.check_file.read_text()
    scaffolded.check_file.write_text(text.replace('@pytest.mark.exercise("squared_error")\n', "", 1))
    problems = lint_source(scaffolded.notebook, A5)
    assert problems == [f"{scaffolded.check_file}: hidden check test_squared_error_of_one_new_number has no "
                        "@pytest.mark.exercise(...). Mark every test_ function with the exercise it grades."]


def test_a_check_cell_without_the_keep_going_block_is_refused_naming_the_cell_and_the_fix(scaffolded):
    edit_cell(scaffolded.notebook, "check_squared_error", lambda cell: setattr(
        cell, "source", cell.source.split(f"{nb.END_HIDDEN}\n", 1)[1]))
    assert KEEP_GOING not in scaffolded.notebook.read_text()
    [problem] = lint_source(scaffolded.notebook, A5)
    assert problem.startswith(f"{scaffolded.notebook}, cell 11 ") and "('check_squared_error')" in problem
    assert "the exercise earns 0" in problem
    assert problem.endswith(f"first in the cell:\n    {nb.BEGIN_HIDDEN}\n    {KEEP_GOING}\n    {nb.END_HIDDEN}")


def test_the_keep_going_block_must_come_before_the_visible_checks():
    before = f"{nb.BEGIN_HIDDEN}\n{KEEP_GOING}\n{nb.END_HIDDEN}\n# Check your f (run this cell).\ncheck('f', f, 1)"
    after = f"check('f', f, 1)\n{nb.BEGIN_HIDDEN}\n{KEEP_GOING}\n{nb.END_HIDDEN}"
    assert keeps_going(before) and not keeps_going(after)
    assert not keeps_going(before.replace("True", "False")) and not keeps_going("check('f', f, 1)")


def test_the_scaffold_s_worked_example_check_earns_nothing_and_two_checks_share_the_points(scaffolded):
    checks = load_checks(A5)["squared_error"]
    assert {check.__name__: check.pytestmark[0].kwargs.get("weight", 1) for check in checks} == {
        "test_squared_error_of_one_new_number": 1, "test_squared_error_entry_by_entry_on_new_numbers": 1,
        "test_squared_error_on_the_worked_example": 0}


def test_a_check_file_that_does_not_load_is_refused(scaffolded):
    scaffolded.check_file.write_text(scaffolded.check_file.read_text() + "\nimport no_such_module_here\n")
    [problem] = lint_source(scaffolded.notebook, A5)
    assert "does not load (ModuleNotFoundError" in problem


def test_an_edited_check_helper_cell_is_refused(scaffolded):
    edit_cell(scaffolded.notebook, "check_helpers", lambda cell: setattr(cell, "source", cell.source + "\n# mine"))
    [problem] = lint_source(scaffolded.notebook, A5)
    assert "('check_helpers'): the check helper cell differs from autograder/checking/visible_check.py" in problem


def test_check_cells_without_a_helper_cell_are_refused(scaffolded):
    edit_cell(scaffolded.notebook, "check_helpers", lambda cell: cell.metadata["nbgrader"].update(
        grade_id="helpers"))
    [problem] = lint_source(scaffolded.notebook, A5)
    assert "no cell has the grade id 'check_helpers'" in problem


def test_a_solution_cell_not_named_after_its_exercise_is_refused(scaffolded):
    edit_cell(scaffolded.notebook, "squared_error", lambda cell: cell.metadata["nbgrader"].update(
        grade_id="my_squared_error"))
    [problem] = lint_source(scaffolded.notebook, A5)
    assert "no solution cell has the grade id 'squared_error'" in problem and "fix that one first" in problem


def test_checks_no_cell_calls_are_refused(scaffolded):
    scaffolded.check_file.write_text(scaffolded.check_file.read_text() + '''

@pytest.mark.exercise("momentum_step")
def test_momentum_step(submission):
    expect_close(submission.momentum_step(0.0, 1.0, 0.9), -1.0, "momentum_step(0.0, 1.0, 0.9)")
''')
    [problem] = lint_source(scaffolded.notebook, A5)
    assert "the checks of exercise 'momentum_step' are never run" in problem


def test_the_course_s_own_notebooks_keep_every_contract(course):
    for assignment in course.assignments:
        assert lint_source(course.source_notebook(assignment), assignment) == []
