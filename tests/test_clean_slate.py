"""The clean-slate guarantee: nothing a student's process creates survives to the next student's process.

Stated as an invariant: whatever a student leaves behind (any mix of `clean_slate_probe.POLLUTERS`: files and folders
of any mode, System V and POSIX IPC, keys in every keyring, processes, listening sockets, environment), the next
student graded by the same sandbox, or by a later sandbox in the same slot (a later batch), sees exactly what a
student of a fresh sandbox sees. Hypothesis draws the mixes; CLEAN_SLATE_EXAMPLES=200 runs a longer search by hand."""
import json
import os
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from autograder.engine.sandbox import Sandbox
from clean_slate_probe import POLLUTERS, SECRET, polluter, probe
from course_files import ROOT
from venvs import venv_with_these_packages

pytestmark = pytest.mark.slow  # sandboxes

EXAMPLES = int(os.environ.get("CLEAN_SLATE_EXAMPLES", "6"))


def run_cell(sandbox, source) -> tuple[str, dict | None]:
    run = sandbox.run([(0, source)], time.monotonic() + 30)
    while run.advance() is not None:
        pass
    outcome = run.outcomes[0] if run.outcomes else None
    run.close()
    return (outcome.output, outcome.error) if outcome else ("", {"type": "no outcome"})


def probed(sandbox) -> dict:
    output, error = run_cell(sandbox, probe())
    assert error is None, error
    return json.loads(output)


@pytest.fixture(scope="module")
def sandbox(course):
    with Sandbox(course) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def fresh(sandbox) -> dict:
    """What a student sees in a sandbox nobody used before."""
    return probed(sandbox)


def test_a_fresh_student_sees_nothing_of_anyone(fresh):
    assert not any("leak" in path for path in fresh["files"]) and fresh["processes"] == [] and fresh["sockets"] == []
    assert not fresh["secret readable"] and not any(fresh["keys"].values())
    assert fresh["sysvipc"] == {"shm": [], "sem": [], "msg": []} and fresh["environment"] == []


def test_the_probe_sees_what_a_polluter_leaves_in_its_own_process(sandbox):
    """So that the invariant below can fail: every kind of leftover is visible to the probe while it exists."""
    output, error = run_cell(sandbox, polluter(sorted(POLLUTERS)) + "\n" + probe().split("\n", 8)[-1])
    assert error is None, error
    seen = json.loads(output)
    assert seen["secret readable"] and any("leak" in path for path in seen["files"])
    assert seen["System V shm"] and seen["System V sem"] and seen["System V msg"] and seen["POSIX mqueue"]
    assert seen["keys"] == {"user": True, "session": True, "user-session": True}
    assert "sleep" in seen["processes"] and seen["sockets"] == ["@leak-socket"]
    assert seen["environment"] == ["LEAK"]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leftovers=st.lists(st.sampled_from(sorted(POLLUTERS)), min_size=1, max_size=len(POLLUTERS), unique=True))
@example(leftovers=sorted(POLLUTERS))
def test_the_next_student_sees_what_a_fresh_one_sees(sandbox, fresh, leftovers):
    output, error = run_cell(sandbox, polluter(leftovers))
    assert error is None, error
    assert probed(sandbox) == fresh


def test_a_later_zygote_in_the_same_slot_sees_nothing_either(course, fresh):
    """As a later batch in this slot would: the same uid, a new zygote (keys once outlived a batch this way)."""
    with Sandbox(course) as sandbox:
        run_cell(sandbox, polluter(sorted(POLLUTERS)))
        uid = sandbox.child_uid
        sandbox._restart()  # what a new batch does: a new zygote, the slot (and so the uid) kept
        assert sandbox.child_uid == uid
        assert probed(sandbox) == fresh


def test_clean_up_is_quick_after_a_read_only_folder(sandbox):
    """A 0500 folder once made clean-up spin to its deadline (2 s) for every later student of the sandbox."""
    run_cell(sandbox, polluter(["files of every mode"]))
    started = time.monotonic()
    for _ in range(3):
        run_cell(sandbox, "x = 1")
    assert time.monotonic() - started < 1.5
    assert SECRET not in json.dumps(probed(sandbox))


@pytest.mark.slow
def test_the_invariant_holds_with_the_interpreter_in_a_virtual_environment_under_tmp(tmp_path):
    """As on many CI runners: the sandbox binds the environment's folders into its /tmp, thousands of files of them
    (the probe's output once passed its 256 KB limit). They are the interpreter's, read-only: nobody's state."""
    venv = tmp_path / "venv"
    venv_with_these_packages(venv)  # the dependencies: this Python's, even when it runs from a venv itself
    installed = next(venv.glob("lib/python3*/site-packages")) / "installed"
    installed.mkdir()
    for number in range(20000):  # what a real environment's packages hold, in files
        (installed / f"module_{number}.py").touch()
    script = ("import json\nfrom autograder.course.config import load_course\n"
              "from autograder.engine.sandbox import Sandbox\n"
              "from clean_slate_probe import POLLUTERS, polluter\nfrom test_clean_slate import probed, run_cell\n"
              f"with Sandbox(load_course({str(ROOT)!r})) as sandbox:\n"
              "    fresh = probed(sandbox)\n    run_cell(sandbox, polluter(sorted(POLLUTERS)))\n"
              "    print(json.dumps([fresh, probed(sandbox)]))\n")
    done = subprocess.run([str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"})
    assert done.returncode == 0, done.stderr[-3000:]
    fresh, after = json.loads(done.stdout)
    assert after == fresh
    assert not any(path.startswith(str(venv)) or "leak" in path for path in fresh["files"])
