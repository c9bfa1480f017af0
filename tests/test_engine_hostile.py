"""Bad and hostile submissions: each gets a score and a specific message, the attempt fails, the score is
what the honest part of the code earns, and the next submission is graded as if nothing had happened."""
import dataclasses
import os
from pathlib import Path

import pytest

from autograder.grading.grade import assignment_spec, grade_notebook
from autograder.engine.sandbox import Sandbox, isolation
from builders import inserted, release, replaced, solution, write

pytestmark = pytest.mark.slow  # sandboxes

A1 = "01-gradient-descent"
FULL = 7.0  # the autograded points of 01-gradient-descent


@pytest.fixture(scope="module")
def fast_course(course):
    """The course with short time limits, so endless loops cost seconds, not minutes."""
    return dataclasses.replace(course, cell_timeout=2, submission_timeout=30)


@pytest.fixture(scope="module")
def sandbox(fast_course):
    with Sandbox(fast_course) as sandbox:
        yield sandbox


@pytest.fixture
def grade(sandbox, fast_course, course, tmp_path):
    specs = tuple(assignment_spec(course, name) for name in course.assignments)

    def grade(notebook, assignment=A1):
        path = notebook if isinstance(notebook, Path) else write(notebook, tmp_path / "submitted.ipynb")
        result = grade_notebook(sandbox, fast_course, assignment_spec(course, assignment), "mallory", path, specs)
        honest = grade_notebook(sandbox, fast_course, assignment_spec(course, A1), "next_student",
                                course.source_notebook(A1), specs)
        assert honest.score == FULL, "the submission after a hostile one must be graded normally"
        return result

    return grade


def test_sandbox_is_isolated_by_bubblewrap():
    assert isolation() == "bubblewrap"


def test_sandboxes_on_one_machine_never_share_a_slot(sandbox, fast_course):
    with Sandbox(fast_course) as other:
        assert other.slot != sandbox.slot
        assert other.child_uid != sandbox.child_uid or os.geteuid() != 0  # only root has a user for each slot
    # a closed sandbox gives its slot back: its lock is released (which slot a new sandbox then takes depends on what
    # other graders hold meanwhile: the suite's other process grades beside this one)
    assert other._slot_lock.closed


def sandbox_processes(sandbox) -> int:
    """Living Python processes running sandboxed.py under the sandbox's bubblewrap: its zygote and templates."""
    parents, commands = {}, {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if stat[0] != "Z":
                parents[int(entry)] = int(stat[1])
                commands[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
    tree, frontier = set(), [sandbox._process.pid]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier += children
    return sum(b"python" in commands[pid][0] and b"sandboxed.py" in b" ".join(commands[pid]) for pid in tree)


def test_a_sandbox_keeps_two_templates_while_grading_every_assignment(fast_course, course):
    """Each assignment's worked example runs once in a template; `grade --all` moves on from assignment to
    assignment, so a sandbox keeps the two it used last rather than one per assignment."""
    specs = tuple(assignment_spec(course, name) for name in course.assignments)
    full = {spec.name: sum(exercise.points for exercise in spec.exercises) for spec in specs}
    with Sandbox(fast_course) as sandbox:
        for assignment in [*course.assignments, A1]:
            result = grade_notebook(sandbox, fast_course, assignment_spec(course, assignment), "ann",
                                    course.source_notebook(assignment), specs)
            assert result.score == full[assignment]
        assert sandbox_processes(sandbox) == 3  # the zygote and two templates


def output(result, name):
    return next(test.output for test in result.tests if test.name == name)


def test_invalid_json_gets_zero_and_says_so(grade, tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [{"cell_type": "code", "source": "def df(x):')
    result = grade(path)
    assert (result.status, result.score, result.max_score) == ("error", 0, 9)
    assert "could not be opened" in result.reason and "not a readable notebook" in result.reason


def test_another_assignments_notebook_is_named(grade, course):
    result = grade(solution(course, "02-slopes-and-updates"))
    assert (result.status, result.score) == ("error", 0)
    assert "This is the notebook of 02-slopes-and-updates (slopes_and_updates.ipynb)" in result.reason


def test_deleted_exercise_cell_costs_only_that_exercise(grade, course):
    notebook = solution(course, A1)
    notebook.cells = [cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade_id") != "df"]
    result = grade(notebook)
    assert result.score == FULL - 1
    assert "`df` could not be checked: it is not defined" in output(result, "check_df")


def test_renamed_function_costs_only_that_exercise(grade, course):
    result = grade(replaced(solution(course, A1), "df", "def derivative(x):\n    return 2 * (x - 3)\n"))
    assert result.score == FULL - 1
    assert "`df` could not be checked" in output(result, "check_df")


def test_reordered_cells_run_in_the_students_order(grade, course):
    notebook = solution(course, A1)
    cells = notebook.cells
    first = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "df")
    # the student moved the df check above df itself: that check fails, everything else is fine
    cells[first], cells[first + 1] = cells[first + 1], cells[first]
    result = grade(notebook)
    assert result.score == FULL - 1
    assert "The check cell under this exercise failed" in output(result, "check_df")


def test_edited_points_in_the_submission_change_nothing(grade, course):
    notebook = solution(course, A1)
    for cell in notebook.cells:
        if "points" in cell.metadata.get("nbgrader", {}):
            cell.metadata.nbgrader.points = 100
    result = grade(notebook)
    assert (result.score, result.max_score) == (FULL, 9)


def test_cell_that_never_ends_is_stopped_and_the_rest_still_counts(grade, course):
    result = grade(inserted(solution(course, A1), "gradient_descent", "while True:\n    pass\n"))
    assert result.score == FULL
    assert any("ran longer than" in note and "was stopped (no cell of your instructor's solution needs more than"
               in note for note in result.notes), result.notes


def test_endless_loop_that_swallows_the_timeout_is_killed(grade, course):
    looping = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass\n"
    result = grade(inserted(solution(course, A1), "gradient_descent", looping))
    assert result.score == FULL
    assert any("did not finish and had to be stopped; it was skipped" in note for note in result.notes)


def test_graded_function_that_loops_forever_costs_only_its_exercise(grade, course):
    result = grade(replaced(solution(course, A1), "df", "def df(x):\n    while True:\n        pass\n"))
    assert result.score == FULL - 1
    assert "df(" in output(result, "check_df") and "Look for a loop that never ends" in output(result, "check_df") \
        or "longer than 2 seconds" in output(result, "check_df")


def test_memory_bomb_fails_inside_the_sandbox(grade, course):
    bomb = "hog = []\nwhile True:\n    hog.append(bytearray(50 * 1024 * 1024))\n"
    result = grade(inserted(solution(course, A1), "gradient_descent", bomb))
    assert result.score == FULL


def processes_of(uid):
    found = []
    for entry in os.listdir("/proc"):
        try:
            status = Path(f"/proc/{entry}/status").read_text() if entry.isdigit() else ""
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields and int(fields["Uid"].split()[0]) == uid and not fields["State"].strip().startswith("Z"):
            found.append(int(entry))  # a zombie is dead already: only its parent's bookkeeping is left
    return found


def test_process_bomb_is_limited_and_leaves_nothing_running(grade, course, sandbox):
    bomb = ("import os, time\nfor _ in range(10000):\n    try:\n        if os.fork() == 0:\n            os.setsid()\n"
            "            time.sleep(600)\n    except OSError:\n        pass\n")
    result = grade(inserted(solution(course, A1), "gradient_descent", bomb))
    assert result.score == FULL
    assert processes_of(sandbox.child_uid) == []


def test_huge_output_is_cut_and_counted(grade, course):
    result = grade(inserted(solution(course, A1), "gradient_descent", "for _ in range(100):\n"
                            "    print('x' * (1024 * 1024))\n"))
    assert result.score == FULL
    assert max(len(text) for text, _ in result.cell_outputs.values()) <= 256 * 1024


def test_sys_exit_does_not_end_grading(grade, course):
    result = grade(inserted(solution(course, A1), "df", "import sys\nsys.exit(0)\n"))
    assert result.score == FULL


def test_os_exit_cell_is_skipped_and_the_notebook_rerun(grade, course):
    result = grade(inserted(solution(course, A1), "gradient_descent", "import os\nos._exit(1)\n"))
    assert result.score == FULL
    assert any("ended the Python process" in note for note in result.notes)


def test_killing_the_grader_fails(grade, course):
    attack = ("import os, signal\nfor pid in (os.getppid(), 1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
              "    except OSError as error:\n        print('refused', error)\nos.kill(-1, signal.SIGKILL)\n")
    result = grade(inserted(solution(course, A1), "gradient_descent", attack))
    assert result.score == FULL


def test_object_whose_eq_is_always_true_earns_nothing(grade, course):
    cheat = ("class Anything(float):\n    def __eq__(self, other):\n        return True\n"
             "    __ne__ = lambda self, other: False\n\ndef df(x):\n    return Anything(0)\n")
    result = grade(replaced(solution(course, A1), "df", cheat))
    assert result.score == FULL - 1  # a float subclass is judged by the float it is: its __eq__ never runs
    assert "df(5) returned 0, but 4 was expected" in output(result, "check_df")


def test_monkeypatched_numpy_fools_nothing(grade, course):
    patch = ("import numpy\nnumpy.allclose = lambda *a, **k: True\nnumpy.isclose = lambda *a, **k: True\n"
             "numpy.array_equal = lambda *a, **k: True\n\ndef df(x):\n    return 0.0\n")
    result = grade(replaced(solution(course, A1), "df", patch))
    assert result.score == FULL - 1
    assert "returned 0, but" in output(result, "check_df")


def test_monkeypatched_builtins_fool_nothing(grade, course):
    patch = ("import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.isinstance = lambda *a: True\n"
             "builtins.len = lambda x: 0\n\ndef df(x):\n    return 0.0\n")
    result = grade(replaced(solution(course, A1), "df", patch))
    assert result.score == FULL - 1
    assert "check_df" in [test.name for test in result.tests if test.score == 0]


@pytest.mark.parametrize("target", ["hidden/test_01_gradient_descent.py",
                                    "source/01-gradient-descent/gradient_descent.ipynb", "gradebook.db",
                                    "course_config.py"])
def test_course_files_cannot_be_read(grade, course, target):
    path = course.root / target
    reader = (f"def df(x):\n    text = open({str(path)!r}, 'rb').read()\n    return 2 * (x - 3)\n")
    result = grade(replaced(solution(course, A1), "df", reader))
    assert result.score == FULL - 1
    assert "FileNotFoundError" in output(result, "check_df")


def test_writing_outside_the_sandbox_fails(grade, course, tmp_path):
    victim = tmp_path / "escaped.txt"
    writer = (f"for path in [{str(victim)!r}, '/tmp/escaped-autograder', {str(course.root / 'escaped.txt')!r}]:\n"
              "    try:\n        open(path, 'w').write('pwned')\n    except OSError as error:\n        print(error)\n")
    result = grade(inserted(solution(course, A1), "gradient_descent", writer))
    assert result.score == FULL
    assert not victim.exists() and not (course.root / "escaped.txt").exists()
    assert not Path("/tmp/escaped-autograder").exists()


def test_network_is_unreachable(grade, course):
    probe = ("import socket\ndef df(x):\n    socket.create_connection(('127.0.0.1', 22), timeout=1)\n"
             "    return 2 * (x - 3)\n")
    result = grade(replaced(solution(course, A1), "df", probe))
    assert result.score == FULL - 1
    assert "df(" in output(result, "check_df") and "Error" in output(result, "check_df")


def test_untouched_release_scores_zero_with_a_message_per_exercise(grade, course):
    result = grade(release(course, A1))
    assert result.score == 0
    assert output(result, "check_df") == "- df is not written yet: replace `raise NotImplementedError()` with your code."
