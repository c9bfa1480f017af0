"""`autograder new`: a new assignment in the course's conventions, all or nothing, and a clear refusal for a name
or a course_config.py it cannot take."""
import ast
import re
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.course import notebook as nb
from autograder.authoring import scaffold
from autograder.checking.checks import load_checks
from autograder.course.config import course_at, load_course
from autograder.authoring.lint import lint_source
from autograder.authoring.scaffold import ScaffoldError, new_assignment, with_assignment
from course_files import ROOT

FILES_OF_A_COURSE = ("course_config.py", "nbgrader_config.py")


@pytest.fixture
def small_course(tmp_path, monkeypatch):
    """A course folder with the repository's configuration and nothing else; the course root for this test."""
    for name in FILES_OF_A_COURSE:
        shutil.copy(ROOT / name, tmp_path / name)
    monkeypatch.setenv("AUTOGRADER_COURSE_ROOT", str(tmp_path))
    course_at.cache_clear()
    yield tmp_path
    course_at.cache_clear()


def tree(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_new_writes_the_notebook_its_checks_and_the_config_entry(small_course):
    made = new_assignment(small_course, "05-momentum")
    assert made.notebook == small_course / "source" / "05-momentum" / "momentum.ipynb"
    assert made.check_file == small_course / "hidden" / "test_05_momentum.py"
    course = load_course(small_course)
    assert list(course.assignments)[-1:] == ["05-momentum"]
    assert course.assignments == {**load_course(ROOT).assignments, "05-momentum": "momentum.ipynb"}
    assert course.canvas_assignment_ids["05-momentum"] == 0
    assert sorted(tree(small_course)) == sorted([*FILES_OF_A_COURSE, "hidden/test_05_momentum.py",
                                                 "source/05-momentum/momentum.ipynb"])


def test_the_config_edit_adds_one_line_and_keeps_the_rest(small_course):
    before = (ROOT / "course_config.py").read_text().splitlines()
    new_assignment(small_course, "05-momentum")
    after = (small_course / "course_config.py").read_text().splitlines()
    added = [line for line in after if line not in before]
    assert added == ['    "05-momentum": "momentum.ipynb",', '    "05-momentum": 0,']
    assert [line for line in after if line not in added] == before


def test_the_new_notebook_follows_every_convention_release_checks(small_course):
    made = new_assignment(small_course, "05-momentum", "momentum_and_friction.ipynb")
    assert made.notebook.name == "momentum_and_friction.ipynb"
    notebook = nbformat.read(str(made.notebook), as_version=4)
    nbformat.validate(notebook)
    assert lint_source(made.notebook, "05-momentum") == []
    helper = [cell for cell in notebook.cells if nb.grade_id(cell) == "check_helpers"]
    visible_check = ROOT / "autograder" / "checking" / "visible_check.py"
    assert [cell.source for cell in helper] == [visible_check.read_text().strip()]
    calls = [nb.hidden_call(cell.source) for cell in notebook.cells if nb.is_autograder_test(cell)]
    assert [(call.assignment, call.exercise, call.names) for call in calls] == [
        ("05-momentum", "squared_error", ("squared_error",))]
    assert "squared_error" in {nb.grade_id(cell) for cell in notebook.cells if nb.is_solution(cell)}
    written = [cell for cell in notebook.cells if cell.cell_type == "markdown" and nb.is_solution(cell)]
    assert [nb.nbgrader_meta(cell)["points"] for cell in written] == [1]
    assert any("plt." in cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert list(load_checks("05-momentum")) == ["squared_error"]
    for placeholder in ("__ASSIGNMENT__", "__TITLE__", "__CHECK_FILE__"):
        assert placeholder not in made.notebook.read_text() + made.check_file.read_text()
    assert notebook.cells[0].source.startswith("# Momentum\n")


@pytest.mark.parametrize("name", ["01-gradient-descent", "01-Gradient-Descent", "01_gradient_descent"])
def test_a_name_the_course_has_is_refused(small_course, name):
    before = tree(small_course)
    with pytest.raises(ScaffoldError, match="already has the assignment '01-gradient-descent'"):
        new_assignment(small_course, name)
    assert tree(small_course) == before


def test_a_started_folder_is_refused(small_course):
    (small_course / "source" / "05-momentum").mkdir(parents=True)
    with pytest.raises(ScaffoldError, match="already exists"):
        new_assignment(small_course, "05-momentum")
    assert not (small_course / "hidden").exists()


@pytest.mark.parametrize("name", ["", "-05", "05 momentum", "05/momentum", "../05", "05.momentum", "momentum!",
                                  "é", "x" * 65])
def test_a_name_that_is_no_folder_or_module_name_is_refused(small_course, name):
    before = tree(small_course)
    with pytest.raises(ScaffoldError, match="cannot name an assignment"):
        new_assignment(small_course, name)
    assert tree(small_course) == before


def test_the_longest_name_is_taken(small_course):
    new_assignment(small_course, "x" * 64)
    assert ("x" * 64) in load_course(small_course).assignments


@pytest.mark.parametrize("notebook", ["momentum", "momentum.py", "a/b.ipynb", ".ipynb", "x" * 65 + ".ipynb"])
def test_a_bad_notebook_name_is_refused(small_course, notebook):
    with pytest.raises(ScaffoldError, match="cannot name the notebook"):
        new_assignment(small_course, "05-momentum", notebook)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(st.characters(codec="utf-8"), max_size=70))
def test_any_name_is_taken_whole_or_refused_with_nothing_written(small_course, name):
    before = tree(small_course)
    try:
        made = new_assignment(small_course, name)
    except ScaffoldError as error:
        assert str(error) and tree(small_course) == before
        return
    try:
        assert load_course(small_course).assignments[name] == made.notebook.name
        assert made.notebook.is_file() and made.check_file.is_file()
        assert ("test_" + name.replace("-", "_")).isidentifier()
    finally:  # the next example starts from the same course
        shutil.rmtree(small_course / "source")
        shutil.rmtree(small_course / "hidden")
        (small_course / "course_config.py").write_bytes(before["course_config.py"])
        course_at.cache_clear()


def test_a_config_that_does_not_parse_is_refused(small_course):
    config = small_course / "course_config.py"
    config.write_text(config.read_text().replace('"02-slopes-and-updates":', '"02-slopes-and-updates"'))
    before = tree(small_course)
    with pytest.raises(ScaffoldError, match=r"course_config.py cannot be parsed \(line \d+: .*\)"):
        new_assignment(small_course, "05-momentum")
    assert tree(small_course) == before


def test_assignments_not_written_as_a_dict_are_refused(small_course):
    config = small_course / "course_config.py"
    text = config.read_text()
    start = text.index("c.Autograder.assignments = {")
    end = text.index("}", start) + 1
    config.write_text(text[:start] + 'c.Autograder.assignments = dict([("01-gradient-descent", "gradient_descent.ipynb")])'
                      + text[end:])
    before = tree(small_course)
    with pytest.raises(ScaffoldError, match="plain \\{...\\} dict"):
        new_assignment(small_course, "05-momentum")
    assert tree(small_course) == before


@pytest.mark.parametrize("assignments, expected", [
    ('{"a": "a.ipynb"}', '{"a": "a.ipynb", "05-momentum": "momentum.ipynb"}'),
    ("{}", '{"05-momentum": "momentum.ipynb"}'),
    ('{\n    "a": "a.ipynb"  # the first\n}', '{\n    "a": "a.ipynb",  # the first\n    "05-momentum": "momentum.ipynb",\n}'),
    ('{\n  "a": "a.ipynb",\n  "b": "b.ipynb",\n}', '{\n  "a": "a.ipynb",\n  "b": "b.ipynb",\n  "05-momentum": "momentum.ipynb",\n}'),
    ('{"a": "a.ipynb",\n "b": "b.ipynb"}', '{"a": "a.ipynb",\n "b": "b.ipynb", "05-momentum": "momentum.ipynb"}'),
])
def test_the_entry_goes_at_the_end_of_the_dict_however_it_is_written(assignments, expected):
    text = f"c = get_config()\nc.Autograder.assignments = {assignments}\nc.Autograder.rtol = 1e-6\n"
    edited = with_assignment(text, "05-momentum", "momentum.ipynb")
    assert edited == f"c = get_config()\nc.Autograder.assignments = {expected}\nc.Autograder.rtol = 1e-6\n"
    assert list(ast.literal_eval(expected)) == [*ast.literal_eval(assignments), "05-momentum"]


def test_a_failure_while_moving_files_into_place_takes_everything_back(small_course, monkeypatch):
    before = tree(small_course)
    real_replace = os.replace

    def replace_but_not_the_config(source, target):
        if Path(target).name == "course_config.py":
            raise OSError(28, "No space left on device", str(target))
        real_replace(source, target)

    monkeypatch.setattr(scaffold.os, "replace", replace_but_not_the_config)
    with pytest.raises(OSError):
        new_assignment(small_course, "05-momentum")
    assert tree(small_course) == before
    assert sorted(path.name for path in small_course.iterdir()) == sorted(FILES_OF_A_COURSE)


def test_the_command_says_what_it_wrote_and_refuses_with_exit_2(small_course):
    def new(*args):
        return subprocess.run([sys.executable, "-m", "autograder", "new", *args], cwd=small_course,
                              capture_output=True, text=True)

    done = new("05-momentum")
    assert done.returncode == 0, done.stderr
    assert "wrote source/05-momentum/momentum.ipynb" in done.stdout
    assert "autograder release 05-momentum" in done.stdout
    again = new("05-momentum")
    assert again.returncode == 2
    assert " ERROR autograder.authoring.scaffold: autograder new: The course already has the assignment '05-momentum'" \
        in again.stderr


def test_the_new_assignment_page_quotes_the_scaffold_as_it_is():
    """docs/new-assignment.md shows the scaffold's check cell and checks: every line it quotes is in the template."""
    page = (ROOT / "docs" / "new-assignment.md").read_text()
    template = "\n".join(path.read_text() for path in (scaffold.TEMPLATE / "checks.py",))
    template += "\n" + "\n".join(cell.source for cell in nbformat.read(scaffold.TEMPLATE / "assignment.ipynb",
                                                                         as_version=4).cells)
    quoted = [line.strip().removesuffix(" ...") for block in re.findall(r"^```python\n(.*?)^```", page, re.S | re.M)
              for line in block.splitlines() if line.strip() not in ("", "...") and '"..."' not in line]
    assert len(quoted) >= 8
    for line in quoted:
        assert line in template, line
