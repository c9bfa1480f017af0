"""Every hostile submission of the catalogue and an honest control per assignment, graded once, in one real
batch per assignment (`grade_batch`: 3 sandboxes, nbgrader's SQLite gradebook, the JSON report), with short
limits so endless loops cost seconds. The tests then read what happened."""
from __future__ import annotations

import dataclasses
import json
import os
import resource
import shutil
import socket
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.grading.batch import grade_batch
from autograder.checking.checks import check_file
from autograder.course.config import load_course
from autograder.grading.grade import assignment_spec
from autograder.results.model import SubmissionResult
from builders import solution, write
from catalogue import A1, BY_STUDENT, CONTROL, HOSTILE, Targets, victim_answers_text
from expectations import digest

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3


class Listener:
    """A TCP server on 127.0.0.1 and an abstract unix socket that record every connection they accept."""

    def __init__(self):
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.abstract_name = f"autograder-adversarial-{uuid.uuid4().hex}"
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.abstract_name)
        self.unix.listen()
        self.connections: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, args=(server,), daemon=True)
                         for server in (self.tcp, self.unix)]
        for thread in self._threads:
            thread.start()

    @property
    def port(self) -> int:
        return self.tcp.getsockname()[1]

    def _accept(self, server):
        server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                connection, address = server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections.append(repr(address))
            connection.close()

    def close(self):
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self.tcp.close()
        self.unix.close()


@dataclass
class HostileBatch:
    course: object                 # the graded course copy, with short limits
    targets: Targets
    secrets: tuple[str, ...]       # planted where students must not read; never in any output
    results: dict                  # (assignment, student) -> SubmissionResult
    finished: list                 # (assignment, student) in the order results arrived
    json_reports: dict             # assignment -> the --json report, parsed
    connections: list              # what the loopback listeners accepted
    digests_before: dict           # path -> sha256 of files no submission may change
    rss_growth_mb: float           # how much the grader's peak memory grew during the batch
    summaries: dict                # assignment -> BatchSummary

    def result(self, student: str) -> SubmissionResult:
        return self.results[(BY_STUDENT[student].assignment, student)]

    def control(self, assignment: str) -> SubmissionResult:
        return self.results[(assignment, CONTROL)]

    def honest_points(self, assignment: str, lost=(), earns=None) -> dict:
        """grade id -> points each autograded exercise earns when only the exercises in `lost` fail, those earning
        the partial credit in `earns` (exercise -> points) if any."""
        spec = assignment_spec(self.course, assignment)
        unknown = (set(lost) | set(earns or {})) - {exercise.name for exercise in spec.exercises}
        assert not unknown, f"{assignment} has no exercise {unknown}"
        return {e.grade_id: (earns or {}).get(e.name, 0.0) if e.name in lost else e.points for e in spec.exercises}


def copy_course_with_secrets(dest: Path, secret: str) -> Path:
    for name in ("source", "release", "hidden"):
        shutil.copytree(ROOT / name, dest / name)
    shutil.copy(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    (dest / "course_config.py").write_text((ROOT / "course_config.py").read_text() + f"\n# {secret}\n")
    return dest


@pytest.fixture(scope="session")
def hostile_batch(tmp_path_factory) -> HostileBatch:
    folder = tmp_path_factory.mktemp("adversarial")
    secrets = tuple(f"SECRET-{name}-{uuid.uuid4().hex}" for name in ("victim", "source", "config"))
    root = copy_course_with_secrets(folder / "course", secrets[2])
    # figures are not kept: their PNGs cost seconds of processor time under a 2 s cap (test_formgrader_outputs.py)
    course = dataclasses.replace(load_course(root), cell_timeout=2, submission_timeout=30, keep_figures=False)
    listener, outside = Listener(), Path(tempfile.mkdtemp(prefix="adversarial-outside-"))
    try:
        targets = Targets(course_root=root, hidden_checks=check_file(A1),
                          victim_answers=root / "submitted" / CONTROL / A1 / "answers.txt",
                          source_secret=root / "source" / A1 / "secret.txt", outside=outside,
                          port=listener.port, abstract_socket=listener.abstract_name, grader_pid=os.getpid())
        for hostile in HOSTILE:
            write(hostile.build(course, targets), root / "submitted" / hostile.student / hostile.assignment
                  / course.notebook(hostile.assignment))
        for assignment in course.assignments:
            write(solution(course, assignment), root / "submitted" / CONTROL / assignment / course.notebook(assignment))
        targets.victim_answers.write_text(victim_answers_text(secrets[0]))
        targets.source_secret.write_text(secrets[1] + "\n")
        protected = [targets.hidden_checks, targets.source_notebook, root / "course_config.py",
                     root / "submitted" / CONTROL / A1 / course.notebook(A1), targets.victim_answers]
        digests = {path: digest(path) for path in protected}
        results, finished, reports, summaries = {}, [], {}, {}
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for assignment in course.assignments:
            def record(result, assignment=assignment):
                results[(assignment, result.student)] = result
                finished.append((assignment, result.student))
            report = folder / f"{assignment}.json"
            summaries[assignment] = grade_batch(course, assignment, f"sqlite:///{root / 'gradebook.db'}", WORKERS,
                                                report, progress=False, on_result=record)
            reports[assignment] = json.loads(report.read_text())
        growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
        yield HostileBatch(course, targets, secrets, results, finished, reports, listener.connections, digests,
                           growth, summaries)
    finally:
        listener.close()
        shutil.rmtree(outside, ignore_errors=True)
