"""Scaling: notebooks per second and peak memory of `autograder grade` with 1 and 2 local workers and on a
Dask cluster, at growing numbers of submissions.

    python benchmarks/scaling.py                               # N = 200 and 2000 submissions of 01
    python benchmarks/scaling.py --submissions 20 60           # a quick run
    python benchmarks/scaling.py --dask-workers 2 --dask-threads 1

For each N, writes N random submissions of one assignment (samples/make_class.py: correct and buggy code) into
a fresh course folder and grades them with `autograder grade` three ways, each into a gradebook of its own:
one local worker, two local workers, and `--scheduler` on a Dask cluster this script starts on this machine
(`dask scheduler` and `dask worker` processes, started before the clock starts and stopped at the end).
Memory is the peak Pss of the grader's process tree, its sandboxes included, sampled every 0.2 s as in
grading_throughput.py; for Dask the workers' process trees are reported apart. A peak that stays the same
from small N to large N shows that submissions are streamed, not held.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "samples"))

from grading_throughput import ROOT, SAMPLE_SECONDS, make_course, timed, tree_memory_bytes  # noqa: E402
from make_class import build_notebook, random_choices, random_student_id  # noqa: E402
from nbgrader.api import Gradebook  # noqa: E402

from autograder.course.config import load_course  # noqa: E402


def write_submissions(folder: Path, assignment: str, notebook: str, count: int, seed: int) -> None:
    """`count` random students' submissions of one assignment, in nbgrader's layout."""
    import random

    for number in range(count):
        _, choices = random_choices(assignment, random.Random(f"{seed}:{number}:{assignment}"))
        where = folder / "submitted" / random_student_id(number) / assignment
        where.mkdir(parents=True)
        nbformat.write(build_notebook(ROOT, assignment, choices), str(where / notebook))


class DaskCluster:
    """A scheduler and workers on 127.0.0.1, grading with the course installed at `course`."""

    def __init__(self, course: Path, workers: int, threads: int):
        self.folder = Path(tempfile.mkdtemp(prefix="dask-", dir=course))
        scheduler_file = self.folder / "scheduler.json"
        env = {**os.environ, "AUTOGRADER_COURSE_ROOT": str(course)}
        log = open(self.folder / "dask.log", "w")
        self.processes = [subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", str(scheduler_file)], stdout=log, stderr=log, env=env)]
        while not (scheduler_file.is_file() and scheduler_file.read_text().strip()):
            time.sleep(0.1)
        self.address = json.loads(scheduler_file.read_text())["address"]
        self.workers = [subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", self.address, "--nthreads", str(threads),
             "--no-dashboard", "--local-directory", str(self.folder)], stdout=log, stderr=log, env=env)
            for _ in range(workers)]
        self.processes += self.workers
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=120)

    def stop(self):
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class PeakMemory:
    """The peak summed Pss of some processes' trees while the `with` block runs, sampled every SAMPLE_SECONDS."""

    def __init__(self, pids: list[int]):
        self.pids, self.peak, self._done = pids, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._done.is_set():
            self.peak = max(self.peak, sum(tree_memory_bytes(pid) for pid in self.pids))
            self._done.wait(SAMPLE_SECONDS)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()


def scores(db: Path, assignment: str, notebook: str) -> dict:
    with Gradebook(f"sqlite:///{db}") as gradebook:
        return {submission.student.id: round(submission.score, 6)
                for submission in gradebook.find_notebook(Path(notebook).stem, assignment).submissions}


def measure(count: int, args, course) -> None:
    notebook = course.notebook(args.assignment)
    with tempfile.TemporaryDirectory(prefix="scaling-") as tmp:
        folder = make_course(Path(tmp) / "course", 0, args.seed)
        write_submissions(folder, args.assignment, notebook, count, args.seed)
        print(f"N = {count} submissions of {args.assignment}, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        grade = [sys.executable, "-m", "autograder", "grade", args.assignment, "--no-progress"]
        results = {}
        for workers in (1, 2):
            db = folder / f"local{workers}.db"
            seconds, peak = timed([*grade, "--workers", str(workers), "--db", f"sqlite:///{db}"], folder)
            report(f"local, {workers} worker{'s' if workers > 1 else ''}", count, seconds, peak)
            results[f"local {workers}"] = scores(db, args.assignment, notebook)
        cluster = DaskCluster(folder, args.dask_workers, args.dask_threads)
        try:
            db = folder / "dask.db"
            with PeakMemory([worker.pid for worker in cluster.workers]) as workers_memory:
                seconds, peak = timed([*grade, "--scheduler", cluster.address, "--db", f"sqlite:///{db}"], folder)
            report(f"dask, {args.dask_workers} worker(s) x {args.dask_threads} thread(s)", count, seconds, peak,
                   f", workers' peak {workers_memory.peak / 2**20:.0f} MiB")
            results["dask"] = scores(db, args.assignment, notebook)
        finally:
            cluster.stop()
        agree = all(graded == results["local 1"] and len(graded) == count for graded in results.values())
        print(f"  scores agree: {'yes' if agree else 'NO'} ({', '.join(f'{k}: {len(v)}' for k, v in results.items())})",
              flush=True)


def report(name: str, count: int, seconds: float, peak: int, extra: str = "") -> None:
    print(f"  {name}: {seconds:.1f} s, {count / seconds:.2f} notebooks/s, grader's peak {peak / 2**20:.0f} MiB"
          f"{extra}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, nargs="+", default=[200, 2000], metavar="N")
    parser.add_argument("--assignment", help="default: the course's first")
    parser.add_argument("--dask-workers", type=int, default=1)
    parser.add_argument("--dask-threads", type=int, default=os.cpu_count() or 1, help="default: the cores")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    course = load_course(ROOT)
    args.assignment = args.assignment or next(iter(course.assignments))
    for count in args.submissions:
        measure(count, args, course)


if __name__ == "__main__":
    main()
