"""`autograder grade --scheduler`: grading on a real Dask cluster (a scheduler and worker processes on
loopback) gives the results of local grading, survives a worker killed mid-batch, streams submissions, and
refuses clearly, writing nothing, when the scheduler cannot be reached or a worker has another course."""
import json
import re
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from distributed import Client
from nbgrader.api import Gradebook

from autograder.grading import distributed as cluster_grading
from autograder.grading.batch import find_submissions, grade_batch
from autograder.course.config import course_at, load_course
from autograder.grading.distributed import ClusterError, ClusterPool, course_fingerprint, grade_task
from autograder.results.model import SubmissionResult
from course_files import ROOT, copy_course
from make_class import EXPECTED

pytestmark = pytest.mark.slow  # a Dask cluster grading in sandboxes

A1 = "01-gradient-descent"
SAMPLES = ROOT / "samples" / "submitted"


class LoopbackCluster:
    """A `dask scheduler` and `dask worker` processes on 127.0.0.1; workers see the course installed at ROOT.

    Workers run without a nanny, so a SIGKILL takes a worker away for good, as a lost machine would."""

    def __init__(self, folder: Path, root: Path = ROOT):
        """`root`: the course the workers see (default: the one installed at ROOT)."""
        self.folder, self.workers, self.root = folder, [], root
        scheduler_file = folder / "scheduler.json"
        self.scheduler = self._start("scheduler", [
            "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
            "--scheduler-file", str(scheduler_file)])
        deadline = time.monotonic() + 30
        while not (scheduler_file.is_file() and scheduler_file.read_text().strip()):
            assert time.monotonic() < deadline and self.scheduler.poll() is None, self.log("scheduler")
            time.sleep(0.1)
        self.address = json.loads(scheduler_file.read_text())["address"]
        self.client = Client(self.address, timeout=10, set_as_default=False)

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        env = {**os.environ, "AUTOGRADER_COURSE_ROOT": str(self.root)}
        with open(self.folder / f"{name}.log", "w") as log:
            return subprocess.Popen([sys.executable, "-m", *args], env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log)

    def add_worker(self) -> subprocess.Popen:
        """Start one single-threaded worker and wait until the scheduler knows it; the worker's process."""
        before = len(self.client.nthreads())
        worker = self._start(f"worker{len(self.workers)}", [
            "distributed.cli.dask_worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
            "--local-directory", str(self.folder)])
        self.workers.append(worker)
        self.client.wait_for_workers(before + 1, timeout=60)
        return worker

    def address_of(self, worker: subprocess.Popen) -> str:
        return next(address for address, pid in self.client.run(os.getpid).items() if pid == worker.pid)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text()[-3000:]

    def stop(self):
        self.client.close()
        for process in [*self.workers, self.scheduler]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers, self.scheduler]:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    started = LoopbackCluster(tmp_path_factory.mktemp("dask"))
    try:
        started.add_worker()
        started.add_worker()
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def local(course):
    """The sample class's 01 submissions graded by local sandboxes: student -> result."""
    results = {}
    grade_batch(course, A1, None, 2, submissions=find_submissions(course, A1, SAMPLES), progress=False,
                on_result=lambda result: results.__setitem__(result.student, result))
    assert {student: result.score for student, result in results.items()} == EXPECTED[A1]
    return results


def verdicts(result) -> dict:
    """Everything of a result but how long it took and how much memory it used, and the times that messages about
    a stopped loop quote (each grading process times the instructor's solution for itself: budgets.py)."""
    data = result if isinstance(result, dict) else result.to_json()
    return json.loads(TIMES.sub("<time>", json.dumps(
        {key: value for key, value in data.items() if key not in ("seconds", "peak_memory_mb")})))


TIMES = re.compile(r"\d+(\.\d+)? ?(ms|seconds|s)\b|less than 1 ms")


@pytest.fixture(scope="module")
def graded_on_cluster(cluster, local, tmp_path_factory):
    """A course with the sample class, graded by `autograder grade 01 --scheduler ...`."""
    root = copy_course(tmp_path_factory.mktemp("cli") / "course")
    shutil.copytree(SAMPLES, root / "submitted")
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", A1, "--scheduler", cluster.address,
                           "--json", "report.json", "--no-progress"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return root, done


def test_cluster_grades_every_submission_as_local_sandboxes_do(graded_on_cluster, local):
    root, done = graded_on_cluster
    report = {entry["student"]: entry for entry in json.loads((root / "report.json").read_text())}
    assert sorted(report) == sorted(local)
    for student, result in local.items():
        assert verdicts(report[student]) == verdicts(result), student
    assert f"{A1}: 12 submissions in" in done.stdout


def test_cluster_results_reach_the_gradebook_and_autograded_copies(graded_on_cluster):
    root, _ = graded_on_cluster
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        scores = {submission.student.id: submission.score
                  for submission in gradebook.find_notebook("gradient_descent", A1).submissions}
    assert scores == EXPECTED[A1]
    assert all((root / "autograded" / student / A1 / "gradient_descent.ipynb").is_file() for student in scores)


def test_each_worker_thread_grades_with_one_warm_sandbox(graded_on_cluster, cluster):
    assert list(cluster.client.run(cluster_grading.sandbox_count).values()) == [1, 1]


def test_a_worker_killed_mid_batch_loses_no_submission(cluster, local, course_copy):
    doomed = cluster.add_worker()
    address = cluster.address_of(doomed)
    results, killed_while_busy = [], []

    def on_result(result):
        results.append(result)
        busy = cluster.client.processing().get(address)
        if busy and not killed_while_busy:
            os.kill(doomed.pid, signal.SIGKILL)
            killed_while_busy.append(len(busy))

    db = course_copy / "gradebook.db"
    course = load_course(course_copy)
    grade_batch(course, A1, f"sqlite:///{db}", submissions=find_submissions(course, A1, SAMPLES), progress=False,
                on_result=on_result, scheduler=cluster.address)
    assert killed_while_busy and doomed.wait(timeout=10) == -signal.SIGKILL
    assert sorted(result.student for result in results) == sorted(local)
    for result in results:
        assert verdicts(result) == verdicts(local[result.student]), result.student
        assert TIMES.sub("<time>", repr(result.cell_outputs)) == TIMES.sub(
            "<time>", repr(local[result.student].cell_outputs)), result.student
    with Gradebook(f"sqlite:///{db}") as gradebook:
        submissions = gradebook.find_notebook("gradient_descent", A1).submissions
        assert sorted(submission.student.id for submission in submissions) == sorted(local)
        assert {submission.student.id: submission.score for submission in submissions} == EXPECTED[A1]


def test_submissions_are_streamed_a_few_per_worker_thread(cluster, course, monkeypatch):
    monkeypatch.setattr(cluster_grading, "TASKS_PER_THREAD", 1)
    jobs, results = queue.Queue(), queue.Queue()
    for job in find_submissions(course, A1, SAMPLES):
        jobs.put(job)
    jobs.put(None)
    pool = ClusterPool(cluster.address, course, jobs, results)
    threads = pool.limit
    pool.start()
    received = list(iter(results.get, (None, None)))
    pool.join(timeout=30)
    assert len(received) == len({job.student for job, _ in received}) == 12
    assert all(isinstance(result, SubmissionResult) for _, result in received)
    assert pool.most_out == threads < 12


def test_unreachable_scheduler_is_one_clear_message_and_writes_nothing(course_copy):
    shutil.copytree(SAMPLES, course_copy / "submitted")
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", A1, "--scheduler", address, "--json",
                           "report.json", "--no-progress"], cwd=course_copy, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"autograder grade failed: cannot reach the Dask scheduler at {address} (Timed out trying to connect to "
        f"{address} after 5 s). Is `dask scheduler` running there, and is its port open to this machine?"]
    assert time.monotonic() - started < 30
    assert not any((course_copy / name).exists() for name in ("gradebook.db", "report.json", "autograded"))


def test_fingerprint_ignores_where_the_course_lives_but_not_its_settings(course, course_copy):
    cluster_grading._fingerprint.cache_clear()  # others may have changed the engine since this session began
    assert course_fingerprint(load_course(course_copy), A1) == course_fingerprint(course, A1)
    config = course_copy / "course_config.py"
    config.write_text(config.read_text().replace("c.Autograder.rtol = 1e-6", "c.Autograder.rtol = 1e-3"))
    course_at.cache_clear()
    assert load_course(course_copy).rtol == 1e-3
    assert course_fingerprint(load_course(course_copy), A1) != course_fingerprint(course, A1)


def test_a_worker_with_another_course_refuses_the_task(course):
    notebook = (SAMPLES / "ada_lovelace" / A1 / "gradient_descent.ipynb").read_bytes()
    with pytest.raises(ClusterError, match="has a different version of the course than the grader"):
        grade_task(A1, "ada_lovelace", "gradient_descent.ipynb", notebook, "0" * 64)
