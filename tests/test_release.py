"""`autograder release`: nbgrader's generator, the leak check, and refusing broken source notebooks."""
import json
import os
import subprocess
import sys

import nbformat
import pytest

from autograder.course import notebook as nb
from autograder.checking.checks import check_file
from autograder.course.config import load_course
from autograder.authoring.release import generate, verify_release
from course_files import ASSIGNMENTS, ROOT


def autograder_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "AUTOGRADER_COURSE_ROOT": str(cwd)})


def comparable(path):
    """A notebook's cells as nbgrader makes them: source, type and metadata (ids and outputs aside)."""
    notebook = json.loads(path.read_text())
    return [(cell["cell_type"], cell["source"], cell["metadata"]) for cell in notebook["cells"]]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_is_in_sync_with_source(course, course_copy, assignment):
    generate(load_course(course_copy), assignment)
    fresh = course_copy / "release" / assignment / course.notebook(assignment)
    assert comparable(fresh) == comparable(course.release_notebook(assignment)), (
        "release/ is out of date: run `autograder release` and commit the result")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_leaks_nothing_and_stubs_every_exercise(course, assignment):
    assert verify_release(course.source_notebook(assignment), course.release_notebook(assignment), assignment) == []
    release = nbformat.read(str(course.release_notebook(assignment)), as_version=4)
    stubs = [cell for cell in release.cells if nb.is_solution(cell) and cell.cell_type == "code"]
    assert stubs and all("YOUR CODE HERE" in cell.source and "raise NotImplementedError()" in cell.source
                         for cell in stubs)


def planted(course, tmp_path, assignment, grade_id, line):
    """A copy of the release notebook with `line` added to the cell `grade_id`."""
    release = nbformat.read(str(course.release_notebook(assignment)), as_version=4)
    cell = next(cell for cell in release.cells if nb.grade_id(cell) == grade_id)
    cell.source += "\n" + line
    path = tmp_path / course.notebook(assignment)
    nbformat.write(release, str(path))
    return path


def test_leak_check_catches_a_planted_solution_line(course, tmp_path):
    path = planted(course, tmp_path, "01-gradient-descent", "check_df", "    return 2 * (x - 3)")
    problems = verify_release(course.source_notebook("01-gradient-descent"), path, "01-gradient-descent")
    assert len(problems) == 1
    assert str(path) in problems[0] and "'check_df'" in problems[0]
    assert "solution line `return 2 * (x - 3)`" in problems[0]


def test_leak_check_catches_a_planted_hidden_check_call(course, tmp_path):
    line = 'assert_hidden_checks_pass("02-slopes-and-updates", "predict", predict=predict)'
    path = planted(course, tmp_path, "02-slopes-and-updates", "check_predict", line)
    problems = verify_release(course.source_notebook("02-slopes-and-updates"), path, "02-slopes-and-updates")
    assert problems and all("'check_predict'" in problem for problem in problems)
    assert any("hidden" in problem for problem in problems)


def test_leak_check_catches_a_line_copied_from_the_hidden_check_file(course, tmp_path):
    assignment = "03-backpropagation"
    code = [line.strip() for line in check_file(assignment).read_text().splitlines()
            if len(line.strip()) > 40 and not line.strip().startswith(("#", "def ", '"""', "from", "import"))]
    path = planted(course, tmp_path, assignment, "relu", code[0])
    problems = verify_release(course.source_notebook(assignment), path, assignment)
    assert any("a line of the hidden checks" in problem and "'relu'" in problem for problem in problems)


def test_leak_check_catches_the_solution_markers(course, tmp_path):
    path = planted(course, tmp_path, "04-linear-regression", "linear", "### BEGIN SOLUTION")
    problems = verify_release(course.source_notebook("04-linear-regression"), path, "04-linear-regression")
    assert any("'### BEGIN SOLUTION'" in problem and "'linear'" in problem for problem in problems)


def edit_source(course_copy, assignment, change):
    path = course_copy / "source" / assignment / load_course(ROOT).notebook(assignment)
    notebook = nbformat.read(str(path), as_version=4)
    change(notebook)
    nbformat.write(notebook, str(path))
    return path


def cell(notebook, grade_id):
    return next(c for c in notebook.cells if nb.grade_id(c) == grade_id)


def test_release_refuses_a_solution_region_left_open(course_copy):
    def leave_open(notebook):
        cell(notebook, "df").source = cell(notebook, "df").source.replace("### END SOLUTION", "")
    edit_source(course_copy, "01-gradient-descent", leave_open)
    done = autograder_cli("release", "01-gradient-descent", cwd=course_copy)
    assert done.returncode == 1
    assert "gradient_descent.ipynb, cell" in done.stderr and "('df')" in done.stderr
    assert "'### BEGIN SOLUTION' is never closed. Add a '### END SOLUTION' line" in done.stderr
    assert not (course_copy / "release" / "01-gradient-descent" / "gradient_descent.ipynb").read_text().count(
        "BEGIN SOLUTION")


def test_release_refuses_a_duplicated_grade_id(course_copy):
    def duplicate(notebook):
        cell(notebook, "get_error").metadata.nbgrader.grade_id = "predict"
    edit_source(course_copy, "02-slopes-and-updates", duplicate)
    done = autograder_cli("release", "02-slopes-and-updates", cwd=course_copy)
    assert done.returncode == 1
    assert "grade id 'predict' is also used by cell" in done.stderr
    assert "Give each nbgrader cell its own grade id." in done.stderr


def test_release_refuses_broken_nbgrader_metadata(course_copy):
    def break_points(notebook):
        del cell(notebook, "check_df").metadata.nbgrader["points"]
    edit_source(course_copy, "01-gradient-descent", break_points)
    done = autograder_cli("release", "01-gradient-descent", cwd=course_copy)
    assert done.returncode == 1
    assert "('check_df'): broken nbgrader metadata" in done.stderr and "does not have points" in done.stderr


def test_release_refuses_a_notebook_that_is_not_json(course_copy):
    (course_copy / "source" / "01-gradient-descent" / "gradient_descent.ipynb").write_text('{"cells": [')
    done = autograder_cli("release", "01-gradient-descent", cwd=course_copy)
    assert done.returncode == 1
    assert "gradient_descent.ipynb: not a readable notebook" in done.stderr and "Fix the JSON" in done.stderr


def test_release_refuses_a_check_cell_naming_an_exercise_without_checks(course_copy):
    def rename(notebook):
        test = cell(notebook, "check_df")
        test.source = test.source.replace('"df", df=df', '"dff", df=df')
    edit_source(course_copy, "01-gradient-descent", rename)
    done = autograder_cli("release", "01-gradient-descent", cwd=course_copy)
    assert done.returncode == 1
    assert "has no checks marked @pytest.mark.exercise('dff')" in done.stderr


@pytest.mark.slow
def test_release_of_a_good_course_succeeds(course_copy):
    done = autograder_cli("release", "01-gradient-descent", cwd=course_copy)
    assert done.returncode == 0, done.stderr
    assert "released release/01-gradient-descent/gradient_descent.ipynb" in done.stdout


def test_leak_check_refuses_a_visible_check_that_prints_the_answer(course, tmp_path):
    """The old check of max_stable_learning_rate printed "gave 0.5, but 1.0 was expected": the whole answer."""
    old_check = ('check("max_stable_learning_rate", lambda: max_stable_learning_rate, 1.0, hint="Find where the '
                 'factor 1 - 2 * learning_rate reaches size 1.")')
    path = planted(course, tmp_path, "01-gradient-descent", "check_max_stable_learning_rate", old_check)
    problems = verify_release(course.source_notebook("01-gradient-descent"), path, "01-gradient-descent")
    assert len(problems) == 1
    assert "('check_max_stable_learning_rate')" in problems[0] and str(path) in problems[0]
    assert "prints 1.0, the answer of the exercise `max_stable_learning_rate`" in problems[0]


def test_leak_check_lets_a_visible_check_print_its_verdict(course):
    """The release's check runs gradient descent with the student's rate and prints True, not the rate."""
    release = nbformat.read(str(course.release_notebook("01-gradient-descent")), as_version=4)
    check = next(cell for cell in release.cells if nb.grade_id(cell) == "check_max_stable_learning_rate")
    assert "lambda: max_stable_learning_rate," not in check.source
    assert "distance_to_minimum_after(0.99 * max_stable_learning_rate) < 2), True" in check.source


BROKEN_CHECKS = '''\
import pytest

REFERENCES = {"df": lambda x: 2 * (x - 3),
              "nothing": lambda x: x,
              "gradient_descent_update": lambda x, gradx, learning_rate: x + learning_rate * gradx}


@pytest.mark.exercise("df", weight=-1)
def test_df_is_the_slope(submission):
    assert submission.df(5) == 4


@pytest.mark.exercise("df", weight=2)
def test_df_on_the_worked_example(submission):
    assert submission.df(3) == 0


def test_without_a_mark(submission):
    pass


@pytest.mark.exercise("gradient_descent_update", weight=0)
def test_update_steps_downhill(submission):
    assert submission.gradient_descent_update(1.0, -4.0, 0.05) == pytest.approx(1.2)
'''


def test_release_refuses_a_broken_check_file_naming_file_and_line(course, tmp_path):
    from autograder.authoring.lint import lint_check_file

    path = tmp_path / "test_01_gradient_descent.py"
    path.write_text(BROKEN_CHECKS)
    problems = lint_check_file("01-gradient-descent", course.source_notebook("01-gradient-descent"), path)
    text = "\n".join(problems)
    assert f"{path}:8: test_df_is_the_slope's weight -1 is not a number of 0 or more." in text
    assert f"{path}:13: test_df_on_the_worked_example repeats the worked example" in text
    assert f"{path}:18: test_without_a_mark needs exactly one @pytest.mark.exercise" in text
    assert f"{path}:22: the weights of 'gradient_descent_update''s checks add up to 0" in text
    assert f"{path}:4: REFERENCES names 'nothing', which has no checks in this file." in text
    assert f"{path}:5: the reference of 'gradient_descent_update' fails its own check test_update_steps_downhill" in text
    assert len(problems) == 6, text


def test_the_course_check_files_and_references_pass_the_release_checks(course):
    from autograder.authoring.lint import lint_check_file

    for assignment in ASSIGNMENTS:
        assert lint_check_file(assignment, course.source_notebook(assignment)) == []


def test_an_nbgrader_course_with_stubs_of_its_own_is_released_with_them(tmp_path):
    """A course whose nbgrader_config.py sets ClearSolutions' stubs: the leak check looks for those, not ours."""
    from autograder.authoring.release import nbgrader_stubs, verify_nbgrader_release

    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.ClearSolutions.code_stub = "
                                                 "{'python': '# write your answer\\npass'}\n"
                                                 "c.ClearSolutions.text_stub = 'Your words here'\n")
    source, release = nbformat.v4.new_notebook(), nbformat.v4.new_notebook()
    solution = "def f():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION"
    for notebook, code, text in ((source, solution, "Because."),
                                 (release, "def f():\n    # write your answer\n    pass", "Your words here")):
        notebook.cells = [nbformat.v4.new_code_cell(code), nbformat.v4.new_markdown_cell(text)]
        for cell, name in zip(notebook.cells, ("f", "why")):
            cell.metadata["nbgrader"] = {"grade_id": name, "solution": True, "grade": False, "locked": False}
    for folder, notebook in (("source", source), ("release", release)):
        (tmp_path / folder).mkdir()
        nbformat.write(notebook, str(tmp_path / folder / "a.ipynb"))
    stubs = nbgrader_stubs(tmp_path)
    assert stubs == ("# write your answer", "Your words here")
    assert verify_nbgrader_release(tmp_path / "source", tmp_path / "release", stubs) == []
    missing = verify_nbgrader_release(tmp_path / "source", tmp_path / "release")  # looking for ours instead
    assert len(missing) == 2 and "no 'YOUR CODE HERE' stub" in missing[0]
