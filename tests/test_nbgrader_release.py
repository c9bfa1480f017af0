"""`autograder release` of an nbgrader course as it is (issue 28): nbgrader's user-guide ps1 (tests/data/nbgrader_ps1)
releases with no edit, every notebook and other file, into the gradebook nbgrader autograde reads; a leak (a solution
line in a released data file, a visible test that shows the answer) is refused, naming where it is."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

pytestmark = pytest.mark.slow  # runs nbgrader generate_assignment

PS1 = Path(__file__).parent / "data" / "nbgrader_ps1"
SOLUTION_LINE = "return [i ** 2 for i in range(1, n + 1)]"  # in problem1's solution region


def ps1_course(root: Path) -> Path:
    """ps1 as nbgrader lays it out: nbgrader_config.py and source/, no course_config.py."""
    shutil.copytree(PS1 / "source", root / "source")
    (root / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'ps1course'\n")
    return root


def autograder(root: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    env.pop("AUTOGRADER_COURSE_ROOT", None)
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=root, capture_output=True, text=True,
                          env=env)


def test_unchanged_ps1_releases_every_notebook_and_file_without_its_solutions(tmp_path):
    root = ps1_course(tmp_path)
    done = autograder(root, "release", "ps1")
    assert done.returncode == 0, done.stderr
    assert "released release/ps1: problem1.ipynb, problem2.ipynb and jupyter.png" in done.stdout
    release = root / "release" / "ps1"
    assert sorted(path.name for path in release.iterdir()) == ["jupyter.png", "problem1.ipynb", "problem2.ipynb"]
    assert (release / "jupyter.png").read_bytes() == (PS1 / "source" / "ps1" / "jupyter.png").read_bytes()
    problem1 = (release / "problem1.ipynb").read_text()
    assert SOLUTION_LINE not in problem1 and "BEGIN SOLUTION" not in problem1 and "YOUR CODE HERE" in problem1
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:  # as `nbgrader autograde` needs it
        assignment = gradebook.find_assignment("ps1")
        assert sorted(notebook.name for notebook in assignment.notebooks) == ["problem1", "problem2"]
        assert assignment.max_score == 13


def test_a_leak_in_a_data_file_or_a_visible_test_refuses_the_release(tmp_path):
    root = ps1_course(tmp_path)
    (root / "source" / "ps1" / "notes.txt").write_text(f"my reference:\n    {SOLUTION_LINE}\n")
    path = root / "source" / "ps1" / "problem2.ipynb"
    notebook = nbformat.read(str(path), as_version=4)
    answer = nbformat.v4.new_code_cell("### BEGIN SOLUTION\nfib_of_ten = 55\n### END SOLUTION")
    answer.metadata["nbgrader"] = {"grade_id": "fib_of_ten", "solution": True, "grade": False, "locked": False,
                                   "schema_version": 3}
    test = nbformat.v4.new_code_cell("assert fib_of_ten == 55")
    test.metadata["nbgrader"] = {"grade_id": "test_fib_of_ten", "solution": False, "grade": True, "points": 1,
                                 "locked": True, "schema_version": 3}
    for cell in (answer, test):
        del cell["id"]  # ps1's notebooks are nbformat 4.1, without cell ids
    notebook.cells += [answer, test]
    nbformat.write(notebook, str(path))
    done = autograder(root, "release", "ps1")
    assert done.returncode == 1
    problems = [line for line in done.stderr.splitlines() if line.startswith("LEAK OR ERROR")]
    assert len(problems) == 2, done.stderr
    assert "notes.txt: contains the solution line `" + SOLUTION_LINE + "`" in problems[1]
    assert "problem2.ipynb, cell 7 ('test_fib_of_ten'): its visible test compares `fib_of_ten` with 55" in problems[0]
    assert "Release refused: 2 problem(s) above." in done.stderr
