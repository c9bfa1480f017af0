"""An nbgrader course, unchanged (issue 28): nbgrader's user-guide course ps1 (tests/data/nbgrader_ps1, with its
licence) and a small course of our own with hidden tests, graded by their in-notebook test cells in the sandbox
(autograder/grading/nbtests.py), give nbgrader's own scores on every cell; students who bend the tests get nothing for
it and are flagged."""
import os
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


def test_autograder_grade_on_the_unchanged_course_gives_nbgraders_scores(courses, tmp_path):
    """`autograder grade ps1` in the course folder as nbgrader lays it out (nbgrader_config.py, no course_config.py):
    the assignment is found in source/, and the gradebook holds nbgrader's score on every cell."""
    root = tmp_path / "ps1"
    shutil.copytree(PS1 / "source", root / "source")
    shutil.copytree(PS1 / "submitted", root / "submitted")
    (root / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'ps1course'\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    env.pop("AUTOGRADER_COURSE_ROOT", None)
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", "ps1"], cwd=root, capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "hacker: 3 of 13 points" in done.stdout and "bitdiddle: 1.5 of 13 points" in done.stdout
    _, assignment, students, notebooks = courses["ps1"]
    assert nbgrader_cells(root, assignment, students, notebooks) == nbgrader_cells(*courses["ps1"])


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
