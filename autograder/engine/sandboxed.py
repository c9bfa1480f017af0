"""The only code that runs inside the sandbox, next to the student's: a warm zygote and its children.

This file and `plain.py` are all the sandbox holds of the grader: they are copied into it alone, so
nothing here may import the rest of `autograder`. The zygote imports NumPy, matplotlib and IPython
once, then for every submission forks a child that drops to an unprivileged user, takes its resource
limits, runs the notebook's cells with IPython semantics and answers calls of the student's functions
with plain data. The zygote never runs student code itself; after each child it kills whatever the
child left behind and wipes its working folder.

Usage: python -I sandboxed.py CONTROL_FD CHILD_UID   (CHILD_UID -1: stay the current user)
"""
import ctypes
import io
import json
import math
import os
import pickle
import resource
import select
import shutil
import signal
import socket
import sys
import tempfile
import time

from IPython.core.displaypub import DisplayPublisher  # the zygote imports IPython anyway, to warm up
from matplotlib import rcParams  # and matplotlib
from matplotlib.ticker import LogFormatterSciNotation

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plain import (MAX_MESSAGE, MAX_REQUEST, MessageTooLarge, decode, encode, recv_message,  # noqa: E402
                   send_message, swap_in)

# the students' folder: private to each child under bubblewrap; a folder of this sandbox's own otherwise
WORK = os.environ.get("AUTOGRADER_WORK") or ("/tmp/run" if os.path.isdir("/tmp") else tempfile.gettempdir())
PR_SET_CHILD_SUBREAPER = 36
PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 4, 38
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV = 0x4000, 1 << 18, 2, 4
MS_RDONLY, MS_REMOUNT, MS_BIND = 1, 32, 4096
# what a remount must keep of a mount bubblewrap made (locked to us): nosuid, nodev, noexec, the same bits in statvfs's
# f_flag as in mount's flags (the kernel keeps the atime ones by itself)
KEPT_MOUNT_FLAGS = 2 | 4 | 8
SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine)
KEYCTL_JOIN_SESSION_KEYRING = 1
TMPFS_SIZE = "128m"   # a student's WORK and /dev/shm each (memory of this machine, freed when the child ends)
LIBC = ctypes.CDLL(None, use_errno=True)


class CellTimeout(BaseException):
    """Raised in the student's code when a cell or a call runs past its wall-time limit."""


def warm_up():
    """Import and exercise what notebooks use, so every forked child starts warm."""
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt
    import numpy  # noqa: F401

    shell = new_shell()
    shell.run_cell("%matplotlib inline\nimport numpy as np\nimport matplotlib.pyplot as plt\n"
                   "plt.plot(np.arange(3), np.arange(3)); plt.title('t'); plt.xlabel('x'); plt.legend(['l'])",
                   store_history=False)
    plt.close("all")
    type(shell).clear_instance()


def new_shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class SandboxShell(InteractiveShell):
        def enable_gui(self, gui=None):  # `%matplotlib inline` needs no GUI loop
            pass

    config = Config()
    config.HistoryManager.enabled = False
    shell = SandboxShell.instance(config=config, colors="nocolor")
    shell.display_formatter.active_types = ["text/plain", "image/png"]  # PNG only for what is displayed: figures
    shell.display_pub = KeptDisplays(shell=shell, parent=shell)
    from matplotlib.figure import Figure

    # matplotlib_inline registers its PNG formatter with the first shell only: this one replaces it for every shell
    shell.display_formatter.formatters["image/png"].for_type(Figure, figure_png)
    shell.InteractiveTB.set_mode("Plain")  # a plain traceback, as Python prints it: the verbose one costs ~50 ms
    return shell


FIGURE_DPI = 60   # small PNGs: quick to render, still readable in formgrader
SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def figure_png(figure):
    """A figure the student's code displayed, as PNG bytes for the autograded notebook (None for an empty one).

    Drawn once, as the student laid it out: no tight bounding box (that draws the figure twice to measure it), and
    log-axis tick labels as plain text (10⁻³) rather than mathtext, which cost about 40 % of a log-axis figure."""
    if not figure.axes and not figure.lines:
        return None
    plain_log_ticks(figure)
    buffer = io.BytesIO()
    figure.canvas.print_figure(buffer, format="png", dpi=FIGURE_DPI, facecolor=figure.get_facecolor(),
                               edgecolor=figure.get_edgecolor(), bbox_inches=None)
    return buffer.getvalue()


def plain_log_ticks(figure):
    """Give every log axis still using matplotlib's default tick labels (mathtext) the same labels in plain text;
    an axis whose formatter the student chose keeps it."""
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            for formatter, setter in ((axis.get_major_formatter(), axis.set_major_formatter),
                                      (axis.get_minor_formatter(), axis.set_minor_formatter)):
                if type(formatter) is LogFormatterSciNotation:
                    plain = PlainLogFormatter(formatter._base, labelOnlyBase=formatter.labelOnlyBase,
                                              minor_thresholds=formatter.minor_thresholds,
                                              linthresh=formatter._linthresh)
                    setter(plain)


class PlainLogFormatter(LogFormatterSciNotation):
    """matplotlib's log tick labels, at the same ticks, in unicode (10⁻³, 2×10⁴): no mathtext to parse."""

    def __call__(self, x, pos=None):
        if not super().__call__(x, pos):  # the same ticks labelled as matplotlib labels them
            return ""
        return self.plain(x)

    def plain(self, x):
        if x == 0:
            return "0"
        sign, x, base = "−" if x < 0 else "", abs(x), self._base
        exponent = math.log(x) / math.log(base)
        if abs(exponent) < rcParams["axes.formatter.min_exponent"]:
            return f"{sign}{x:g}"
        base_text = f"{base:g}"
        if abs(exponent - round(exponent)) < 1e-10:
            return f"{sign}{base_text}{str(round(exponent)).translate(SUPERSCRIPTS)}"
        whole = math.floor(exponent)
        return f"{sign}{base ** (exponent - whole):.3g}×{base_text}{str(whole).translate(SUPERSCRIPTS)}"


MAX_SNAPSHOTS = 20   # figures a submission may leave to be drawn after its verdict; later ones are drawn at once
SNAPSHOT = "\0snapshot:"   # what the deferring formatter hands the publisher in place of a PNG


def figure_snapshot(figure):
    """A figure the student's code displayed, kept to be drawn after the verdict (the `defer_figures` limit): a
    pickled copy, taken now, so the figure is drawn as it was displayed even if later cells change or close it
    (about 3 ms for the course's figures, a render costs 50 to 200). A figure that cannot be pickled (a lambda in a
    formatter), that refers to the notebook's own names (another process could not load it), or whose copy would
    pass this submission's limits, is drawn at once, as without deferring."""
    if not figure.axes and not figure.lines:
        return None
    if len(KeptDisplays.snapshots) < MAX_SNAPSHOTS:
        try:
            data = pickle.dumps(figure, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            data = None
        fits = data is not None and KeptDisplays.total + len(data) * 4 // 3 + 4 <= KeptDisplays.limit  # base64
        if fits and b"__main__" not in data:
            KeptDisplays.snapshots.append(data)
            return f"{SNAPSHOT}{len(KeptDisplays.snapshots) - 1}"
    return figure_png(figure)


class KeptDisplays(DisplayPublisher):
    """The shell's display publisher: keeps each displayed figure's PNG (or, deferring, a snapshot of it to draw
    after the verdict) for the autograded notebook, up to `limit` characters a submission; past that, and for
    everything else, prints the text as before."""

    limit = 0
    kept: list = []
    snapshots: list = []   # pickled figures, deferring: the publisher takes each as its display is kept
    total = 0

    def publish(self, data, metadata=None, *args, **kwargs):
        import base64

        png = data.get("image/png") if isinstance(data, dict) else None
        if isinstance(png, str) and png.startswith(SNAPSHOT):
            number = int(png[len(SNAPSHOT):])
            snapshot = base64.b64encode(type(self).snapshots[number]).decode("ascii")
            type(self).snapshots[number] = b""  # sent with the cell's outcome: only the count is still needed
            type(self).total += len(snapshot)
            type(self).kept.append({"figure": snapshot, "text/plain": str(data.get("text/plain", ""))[:200]})
            return
        if isinstance(png, bytes):
            png = base64.b64encode(png).decode("ascii")
        if isinstance(png, str) and self.total + len(png) <= type(self).limit:
            type(self).total += len(png)
            type(self).kept.append({"image/png": png, "text/plain": str(data.get("text/plain", ""))[:200]})
            return
        if isinstance(png, str) and type(self).limit:
            type(self).total = type(self).limit  # later figures are not kept either
            print(f"[a figure is not kept: this notebook's figures passed {type(self).limit // 1024 ** 2} MB]")
            return
        if "text/plain" in data:
            print(data["text/plain"])

    @classmethod
    def take(cls) -> list:
        kept, cls.kept = cls.kept, []
        return kept


class BoundedOutput:
    """stdout/stderr for the student's code: keeps the first `limit` characters, counts the rest."""

    def __init__(self, limit):
        self.limit, self.kept, self.total = limit, [], 0

    def write(self, text):
        if not isinstance(text, str):
            text = str(text)
        room = self.limit - min(self.total, self.limit)
        if room > 0:
            self.kept.append(text[:room])
        self.total += len(text)
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def take(self):
        text, self.kept = "".join(self.kept), []
        return text


def set_limits(limits, child_uid):
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"],) * 2)
    if child_uid >= 0 or os.getuid() != 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["max_processes"],) * 2)


def drop_privileges(child_uid):
    if child_uid >= 0:
        os.setgroups([])
        os.setgid(child_uid)
        os.setuid(child_uid)


def isolate() -> bool:
    """Give this child namespaces of its own, so that nothing it creates outlives it: a user namespace (its own
    user keyring), an IPC namespace (System V and POSIX IPC) and a mount namespace with a fresh, private WORK and
    /dev/shm, the only places it can write (/tmp itself is the zygote's, read-only to students, and may hold the
    interpreter). It ends with no capability at all. False where the kernel refuses user namespaces: the zygote's
    clean-up then removes what it knows of."""
    uid, gid = os.getuid(), os.getgid()
    LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # a changed uid makes /proc/self/* root's; the maps below need it ours
    if LIBC.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC) != 0:
        _new_session_keyring()  # at least not the keyring inherited from the zygote
        return False
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as file:
            file.write(text)
    _new_session_keyring()  # of this user namespace, as is its user keyring: the host's for this uid stays out of reach
    _mount(None, b"/", None, MS_REC | MS_PRIVATE)
    options = f"size={TMPFS_SIZE},mode=1777".encode()
    for where in (WORK.encode(), b"/dev/shm"):
        if os.path.isdir(where):
            _mount(b"tmpfs", where, b"tmpfs", MS_NOSUID | MS_NODEV, options)
    if os.environ.get("AUTOGRADER_PID_NAMESPACE") == "1":
        # the sandbox's own /tmp and /dev belong to the zygote's user, which a student shares when the grader is not
        # root: read-only in this child's view, as they are to a student of another uid
        for where in ("/tmp", "/dev"):
            if os.path.ismount(where):
                kept = os.statvfs(where).f_flag & KEPT_MOUNT_FLAGS  # flags locked by bubblewrap must be kept
                _mount(None, where.encode(), None, MS_BIND | MS_REMOUNT | MS_RDONLY | kept)
    _drop_capabilities()
    return True


def _new_session_keyring():
    if SYS_KEYCTL is not None:
        LIBC.syscall(SYS_KEYCTL, KEYCTL_JOIN_SESSION_KEYRING, None)


def _mount(source, target, fstype, flags, options=None):
    if LIBC.mount(source, target, fstype, flags, options) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {target!r}: {os.strerror(error)}")


def _drop_capabilities():
    """No capability left, even in our own user namespace, and none to be had again through execve."""
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    if LIBC.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def run_child(sock, child_uid, shell=None):
    """In the forked child: become the student, run the cells, then serve calls until told to stop.

    After each cell listed in the request's `checkpoints` (the exercises' check cells) the child serves
    calls until the grader says `continue`, so each exercise is judged as its check cell would see it."""
    os.setsid()
    request = recv_message(sock, MAX_REQUEST)
    if request is None:
        return
    drop_privileges(child_uid)
    isolate()
    set_limits(request["limits"], child_uid)
    folder = tempfile.mkdtemp(dir=WORK)
    os.chdir(folder)
    os.environ["HOME"] = folder
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    output = BoundedOutput(request["limits"]["output_chars"])
    sys.stdout = sys.stderr = output
    KeptDisplays.limit, KeptDisplays.total = request["limits"].get("display_chars", 0), 0
    KeptDisplays.take()  # what a template's own cells displayed belongs to no student
    KeptDisplays.snapshots = []
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGPROF, _on_alarm)
    CONNECTION[:] = [sock]
    if request.get("op") == "render":
        render_snapshots(sock, request)
        return
    shell = shell or new_shell()
    if not KeptDisplays.limit:  # figures are not kept: not rendering them saves most of a figure's cost
        shell.display_formatter.active_types = ["text/plain"]
    elif request["limits"].get("defer_figures"):  # drawn after the verdict, by render_snapshots in another child
        from matplotlib.figure import Figure

        shell.display_formatter.formatters["image/png"].for_type(Figure, figure_snapshot)
    EXHAUSTED.floor = request["limits"].get("budget_floor", 0.0)
    cell_timeout = request["limits"]["cell_timeout"]
    cell_budgets = request["limits"].get("cell_budgets", {})  # str(index) -> [processor, wall] seconds
    me = os.getpid()
    checkpoints = set(request.get("checkpoints", ()))
    watch = Watch()  # before the student's first cell: what their code changes or peeks at from here on is seen
    for index, source in request["cells"]:
        send_message(sock, {"op": "cell_started", "index": index})
        started = time.thread_time()  # precise; process time is counted in ticks while a timer runs
        error = run_cell(shell, source, *cell_budgets.get(str(index), (cell_timeout, cell_timeout)))
        seconds = time.thread_time() - started
        if os.getpid() != me:  # a copy the student's code forked: it must not speak for the child
            os._exit(0)
        send_message(sock, {"op": "cell_done", "index": index, "error": error, "output": output.take(),
                            "output_total": output.total, "seconds": seconds, "displays": KeptDisplays.take()})
        if index in checkpoints:
            send_message(sock, {"op": "checkpoint", "index": index})
            serve(sock, shell.user_ns, cell_timeout, me)
    send_message(sock, {"op": "ready"})
    serve(sock, shell.user_ns, cell_timeout, me, shell, watch)


def render_snapshots(sock, request):
    """Render mode, after the verdicts: draw each pickled figure of `request["figures"]` as PNG and send it
    ({"op": "rendered", "index", "png"}, png None when it could not be drawn). At the lowest priority: the next
    students' grading, in other children of this machine, comes first."""
    import base64

    os.nice(19)
    timeout = request["limits"]["cell_timeout"]
    for index, data in enumerate(request.get("figures", ())):
        time.sleep(float(request.get("delay", 0)))  # a test's hook: a render made slow on purpose
        png = None
        arm(timeout, 4 * timeout)  # wall time: at nice 19, other work may hold the processors
        try:
            png = figure_png(pickle.loads(base64.b64decode(data)))
        except BaseException:  # CellTimeout, or a snapshot that does not load or draw: the placeholder says so
            png = None
        finally:
            disarm()
        send_message(sock, {"op": "rendered", "index": index,
                            "png": base64.b64encode(png).decode("ascii") if png else None})


# Introspection that could read a test's source or expected values out of the grader's frames or memory. Always
# watched: an honest notebook has no need of them. While a test runs, frame access (sys._getframe, a traceback's
# tb_frame) is watched too: only a function that looks at its caller needs it then.
ALWAYS_WATCHED = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames",
                            "sys.settrace", "sys.setprofile", "sys.addaudithook"})
WATCHED_IN_TESTS = frozenset({"sys._getframe", "object.__getattr__"})
# the modules whose functions tests assert with, compared with (and put back to) what they were before the
# student's first cell; besides, every name of `builtins`
ASSERT_MODULES = ("math", "operator", "numpy", "numpy.testing")


class Watch:
    """What the student's code did to the tests' footing: changed builtins or assert-relevant modules, and
    introspection (audit events) that could read a test. The audit hook cannot be removed once added."""

    def __init__(self):
        import builtins

        self.modules = {name: (sys.modules[name], dict(vars(sys.modules[name])))
                        for name in ("builtins", *ASSERT_MODULES) if name in sys.modules}
        self.events, self.testing, self.seen = [], [False], [0]
        events, testing, seen = self.events, self.testing, self.seen

        def hook(event, args, events=events, testing=testing, seen=seen):
            if event in ALWAYS_WATCHED or (testing[0] and event in WATCHED_IN_TESTS and not (
                    event == "object.__getattr__" and args[1:2] != ("tb_frame",))):
                seen[0] += 1
                if len(events) < 20 and event not in events:
                    events.append(event)
        sys.addaudithook(hook)
        self.builtins = builtins

    def restore(self) -> list:
        """Put back every watched module's names as they were; the ones the student's code had changed."""
        changed = []
        for name, (module, before) in self.modules.items():
            now = vars(module)
            for key in set(now) - set(before) - {"_", "__"}:
                if type(now[key]) is type(sys) and now[key] is sys.modules.get(f"{name}.{key}"):
                    continue  # a submodule imported since (numpy.testing), as an honest import adds it
                changed.append(f"{name}.{key}")
                del now[key]
            for key, value in before.items():
                if now.get(key, KeyError) is not value:
                    changed.append(f"{name}.{key}")
                    now[key] = value
        return sorted(changed)


def run_test(shell, source, timeout, watch):
    """Run one of the course's test cells as nbgrader would, after the student's cells: its error, stdout and
    stderr apart, and the text of its result (nbgrader's partial credit)."""
    stdout, stderr = BoundedOutput(MAX_MESSAGE // 8), BoundedOutput(MAX_MESSAGE // 8)
    kept_out, kept_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = stdout, stderr
    hook = shell.displayhook
    shown = []
    hook.write_output_prompt = lambda: None  # the result is sent back, not printed
    hook.write_format_data = lambda data, md=None: shown.append(data.get("text/plain"))
    shell.showtraceback = lambda *args, **kwargs: None  # the error is sent back; formatting it reads tb_frame
    watch.testing[0] = True
    try:
        error = run_cell(shell, source, timeout)
    finally:
        watch.testing[0] = False
        sys.stdout, sys.stderr = kept_out, kept_err
        del hook.write_output_prompt, hook.write_format_data, shell.showtraceback
    return {"op": "tested", "error": error, "stdout": stdout.take(), "stderr": stderr.take(),
            "result": shown[-1] if shown and isinstance(shown[-1], str) else None, "events": list(watch.events),
            "seen": watch.seen[0]}


class Exhausted:
    """The student's functions that ran out of time in this child: a later call of one gets only `floor` seconds of
    processor time (an endless loop loops again), then the cell or call goes on with what it had left."""

    def __init__(self):
        self.floor, self.codes, self.shortened = 0.0, set(), {}  # shortened: frame -> (time left, started)

    def note(self, frame):
        """At a timeout: remember every function of the notebook's that was running (the loop may be in any of
        them: a caller looping over honest helpers, or a helper looping for ever)."""
        while frame is not None:
            code = frame.f_code
            if code.co_filename.startswith("<ipython-input-") and code.co_name != "<module>":
                self.codes.add(code)
            frame = frame.f_back

    def watch(self):
        """Before a cell or call: watch the calls of exhausted functions (only once something looped: watching
        slows every call a little; and again, in case a timeout inside the watcher switched it off)."""
        self.shortened.clear()
        if self.floor and self.codes and sys.getprofile() != self.profile:
            sys.setprofile(self.profile)

    def stopped_in(self, frame):
        """The exhausted function whose floor ran out at this timeout, if it was one."""
        while frame is not None and frame not in self.shortened:
            frame = frame.f_back
        return frame.f_code.co_name if frame is not None else None

    def profile(self, frame, event, arg):
        if event == "call" and frame.f_code in self.codes:
            left = signal.getitimer(signal.ITIMER_PROF)[0]
            if left > self.floor:
                self.shortened[frame] = (left, time.thread_time())
                signal.setitimer(signal.ITIMER_PROF, self.floor)
        elif event == "return" and frame in self.shortened:
            left, started = self.shortened.pop(frame)
            signal.setitimer(signal.ITIMER_PROF, max(0.001, left - (time.thread_time() - started)))


EXHAUSTED = Exhausted()
STOPPED_IN = []  # the exhausted function the last timeout stopped, if any
STRUCK = []      # a timeout was raised in the current cell or call
CONNECTION = []  # the child's socket to the grader
TEMPLATES = set()  # in the zygote, the pids of its living templates


def _on_alarm(signum, frame):
    disarm()  # one timeout at a time: the other timer must not interrupt the clean-up of this one
    if STRUCK:  # the student's code caught the timeout and went on: tell the grader, and stop
        send_message(CONNECTION[0], {"op": "timed_out"})
        os._exit(0)
    STRUCK.append(True)
    signal.setitimer(signal.ITIMER_PROF, max(EXHAUSTED.floor, 0.1))  # time to wind down, only if it is caught
    STOPPED_IN[:] = [EXHAUSTED.stopped_in(frame)]
    EXHAUSTED.note(frame)
    raise CellTimeout()


def _timeout_text(what, timeout):
    """What ran too long: `what` (the cell, it) for `timeout` seconds, or an exhausted function for the floor."""
    name = STOPPED_IN[0] if STOPPED_IN else None
    if name:
        return f"{name}, which had already run out of time once, ran longer than {EXHAUSTED.floor:.3g} seconds"
    return f"{what} ran longer than {timeout:.3g} seconds"


def arm(processor_seconds, wall_seconds):
    """CellTimeout in the student's code after this much processor time (an endless loop) or wall time (a wait)."""
    STOPPED_IN.clear()
    STRUCK.clear()
    EXHAUSTED.watch()
    signal.setitimer(signal.ITIMER_PROF, processor_seconds)
    signal.setitimer(signal.ITIMER_REAL, wall_seconds)


def disarm():
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.setitimer(signal.ITIMER_PROF, 0)


def run_cell(shell, source, timeout, wall_timeout=None):
    arm(timeout, wall_timeout or timeout)
    try:
        result = shell.run_cell(source, store_history=False)
    except CellTimeout:  # raised outside the cell's own code, e.g. while IPython compiled it
        return {"type": "CellTimeout", "text": _timeout_text("the cell", timeout)}
    finally:
        disarm()
    error = result.error_before_exec or result.error_in_exec
    if error is None:
        return None
    if isinstance(error, CellTimeout):
        return {"type": "CellTimeout", "text": _timeout_text("the cell", timeout)}
    return {"type": type(error).__name__, "text": _text(error)}


def _text(error):
    try:
        return str(error)[:500]
    except BaseException:
        return "(the error could not be shown)"


def serve(sock, namespace, timeout, me, shell=None, watch=None):
    """Answer the grader's requests (which names exist, their values, calls) until it says `continue`."""
    rebound = {}  # name -> the student's own value, while the grader's function stands in for it
    while True:
        if os.getpid() != me:
            os._exit(0)
        request = recv_message(sock, MAX_REQUEST)
        if request is not None and request["op"] == "continue":
            rebind(sock, namespace, {}, rebound)
            return
        if request is None or request["op"] == "bye":
            shutil.rmtree(os.getcwd(), ignore_errors=True)  # so the zygote need not clean up after us
            os._exit(0)
        if request["op"] == "names":
            kinds = {}
            for name in request["names"]:
                if name not in namespace:
                    kinds[name] = "missing"
                else:
                    kinds[name] = "function" if callable(namespace[name]) else "value"
            send_message(sock, {"op": "names", "kinds": kinds})
        elif request["op"] == "get":
            value = namespace.get(request["name"])
            reply_within_limit(sock, {"op": "value", "value": encode(value)},
                               {"op": "value", "value": {"opaque": type(value).__name__[:100], "text": "too large"}})
        elif request["op"] == "call":
            wall = min(timeout, float(request.get("timeout", timeout)))  # the grader's budgets for this call
            budget = min(wall, float(request.get("processor_seconds", wall)))
            reply_within_limit(sock, call(sock, namespace.get(request["name"]), request["args"], budget, wall),
                               {"op": "raise", "type": "ValueError", "text": "it returned {}"})
        elif request["op"] == "restore" and watch is not None:
            send_message(sock, {"op": "restored", "changed": watch.restore()[:50], "events": list(watch.events),
                                "seen": watch.seen[0]})
        elif request["op"] == "test" and watch is not None and type(request.get("source")) is str:
            reply_within_limit(sock, run_test(shell, request["source"], timeout, watch),
                               {"op": "tested", "error": {"type": "ValueError", "text": "output too large"},
                                "stdout": "", "stderr": "", "result": None, "events": list(watch.events),
                                "seen": watch.seen[0]})
        elif request["op"] == "rebind":
            rebind(sock, namespace, request["names"], rebound)
            send_message(sock, {"op": "rebound"})


def rebind(sock, namespace, names, rebound):
    """Put back what an earlier rebind replaced, then let each of `names` call the grader's function instead
    (a reference helper during a re-check: the reference itself stays in the grader)."""
    swap_in(namespace, {name: _callback_proxy(sock, data, grader_time=True) for name, data in names.items()}, rebound)


def reply_within_limit(sock, reply, instead):
    """Send `reply`, or `instead` (its "text" naming the size) when the grader would refuse one that large."""
    try:
        send_message(sock, reply, MAX_MESSAGE)
    except MessageTooLarge as error:
        if "text" in instead:
            instead = {**instead, "text": instead["text"].format(error)}
        send_message(sock, instead)


def call(sock, function, encoded_args, timeout, wall_timeout=None):
    args = decode(encoded_args, lambda data: _callback_proxy(sock, data))
    started = time.thread_time()  # precise; process time is counted in ticks while a timer runs
    arm(timeout, wall_timeout or timeout)
    try:
        result = function(*args)
        disarm()
        seconds = time.thread_time() - started
        mark_callables = lambda fn: {"callable": 0}  # noqa: E731
        return {"op": "return", "result": encode(result), "args_after": encode(args, mark_callables),
                "seconds": seconds}
    except CellTimeout:
        return {"op": "raise", "type": "TimeoutError", "timed_out": True, "stopped_in": STOPPED_IN[0] if STOPPED_IN
                else None, "text": _timeout_text("it", timeout) + " (an endless loop?)"}
    except BaseException as error:
        return {"op": "raise", "type": type(error).__name__, "text": _text(error)}
    finally:
        disarm()


def _callback_proxy(sock, data, grader_time=False):
    """A function given to the student's code that the grader evaluates, e.g. the `grad` of a check; with
    `grader_time` (a reference helper standing in for the student's), the wait for it is not the student's time."""
    def grader_function(*args):
        message = {"op": "callback", "id": data["callable"], "args": encode(args)}
        left = signal.setitimer(signal.ITIMER_REAL, 0)[0] if grader_time else 0
        try:
            send_message(sock, message, MAX_MESSAGE)
            reply = recv_message(sock, MAX_REQUEST)
        finally:
            if left:
                signal.setitimer(signal.ITIMER_REAL, left)
        if reply is None:
            os._exit(3)
        if reply["op"] == "callback_error":
            raise ValueError(reply["text"])
        return decode(reply["value"])

    grader_function.__name__ = str(data.get("name", "function"))
    return grader_function


def clean_up(child_uid):
    """Kill everything the child left running, collect the dead, and remove its files.

    As root the child had a uid of its own, and every process of that uid is the child's. Otherwise the child shares
    our uid: what it left is whatever descends from us (we are the subreaper, so its orphans become our children)
    but our templates."""
    deadline = time.monotonic() + 2
    if child_uid >= 0:
        while _processes_of(child_uid) or os.listdir(WORK):
            _kill_all_of(child_uid)
            _reap()
            if time.monotonic() > deadline:
                break
            time.sleep(0.002)  # SIGKILLed processes take a moment to die
    else:
        while (left := _descendants(TEMPLATES)) or os.listdir(WORK):
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            _reap()
            _wipe()
            if time.monotonic() > deadline:
                break
            time.sleep(0.002)
    _reap()


def _descendants(spared) -> list:
    """The living processes that descend from this one, not counting `spared` and theirs."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()  # the name, in parentheses, may hold anything
            except (OSError, IndexError):
                continue
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, frontier = [], [os.getpid()]
    while frontier:
        for pid in children.get(frontier.pop(), ()):
            if pid not in spared:
                found.append(pid)
                frontier.append(pid)
    return found


def _kill_all_of(uid):
    """As the student's user, kill(-1) reaches exactly the student's processes; then remove their files."""
    helper = os.fork()
    if helper == 0:
        try:
            drop_privileges(uid)
            for _ in range(3):
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _wipe()
        finally:
            os._exit(0)
    os.waitpid(helper, 0)


def _reap():
    """We are the subreaper: collect every orphan that has died (and forget the templates among them: their pids may
    be a student's next)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        TEMPLATES.discard(pid)


def _processes_of(uid):
    """Whether any living (not zombie) process of `uid` is left (in this pid namespace, under bubblewrap)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as status:
                    fields = dict(line.split(":", 1) for line in status if ":" in line)
                if int(fields["Uid"].split()[0]) == uid and not fields["State"].strip().startswith("Z"):
                    return True
            except (OSError, ValueError, KeyError):
                continue
    return False


def _wipe():
    """Remove everything under WORK, whatever modes the student gave it (a 0500 folder keeps its entries otherwise)."""
    for root, folders, _ in os.walk(WORK):
        for name in folders:
            try:
                os.chmod(os.path.join(root, name), 0o700, follow_symlinks=False)
            except OSError:
                pass
    for entry in os.listdir(WORK):
        path = os.path.join(WORK, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def zygote(control, child_uid):
    """Serve the grader: one `run` packet (carrying the child's socket) at a time, each answered by
    an `exited` packet once the child and everything it started are gone."""
    # neither the zygote nor its templates may be read or written through /proc or ptrace by a child that shares
    # their uid (when the grader is not root): it would reach the next students' runs
    LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    os.makedirs(WORK, exist_ok=True)
    os.chmod(WORK, 0o1777)
    warm_up()
    send_packet(control, {"op": "warm"})
    serve_runs(control, child_uid, None)


def serve_runs(control, child_uid, shell):
    """Fork a child for each `run`; a `template` packet forks a process that first runs the course's
    own leading cells (the worked example) and then serves runs of its own, children starting from there."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    while True:
        message, fds = receive_packet(control)
        if message is None:
            return
        if message.get("op") == "ping":  # the grader asks whether we still serve (a student may stop us)
            send_packet(control, {"op": "pong"})
            continue
        if message.get("op") == "template" and fds:
            TEMPLATES.add(start_template(control, socket.socket(fileno=fds[0]), message["cells"], child_uid))
            continue
        if message.get("op") != "run" or not fds:
            continue  # e.g. a kill that crossed the child's natural end
        child_sock = socket.socket(fileno=fds[0])
        pid = os.fork()
        if pid == 0:
            control.close()
            try:
                run_child(child_sock, child_uid, shell)
            except BaseException:  # our own failure, not the student's: tell the grader what it was
                import traceback

                try:
                    send_message(child_sock, {"op": "sandbox_error", "text": traceback.format_exc()[-2000:]})
                except BaseException:
                    pass
            finally:
                os._exit(0)
        child_sock.close()
        status, max_rss_kb = wait_for(pid, control)
        clean_up(child_uid)
        if status == "grader gone":
            return
        send_packet(control, {"op": "exited", "status": status, "max_rss_kb": max_rss_kb})


def start_template(control, template_control, cells, child_uid) -> int:
    """Fork a template: it runs `cells` (the course's, never a student's) once, then serves runs; its pid.

    A cell that fails is reported instead of `warm`: every submission needs what these cells define."""
    pid = os.fork()
    if pid != 0:
        template_control.close()
        return pid
    control.close()
    TEMPLATES.clear()  # the zygote's, not ours
    try:
        sys.stdout = sys.stderr = BoundedOutput(0)
        shell = new_shell()
        shell.display_formatter.active_types = ["text/plain"]  # the course's own figures: nobody's output to keep
        for number, source in enumerate(cells):
            result = shell.run_cell(source, store_history=False)  # the grader bounds how long it waits
            error = result.error_before_exec or result.error_in_exec
            if error is not None:
                send_packet(template_control, {"op": "template_failed", "cell": number,
                                               "type": type(error).__name__, "text": _text(error)})
                return pid
        shell.display_formatter.active_types = ["text/plain", "image/png"]
        send_packet(template_control, {"op": "warm"})
        serve_runs(template_control, child_uid, shell)
    finally:
        os._exit(0)


def send_packet(control, message):
    control.send(json.dumps(message).encode())


def receive_packet(control):
    data, fds, _, _ = socket.recv_fds(control, 65536, 4)
    if not data:
        return None, fds
    return json.loads(data), fds


def wait_for(pid, control):
    """Wait until the child ends or the grader says kill; describe how it ended."""
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            ready, _, _ = select.select([control, pidfd], [], [])
            if pidfd in ready:
                _, status, usage = os.wait4(pid, 0)
                if os.WIFSIGNALED(status):
                    return f"killed by signal {signal.Signals(os.WTERMSIG(status)).name}", usage.ru_maxrss
                return f"exit status {os.WEXITSTATUS(status)}", usage.ru_maxrss
            message, _ = receive_packet(control)
            os.kill(pid, signal.SIGKILL)
            if message is None:
                os.waitpid(pid, 0)
                return "grader gone", 0
    finally:
        os.close(pidfd)


def main():
    control = socket.socket(fileno=int(sys.argv[1]))
    zygote(control, int(sys.argv[2]))


if __name__ == "__main__":
    main()
