"""Memory of a batch as it grows: `autograder grade` of N generated submissions of one assignment, for each N.

    python benchmarks/batch_memory.py --students 200 2000

For each N, a fresh course folder with N students' notebooks of one assignment (by default 02, whose plotting
cell displays a figure: figures are set aside and drawn after the scores), graded by one `autograder grade`
command with its gradebook and JSON report. Printed: the time until every score is in the gradebook and until
the figures are done, the peak resident memory (VmHWM) of the grader's own process, the peak resident memory of
the largest of the sandboxes' lasting processes (zygotes, templates: alive through the batch), of the largest
sandbox process of any kind (a student's child included) and of all of them together (RSS, sampled every
SAMPLE_SECONDS; pages shared between forked processes count in each), and the peak size of the figures' records on
disk. Flat memory: the grader's and the lasting processes' peaks do not grow with N.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SECONDS = 0.5
sys.path.insert(0, str(ROOT / "samples"))

import nbformat  # noqa: E402
from make_class import build_notebook, notebook_name, random_choices, random_student_id  # noqa: E402
from grading_throughput import descendants  # noqa: E402 (beside this script)


def write_class(folder: Path, students: int, assignment: str, seed: int) -> None:
    for name in ("source", "release", "hidden"):  # the course's hidden checks live in the course folder
        shutil.copytree(ROOT / name, folder / name)
    for name in ("course_config.py", "nbgrader_config.py"):
        shutil.copy(ROOT / name, folder / name)
    notebook = notebook_name(ROOT, assignment)
    for number in range(students):
        _, choices = random_choices(assignment, random.Random(f"{seed}:{number}:{assignment}"), ROOT)
        where = folder / "submitted" / random_student_id(number) / assignment
        where.mkdir(parents=True)
        nbformat.write(build_notebook(ROOT, assignment, choices), where / notebook)


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            line = next((line for line in status if line.startswith(field + ":")), f"{field}: 0 kB")
        return int(line.split()[1])
    except (OSError, ValueError):
        return 0


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*.json") if path.is_file()) if folder.is_dir() else 0


def measure(students: int, assignment: str, workers: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        folder = Path(tmp)
        write_class(folder, students, assignment, seed)
        command = [sys.executable, "-m", "autograder", "grade", assignment, "--no-progress", "--workers",
                   str(workers), "--json", str(folder / "report.json")]
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        found = {"grader_kb": 0, "sandbox_max_kb": 0, "sandboxes_kb": 0, "records_bytes": 0, "scores": None}
        done, seen = threading.Event(), {}   # seen: pid -> [samples it was in, its largest RSS, its last RSS]

        def sample():
            while not done.is_set():
                found["grader_kb"] = max(found["grader_kb"], rss_kb(process.pid, "VmHWM"))
                sizes = []
                for pid in descendants(process.pid):
                    size = rss_kb(pid)
                    sizes.append(size)
                    record = seen.setdefault(pid, [0, 0, 0])
                    record[0], record[1], record[2] = record[0] + 1, max(record[1], size), size
                found["samples"] = found.get("samples", 0) + 1
                found["sandbox_max_kb"] = max(found["sandbox_max_kb"], max(sizes, default=0))
                found["sandboxes_kb"] = max(found["sandboxes_kb"], sum(sizes))
                found["records_bytes"] = max(found["records_bytes"],
                                             folder_bytes(folder / ".autograder-cache" / "figures"))
                done.wait(SAMPLE_SECONDS)

        def read():
            for line in process.stdout:
                if line.startswith("  gradebook: ") and found["scores"] is None:
                    found["scores"] = time.monotonic() - started

        threads = [threading.Thread(target=sample, daemon=True), threading.Thread(target=read, daemon=True)]
        for thread in threads:
            thread.start()
        stderr = process.stderr.read()
        process.wait()
        found["seconds"] = time.monotonic() - started
        done.set()
        for thread in threads:
            thread.join()
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
        seconds = [entry["seconds"] for entry in json.loads((folder / "report.json").read_text())
                   if entry["status"] == "graded"]
        found["median"] = statistics.median(seconds) if seconds else 0.0
        # the sandboxes' own processes (bubblewrap, zygotes, templates) live through the whole batch; a student's
        # child, a fraction of a second
        lasting = [record for record in seen.values() if record[0] >= 0.8 * found.get("samples", 1)]
        found["lasting_kb"] = max((record[1] for record in lasting), default=0)
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--assignment", default="02-slopes-and-updates")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"{args.assignment}, {args.workers} workers; memory in MiB")
    print("| N | scores done | figures done | median per notebook | grader peak RSS | largest zygote or template "
          "| largest sandbox process | all sandbox processes | figure records on disk (peak) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for students in args.students:
        found = measure(students, args.assignment, args.workers, args.seed)
        print(f"| {students} | {found['scores']:.1f} s | {found['seconds']:.1f} s | {found['median']:.3f} s "
              f"| {found['grader_kb'] / 1024:.0f} | {found['lasting_kb'] / 1024:.0f} "
              f"| {found['sandbox_max_kb'] / 1024:.0f} | {found['sandboxes_kb'] / 1024:.0f} "
              f"| {found['records_bytes'] / 2**20:.1f} |", flush=True)


if __name__ == "__main__":
    main()
