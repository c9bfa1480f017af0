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
(the grader, its sandbox and the sandbox's children; user + system).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "01-gradient-descent"
NOTEBOOK = ROOT / "samples" / "submitted" / "ada_lovelace" / ASSIGNMENT / "gradient_descent.ipynb"


def run(package_root: Path) -> tuple[float, float]:
    """(seconds until the result's first line, processor seconds of the whole process tree)."""
    env = {**os.environ, "PYTHONPATH": str(package_root), "AUTOGRADER_COURSE_ROOT": str(ROOT)}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "autograder", "grade", ASSIGNMENT, str(NOTEBOOK),
                                "--no-progress"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    first = process.stdout.readline()
    first_result = time.perf_counter() - started
    process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode or "points" not in first:
        raise SystemExit(f"the grade failed ({process.returncode}): {first!r}")
    return first_result, usage.ru_utime + usage.ru_stime


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
