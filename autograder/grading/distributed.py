"""Grading on a Dask cluster: `autograder grade ASSIGNMENT --scheduler tcp://HOST:PORT`.

Only the grading moves; the grader keeps its single gradebook writer and JSON report. Each task carries a
notebook's bytes and its student's id (workers on other machines do not see the grader's files) and returns
plain data: `SubmissionResult.to_json()` plus the cells' outputs (of an nbgrader assignment, the text of each of
its notebooks' autograded copies, which the grader writes where the local batch writes them). On a worker, each
thread keeps one warm `Sandbox` for all the tasks it runs. Submissions are streamed: a few tasks per worker
thread are in flight, never the whole batch, and each result is handed on as it arrives (ClusterPool, for the
batch and the service alike). When a worker dies, the scheduler gives its tasks to another worker, and each
submission still yields exactly one result.

Workers grade with their own installed copy of the course; every task carries the grader's fingerprint of
the course (source notebook, hidden checks, limits, grading engine), and a worker whose copy differs refuses
the task rather than grade with other checks.
"""
from __future__ import annotations

import atexit
import dataclasses
import hashlib
import queue
import socket
import tempfile
import threading
import time
from functools import lru_cache
from pathlib import Path

from ..checking.checks import check_file
from ..course.config import Course, load_course
from .grade import assignment_spec, grade_notebook
from ..results.model import SubmissionResult, error_result
from .pipeline import other_assignments
from ..engine.sandbox import Sandbox, SandboxError

CONNECT_TIMEOUT = 5.0      # seconds to reach the scheduler before giving up
WORKER_TIMEOUT = 10.0      # seconds to wait for a first worker when the scheduler has none
TASKS_PER_THREAD = 4       # tasks in flight per worker thread: enough to keep every thread busy
PACKAGE = Path(__file__).resolve().parents[1]
# the modules that run a notebook and its checks, and make an nbgrader assignment's autograded copies
ENGINE = ("grading/grade.py", "course/spec.py", "checking/checks.py", "checking/expect.py",
          "engine/submission.py", "course/notebook.py", "engine/sandbox.py", "engine/sandboxed.py",
          "engine/plain.py", "grading/nbtests.py", "grading/nbresults.py")


class ClusterError(RuntimeError):
    """The cluster cannot grade this batch: unreachable, without workers, or with another course installed."""


_thread = threading.local()   # on a worker: this thread's sandbox
_sandboxes: list[Sandbox] = []
_sandboxes_lock = threading.Lock()


def grade_task(assignment: str, student: str, source: str, notebook: bytes | dict[str, bytes],
               fingerprint: str) -> dict:
    """Grade one notebook (its bytes; of an nbgrader assignment, file name -> the bytes of each of its notebooks)
    in this worker thread's sandbox; the result as plain data.

    `source` is the notebook's path on the grader, named in messages instead of this worker's copy.
    Raises ClusterError when this worker's course is not the grader's."""
    course = load_course()
    if course_fingerprint(course, assignment) != fingerprint:
        raise ClusterError(f"the Dask worker on {socket.gethostname()} has a different version of the course than "
                           f"the grader (course root {course.root}): install the grader's course there with "
                           "`bash install.sh` and restart the worker.")
    if isinstance(notebook, dict):
        return _grade_notebooks(course, assignment, student, notebook)
    spec = assignment_spec(course, assignment)
    others = other_assignments({name: assignment_spec(course, name) for name in course.assignments}, assignment)
    with tempfile.TemporaryDirectory(prefix="autograder-task-") as folder:
        path = Path(folder, Path(source).name)
        path.write_bytes(notebook)
        try:
            result = grade_notebook(_thread_sandbox(course), course, spec, student, path, others)
        except SandboxError as error:
            raise SandboxError(f"on the Dask worker on {socket.gethostname()}: {error}") from None
    _rename(result, str(path), source)
    return {**result.to_json(), "cell_outputs": [[index, output, error]
                                                 for index, (output, error) in result.cell_outputs.items()]}


def _grade_notebooks(course: Course, assignment: str, student: str, notebooks: dict[str, bytes]) -> dict:
    """grade_task for an nbgrader assignment: its notebooks in a folder, graded by their own test cells."""
    from .nbresults import autograded_copies
    from .nbtests import grade_nbgrader_submission, nbgrader_spec

    spec = nbgrader_spec(course, assignment)
    with tempfile.TemporaryDirectory(prefix="autograder-task-") as folder:
        for name, data in notebooks.items():
            if name in spec.notebooks:  # the grader's names: never a path
                Path(folder, name).write_bytes(data)
        try:
            result = grade_nbgrader_submission(_thread_sandbox(course), course, spec, student, Path(folder))
        except SandboxError as error:
            raise SandboxError(f"on the Dask worker on {socket.gethostname()}: {error}") from None
        copies = autograded_copies(course.root / "source" / assignment, result, Path(folder))
    return {**result.to_json(), "cell_outputs": [], "autograded": {copy.notebook: copy.text for copy in copies}}


def _thread_sandbox(course: Course) -> Sandbox:
    """This thread's sandbox, started on its first task and kept warm for the next ones."""
    sandbox = getattr(_thread, "sandbox", None)
    if sandbox is None:
        sandbox = _thread.sandbox = Sandbox(course)
        with _sandboxes_lock:
            _sandboxes.append(sandbox)
    return sandbox


def sandbox_count() -> int:
    """How many sandboxes this worker process has started (one per thread that graded)."""
    return len(_sandboxes)


@atexit.register
def _close_sandboxes():
    for sandbox in _sandboxes:
        sandbox.close()


def _rename(result: SubmissionResult, here: str, there: str) -> None:
    """Messages name the notebook as the grader knows it, not as this worker's temporary copy."""
    result.reason = result.reason.replace(here, there)
    for test in result.tests:
        test.output = test.output.replace(here, there)


def course_fingerprint(course: Course, assignment: str) -> str:
    """A hash of everything that decides a grade: the assignment's source notebook and hidden checks, the
    course's limits and tolerances, and the grading engine's code. Where the course lives does not count.
    Computed once per process, so a worker's fingerprint is that of the code it has loaded."""
    settings = {key: value for key, value in dataclasses.asdict(course).items() if key not in ("root", "db_url")}
    # an nbgrader assignment's source notebooks hold its tests
    sources = (course.source_notebook(assignment), check_file(assignment, course.root)) if assignment in course.assignments else \
        tuple(sorted((course.root / "source" / assignment).glob("*.ipynb")))
    return _fingerprint(repr(sorted(settings.items())), sources)


@lru_cache(maxsize=None)
def _fingerprint(settings: str, sources: tuple[Path, ...]) -> str:
    digest = hashlib.sha256(settings.encode())
    for path in (*sources, *(PACKAGE / name for name in ENGINE)):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class Cluster:
    """A connection to a Dask scheduler that grades submissions (of any of the course's assignments) on its workers."""

    def __init__(self, address: str, course: Course):
        """Connect, and wait briefly for a worker; raises ClusterError (naming the address) if either fails."""
        from distributed import Client

        self.address, self.course = address, course
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, ValueError, TypeError) as error:
            raise ClusterError(f"cannot reach the Dask scheduler at {address} ({error}). Is `dask scheduler` "
                               "running there, and is its port open to this machine?") from None
        try:
            self.client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
        except (OSError, TimeoutError):
            self.client.close()
            raise ClusterError(f"the Dask scheduler at {address} has no workers: start some with "
                               f"`dask worker {address}` on machines where the course is installed.") from None

    def threads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def _submit(self, job):
        """The task grading `job` on the cluster, or its result when there is nothing to send."""
        several = job.assignment not in self.course.assignments  # an nbgrader assignment's notebooks
        if several:
            from .nbtests import nbgrader_spec

            spec = nbgrader_spec(self.course, job.assignment)
        else:
            spec = assignment_spec(self.course, job.assignment)
        if job.path is None:
            return error_result(spec, job.student, f"No {spec.notebook} was found in the submission.")
        try:
            notebook = {name: (job.path / name).read_bytes() for name in spec.notebooks
                        if (job.path / name).is_file()} if several else job.path.read_bytes()
        except OSError as error:
            return error_result(spec, job.student, f"The notebook could not be opened: {job.path}: "
                                                   f"{error.strerror or error}.")
        return self.client.submit(grade_task, job.assignment, job.student, str(job.path), notebook,
                                  course_fingerprint(self.course, job.assignment), pure=False)

    def close(self):
        self.client.close()


def _result(data: dict) -> SubmissionResult:
    result = SubmissionResult.from_json(data)
    result.cell_outputs = {index: (output, error) for index, output, error in data["cell_outputs"]}
    if "autograded" in data:  # an nbgrader assignment's notebooks, autograded on the worker: written as the batch's
        from .nbresults import Autograded

        result.notebooks = [Autograded(name, text) for name, text in data["autograded"].items()]
    return result


class ClusterPool(threading.Thread):
    """A Dask cluster as a pipeline Pool (pipeline.Pool), for the batch and the service alike: takes Jobs from
    `jobs` until None and, from a done-callback, puts (job, result) in `results` as soon as each is graded, so a
    finished result never waits for the next job (the service's next upload may be minutes away). At the end
    (None, None); a task that fails puts (None, error) (the worker refused the course, or its sandbox failed).

    Streamed: at most TASKS_PER_THREAD tasks per worker thread are in flight, and none goes out while more results
    than that wait for the sink. The batch's pool (`service` False) stops at a failed task and, at the end, hands on
    every task in flight first; the service's (`service` True) goes on after a failed task, whose attempt waits for
    the service's next start, and closes without waiting (its attempts in flight stay queued in its store).

    Connects in the constructor, so an unreachable scheduler fails before anything is written."""

    def __init__(self, address: str, course: Course, jobs: queue.Queue, results: queue.Queue, service: bool = False):
        super().__init__(daemon=True)
        self.cluster = Cluster(address, course)
        self.jobs, self.results, self.service = jobs, results, service
        self.limit = TASKS_PER_THREAD * self.cluster.threads()
        self.in_flight = threading.BoundedSemaphore(self.limit)
        self.failed = threading.Event()
        self._lock = threading.Lock()
        self.out, self.most_out = 0, 0   # tasks in flight now, and at most so far

    def run(self):
        try:
            while not (self.failed.is_set() and not self.service):
                while self.results.qsize() > self.limit and not self.failed.is_set():  # the sink is behind: wait
                    time.sleep(0.05)
                self.in_flight.acquire()  # before taking a job: no job is held back while others are in flight
                job = self.jobs.get()
                if job is None:
                    self.in_flight.release()
                    break
                with self._lock:
                    self.out += 1
                    self.most_out = max(self.most_out, self.out)
                task = self.cluster._submit(job)
                if isinstance(task, SubmissionResult):  # nothing to send: no notebook, or it cannot be read
                    self._hand_on(job, task)
                else:
                    task.add_done_callback(lambda future, job=job: self._hand_on(job, future))
            if not self.service and not self.failed.is_set():  # every task in flight handed on before the end
                for _ in range(self.limit):
                    self.in_flight.acquire()
        finally:
            self.cluster.close()  # before the sink hears of the end, so the grader can exit at once
            self.results.put((None, None))

    def _hand_on(self, job, graded) -> None:
        try:
            self.results.put((job, graded if isinstance(graded, SubmissionResult) else _result(graded.result())))
        except BaseException as error:  # the worker refused the course or its sandbox failed; or we are closing
            self.failed.set()
            self.results.put((None, error))
        finally:
            with self._lock:
                self.out -= 1
            self.in_flight.release()
