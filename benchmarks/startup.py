"""A cold `autograder grade ASSIGNMENT NOTEBOOK`: the time until its result is printed, side by side.

    python benchmarks/startup.py                       # 5 runs of each variant
    python benchmarks/startup.py --runs 9 --baseline /tmp/old-checkout

Variants, taking turns so a machine busy with other work slows them alike:
- "no cache": the course's cached reference times removed before the run, so the instructor's solution is timed
  (run twice in the sandbox) before the notebook is graded: what every cold start cost before the cache;
- "cache": the times read from `.autograder-cache/` (written by the first run);
- "baseline" (with --baseline DIR): the same command from another checkout of the package (say, the commit before
  a change, from `git archive`), run in this course.

Each run is a new process (`python -m autograder grade ...`) in this checkout's course. Prints, per variant, min and
median of the wall time until the first line of the result, and of the processor time of the whole process tree
(the grader, its sandbox and the sandbox's children, user + system, sampled from /proc). On a loaded machine the
wall time varies a lot; the processor time much less.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "01-gradient-descent"
NOTEBOOK = ROOT / "samples" / "submitted" / "ada_lovelace" / ASSIGNMENT / "gradient_descent.ipynb"


TICKS = os.sysconf("SC_CLK_TCK")


class TreeTimes(threading.Thread):
    """Samples the processor time (user + system) of every process under `root` every 10 ms, from /proc; a process
    counts with its last sample. The sandbox ends after the grader, in its own namespaces, so the kernel's child
    accounting (wait4) never sees its time; this does, missing only processes that live less than 10 ms."""

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root, self.seen, self.done = root, {}, threading.Event()

    def run(self):
        while not self.done.wait(0.01):
            self.sample()

    def sample(self):
        parents, times = {}, {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
            times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / TICKS
        for pid, seconds in times.items():
            ancestor = pid
            while ancestor in parents and ancestor != self.root:
                ancestor = parents[ancestor]
            if ancestor == self.root:
                self.seen[pid] = max(seconds, self.seen.get(pid, 0.0))

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())


def run(package_root: Path) -> tuple[float, float]:
    """(seconds until the result's first line, processor seconds of the whole process tree)."""
    env = {**os.environ, "PYTHONPATH": str(package_root), "AUTOGRADER_COURSE_ROOT": str(ROOT)}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "autograder", "grade", ASSIGNMENT, str(NOTEBOOK),
                                "--no-progress"], cwd=package_root, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    tree = TreeTimes(process.pid)
    tree.start()
    first = process.stdout.readline()
    first_result = time.perf_counter() - started
    process.stdout.read()
    while process.poll() is None or any(Path(f"/proc/{pid}").exists() for pid in tree.seen):
        time.sleep(0.01)  # until the sandbox, too, has ended
    tree.done.set()
    tree.join()
    if process.returncode or "points" not in first:
        raise SystemExit(f"the grade failed ({process.returncode}): {first!r}")
    return first_result, tree.seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another checkout's root, to run its package in this course")
    args = parser.parse_args()
    cache = ROOT / ".autograder-cache"
    variants = {"no cache": ROOT, "cache": ROOT}
    if args.baseline:
        variants["baseline"] = args.baseline.resolve()
    run(ROOT)  # warm the file system cache and write the reference times once
    times = {name: [] for name in variants}
    for _ in range(args.runs):
        for name, package_root in variants.items():
            if name == "no cache":
                shutil.rmtree(cache, ignore_errors=True)
            elif name == "cache" and not cache.exists():
                run(ROOT)
            times[name].append(run(package_root))
    print(f"cold `autograder grade {ASSIGNMENT} NOTEBOOK`, {args.runs} runs each "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for name, runs in times.items():
        first, cpu = [r[0] for r in runs], [r[1] for r in runs]
        print(f"{name:10s} first result: min {min(first):.2f} s, median {statistics.median(first):.2f} s | "
              f"processor time: min {min(cpu):.2f} s, median {statistics.median(cpu):.2f} s")


if __name__ == "__main__":
    main()
