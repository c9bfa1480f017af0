"""Time budgets from the reference (autograder/engine/budgets.py): each cell and call of a submission gets
max(floor, factor x what the instructor's solution needs there), in processor time, within cell_timeout; a
function that ran out of time once gets the floor; a student who catches the timeout is stopped soon after.
And the sandbox works wherever the interpreter lives, a virtual environment under /tmp included."""
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder.engine.budgets import Budgets, Measurement, Reference, cell_key, duration, reference_for
from autograder.checking.checks import check_file
from autograder.grading.grade import assignment_spec, grade_notebook
from autograder.engine.sandbox import Sandbox
from autograder.engine.submission import StudentCodeError
from builders import replaced, solution, write
from course_files import ROOT, copy_course
from venvs import venv_with_these_packages

A1 = "01-gradient-descent"

BURN = '''
import time

def burn(seconds):
    """Honest work that takes `seconds` of processor time."""
    started = time.thread_time()
    while time.thread_time() - started < seconds:
        pass
    return seconds

def stubborn():
    """An endless loop that catches every timeout and goes on."""
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
'''


@pytest.fixture(scope="module")
def tight(course):
    """The course with a floor of 0.2 s and a factor of 100 (a reference of 6 ms: 0.6 s)."""
    return dataclasses.replace(course, budget_floor=0.2, budget_factor=100, cell_timeout=5)


@pytest.fixture(scope="module")
def sandbox(tight):
    with Sandbox(tight) as sandbox:
        yield sandbox


def functions(sandbox, course, budgets, *names):
    run = sandbox.run([(0, BURN)], time.monotonic() + 60, budgets=budgets)
    assert run.advance() is None and run.finished and run.outcomes[0].error is None
    return run, run.submission(names, "missing")


@pytest.mark.slow
def test_a_call_gets_factor_times_the_reference_and_fails_just_past_it(sandbox, tight):
    budgets = Budgets(tight, Reference({}, {"burn": 0.006}), {})
    assert budgets.call("burn") == pytest.approx(0.6)
    _, submission = functions(sandbox, tight, budgets, "burn")
    assert submission.burn(0.45) == 0.45  # within 0.6 s of processor time
    with pytest.raises(StudentCodeError) as stopped:
        submission.burn(0.8)
    assert str(stopped.value) == ("burn(0.8) did not finish within 0.6 s and was stopped (your instructor's solution "
                                  "needs 6 ms). Look for a loop that never ends.")


@pytest.mark.slow
def test_a_function_that_ran_out_of_time_gets_only_the_floor_afterwards(sandbox, tight):
    budgets = Budgets(tight, Reference({}, {"burn": 0.006}), {})
    _, submission = functions(sandbox, tight, budgets, "burn")
    with pytest.raises(StudentCodeError):
        submission.burn(0.8)
    assert budgets.call("burn") == 0.2
    with pytest.raises(StudentCodeError) as stopped:
        submission.burn(0.45)  # passed before it ran out of time once
    assert "did not finish within 0.2 s and was stopped (it had already run out of time once" in str(stopped.value)
    assert submission.burn(0.1) == 0.1


@pytest.mark.slow
def test_a_student_who_catches_the_timeout_is_stopped_soon_after_the_budget(sandbox, tight):
    budgets = Budgets(tight, Reference({}, {"stubborn": 0.001}), {})
    run, submission = functions(sandbox, tight, budgets, "stubborn")
    started = time.monotonic()
    with pytest.raises(StudentCodeError) as stopped:
        submission.stubborn()
    assert time.monotonic() - started < tight.cell_timeout  # stopped after its budget and a little more
    assert "stubborn() did not finish within 0.2 s and was stopped" in str(stopped.value)
    assert run.ended == "timeout"


@pytest.mark.slow
def test_a_cell_of_the_students_own_gets_the_budget_of_the_slowest_reference_cell(sandbox, tight):
    budgets = Budgets(tight, Reference({"id:df": 0.001, "id:check_df": 0.004}, {}), {0: "source:while True: pass"})
    assert budgets.cell(0) == pytest.approx(0.4)
    run = sandbox.run([(0, "while True:\n    pass\n"), (1, "after = 1")], time.monotonic() + 60, budgets=budgets)
    assert run.advance() is None and run.finished
    assert run.outcomes[0].error == {"type": "CellTimeout", "text": "the cell ran longer than 0.4 seconds"}
    assert run.outcomes[1].error is None
    assert budgets.cell_hint(0) == "no cell of your instructor's solution needs more than 4 ms"


def test_budgets_stay_between_the_floor_and_cell_timeout_and_scale_with_the_machine(tight):
    keys = {3: cell_key("df", "def df(x): ..."), 4: cell_key(None, "plt.plot(x)")}
    fast = Budgets(tight, Reference({"id:df": 0.0001, "source:plt.plot(x)": 0.01}, {"fit": 0.03}), keys)
    slow = Budgets(tight, Reference({"id:df": 0.001, "source:plt.plot(x)": 0.1}, {"fit": 0.3}), keys)
    assert (fast.cell(3), fast.cell(4), fast.call("fit")) == (0.2, 1.0, 3.0)
    assert (slow.cell(3), slow.cell(4), slow.call("fit")) == (0.2, 5, 5)  # ten times slower, up to cell_timeout
    assert fast.call("never_called_by_the_solution") == 3.0                 # the reference's longest call
    assert Budgets(tight, None, keys).cell(3) == 5                            # not measured at all: cell_timeout


def test_a_cell_that_failed_in_the_reference_has_no_time_of_its_own(tight):
    measurement = Measurement(tight)
    for seconds in (0.004, 0.003):  # two runs; each time kept is the shorter
        measurement.for_cells({0: "id:df", 1: "id:broken"})
        measurement.measured_cell(0, seconds, failed=False)
        measurement.measured_cell(1, 0.0001, failed=True)
        measurement.measured_call("df", seconds / 10, failed=False)
        measurement.measured_call("df", seconds / 100, failed=False)
    reference = measurement.measured()
    assert reference.cells == {"id:df": 0.003} and reference.calls == pytest.approx({"df": 0.0003})
    budgets = Budgets(tight, reference, {1: "id:broken"})
    assert budgets.cell(1) == pytest.approx(0.3)  # the slowest measured cell's budget, not 100 x 0.1 ms
    assert budgets.cell_hint(1) == "no cell of your instructor's solution needs more than 3 ms"


@pytest.mark.parametrize("seconds, said", [(2.5, "2.5 s"), (0.5, "0.5 s"), (0.0021, "2 ms"),
                                           (0.00002, "less than 1 ms")])
def test_durations_read_as_a_person_says_them(seconds, said):
    assert duration(seconds) == said


@pytest.mark.slow
def test_the_solution_is_timed_once_per_process_and_a_loop_costs_its_budget(sandbox, tight, course, tmp_path):
    spec = assignment_spec(course, A1)
    looping = replaced(solution(course, A1), "df", "def df(x):\n    while True:\n        pass\n")
    result = grade_notebook(sandbox, tight, spec, "lee", write(looping, tmp_path / "looping.ipynb"))
    reference = reference_for(tight, A1, check_file(A1), lambda measurement: pytest.fail("measured twice"))
    assert set(reference.calls) == {"df", "gradient_descent_update", "gradient_descent"}
    assert {"id:check_df", "id:check_gradient_descent"} <= set(reference.cells)
    assert "id:df" not in reference.cells  # a solution cell: the student's version is theirs, not the reference's
    assert result.score == 6  # only df's point is lost, as with the flat limit
    message = next(test.output for test in result.tests if test.name == "check_df")
    assert "did not finish within 0.2 s and was stopped (it had already run out of time once" in message
    assert "The check cell under this exercise failed: CellTimeout: the cell ran longer than" in message
    # the flat limit cost 5 s of wall time for the check cell and each of df's two hidden checks: 15 s at least
    assert result.seconds < 10


@pytest.mark.slow
def test_a_python_in_a_virtual_environment_under_tmp_grades_a_notebook(course, tmp_path):
    assert str(tmp_path).startswith(tempfile.gettempdir())
    venv = tmp_path / "venv"
    venv_with_these_packages(venv)
    root = copy_course(tmp_path / "course")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "autograder", "grade", A1,
                           str(course.source_notebook(A1)), "--student", "vera", "--json", "vera.json"],
                          cwd=root, capture_output=True, text=True, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "bwrap" not in done.stderr
    import json

    (result,) = json.loads((root / "vera.json").read_text())
    assert (result["student"], result["status"], result["score"]) == ("vera", "graded", 7.0)
    assert Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sys; print(sys.prefix)"],
                               capture_output=True, text=True).stdout.strip()) == venv


def test_a_solution_that_cannot_be_timed_leaves_the_flat_limit(tight, tmp_path, caplog):
    root = copy_course(tmp_path / "course")
    course = dataclasses.replace(tight, root=root)
    course.source_notebook(A1).write_text("{ not a notebook")
    reference = reference_for(course, A1, check_file(A1), lambda measurement: None)  # measures nothing
    assert reference is None and Budgets(course, reference, {}).call("df") == course.cell_timeout
    assert "the solution of 01-gradient-descent could not be timed (nothing of it ran); every cell and call gets 5 s" \
        in caplog.text
