"""nbgrader's user-guide course ps1, graded by `nbgrader autograde` and by `autograder grade` (issue 28).

    python benchmarks/nbgrader_course.py               # 40 students (bitdiddle's and hacker's notebooks, copied)
    python benchmarks/nbgrader_course.py --students 100

Each tool grades its own copy of the course folder (tests/data/nbgrader_ps1, released with `nbgrader
generate_assignment` first), one after the other, as the command an instructor runs: wall seconds of the whole
command, and the speed-up. Both write the same scores (tests/test_nbgrader_course.py checks them cell by cell).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PS1 = HERE / "tests" / "data" / "nbgrader_ps1"


def course(folder: Path, students: int) -> Path:
    shutil.copytree(PS1 / "source", folder / "source")
    for number in range(students):
        original = ("bitdiddle", "hacker")[number % 2]
        shutil.copytree(PS1 / "submitted" / original, folder / "submitted" / f"{original}{number}")
    (folder / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'ps1'\n")
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "ps1", "--force"], cwd=folder,
                   check=True, capture_output=True)
    return folder


def timed(command: list[str], folder: Path) -> float:
    started = time.monotonic()
    subprocess.run(command, cwd=folder, check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(HERE)})
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        theirs = timed([sys.executable, "-m", "nbgrader", "autograde", "ps1", "--force"],
                       course(Path(scratch) / "nbgrader", args.students))
        ours = timed([sys.executable, "-m", "autograder", "grade", "ps1"],
                     course(Path(scratch) / "autograder", args.students))
    print(f"ps1, {args.students} students: nbgrader autograde {theirs:.1f} s, autograder grade {ours:.1f} s, "
          f"{theirs / ours:.1f} times as fast")


if __name__ == "__main__":
    main()
