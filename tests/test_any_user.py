"""The same grades for any user (issue 22): a user without privileges gets, for every notebook of the sample class,
the scores root gets, with the isolation such a user can have (bubblewrap in a user namespace) and a warning saying
what is weaker; root and that user grade at once on one machine; a course whose own first cells fail is an error.

Run as root, the user is a system user made for it (`agtest`), and the grader is what a user installs: a copy of the
project pip-installed (not editable) into a virtual environment of that user, run in a copy of the course the user
owns. Run as anyone else, the current user is the one tested (and no second user can grade at the same time)."""
import contextlib
import json
import os
import pwd
import shutil
import signal
import statistics
import site
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest

from autograder.grading.batch import SubmittedNotebook, grade_batch
from autograder.course.config import load_course
from builders import replaced, solution, write
from course_files import ROOT
from make_class import EXPECTED

pytestmark = pytest.mark.slow

USER = "agtest"
A1 = "01-gradient-descent"
COURSE_FILES = ("source", "release", "samples", "course_config.py", "nbgrader_config.py", "hidden")


def _grading_user() -> str:
    """As root, a system user for these tests (made once); else the current user."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    made = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                           "--shell", "/usr/sbin/nologin", USER], capture_output=True, text=True)
    assert made.returncode in (0, 9), made.stderr  # 9: the user exists already
    return USER


def _as_user(user: str, command: list[str]) -> list[str]:
    """`command` run as `user`. A folder on the interpreter's path that others may not enter (pyenv's under /root,
    0700) is replaced, for that command only, by an open one holding just the interpreter's part of it."""
    if os.geteuid() != 0:
        return command
    reveal, hidden = [], set()
    for prefix in sorted({sys.base_prefix, sys.prefix, *site.getsitepackages()}):
        if not Path(prefix).exists():  # Debian's site lists dist-packages folders a venv may not have
            continue
        for parent in reversed(Path(prefix).parents):
            if not parent.stat().st_mode & stat.S_IXOTH:
                inner = Path(prefix).parts[:len(parent.parts) + 1]
                if parent not in hidden:
                    reveal += ["--perms", "0755", "--tmpfs", str(parent)]
                    hidden.add(parent)
                reveal += ["--ro-bind", str(Path(*inner)), str(Path(*inner))]
                break
    return ["bwrap", "--dev-bind", "/", "/", *reveal, shutil.which("runuser"), "-u", user, "--", *command]


def _clean_environment(home: Path) -> dict:
    """What a user's shell would have: no PYTHONPATH leading to this checkout."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


@pytest.fixture(scope="module")
def installed():
    """(user, workspace, python): the project installed as a user would, in a folder that user owns."""
    user = _grading_user()
    workspace = Path(tempfile.mkdtemp(prefix="autograder-any-user-"))  # under /tmp: pytest's own folders are 0700
    try:
        yield user, workspace, _install(user, workspace)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def _install(user: str, workspace: Path) -> str:
    """The user's python, with a copy of the project installed (not editable) and a copy of the course beside it."""
    for name in COURSE_FILES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        (workspace / "course" / name).parent.mkdir(parents=True, exist_ok=True)
        copy(ROOT / name, workspace / "course" / name)
    shutil.copytree(ROOT / "autograder", workspace / "project" / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", workspace / "project")
    record = pwd.getpwnam(user)
    for folder, _, names in os.walk(workspace):
        for path in [folder, *(os.path.join(folder, name) for name in names)]:
            os.chown(path, record.pw_uid, record.pw_gid)
    env, python = _clean_environment(workspace), str(workspace / "venv" / "bin" / "python")
    for step in ([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(workspace / "venv")],
                 [python, "-c", "import pathlib, site, sys; pathlib.Path(site.getsitepackages()[0], 'deps.pth')"
                                f".write_text({_dependencies()!r})"],
                 [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-cache-dir",
                  str(workspace / "project")]):
        done = subprocess.run(_as_user(user, step), capture_output=True, text=True, env=env, cwd=workspace)
        assert done.returncode == 0, f"{step}: {done.stderr[-3000:]}"
    where = subprocess.run(_as_user(user, [python, "-c", "import autograder; print(autograder.__file__)"]),
                           capture_output=True, text=True, env=env, cwd=workspace / "course")
    assert where.stdout.startswith(str(workspace / "venv")), where.stdout + where.stderr  # the installed copy
    return python


def _dependencies() -> str:
    """A .pth line giving the user's environment the grader's dependencies: the test interpreter's packages (in a
    virtual environment of its own, they are not its base interpreter's, which --system-site-packages gives)."""
    folders = [path for path in site.getsitepackages() if not path.startswith(sys.base_prefix)]
    return "import site; " + "; ".join(f"site.addsitedir({folder!r})" for folder in folders) + "\n"


def _demo(command, folder: Path, **kwargs) -> dict:
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    results = {}
    if done.returncode == 0:
        for assignment in EXPECTED:
            results[assignment] = {entry["student"]: entry for entry in
                                   json.loads((folder / f"{assignment}.json").read_text())}
    return {"done": done, "results": results, "started": started, "ended": time.monotonic()}


@pytest.fixture(scope="module")
def graded(installed):
    """The demo graded by the user, and (when the test is root) by root at the same time."""
    user, workspace, python = installed
    runs = {}
    if os.geteuid() == 0:
        folder = workspace / "root-demo"
        root = threading.Thread(target=lambda: runs.update(root=_demo(
            [sys.executable, "-m", "autograder", "demo", "--folder", str(folder)], folder, cwd=ROOT)))
        root.start()
        deadline = time.monotonic() + 60
        while not Path(tempfile.gettempdir(), "autograder-slots", "0").exists() and time.monotonic() < deadline:
            time.sleep(0.1)  # root's sandbox holds a slot: the user starts while root's files are there
    folder = workspace / "demo"
    runs["user"] = _demo(_as_user(user, [python, "-m", "autograder", "demo", "--folder", str(folder)]), folder,
                         cwd=workspace / "course", env=_clean_environment(workspace))
    if os.geteuid() == 0:
        root.join()
    for who, run in runs.items():
        print(f"{who}: the demo took {run['ended'] - run['started']:.1f} s")
    return runs


def test_a_user_without_privileges_gets_the_scores_root_gets_for_every_notebook(graded):
    done, results = graded["user"]["done"], graded["user"]["results"]
    assert done.returncode == 0, done.stderr[-3000:]
    for assignment, expected in EXPECTED.items():
        assert {student: entry["score"] for student, entry in results[assignment].items()} == expected, assignment
        assert f"{assignment}: 12 submissions in" in done.stdout
    assert done.stdout.count("graded: 12   errors: 0") == len(EXPECTED)
    if "root" in graded:  # and check by check, the same as root's grading of the same class
        for assignment, by_root in graded["root"]["results"].items():
            for student, entry in by_root.items():
                theirs = results[assignment][student]
                assert theirs["status"] == entry["status"] == "graded"
                assert [(test["name"], test["score"]) for test in theirs["tests"]] == \
                    [(test["name"], test["score"]) for test in entry["tests"]], (assignment, student)


def test_the_user_is_told_once_what_isolation_is_weaker(graded):
    stderr = graded["user"]["done"].stderr
    assert stderr.count("isolation is weaker than as root") == 1
    assert "a submission can signal the sandbox's own processes" in stderr


def test_root_and_a_user_grade_at_once_on_one_machine(graded, installed):
    if "root" not in graded:
        pytest.skip("only root can make a second user grade beside it")
    user, workspace, _ = installed
    root, theirs = graded["root"], graded["user"]
    assert root["done"].returncode == 0, root["done"].stderr[-3000:]
    assert theirs["done"].returncode == 0, theirs["done"].stderr[-3000:]
    assert theirs["started"] < root["ended"] and root["started"] < theirs["ended"]  # they did overlap
    for assignment, expected in EXPECTED.items():
        assert {student: entry["score"] for student, entry in root["results"][assignment].items()} == expected
    folder = Path(tempfile.gettempdir(), f"autograder-{pwd.getpwnam(user).pw_uid}")
    assert folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) == 0o700  # the user's own slots and stages
    assert folder.stat().st_uid == pwd.getpwnam(user).pw_uid


def test_a_course_whose_first_cells_fail_makes_each_submission_an_error(course, tmp_path):
    """Every submission skips those cells (a template ran them): without them each would score 0 in silence."""
    root = tmp_path / "course"
    for name in COURSE_FILES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        copy(ROOT / name, root / name)
    broken = load_course(root)
    notebook = nbformat.read(str(broken.source_notebook(A1)), as_version=4)
    write(replaced(notebook, "imports", "import numpy as np\nimport not_installed_anywhere"),
          broken.source_notebook(A1))
    submissions = [SubmittedNotebook(student, write(solution(course, A1), tmp_path / student / "a.ipynb"), None)
                   for student in ("ada", "bob")]
    results = []
    summary = grade_batch(broken, A1, None, workers=1, submissions=submissions, progress=False,
                          on_result=results.append)
    assert (summary.graded, summary.errors) == (0, 2)
    for result in results:
        assert result.status == "error" and result.score == 0
        assert "cell 1 of the course's cells before the first exercise raised ModuleNotFoundError: No module " \
               "named 'not_installed_anywhere'" in result.reason


STUDENT_VS_SANDBOX = r'''
import json, os, signal, sys, time
from autograder.course.config import load_course
from autograder.engine.sandbox import Sandbox

ATTACK = """
import os, signal
seen = {}
for pid in (p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())):
    try:
        open(f"/proc/{pid}/mem", "rb").read(1); seen["memory"] = "read"
    except OSError as error:
        seen.setdefault("memory", error.strerror)
for where in ("/tmp/left-behind", "/dev/left-behind"):
    try:
        open(where, "w").write("x"); seen[where] = "written"
    except OSError as error:
        seen[where] = error.strerror
print(seen)
for pid in (p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())):
    os.kill(int(pid), signal.SIG)
"""

def run_cell(sandbox, source, prefix):
    run = sandbox.run([(0, source)], time.monotonic() + 30, prefix)
    while run.advance() is not None:
        pass
    run.close()
    return run.outcomes[0].output if run.outcomes else run.ended

with Sandbox(load_course(".")) as sandbox:
    prefix = ("import numpy as np",)
    report = {}
    for signal_name in ("SIGSTOP", "SIGKILL"):
        report[signal_name] = run_cell(sandbox, ATTACK.replace("signal.SIG", "signal." + signal_name), prefix)
        report[signal_name + " next"] = run_cell(sandbox, "print(np.arange(3).sum())", prefix)
    print(json.dumps(report))
'''


def test_a_submission_that_shares_the_sandboxs_user_cannot_reach_the_next_one(installed):
    """What the shared uid allows (signals) costs only that submission; what it would need to reach the next one
    (the zygote's memory, files in the sandbox's /tmp or /dev) is refused."""
    user, workspace, python = installed
    done = subprocess.run(_as_user(user, [python, "-c", STUDENT_VS_SANDBOX]), capture_output=True, text=True,
                          cwd=workspace / "course", env=_clean_environment(workspace), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    for signal_name in ("SIGSTOP", "SIGKILL"):
        assert report[signal_name + " next"] == "3\n"
    seen = report["SIGSTOP"]  # the first attack ran to its end and printed
    assert "'memory': 'Permission denied'" in seen
    for where in ("/tmp", "/dev"):
        assert f"'{where}/left-behind': 'Read-only file system'" in seen


def test_a_user_without_privileges_releases_and_grades_an_nbgrader_course_with_nbgraders_scores(installed, tmp_path):
    """nbgrader's user-guide ps1 as it is (issue 28), in a folder the user owns: the user releases and grades it, and
    every cell's score in the user's gradebook is the one `nbgrader autograde` gives (run here on a copy, as the
    agreement test does)."""
    from test_nbgrader_course import PS1, autograde, nbgrader_cells

    user, workspace, python = installed
    ours, theirs = workspace / "ps1", tmp_path / "ps1"
    for root in (ours, theirs):
        shutil.copytree(PS1 / "source", root / "source")
        shutil.copytree(PS1 / "submitted", root / "submitted")
        (root / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'ps1course'\n")
    record = pwd.getpwnam(user)
    for folder, _, names in os.walk(ours):
        for path in [folder, *(os.path.join(folder, name) for name in names)]:
            os.chown(path, record.pw_uid, record.pw_gid)
    said = []
    for verb in ("release", "grade"):
        started = time.monotonic()
        done = subprocess.run(_as_user(user, [python, "-m", "autograder", verb, "ps1"]), capture_output=True,
                              text=True, cwd=ours, env=_clean_environment(workspace), timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        said.append(done.stdout)
        print(f"{verb} as {user}: {time.monotonic() - started:.1f} s")
    assert said[0].startswith("released release/ps1: problem1.ipynb, problem2.ipynb and jupyter.png")
    assert (ours / "release" / "ps1" / "jupyter.png").stat().st_uid == record.pw_uid
    autograde(theirs, "ps1")
    students, notebooks = ("bitdiddle", "hacker"), ("problem1", "problem2")
    expected = nbgrader_cells(theirs, "ps1", students, notebooks)
    assert nbgrader_cells(ours, "ps1", students, notebooks) == expected
    totals = [sum(score or 0 for (who, _, _), score in expected.items() if who == student) for student in students]
    # and the summary's (the pipeline's, as for any assignment) mean and median are of nbgrader's totals
    assert f"score: mean {statistics.mean(totals):.2f}, median {statistics.median(totals):.2f}" in said[1]


def test_a_user_without_privileges_serves_an_nbgrader_course_with_nbgraders_scores(installed, tmp_path):
    """ps1 served by `autograder serve` run as a user without privileges, from the user's non-editable install, in a
    folder the user owns (issue 28): bitdiddle and hacker upload both notebooks as one attempt each through HTTP, and
    every cell's score in the user's gradebook is the one `nbgrader autograde` gives (run here on a copy)."""
    import re

    import requests

    from test_nbgrader_course import PS1, autograde, nbgrader_cells

    user, workspace, python = installed
    ours, theirs = workspace / "ps1-served", tmp_path / "ps1"
    for root in (ours, theirs):
        shutil.copytree(PS1 / "source", root / "source")
        (root / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'ps1course'\n")
    shutil.copytree(PS1 / "submitted", theirs / "submitted")
    record = pwd.getpwnam(user)
    for folder, _, names in os.walk(ours):
        for path in [folder, *(os.path.join(folder, name) for name in names)]:
            os.chown(path, record.pw_uid, record.pw_gid)
    students, notebooks = ("bitdiddle", "hacker"), ("problem1", "problem2")
    env = _clean_environment(workspace)
    server = subprocess.Popen(_as_user(user, [python, "-m", "autograder", "serve", "--port", "0", "--workers", "1"]),
                              cwd=ours, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = "http://127.0.0.1:" + re.search(r"127\.0\.0\.1:(\d+)", server.stdout.readline()).group(1)
        printed = subprocess.run(_as_user(user, [python, "-m", "autograder", "serve", "links", "--create", "--url",
                                                 url, *(f"--student={student}" for student in students)]),
                                 cwd=ours, env=env, capture_output=True, text=True, timeout=120)
        assert printed.returncode == 0, printed.stderr[-3000:]
        links = {line.split("\t")[1]: line.split("\t")[2] for line in printed.stdout.splitlines()}
        for student in students:
            client = requests.Session()
            client.get(links[student], timeout=30)
            deadline = time.monotonic() + 60  # the service releases the assignment (nbgrader's way) as it starts:
            while (page := client.get(f"{url}/assignments/ps1", timeout=30)).status_code == 503:  # "Almost ready"
                assert page.headers["Retry-After"] == "5" and time.monotonic() < deadline, \
                    "ps1 was not offered within 60 s of the start"
                time.sleep(0.5)
            assert page.status_code == 200, page.text[:500]
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            files = [("notebook", (f"{name}.ipynb", (PS1 / "submitted" / student / "ps1" / f"{name}.ipynb")
                                   .read_bytes())) for name in notebooks]
            answer = client.post(f"{url}/assignments/ps1/attempts", data={"csrf_token": token}, files=files,
                                 allow_redirects=False, timeout=60)
            assert answer.status_code == 303, answer.text[:500]
            path = answer.headers["Location"].removeprefix(url)
            deadline = time.monotonic() + 180
            while not client.get(f"{url}{path}/status?wait=5", timeout=30).json()["done"]:
                assert time.monotonic() < deadline, f"{student}'s attempt was not graded within 180 s"
    finally:
        _end_tree(server)
    autograde(theirs, "ps1")
    expected = nbgrader_cells(theirs, "ps1", students, notebooks)
    assert nbgrader_cells(ours, "ps1", students, notebooks) == expected
    assert all(path.stat().st_uid == record.pw_uid for path in (ours / "autograded").rglob("*"))


def _end_tree(process: subprocess.Popen) -> None:
    """Stop `process` and everything it started: a SIGTERM to the bwrap/runuser wrapper does not reach the user's
    server, which would outlive the test."""
    def descendants(pid: int) -> list[int]:
        children = []
        for stat_file in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat_file.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                child = int(stat_file.parent.name)
                children += [child, *descendants(child)]
        return children

    tree = [process.pid, *descendants(process.pid)]
    for pid in reversed(tree):  # the server first: it stops its sandboxes itself
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in tree[1:]):
        time.sleep(0.2)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=10)
