"""An nbgrader course, unchanged (issue 28): nbgrader's user-guide course ps1 (tests/data/nbgrader_ps1, with its
licence) and a small course of our own with hidden tests, graded by their in-notebook test cells in the sandbox
(autograder/grading/nbtests.py), give nbgrader's own scores on every cell; students who bend the tests get nothing for
it and are flagged."""
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.grading.nbtests import grade_nbgrader_notebook, released
from autograder.engine.sandbox import Sandbox
from autograder.results.scores import points

pytestmark = pytest.mark.slow  # runs nbgrader autograde and the sandbox

PS1 = Path(__file__).parent / "data" / "nbgrader_ps1"
HIDDEN = "### BEGIN HIDDEN TESTS\n{}\n### END HIDDEN TESTS"


def cell(kind, source, grade_id=None, **nbgrader):
    made = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    if grade_id:
        made.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, "grade": False, "solution": False,
                                     "locked": False, **nbgrader}
    return made


def own_source() -> nbformat.NotebookNode:
    """Our own nbgrader notebook: hidden tests, numpy.testing and a builtin in the asserts, partial credit, stderr."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        cell("code", "import numpy as np", "imports", locked=True),
        cell("code", "def answer():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION", "answer",
             solution=True),
        cell("code", "assert answer() is not None\n" + HIDDEN.format("assert answer() == 42"), "test_answer",
             grade=True, points=2, locked=True),
        cell("code", "def close(x):\n    ### BEGIN SOLUTION\n    return np.array([1.0, 2.0]) * x\n"
                     "    ### END SOLUTION", "close", solution=True),
        cell("code", "np.testing.assert_allclose(close(1), [1, 2])\n"
                     + HIDDEN.format("assert abs(close(2)[1] - 4) < 1e-9"), "test_close", grade=True, points=1,
             locked=True),
        cell("code", "# half the points for an answer within 10 %, as nbgrader allows\n"
                     "2.0 if answer() == 42 else 1.0 if abs(answer() - 42) < 4.2 else 0.0", "test_partial",
             grade=True, points=2, locked=True),
        cell("code", "import sys\nif answer() != 42:\n    print('not yet', file=sys.stderr)", "test_stderr",
             grade=True, points=1, locked=True),
        cell("markdown", "Why 42?", "why", grade=True, solution=True, points=1),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def student(source, **bodies) -> nbformat.NotebookNode:
    """The release with `bodies` (grade id -> source) written in, and extra cells (key "extra_<n>") after them."""
    notebook = nbformat.from_dict(source)
    for one in notebook.cells:
        grade_id = one.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id and one.metadata["nbgrader"].get("grade") and not one.metadata["nbgrader"].get("solution"):
            one.source = released(one.source)
        if grade_id in bodies:
            one.source = bodies[grade_id]
    notebook.cells[2:2] = [cell("code", extra) for key, extra in bodies.items() if key.startswith("extra")]
    return notebook


OWN_STUDENTS = {
    "right": {},
    "near": {"answer": "def answer():\n    return 40"},
    "wrong": {"answer": "def answer():\n    return 1", "close": "def close(x):\n    return np.ones(2)"},
    # bending the tests: under nbgrader each of these earns points it should not
    "builtin_bender": {"close": "def close(x):\n    return np.array([1.0, 2.0])",
                       "extra_1": "import builtins, numpy.testing\nbuiltins.abs = lambda value: 0\n"
                                  "numpy.testing.assert_allclose = lambda *args, **kwargs: None"},
    "frame_reader": {"answer": "def answer():\n    import sys\n    consts = sys._getframe(1).f_code.co_consts\n"
                               "    return next((c for c in consts if type(c) is int and c > 2), 0)"},
    # reads the instructor's source notebook, which nbgrader autograde leaves in reach (three folders up)
    "file_reader": {"answer": "def answer():\n    import glob, re\n"
                              "    for path in glob.glob('../../../source/*/*.ipynb') + glob.glob('/**/own.ipynb'):\n"
                              "        found = re.search(r'answer\\(\\) == (\\d+)', open(path).read())\n"
                              "        if found:\n            return int(found.group(1))\n    return 0"},
}
# what the benders and readers may keep: the points of what they really got right
HONEST = {"builtin_bender": {"test_answer": 2, "test_close": 0, "test_partial": 2, "test_stderr": 1},
          "frame_reader": {"test_answer": 0, "test_close": 1, "test_partial": 0, "test_stderr": 0},
          "file_reader": {"test_answer": 0, "test_close": 1, "test_partial": 0, "test_stderr": 0}}


def autograde(root: Path, assignment: str):
    for step in ("generate_assignment", "autograde"):
        done = subprocess.run([sys.executable, "-m", "nbgrader", step, assignment, "--force"], cwd=root,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]


def nbgrader_cells(root: Path, assignment: str, students, notebooks) -> dict:
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return {(who, name, grade.name): grade.auto_score for who in students for name in notebooks
                for grade in gradebook.find_submission_notebook(name, assignment, who).grades}


@pytest.fixture(scope="module")
def courses(tmp_path_factory):
    """Both courses in folders of their own, autograded by nbgrader: (root, assignment, students, notebooks)."""
    ps1 = tmp_path_factory.mktemp("ps1")
    shutil.copytree(PS1 / "source", ps1 / "source")
    shutil.copytree(PS1 / "submitted", ps1 / "submitted")
    own = tmp_path_factory.mktemp("own")
    nbformat.write(own_source(), str((own / "source" / "own").mkdir(parents=True) or own / "source/own/own.ipynb"))
    for who, bodies in OWN_STUDENTS.items():
        folder = own / "submitted" / who / "own"
        folder.mkdir(parents=True)
        nbformat.write(student(own_source(), **bodies), str(folder / "own.ipynb"))
    for root, course_id in ((ps1, "ps1course"), (own, "owncourse")):
        (root / "nbgrader_config.py").write_text(f"c = get_config()\nc.CourseDirectory.course_id = '{course_id}'\n")
    autograde(ps1, "ps1")
    autograde(own, "own")
    return {"ps1": (ps1, "ps1", ("bitdiddle", "hacker"), ("problem1", "problem2")),
            "own": (own, "own", tuple(OWN_STUDENTS), ("own",))}


@pytest.fixture(scope="module")
def ours(courses, course):
    """Every submission of both courses graded by autograder/grading/nbtests.py: (course, student, notebook, cell) ->
    grade."""
    grades, flags = {}, {}
    with Sandbox(course) as sandbox:
        for key, (root, assignment, students, notebooks) in courses.items():
            for who in students:
                for name in notebooks:
                    graded = grade_nbgrader_notebook(sandbox, course, root / "source" / assignment / f"{name}.ipynb",
                                                     root / "submitted" / who / assignment / f"{name}.ipynb")
                    flags[key, who] = flags.get((key, who), []) + graded.flags
                    for test in graded.tests:
                        grades[key, who, name, test.name] = test
    return grades, flags


def our_scores(ours, key):
    return {(who, name, cell_id): None if test.pending else test.score
            for (course_key, who, name, cell_id), test in ours[0].items() if course_key == key}


def test_ps1_scores_equal_nbgraders_on_every_cell(courses, ours):
    theirs = nbgrader_cells(*courses["ps1"])
    assert our_scores(ours, "ps1") == theirs
    assert theirs[("hacker", "problem1", "correct_squares")] == 1 and theirs[("bitdiddle", "problem1",
                                                                               "correct_squares")] == 0
    assert not ours[1]["ps1", "bitdiddle"] and not ours[1]["ps1", "hacker"]


def test_own_course_scores_equal_nbgraders_for_honest_students(courses, ours):
    honest = ("right", "near", "wrong")
    theirs = {key: score for key, score in nbgrader_cells(*courses["own"]).items() if key[0] in honest}
    mine = {key: score for key, score in our_scores(ours, "own").items() if key[0] in honest}
    assert mine == theirs
    assert theirs[("near", "own", "test_partial")] == 1  # half of 2: nbgrader's partial credit from the result
    assert theirs[("near", "own", "test_stderr")] == 0   # stderr counts as failed
    assert theirs[("right", "own", "test_answer")] == 2
    assert not any(ours[1]["own", who] for who in honest)


@pytest.mark.parametrize("who", HONEST)
def test_bending_the_tests_earns_nothing_and_is_flagged(courses, ours, who):
    theirs = nbgrader_cells(*courses["own"])
    mine = our_scores(ours, "own")
    tests = HONEST[who]
    assert {name: mine[who, "own", name] for name in tests} == tests
    assert sum(theirs[who, "own", name] for name in tests) > sum(tests.values())  # nbgrader was fooled
    assert bool(ours[1]["own", who]) == (who != "file_reader")  # the sandbox has no source notebook to read


def test_feedback_never_shows_a_hidden_test(ours):
    for (_, _, _, cell_id), test in ours[0].items():
        assert "HIDDEN" not in test.output and "== 42" not in test.output and "close(2)" not in test.output


def unchanged_ps1(root: Path) -> Path:
    """ps1 in `root` as nbgrader lays it out (nbgrader_config.py, no course_config.py), with its submissions."""
    shutil.copytree(PS1 / "source", root / "source")
    shutil.copytree(PS1 / "submitted", root / "submitted")
    (root / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'ps1course'\n")
    return root


def autograder_grade(root: Path, *options: str, assignment: str = "ps1") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    env.pop("AUTOGRADER_COURSE_ROOT", None)
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", assignment, *options], cwd=root,
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def graded_locally(tmp_path_factory):
    """ps1 as nbgrader lays it out, graded by `autograder grade ps1` in local sandboxes: (root, its run)."""
    root = unchanged_ps1(tmp_path_factory.mktemp("local") / "ps1")
    return root, autograder_grade(root)


def test_autograder_grade_on_the_unchanged_course_gives_nbgraders_scores(courses, graded_locally):
    """`autograder grade ps1` in the course folder as nbgrader lays it out (nbgrader_config.py, no course_config.py):
    the assignment is found in source/, and the gradebook holds nbgrader's score on every cell."""
    root, done = graded_locally
    assert "ps1: 2 submissions" in done.stdout and "median 2.25 (out of 3 autograded; 10 by hand)" in done.stdout
    _, assignment, students, notebooks = courses["ps1"]
    assert nbgrader_cells(root, assignment, students, notebooks) == nbgrader_cells(*courses["ps1"])
    again = autograder_grade(root, "--no-progress")  # the batch's resume: every grade committed with its fingerprint
    assert "ps1: nothing new to grade: 2 already graded, unchanged since" in again.stdout


def test_autograder_grade_lists_the_benders_under_needs_attention_and_keeps_their_points_honest(courses, tmp_path):
    source, assignment, students, _ = courses["own"]
    root = tmp_path / "own"
    for folder in ("source", "submitted"):
        shutil.copytree(source / folder, root / folder)
    shutil.copy(source / "nbgrader_config.py", root)
    done = autograder_grade(root, "--no-progress", assignment=assignment)
    attention = done.stdout.split("  needs attention:\n", 1)[1]
    flagged = {line.split(":")[0].strip() for line in attention.splitlines() if line.startswith("    ")}
    assert flagged == {"builtin_bender", "frame_reader"}  # the file reader found nothing to read in the sandbox
    ours = nbgrader_cells(root, assignment, students, ("own",))
    for who, honest in HONEST.items():
        assert {name: ours[who, "own", name] for name in honest} == honest


def autograded(root: Path, student: str, name: str) -> dict:
    """An autograded notebook of ps1 as formgrader and generate_feedback read it: each cell's type, source, outputs
    and nbgrader metadata (not its execution times), and the notebook's metadata."""
    notebook = nbformat.read(str(root / "autograded" / student / "ps1" / name), as_version=4)
    return {"metadata": notebook.metadata, "cells": [
        (cell.cell_type, cell.source, cell.get("outputs"), cell.metadata.get("nbgrader")) for cell in notebook.cells]}


def test_grading_on_a_dask_cluster_gives_nbgraders_scores_and_the_local_batchs_autograded_notebooks(
        courses, graded_locally, tmp_path):
    """`autograder grade ps1 --scheduler`: a Dask worker that has the course grades each student's notebooks; their
    autograded copies are the local batch's, and `nbgrader generate_feedback` works on them."""
    from test_distributed import LoopbackCluster

    root = unchanged_ps1(tmp_path / "ps1")
    cluster = LoopbackCluster(tmp_path, root=root)
    try:
        cluster.add_worker()
        done = autograder_grade(root, "--scheduler", cluster.address, "--no-progress")
    finally:
        cluster.stop()
    assert "ps1: 2 submissions" in done.stdout and "graded: 2   errors: 0" in done.stdout
    _, assignment, students, notebooks = courses["ps1"]
    assert nbgrader_cells(root, assignment, students, notebooks) == nbgrader_cells(*courses["ps1"])
    local, _ = graded_locally
    for who in students:
        assert sorted(path.name for path in (root / "autograded" / who / "ps1").iterdir()) == sorted(
            path.name for path in (local / "autograded" / who / "ps1").iterdir())
        for name in notebooks:
            assert autograded(root, who, f"{name}.ipynb") == autograded(local, who, f"{name}.ipynb"), (who, name)
    feedback = subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", "ps1"], cwd=root,
                              capture_output=True, text=True)
    assert feedback.returncode == 0, feedback.stderr[-3000:]
    assert "AssertionError" in (root / "feedback" / "bitdiddle" / "ps1" / "problem1.html").read_text()
    assert (root / "feedback" / "hacker" / "ps1" / "problem2.html").is_file()


def printed_cells(stdout: str) -> dict:
    """`autograder grade ps1 PATH`'s lines "    <cell>: <score>/<points>" under "  <notebook>.ipynb...: ...": (notebook,
    cell) -> score, None for a written answer still to be graded."""
    cells, notebook = {}, None
    for line in stdout.splitlines():
        if heading := re.match(r"  (\S+)\.ipynb\b", line):
            notebook = heading.group(1)
        elif found := re.match(r"    (\S+): (?:([\d.]+)/[\d.]+|.*(to be graded by your instructor))$", line):
            cells[notebook, found.group(1)] = None if found.group(3) else float(found.group(2))
    return cells


def ps1_points(root: Path, notebook: str | None = None) -> float:
    """The points of ps1's graded cells (of one notebook, by its stem), from its source notebooks."""
    from autograder.course.config import load_course
    from autograder.grading.nbtests import nbgrader_spec

    cells = nbgrader_spec(load_course(root), "ps1").cells
    return sum(cell.points for cell in cells if notebook in (None, cell.notebook))


def test_one_students_folder_from_the_command_line_gives_nbgraders_points_and_writes_nothing(courses, tmp_path):
    root = unchanged_ps1(tmp_path / "ps1")
    done = autograder_grade(root, "submitted/bitdiddle/ps1")
    theirs = {(name, cell): score for (who, name, cell), score in nbgrader_cells(*courses["ps1"]).items()
              if who == "bitdiddle"}
    assert printed_cells(done.stdout) == theirs
    total = points(sum(score or 0 for score in theirs.values()), ps1_points(root))
    assert done.stdout.startswith(f"bitdiddle / ps1: {total} (")
    assert "The test failed: AssertionError" in done.stdout and "missing" not in done.stdout
    assert "ignored" not in done.stdout  # its jupyter.png and timestamp.txt are the assignment's, not stray
    assert sorted(path.name for path in root.iterdir()) == ["nbgrader_config.py", "source", "submitted"]


def test_one_notebook_from_the_command_line_and_the_other_is_missing(courses, tmp_path):
    root = unchanged_ps1(tmp_path / "ps1")
    done = autograder_grade(root, "submitted/bitdiddle/ps1/problem1.ipynb")
    theirs = {(name, cell): score for (who, name, cell), score in nbgrader_cells(*courses["ps1"]).items()
              if who == "bitdiddle" and name == "problem1"}
    assert printed_cells(done.stdout) == theirs
    assert f"  problem2.ipynb: missing, {points(0, ps1_points(root, 'problem2'))}\n" in done.stdout
    total = points(sum(score or 0 for score in theirs.values()), ps1_points(root))
    assert done.stdout.startswith(f"bitdiddle / ps1: {total}")


def test_a_folder_with_a_stray_file_and_a_renamed_notebook_for_a_named_student_into_a_gradebook(courses, tmp_path):
    """--student names the student; a file that is no notebook of ps1 is named and not graded; a notebook under
    another name is told by its cells; with --db the grades are in that gradebook, nbgrader's for those cells."""
    root = unchanged_ps1(tmp_path / "ps1")
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(root / "submitted" / "hacker" / "ps1" / "problem1.ipynb", folder / "problem1 (1).ipynb")
    (folder / "notes.txt").write_text("to do: problem 2")
    done = autograder_grade(root, str(folder), "--student", "ben", "--db", f"sqlite:///{tmp_path / 'ben.db'}")
    assert done.stdout.startswith("ben / ps1: ")
    assert "  problem1.ipynb (given as problem1 (1).ipynb): " in done.stdout
    assert f"  problem2.ipynb: missing, {points(0, ps1_points(root, 'problem2'))}\n" in done.stdout
    assert "  ignored: notes.txt, not one of the notebooks of ps1 (problem1.ipynb, problem2.ipynb)\n" in done.stdout
    theirs = {(name, cell): score for (who, name, cell), score in nbgrader_cells(*courses["ps1"]).items()
              if who == "hacker" and name == "problem1"}
    assert printed_cells(done.stdout) == theirs
    with Gradebook(f"sqlite:///{tmp_path / 'ben.db'}") as gradebook:
        assert {("problem1", grade.name): grade.auto_score for grade in
                gradebook.find_submission_notebook("problem1", "ps1", "ben").grades} == theirs
    assert (root / "autograded" / "ben" / "ps1" / "problem1.ipynb").is_file()


def test_hidden_tests_are_not_in_the_students_process_while_their_cells_run(course):
    """A cell hunting the process's memory for a hidden test finds nothing (the tests are sent after the student's
    cells), and the hunt is seen; the test, sent afterwards, is found there then."""
    hunt = ("import gc\n"
            "def FOUND():  # strings are not tracked by gc, their containers are; chr(77): no folded constant\n"
            "    return [x for o in gc.get_objects() if isinstance(o, (list, tuple, dict))\n"
            "            for x in (o.values() if isinstance(o, dict) else o)\n"
            "            if isinstance(x, str) and chr(77) + 'ARK_7f3' in x]\n"
            "BEFORE = FOUND()")
    with Sandbox(course) as sandbox:
        run = sandbox.run([(0, hunt)], time.monotonic() + 60)
        while run.advance() is not None:
            pass
        assert run.finished
        restored = run.restore()
        assert "gc.get_objects" in restored["events"]
        reply = run.test("### BEGIN HIDDEN TESTS\nMARK_7f3 = 'hidden'\nassert BEFORE == [], 'before'\n"
                         "assert FOUND() != [], 'after'\n### END HIDDEN TESTS", 10)
        run.close()
    assert reply["error"] is None, reply
