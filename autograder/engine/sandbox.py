"""The trust boundary: everything that talks to a student's code lives here.

A `Sandbox` is one warm zygote process (`sandboxed.py`) inside bubblewrap: no network, its own pid
namespace, a read-only view of the Python installation and nothing else of this machine (not the
course, its hidden checks or gradebook, nor other students' files). Each submission runs in a child
forked from the zygote under an unprivileged user and resource limits. The grader talks to that child
over a socket in plain data only (`plain`), and what it hands out of this module is plain data and
`Submission` objects whose calls cross that socket: never a student object.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .budgets import Budgets, duration
from ..course.config import Course
from .plain import DecodeError, decode, encode, recv_message, send_message
from .submission import Call, StudentCodeError, StudentFunction, Submission, describe_call, explain_exception

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
INSIDE = "/opt/grader"
GRACE = 2.0          # seconds the grader waits beyond a limit the child enforces itself, at most
FIRST_UID = 60000    # sandbox slot n runs student code as uid FIRST_UID + n
SLOTS = 1000         # slots on one machine, shared by every grader running on it
MAX_TEMPLATES = 2    # templates a sandbox keeps (one per assignment prefix): `grade --all` moves on from each
MAX_DISPLAY_CHARS = 2 * 1024 * 1024  # PNG (base64) a submission's figures keep for the autograded notebook
TEMPLATE_TIMEOUT = 60      # seconds the course's leading cells may take in a template
MAX_TEMPLATE_PACKET = 60000  # bytes of the course's leading cells a template is sent in one packet
# seconds each figure's render waits first: a test's hook (a render made slow on purpose), 0 otherwise
RENDER_DELAY = float(os.environ.get("AUTOGRADER_RENDER_DELAY", "0") or 0)


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the student's code): the grader cannot go on."""


class CourseSetupError(SandboxError):
    """The course's own cells before the first exercise failed in the sandbox: no submission can be graded right."""


@dataclass
class CellOutcome:
    index: int               # position of the cell in the submitted notebook
    error: dict | None       # {"type", "text"} when the cell failed
    output: str = ""
    displays: tuple = ()     # what the cell displayed that the autograded notebook keeps: {"image/png", "text/plain"}


def isolation() -> str:
    with _ISOLATION_LOCK:  # worker threads ask at once: probe and warn once
        return _isolation()


_ISOLATION_LOCK = threading.Lock()


@lru_cache(maxsize=None)
def _isolation() -> str:
    """"bubblewrap" when it works here, else "processes" (same limits, no namespaces) with a warning.

    AUTOGRADER_ISOLATION=processes chooses the latter on purpose (to test it, or where namespaces are refused)."""
    if shutil.which("bwrap") and os.environ.get("AUTOGRADER_ISOLATION") != "processes":
        probe = subprocess.run(["bwrap", *_namespace_flags(), "--ro-bind", "/", "/", "true"], capture_output=True)
        if probe.returncode == 0:
            if os.geteuid() != 0:
                logger.warning(NOT_ROOT)
            return "bubblewrap"
    logger.warning("isolation is reduced: bubblewrap (Debian package 'bubblewrap') is not in use, so student code "
                   "runs with the same resource limits but without filesystem, network and process isolation.")
    return "processes"


NOT_ROOT = ("isolation is weaker than as root: the grader is not root, so student code runs under "
            "bubblewrap in a user namespace as the same user as the sandbox's own processes (as root each sandbox "
            "slot has a user of its own). It still cannot reach the network, this machine's files or other students' "
            "runs, but a submission can signal the sandbox's own processes: the grader then restarts the sandbox, and "
            "that submission gets a timeout instead of a grade.")


def grace(budget: float) -> float:
    """How long the grader waits beyond a budget the child enforces itself: short for a short budget, so a
    student who catches the timeout and goes on is stopped soon after it."""
    return min(GRACE, max(1.0, budget / 2))


def _namespace_flags():
    flags = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
             "--die-with-parent", "--new-session"]
    return flags if os.geteuid() == 0 else ["--unshare-user", *flags]


class Sandbox:
    """One warm zygote; `run` starts a submission in a fresh child forked from it.

    Each sandbox holds a slot of its own on this machine (a locked file), across every grader running here:
    clean-up kills all processes of the slot's uid, so two sandboxes must never share one.
    """

    def __init__(self, course: Course):
        self.course = course
        self.slot, self._slot_lock = _claim_slot()
        self.child_uid = FIRST_UID + self.slot if os.geteuid() == 0 else -1
        # named after the slot, which only this sandbox holds: a folder already there was left by a killed grader
        self._stage = os.path.join(scratch_folder(), f"autograder-sandbox-{self.slot}")
        shutil.rmtree(self._stage, ignore_errors=True)
        try:
            os.mkdir(self._stage, 0o700)
        except OSError:  # something not ours in the way (a symlink, say): a fresh name then
            self._stage = tempfile.mkdtemp(prefix="autograder-sandbox-", dir=scratch_folder())
        for name in ("sandboxed.py", "plain.py"):
            shutil.copy(HERE / name, self._stage)
        os.chmod(self._stage, 0o755)
        self._process = None
        self._templates: dict = {}
        self.max_templates = MAX_TEMPLATES  # the web service keeps one per assignment: its uploads come mixed
        # figures displayed by a submission come back as snapshots ({"figure", "text/plain"}) for `render` to draw
        # after the verdict, instead of PNGs drawn while the cell runs (the batch's and the service's workers)
        self.defer_figures = False
        self._current: Run | None = None
        self._start()

    def _start(self):
        control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._main, self._templates = _Control(control, self), {}
        command = self._command(theirs.fileno())
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(command, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=self._log, env=self._env())
        theirs.close()
        control.settimeout(120)
        try:
            ready = control.recv(65536)
        except socket.timeout:
            ready = b""
        if b"warm" not in ready:
            self._process.kill()
            self._process.wait()
            self._log.seek(0)
            stderr = self._log.read().decode(errors="replace")[-2000:]
            raise SandboxError(f"the sandbox did not start ({isolation()}):\n{stderr}")
        control.settimeout(None)

    def _env(self):
        env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "MPLBACKEND": "agg", "MPLCONFIGDIR": "/tmp/matplotlib",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
        if isolation() == "bubblewrap":
            env["AUTOGRADER_PID_NAMESPACE"] = "1"
        else:
            env["MPLCONFIGDIR"] = tempfile.mkdtemp(prefix="autograder-mpl-", dir=self._stage)
            os.chmod(env["MPLCONFIGDIR"], 0o777)
            env["AUTOGRADER_WORK"] = os.path.join(self._stage, "run")  # not a /tmp/run other graders use too
        return env

    def _command(self, fd: int) -> list[str]:
        python = [os.path.abspath(sys.executable), "-I"]  # no "..": the sandbox holds only the interpreter's folders
        if isolation() != "bubblewrap":
            return [*python, f"{self._stage}/sandboxed.py", str(fd), str(self.child_uid)]
        command = ["bwrap", *_namespace_flags(), "--ro-bind", "/usr", "/usr"]
        for name in ("bin", "sbin", "lib", "lib64", "lib32"):
            path = Path("/", name)
            if path.is_symlink():
                command += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                command += ["--ro-bind", str(path), str(path)]
        command += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        # the private /tmp first, then the interpreter: one installed under /tmp (a CI runner's venv) stays in view
        command += ["--size", str(256 * 1024 * 1024), "--tmpfs", "/tmp"]
        made = {Path("/tmp")}
        for prefix in sorted({sys.base_prefix, sys.prefix, *_site_dirs()}):
            for parent in reversed(Path(prefix).parents):  # bwrap would make them private to root
                if str(parent) != "/" and parent not in made:
                    command += ["--perms", "0755", "--dir", str(parent)]
                    made.add(parent)
            command += ["--ro-bind", prefix, prefix]
        command += ["--ro-bind", self._stage, INSIDE, "--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp"]
        if os.geteuid() == 0:  # the zygote keeps only what it needs to hand each child a user of its own
            command += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                        "--cap-add", "CAP_KILL"]
        return [*command, *python, f"{INSIDE}/sandboxed.py", str(fd), str(self.child_uid)]

    def run(self, cells: list[tuple[int, str]], deadline: float, prefix: tuple[str, ...] = (),
            checkpoints: tuple[int, ...] = (), budgets: Budgets | None = None) -> "Run":
        """Start a fresh child that runs `cells` ((index, source) pairs), pausing after each cell in
        `checkpoints` to serve calls; `Run.advance` moves it on.

        `prefix` is code the course runs before these cells (its worked example): the child is forked
        from a template process that ran it once, instead of running it again for every student.
        `budgets` gives each cell and call its time limit (by default `cell_timeout`) and takes what was measured."""
        if self._current is not None:
            self._current.close()
        if self._process.poll() is not None or (self.child_uid < 0 and not self._serving()):
            self._restart()
        control = self._template(prefix) if prefix else self._main
        ours, theirs = socket.socketpair()
        try:
            socket.send_fds(control.socket, [b'{"op": "run"}'], [theirs.fileno()])
        except OSError:  # the zygote or template is gone (a submission may end it): a fresh sandbox, same start
            self._restart()
            control = self._template(prefix) if prefix else self._main
            socket.send_fds(control.socket, [b'{"op": "run"}'], [theirs.fileno()])
        theirs.close()
        limits = self._limits()
        budgets = budgets or Budgets(self.course, None, {})
        limits["cell_budgets"] = {str(index): [budgets.cell(index), budgets.wall(budgets.cell(index))]
                                  for index, _ in cells}
        limits["budget_floor"] = budgets.floor  # what a function that ran out of time once gets afterwards
        self._current = Run(self, control, ours, cells, limits, deadline, checkpoints, budgets)
        return self._current

    def _limits(self) -> dict:
        return {"memory_bytes": self.course.memory_mb * 1024 * 1024, "cpu_seconds": int(self.course.cpu_seconds),
                "file_bytes": 16 * 1024 * 1024, "max_processes": self.course.max_processes,
                "output_chars": self.course.max_output_kb * 1024, "cell_timeout": self.course.cell_timeout,
                "display_chars": MAX_DISPLAY_CHARS if self.course.keep_figures else 0,
                "defer_figures": self.defer_figures}

    def render(self, snapshots: list[str]) -> list[str | None]:
        """Draw figure snapshots (as a submission's run sent them, opaque here: the grader never unpickles a
        student's figure) as PNGs, in a fresh child of the zygote at the lowest priority: each PNG (base64), or
        None for one that could not be drawn within the cell time limit."""
        if self._current is not None:
            self._current.close()
            self._current = None
        if self._process.poll() is not None or (self.child_uid < 0 and not self._serving()):
            self._restart()
        ours, theirs = socket.socketpair()
        try:
            socket.send_fds(self._main.socket, [b'{"op": "run"}'], [theirs.fileno()])
        except OSError:
            self._restart()
            socket.send_fds(self._main.socket, [b'{"op": "run"}'], [theirs.fileno()])
        theirs.close()
        pngs: list[str | None] = [None] * len(snapshots)
        wall, answered = 4 * self.course.cell_timeout + RENDER_DELAY, 0
        try:
            send_message(ours, {"op": "render", "figures": snapshots, "limits": self._limits(),
                                "delay": RENDER_DELAY})
            for answered in range(len(snapshots)):
                try:
                    reply = recv_message(ours, deadline=time.monotonic() + wall + GRACE)
                except (OSError, DecodeError):
                    break
                index = reply.get("index") if isinstance(reply, dict) and reply.get("op") == "rendered" else None
                if type(index) is not int or not 0 <= index < len(snapshots):
                    break
                pngs[index] = _png(reply.get("png"))
            else:
                answered = len(snapshots)
        except OSError:
            pass
        finally:
            if answered < len(snapshots):  # stuck, gone or interfering: the rest is not drawn
                self._main.kill_child()
            ours.close()
            self._main.wait_child()
        return pngs

    def _serving(self) -> bool:
        """Whether the zygote and every template answer. When the grader is not root, students share their user and
        may have stopped or ended one: the next student must not pay for it."""
        for control in [self._main, *(kept for kept in self._templates.values() if isinstance(kept, _Control))]:
            try:
                control.socket.settimeout(5)
                control.socket.send(b'{"op": "ping"}')
                if b"pong" not in control.socket.recv(65536):
                    return False
                control.socket.settimeout(None)
            except OSError:
                return False
        return True

    def fits_template(self, prefix: tuple[str, ...]) -> bool:
        """Whether a template can run `prefix` (else a submission runs those cells itself)."""
        return len(json.dumps({"op": "template", "cells": list(prefix)}).encode()) <= MAX_TEMPLATE_PACKET

    def _template(self, prefix: tuple[str, ...]) -> "_Control":
        """The control of a template that ran `prefix`, started on first use.

        CourseSetupError when it cannot be: the submissions skip those cells, so they would all fail without them."""
        if prefix in self._templates:
            self._templates[prefix] = self._templates.pop(prefix)  # now the most recently used
        else:
            self._retire_templates(keep=self.max_templates - 1)
            packet = json.dumps({"op": "template", "cells": list(prefix)}).encode()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                if len(packet) > MAX_TEMPLATE_PACKET:
                    raise CourseSetupError("the course's cells before the first exercise are too large for a template")
                try:
                    socket.send_fds(self._main.socket, [packet], [theirs.fileno()])
                except OSError:  # the zygote is gone (a submission may have ended it): not the course's fault
                    self._restart()
                    socket.send_fds(self._main.socket, [packet], [theirs.fileno()])
                ours.settimeout(TEMPLATE_TIMEOUT)
                try:
                    reply = ours.recv(65536)
                except OSError:
                    reply = b""
                if b"warm" not in reply:
                    raise CourseSetupError(_template_failure(reply))
                ours.settimeout(None)
                self._templates[prefix] = _Control(ours, self)
            except (OSError, CourseSetupError) as error:
                ours.close()
                self._templates[prefix] = error if isinstance(error, CourseSetupError) else CourseSetupError(
                    f"the sandbox could not start a template for the course's cells before the first exercise "
                    f"({error})")
            finally:
                theirs.close()
        if isinstance(self._templates[prefix], CourseSetupError):
            raise self._templates[prefix]  # once failed, failed for every submission of this sandbox
        return self._templates[prefix]

    def _retire_templates(self, keep: int):
        """End the least recently used templates, all but `keep` (an idle template ends when its socket closes)."""
        while len(self._templates) > keep:
            oldest = next(iter(self._templates))
            control = self._templates.pop(oldest)
            if isinstance(control, _Control):
                control.socket.close()

    def _restart(self):
        self.close(keep_stage=True)
        self._start()

    def close(self, keep_stage: bool = False):
        self._current = None
        self._retire_templates(keep=0)
        if self._process and self._process.poll() is None:
            self._main.socket.close()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process:
            self._log.close()
        if not keep_stage:
            shutil.rmtree(self._stage, ignore_errors=True)
            self._slot_lock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def scratch_folder() -> str:
    """This user's folder for sandbox slots and stages: root's in the system's temporary folder, as before (its slots
    name machine-wide uids); any other user's in $XDG_RUNTIME_DIR or /tmp/autograder-UID, made 0700 and checked to be
    the user's own, so users on one machine never share (or block each other on) a file."""
    if os.geteuid() == 0:
        return tempfile.gettempdir()
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    candidates = ([os.path.join(runtime, "autograder")] if runtime else []) + [
        os.path.join(tempfile.gettempdir(), f"autograder-{os.geteuid()}")]
    for folder in candidates:
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        except OSError:
            continue
        status = os.lstat(folder)
        if stat.S_ISDIR(status.st_mode) and status.st_uid == os.geteuid() and not status.st_mode & 0o077:
            return folder
        logger.warning("%s is not a private folder of this user (owner uid %d, mode %o): not used",
                       folder, status.st_uid, stat.S_IMODE(status.st_mode))
    raise SandboxError(f"no private folder for the sandboxes could be made (tried {', '.join(candidates)})")


def _claim_slot():
    """The lowest slot no other sandbox of this user holds, and its lock (released on close or death)."""
    folder = Path(scratch_folder(), "autograder-slots")
    folder.mkdir(mode=0o755, exist_ok=True)
    for slot in range(SLOTS):
        lock = open(folder / str(slot), "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        return slot, lock
    raise SandboxError(f"all {SLOTS} sandbox slots of this machine are in use ({folder})")


def _template_failure(reply: bytes) -> str:
    """Why a template did not start, from its reply (empty when it died or did not answer in time)."""
    try:
        failed = json.loads(reply)
        return (f"cell {int(failed['cell']) + 1} of the course's cells before the first exercise raised "
                f"{str(failed['type'])[:100]}: {str(failed['text'])[:300]}")
    except (ValueError, KeyError, TypeError):
        return (f"the course's cells before the first exercise did not finish in the sandbox within "
                f"{TEMPLATE_TIMEOUT} s (or ended its process)")


class _Control:
    """The control socket of a zygote or template: kill its current child, wait until it is gone."""

    def __init__(self, sock: socket.socket, sandbox: Sandbox):
        self.socket, self.sandbox = sock, sandbox

    def kill_child(self):
        try:
            self.socket.send(b'{"op": "kill"}')
        except OSError:
            pass

    def wait_child(self, timeout: float = 10) -> dict:
        """How the current child ended ({"status", "max_rss_kb"}), once the zygote has cleaned up after it."""
        self.socket.settimeout(timeout)
        try:
            while True:
                packet = self.socket.recv(65536)
                if not packet:
                    break
                if b"exited" in packet:
                    return json.loads(packet)
        except socket.timeout:
            self.kill_child()
        except OSError:
            pass
        finally:
            try:
                self.socket.settimeout(None)
            except OSError:
                pass
        self.sandbox._restart()  # the zygote died (perhaps killed by the student) or hangs: start afresh
        return {"status": "sandbox restarted", "max_rss_kb": 0}


def _png(data) -> str | None:
    """`data` if it is a PNG in base64 (what a render child sends is checked like anything from a sandbox)."""
    import base64
    import binascii

    if type(data) is not str or len(data) > MAX_DISPLAY_CHARS:
        return None
    try:
        return data if base64.b64decode(data, validate=True).startswith(b"\x89PNG") else None
    except (binascii.Error, ValueError):
        return None


def _site_dirs():
    """Package folders the interpreter imports from outside its prefixes: those `site` knows, and those a .pth file
    added (a venv made to see another venv's packages)."""
    import site

    added = [path for path in sys.path if path.endswith(("site-packages", "dist-packages"))]
    folders = {*site.getsitepackages(), *added}
    return sorted(path for path in folders
                  if os.path.isdir(path) and not path.startswith((sys.prefix, sys.base_prefix)))


def _why_ended(message) -> str:
    """Why a child that sent `message` where another was due is ended: timeout, died (gone) or interfered."""
    if isinstance(message, dict) and message.get("op") == "timed_out":  # the child stopped itself: it was caught
        return "timeout"
    return message if message == "timeout" else "died" if message is None else "interfered"


class Run:
    """One submission running in its own child: cell outcomes, then calls of its functions.

    The student's code shares the child's socket and may write anything on it: every message is checked
    against what the child owes next, and anything else ends the child as having interfered."""

    def __init__(self, sandbox: Sandbox, control: _Control, sock: socket.socket, cells, limits, deadline: float,
                 checkpoints: tuple[int, ...] = (), budgets: Budgets | None = None):
        self.sandbox, self.control, self.sock, self.deadline = sandbox, control, sock, deadline
        self.cell_timeout = limits["cell_timeout"]
        self.budgets = budgets or Budgets(sandbox.course, None, {})
        self.outcomes: list[CellOutcome] = []
        self.fatal_cell: int | None = None   # the cell during which the child died or hung
        self.ended: str | None = None        # why the child is gone, once it is
        self.finished = False                # every cell has run
        self.max_rss_kb = 0                  # the child's peak resident memory, once it has ended
        self._callbacks: dict[int, object] = {}
        self._current: int | None = None
        self._pending = deque(index for index, _ in cells)   # cells not started yet, in order
        self._checkpoints = set(checkpoints)
        self._state = "between"              # "running" a cell, or its "checkpoint" is due, or "between" cells
        self._output_left = limits["output_chars"]
        self._display_left = limits.get("display_chars", 0)
        try:
            send_message(sock, {"cells": cells, "limits": limits, "checkpoints": list(checkpoints)})
        except OSError:
            self._end("died")

    def _receive(self, timeout: float):
        """The next message; "timeout", "garbage" (not a message the grader accepts) or None (the child is gone)."""
        until = time.monotonic() + max(0.01, min(timeout, self.deadline - time.monotonic()))
        try:  # the deadline holds for the whole message, however slowly it trickles in
            return recv_message(self.sock, deadline=until)
        except socket.timeout:
            return "timeout"
        except DecodeError:
            return "garbage"
        except OSError:
            return None

    def advance(self) -> int | None:
        """Run cells up to the next checkpoint and return its index; None once all cells ran or the child is gone."""
        if self.finished or not self.alive:
            return None
        if self._current is not None:  # paused at a checkpoint: let the notebook go on
            try:
                send_message(self.sock, {"op": "continue"})
            except OSError:
                self._end("died")
                return None
        while True:
            limit = self.budgets.wall(self.budgets.cell(self._current)) if self._state == "running" else \
                self.cell_timeout
            message = self._receive(limit + grace(limit))
            if isinstance(message, dict) and message.get("op") == "sandbox_error" and self._current is None:
                # before the first cell no student code has run: the sandbox itself failed
                raise SandboxError(f"the sandbox failed while starting a submission:\n{message.get('text')}")
            if not isinstance(message, dict) or not self._follows_protocol(message):
                self.fatal_cell = self._current
                self._end(_why_ended(message))
                return None
            if message["op"] == "checkpoint":
                return self._current
            if message["op"] == "ready":
                self.finished = True
                return None

    def _follows_protocol(self, message: dict) -> bool:
        """Whether `message` is what the child owes next (cell_started, cell_done and, at a check cell,
        checkpoint, for each cell in order; then ready), and if so, take it into account."""
        op, index = message.get("op"), message.get("index")
        if type(index) is not int and op != "ready":
            return False
        if op == "cell_started" and self._state == "between" and self._pending and index == self._pending[0]:
            self._pending.popleft()
            self._current, self._state = index, "running"
        elif op == "cell_done" and self._state == "running" and index == self._current:
            error, output = message.get("error"), message.get("output", "")
            if not (error is None or (type(error) is dict and all(type(error.get(key)) is str for key in
                                                                  ("type", "text")))) or type(output) is not str:
                return False
            output, self._output_left = output[:self._output_left], self._output_left - min(len(output),
                                                                                             self._output_left)
            if type(message.get("seconds")) is float:
                self.budgets.measured_cell(index, message["seconds"], error is not None)
            self.outcomes.append(CellOutcome(index, error, output, self._kept_displays(message.get("displays"))))
            self._state = "checkpoint" if index in self._checkpoints else "between"
        elif op == "checkpoint" and self._state == "checkpoint" and index == self._current:
            self._state = "between"
        elif not (op == "ready" and self._state == "between" and not self._pending):
            return False
        return True

    def _kept_displays(self, displays) -> tuple:
        """The displays of a cell as the child reported them, only well-formed ones and within the size limit
        (the student's code can write anything in their place): a PNG, or a figure's snapshot to draw later."""
        kept = []
        for display in displays if type(displays) is list else ():
            if (type(display) is dict and set(display) in ({"image/png", "text/plain"}, {"figure", "text/plain"})
                    and all(type(value) is str for value in display.values())):
                size = len(display.get("image/png") or display["figure"])
                if size <= self._display_left:
                    self._display_left -= size
                    kept.append(display)
        return tuple(kept)

    def _end(self, why: str):
        if self.ended is None:
            self.ended = why
            self.control.kill_child()
            self.sock.close()
            self.max_rss_kb = self.control.wait_child().get("max_rss_kb", 0)

    @property
    def alive(self) -> bool:
        return self.ended is None

    def submission(self, names: tuple[str, ...], missing_reason: str) -> Submission:
        """The student's `names` as a Submission whose calls cross into this child."""
        reply = self._request({"op": "names", "names": list(names)}, "names") or {}
        kinds = reply.get("kinds") if type(reply.get("kinds")) is dict else {}
        found, missing = {}, {}
        for name in names:
            kind = kinds.get(name)
            if kind == "function":
                found[name] = StudentFunction(name, self._invoker(name))
            elif kind == "value":
                reply = self._request({"op": "get", "name": name}, "value")
                try:
                    found[name] = decode(reply.get("value")) if reply else None
                except DecodeError:
                    found[name] = None
            else:
                missing[name] = missing_reason if self.alive else "your notebook stopped before it was checked"
        return Submission(found, missing)

    def restore(self) -> dict | None:
        """Once every cell has run: put back the builtins and assert-relevant modules the student's code changed;
        {"changed": their names, "events": introspection seen}, None if the child is gone."""
        return self._request({"op": "restore"}, "restored")

    def test(self, source: str, timeout: float) -> dict | None:
        """Run one of the course's test cells after the student's cells (nbtests.py): {"error", "stdout",
        "stderr", "result", "events"}, or None when the child died or hung in it."""
        if not self.alive:
            return None
        try:
            send_message(self.sock, {"op": "test", "source": source})
        except OSError:
            self._end("died")
            return None
        reply = self._receive(timeout + grace(timeout))
        if not isinstance(reply, dict) or reply.get("op") != "tested":
            self._end(_why_ended(reply))
            return None
        return reply

    def _request(self, message: dict, expected_op: str):
        if not self.alive:
            return None
        try:
            send_message(self.sock, message)
        except OSError:
            self._end("died")
            return None
        reply = self._receive(self.cell_timeout + GRACE)
        if not isinstance(reply, dict) or reply.get("op") != expected_op:
            self._end(_why_ended(reply))
            return None
        return reply

    def _invoker(self, name: str):
        def invoke(args: tuple) -> Call:
            def what():  # only messages need it, and most calls have none
                return describe_call(name, args)

            if not self.alive:
                raise StudentCodeError(f"{what()} could not run: your code had already stopped the Python process.")
            budget = self.budgets.call(name)

            def ran_out(stopped_in=None):
                self.budgets.ran_out(name)
                if stopped_in == name:  # it had run out of time in a cell before: the sandbox gave it the floor
                    return StudentCodeError(f"{what()} did not finish within {duration(self.budgets.floor)} and was "
                                            "stopped (it had already run out of time once, so later calls get the "
                                            "shortest time). Look for a loop that never ends.")
                if stopped_in:
                    return StudentCodeError(f"{what()} was stopped: it calls {stopped_in}, which had already run out "
                                            f"of time once and now gets {duration(self.budgets.floor)}. Look for a "
                                            f"loop that never ends in {stopped_in}.")
                hint = self.budgets.call_hint(name, budget)
                return StudentCodeError(f"{what()} did not finish within {duration(budget)} and was stopped ({hint}). "
                                        "Look for a loop that never ends.")

            try:
                send_message(self.sock, {"op": "call", "name": name, "args": encode(args, self._register),
                                         "processor_seconds": budget, "timeout": self.budgets.wall(budget)})
            except OSError:
                self._end("died")
                raise StudentCodeError(f"{what()} could not run: the Python process running your code had ended.")
            wall = self.budgets.wall(budget)
            left = wall + grace(wall)  # for the whole call, but not the grader's answers to its callbacks
            while True:
                waited = time.monotonic()
                reply = self._receive(left) if left > 0 else "timeout"
                left -= time.monotonic() - waited
                if reply == "timeout":
                    self._end("timeout")
                    raise ran_out()
                if reply is None:
                    self._end("died")
                    raise StudentCodeError(f"{what()} ended the Python process instead of returning a value "
                                           "(does it call exit or os._exit, or use too much memory?).")
                if not isinstance(reply, dict):
                    self._end("interfered")
                    raise StudentCodeError(f"{what()} wrote something on the grader's connection that is not a "
                                           "message; the call was stopped.")
                op = reply.get("op")
                if op == "callback":
                    self._answer_callback(reply)
                elif op == "return":
                    if type(reply.get("seconds")) is float:
                        self.budgets.measured_call(name, reply["seconds"], False)
                    try:
                        return Call(decode(reply.get("result")), decode(reply.get("args_after"), lambda d: None))
                    except DecodeError as error:
                        raise StudentCodeError(f"{what()} returned something that could not be read ({error}).")
                elif op == "raise" and reply.get("timed_out") is True:
                    stopped_in = reply.get("stopped_in")
                    raise ran_out(stopped_in if type(stopped_in) is str and stopped_in.isidentifier() else None)
                elif op == "timed_out":
                    self._end("timeout")
                    raise ran_out()
                elif op == "raise":
                    self.budgets.measured_call(name, 0.0, True)
                    raise StudentCodeError(explain_exception(name, args, str(reply.get("type")),
                                                             str(reply.get("text"))))
                else:
                    self._end("interfered")
                    raise StudentCodeError(f"{what()} interfered with the grader; the call was stopped.")
        return invoke

    def rebind(self, functions: dict) -> bool:
        """Until the next rebind, the student's code calling one of these names calls the grader's function
        instead (a reference helper, evaluated here); rebind({}) puts the student's own back."""
        names = {name: {**self._register(function), "name": name} for name, function in functions.items()}
        return self._request({"op": "rebind", "names": names}, "rebound") is not None

    def _register(self, function):
        self._callbacks[id(function)] = function
        return {"callable": id(function), "name": getattr(function, "__name__", "function")}

    def _answer_callback(self, request: dict):
        function = self._callbacks.get(request.get("id")) if type(request.get("id")) is int else None
        try:
            args = decode(request.get("args"))
            value = function(*args)
            send_message(self.sock, {"op": "callback_return", "value": encode(value)})
        except Exception as error:  # the student passed our function something it cannot take
            send_message(self.sock, {"op": "callback_error",
                                     "text": f"{getattr(function, '__name__', 'function')} failed: {error}"})

    def close(self):
        if self.alive:
            try:
                send_message(self.sock, {"op": "bye"})
            except OSError:
                pass
            self.ended = "closed"
            self.sock.close()
            self.max_rss_kb = self.control.wait_child().get("max_rss_kb", 0)
