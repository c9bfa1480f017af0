"""Grading throughput: `nbgrader autograde` against `autograder grade` on the same generated class.

    python benchmarks/grading_throughput.py --students 200            # both, and the ratio
    python benchmarks/grading_throughput.py --students 2000 --skip-nbgrader   # memory at scale
    python benchmarks/grading_throughput.py --students 200 --realistic        # with endless loops and crashes

Generates N students x every assignment of course_config.py (a mix of correct and buggy code, see samples/make_class.py) in a
fresh course folder, grades the batch with each tool into its own SQLite gradebook, and prints wall
time, notebooks per second and the peak memory (Pss) of each tool's whole process tree, the throughput
ratio, whether the per-notebook scores agree, and the time to grade one notebook from a cold CLI start.

Each tool grades the whole batch in one command, as an instructor would: `autograder grade --all` and
`nbgrader autograde "*"` (nbgrader's assignment argument is a glob). `--per-assignment` also times
`autograder grade ASSIGNMENT` once per assignment (one start-up per assignment instead of one in all).

`--realistic` grades a class in which about 3% of the submissions loop for ever in a helper and 2% end their
Python process (samples/make_class.py, `realistic_trouble`), with both tools; `autograder grade --all` also grades
the same class without them, and the ratio of the two times is what the loops and crashes cost.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SECONDS = 1.0
sys.path.insert(0, str(ROOT / "samples"))

from make_class import course_assignments, random_student_id, realistic_trouble, write_random_class  # noqa: E402
from nbgrader.api import Gradebook  # noqa: E402

from autograder.cli import DEFAULT_WORKERS  # noqa: E402
from autograder.course.config import load_course  # noqa: E402


def descendants(root: int) -> list[int]:
    """Every process below `root`, from /proc's parent links."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def tree_memory_bytes(root_pid: int) -> int:
    """Proportional set size (Pss) of a process and all its descendants, from /proc: pages that forked
    processes share are counted once, split between them, rather than once per process.

    Reading a process's smaps_rollup walks its page tables (several ms for a warm sandbox, and it holds the
    process's memory map lock meanwhile), so only the tree's own processes are read."""
    tree = [root_pid, *descendants(root_pid)]
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                total += int(next((line for line in rollup if line.startswith("Pss:")), "Pss: 0 kB").split()[1]) * 1024
        except (OSError, ValueError):
            continue
    return total


SCORES_DONE = "  gradebook: "   # `autograder grade` prints this line once every score is in the gradebook
LAST_SCORE: list[float] = []    # seconds from the start of the last timed `autograder grade` to that line


def timed(command: list[str], cwd: Path, may_fail: bool = False) -> tuple[float, int, float]:
    """Run `command`; its wall time, the peak memory of its process tree, sampled every SAMPLE_SECONDS
    (memory is flat once grading runs; sampling more often slows the tool being measured), and the processor
    time of the whole tree (every process in it is waited for, so its time adds up to ours): on a machine shared
    with other work, wall time says as much about the others as about the tool. When the command prints
    SCORES_DONE, the seconds until it did are left in LAST_SCORE (the scores; the wall time includes figures)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, done = 0, threading.Event()
    LAST_SCORE.clear()

    def read_stdout():
        for line in process.stdout:
            if line.startswith(SCORES_DONE) and not LAST_SCORE:
                LAST_SCORE.append(time.monotonic() - started)

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_memory_bytes(process.pid))
            done.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stderr = process.stderr.read()
    process.wait()
    reader.join()
    done.set()
    sampler.join()
    if process.returncode != 0 and not may_fail:  # nbgrader fails a batch in which a notebook's kernel died
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.monotonic() - started, peak, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def make_course(folder: Path, students: int, seed: int, realistic: bool = False) -> Path:
    for name in ("source", "release", "hidden"):  # the course's hidden checks live in the course folder
        shutil.copytree(ROOT / name, folder / name)
    for name in ("course_config.py", "nbgrader_config.py"):
        shutil.copy(ROOT / name, folder / name)
    write_random_class(folder / "submitted", ROOT, students, seed, realistic)
    return folder


def trouble(students: int, seed: int) -> dict[tuple[str, str], str]:
    """(student, assignment) -> the hostile cell of each notebook of the realistic class that has one."""
    import random

    return {(random_student_id(number), assignment): name for number in range(students)
            for assignment in course_assignments(ROOT)
            for name in realistic_trouble(random.Random(f"{seed}:{number}:{assignment}:trouble"))}


def scores(db: Path, course) -> dict:
    with Gradebook(f"sqlite:///{db}") as gradebook:
        return {(submission.student.id, assignment): round(submission.score, 6)
                for assignment in course.assignments
                for submission in gradebook.find_notebook(Path(course.notebook(assignment)).stem,
                                                          assignment).submissions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-nbgrader", action="store_true", help="only autograder grade (for large N)")
    parser.add_argument("--realistic", action="store_true",
                        help="about 3%% of the submissions loop for ever in a helper and 2%% crash")
    parser.add_argument("--per-assignment", action="store_true",
                        help="also time one `autograder grade ASSIGNMENT` call per assignment")
    args = parser.parse_args()

    course = load_course(ROOT)
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        folder = make_course(Path(tmp) / "course", args.students, args.seed, args.realistic)
        notebooks = args.students * len(course.assignments)
        print(f"{args.students} students x {len(course.assignments)} assignments = {notebooks} notebooks, "
              f"{args.workers} workers, {os.cpu_count()} cores")
        if args.realistic:
            kinds = list(trouble(args.students, args.seed).values())
            print(f"realistic class: {kinds.count('infinite_loop_in_helper')} notebooks loop for ever in a helper, "
                  f"{kinds.count('crash_exit')} end their Python process")
            plain = make_course(Path(tmp) / "plain", args.students, args.seed)
            plain_seconds, plain_peak, plain_cpu = timed([python, "-m", "autograder", "grade", "--all", "--no-progress",
                                               "--workers", str(args.workers)], plain)
            report("autograder grade --all, the same class without loops and crashes", notebooks, plain_seconds,
                   plain_peak, plain_cpu)
        for assignment in course.assignments:  # both tools grade against the same recorded assignment
            subprocess.run([python, "-m", "nbgrader", "generate_assignment", assignment, "--force",
                            "--log-level=ERROR"], cwd=folder, check=True, capture_output=True)
        shutil.copy(folder / "gradebook.db", folder / "ours.db")

        ours_seconds, ours_peak, ours_cpu = timed([python, "-m", "autograder", "grade", "--all", "--no-progress", "--workers",
                                         str(args.workers), "--db", f"sqlite:///{folder / 'ours.db'}",
                                         "--json", str(folder / "ours.json")], folder)
        report("autograder grade --all", notebooks, ours_seconds, ours_peak, ours_cpu)
        ours_scores = LAST_SCORE[0] if LAST_SCORE else ours_seconds
        print(f"autograder grade --all: every score in the gradebook after {ours_scores:.1f} s, figures done "
              f"after {ours_seconds:.1f} s")
        honest_median(folder / "ours.json", trouble(args.students, args.seed) if args.realistic else {})
        if args.realistic:
            print(f"loops and crashes cost: {ours_seconds / plain_seconds:.2f} times the batch without them in wall "
                  f"time, {ours_cpu / plain_cpu:.2f} times in processor time")
        if args.per_assignment:
            seconds, peak = 0.0, 0
            for assignment in course.assignments:
                one, one_peak, _ = timed([python, "-m", "autograder", "grade", assignment, "--no-progress", "--regrade",
                                       "--workers", str(args.workers), "--db", f"sqlite:///{folder / 'ours.db'}"],
                                      folder)
                seconds, peak = seconds + one, max(peak, one_peak)
            report("autograder grade ASSIGNMENT, once per assignment", notebooks, seconds, peak)

        first = next(iter(course.assignments))
        single = folder / "submitted" / sorted(os.listdir(folder / "submitted"))[0] / first
        cold, _, _ = timed([python, "-m", "autograder", "grade", first, str(single / course.notebook(first))], folder)
        print(f"one notebook from a cold CLI start: {cold:.2f} s")

        if args.skip_nbgrader:
            return
        theirs_seconds, theirs_peak, theirs_cpu = timed([python, "-m", "nbgrader", "autograde", "*", "--force",
                                                         "--log-level=ERROR"], folder, may_fail=args.realistic)
        report('nbgrader autograde "*"', notebooks, theirs_seconds, theirs_peak, theirs_cpu)

        print(f"throughput ratio: {theirs_seconds / ours_seconds:.1f}x (processor time: {theirs_cpu / ours_cpu:.1f}x)")
        print(f"nbgrader's scores (with its figures) after {theirs_seconds:.1f} s: ours "
              f"{theirs_seconds / ours_scores:.1f}x sooner for the scores, {theirs_seconds / ours_seconds:.1f}x sooner "
              "for the figures too")
        ours, theirs = scores(folder / "ours.db", course), scores(folder / "gradebook.db", course)
        differ = sorted(key for key in ours.keys() | theirs.keys() if ours.get(key) != theirs.get(key))
        if args.realistic:  # nbgrader removes a notebook whose kernel died or whose cell timed out (score 0)
            troubled = trouble(args.students, args.seed)
            for kind, what in (("crash_exit", "end their Python process"),
                               ("infinite_loop_in_helper", "loop for ever in a helper")):
                dropped = {key for key, name in troubled.items() if name == kind and theirs.get(key, 0) == 0}
                honest = sum(ours.get(key, 0) for key in dropped) / max(1, len(dropped))
                print(f"notebooks that {what}: {list(troubled.values()).count(kind)}; nbgrader scores {len(dropped)} "
                      f"of them 0 (it removes a notebook whose kernel died or whose cell timed out), ours their honest "
                      f"part (mean {honest:.2f})")
                differ = [key for key in differ if key not in dropped]
        print(f"scores agree: {'yes' if not differ else 'NO'} ({len(ours)} vs {len(theirs)} notebooks"
              + (f"; differ: {[(key, ours.get(key), theirs.get(key)) for key in differ[:10]]}" if differ else "")
              + ")")


def honest_median(path: Path, troubled: dict) -> None:
    """The median (and 90th percentile) of a graded notebook's seconds in the batch, over the notebooks that neither
    loop nor crash, from `autograder grade --json`."""
    import statistics

    seconds = sorted(entry["seconds"] for entry in json.loads(path.read_text())
                     if entry["status"] == "graded" and (entry["student"], entry["assignment"]) not in troubled)
    if seconds:
        print(f"an honest notebook in the batch: median {statistics.median(seconds):.3f} s, 90th percentile "
              f"{seconds[int(0.9 * (len(seconds) - 1))]:.3f} s ({len(seconds)} notebooks)")


def report(name: str, notebooks: int, seconds: float, peak: int, cpu: float | None = None) -> None:
    print(f"{name}: {seconds:.1f} s, {notebooks / seconds:.2f} notebooks/s, peak memory {peak / 2**20:.0f} MiB"
          + (f", processor time {cpu:.1f} s" if cpu is not None else ""))


if __name__ == "__main__":
    main()
