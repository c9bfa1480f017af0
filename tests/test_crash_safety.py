"""`autograder grade` killed with SIGKILL at random moments, then run again: every submission is graded
exactly once, with the grades of a clean run, and no sandbox process outlives the killed grader."""
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass

import nbformat
import pytest
from nbgrader.api import Gradebook

from builders import release, write
from course_files import copy_course
from random_submissions import write_submissions

pytestmark = pytest.mark.slow  # kills and restarts real batches

A2 = "02-slopes-and-updates"
NOTEBOOK = "slopes_and_updates"
STUDENTS = 30
SEED = int(os.environ.get("CRASH_SEED", random.randrange(10_000)))  # where the kills land
CLASS_SEED = 2026  # the submissions: a fixed class whose expected points were confirmed by grading


def grade_command(*args):
    return [sys.executable, "-m", "autograder", "grade", A2, "--json", "report.json", "--no-progress", *args]


def committed(root) -> int:
    """How many submissions' grades the gradebook has committed (0 before it exists)."""
    if not (root / "gradebook.db").exists():
        return 0
    db = sqlite3.connect(root / "gradebook.db", timeout=10)  # read-write: it may roll back a killed writer's journal
    try:
        return db.execute("SELECT count(*) FROM autograder_graded").fetchone()[0]
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return 0
        raise
    finally:
        db.close()


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process on this machine."""
    found = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as file:
                    fields = file.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry.name)] = (int(fields[1]), fields[0])
    return found


def pid_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


@dataclass
class Kill:
    committed_before: int    # submissions committed when the grader was killed
    sandbox_processes: int   # the grader's descendants at that moment
    survivors: list          # of those, and of their pid namespaces, what still ran after the wait


def run_and_kill(root, wait_for) -> Kill:
    """Start a grader, call wait_for(grader), SIGKILL it, and return what it left running after 10 s at most."""
    grader = subprocess.Popen(grade_command(), cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(grader)
        table = processes()
        descendants, frontier = set(), {grader.pid}
        while frontier:
            frontier = {pid for pid, (parent, _) in table.items() if parent in frontier} - descendants
            descendants |= frontier
        ours = pid_namespace(os.getpid())
        namespaces = {pid_namespace(pid) for pid in descendants} - {ours, None}
        os.kill(grader.pid, signal.SIGKILL)
        grader.wait()
    finally:
        if grader.poll() is None:
            grader.kill()
            grader.wait()
    deadline = time.monotonic() + 10
    while True:
        survivors = [pid for pid, (_, state) in processes().items() if state != "Z" and (
            pid in descendants or pid_namespace(pid) in namespaces)]
        if not survivors or time.monotonic() > deadline:
            return Kill(committed(root), len(descendants), survivors)
        time.sleep(0.1)


def after_seconds(seconds):
    def wait(grader):
        time.sleep(seconds)
    return wait


def after_committed(root, count, then):
    def wait(grader):
        while grader.poll() is None and committed(root) < count:
            time.sleep(0.02)
        time.sleep(then)
    return wait


@pytest.fixture(scope="module")
def crashed(tmp_path_factory):
    """A batch of 30 submissions killed three times (during start-up, mid-batch, near the end), then run to
    completion; beside it the same batch graded once, cleanly."""
    print(f"CRASH_SEED={SEED}")  # shown on failure: rerun with the same kill points
    rng = random.Random(SEED)
    base = tmp_path_factory.mktemp("crash")
    root = copy_course(base / "course")
    expected = write_submissions(root, [A2], STUDENTS, seed=CLASS_SEED)[A2]
    last = root / "submitted" / max(expected) / A2 / f"{NOTEBOOK}.ipynb"  # graded last: the batch's end is slow
    notebook = nbformat.read(last, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(2)"))
    nbformat.write(notebook, last)
    reference = base / "reference"
    shutil.copytree(root, reference)
    clean = subprocess.run(grade_command(), cwd=reference, capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stderr[-3000:]
    kills = [run_and_kill(root, after_seconds(rng.uniform(0.05, 1.5))),
             run_and_kill(root, after_committed(root, rng.randint(1, STUDENTS // 2), rng.uniform(0, 0.2))),
             run_and_kill(root, after_committed(root, STUDENTS - rng.randint(1, 3), rng.uniform(0, 0.5)))]
    before = committed(root)
    print(f"kills: {kills}; committed before the final run: {before}")
    final = subprocess.run(grade_command(), cwd=root, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-3000:]
    return root, reference, expected, kills, before, final


def grades(root) -> dict:
    """(student, grade cell) -> (auto score, needs manual grade), read through nbgrader's API."""
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return {(submission.student.id, grade.name): (grade.auto_score, grade.needs_manual_grade)
                for submission in gradebook.find_assignment(A2).submissions
                for notebook in submission.notebooks for grade in notebook.grades}


def test_kills_landed_at_start_up_mid_batch_and_near_the_end(crashed):
    _, _, _, kills, before, _ = crashed
    assert [kill.committed_before for kill in kills] == sorted(kill.committed_before for kill in kills)
    assert kills[1].committed_before < STUDENTS and 0 < before < STUDENTS


def test_a_killed_grader_leaves_no_sandbox_process(crashed):
    _, _, _, kills, _, _ = crashed
    assert kills[1].sandbox_processes > 0 and kills[2].sandbox_processes > 0
    assert [kill.survivors for kill in kills] == [[], [], []]


def test_the_rerun_skips_exactly_what_committed(crashed):
    _, _, _, _, before, final = crashed
    assert f"{A2}: {STUDENTS} submissions in" in final.stdout
    assert f"graded: {STUDENTS - before}   errors: 0   skipped, already graded: {before}\n" in final.stdout


def test_every_submission_is_graded_once_as_in_a_clean_run(crashed):
    root, reference, expected, _, _, _ = crashed
    assert grades(root) == grades(reference)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        assert {s.student.id: s.score for s in gradebook.find_assignment(A2).submissions} == expected
        assert sorted(row["student"] for row in gradebook.submission_dicts(A2)) == sorted(expected)
        assert len(gradebook.notebook_submission_dicts(NOTEBOOK, A2)) == STUDENTS
    with sqlite3.connect(root / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*), count(DISTINCT student_id) FROM submitted_assignment").fetchone() \
            == (STUDENTS, STUDENTS)
        assert db.execute("SELECT count(*) FROM autograder_graded").fetchone() == (STUDENTS,)


def test_the_json_report_describes_the_whole_batch(crashed):
    root, reference, _, _, before, _ = crashed
    report = json.loads((root / "report.json").read_text())
    clean = {entry["student"]: entry for entry in json.loads((reference / "report.json").read_text())}
    assert sorted(entry["student"] for entry in report) == sorted(clean)
    assert sum(entry.get("from_earlier_run", False) for entry in report) == before
    for entry in report:
        assert entry["score"] == clean[entry["student"]]["score"]
        assert entry["tests"] == clean[entry["student"]]["tests"]
    assert not (root / ".report.json.partial").exists()


def test_every_autograded_copy_is_whole(crashed):
    root, _, expected, _, _, _ = crashed
    for student in expected:
        folder = root / "autograded" / student / A2
        nbformat.validate(nbformat.read(folder / f"{NOTEBOOK}.ipynb", as_version=4))
        assert json.loads((folder / "results.json").read_text())["student"] == student


def test_a_changed_resubmission_is_regraded(crashed, course):
    root, _, expected, _, _, _ = crashed
    student = sorted(student for student, points in expected.items() if points > 0)[0]
    write(release(course, A2), root / "submitted" / student / A2 / f"{NOTEBOOK}.ipynb")
    again = subprocess.run(grade_command(), cwd=root, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"graded: 1   errors: 0   skipped, already graded: {STUDENTS - 1}\n" in again.stdout
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        assert gradebook.find_submission(A2, student).score == 0
        assert len(gradebook.find_assignment(A2).submissions) == STUDENTS
