"""`autograder demo`: grade the bundled sample class into a fresh SQLite gradebook and show the results."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from .batch import find_submissions, grade_assignments
from .config import load_course


def run_demo(folder: Path, workers: int) -> int:
    course = load_course()
    samples = course.root / "samples" / "submitted"
    folder = folder.resolve()
    for stale in ("submitted", "autograded", "gradebook.db"):
        target = folder / stale
        shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(samples, folder / "submitted")
    db_url = f"sqlite:///{folder / 'gradebook.db'}"
    print(f"Grading the sample class in {folder} into {db_url}\n")
    table: dict[str, dict[str, str]] = {}
    results = {assignment: [] for assignment in course.assignments}
    summaries = grade_assignments(
        course, list(course.assignments), db_url, workers,
        submissions={assignment: find_submissions(course, assignment, folder / "submitted")
                     for assignment in course.assignments},
        autograded_root=folder / "autograded", on_result=lambda result: results[result.assignment].append(result))
    for summary in summaries:
        print("\n".join(summary.lines()) + "\n")
    for assignment, graded in results.items():
        (folder / f"{assignment}.json").write_text(json.dumps([result.to_json() for result in graded]))
        for result in graded:
            mark = f"{result.score:g}/{result.max_score:g}" + ("!" if result.status == "error" or result.notes else "")
            table.setdefault(result.student, {})[assignment] = mark
    _print_table(table, list(course.assignments))
    print(f"\nEach result, with every message: {folder}/<assignment>.json")
    print(f"The nbgrader gradebook: {db_url} (try: nbgrader export --db {db_url})")
    print(f"Feedback pages and the class report: autograder feedback 04-linear-regression --autograded "
          f"{folder}/autograded --output {folder}/autograder_feedback; autograder report 04-linear-regression "
          f"--autograded {folder}/autograded --output {folder}/reports/04-linear-regression.html "
          f"--feedback {folder}/autograder_feedback --db sqlite:///{folder / 'gradebook.db'}")
    return 0


def _print_table(table, assignments):
    width = max(map(len, table), default=7) + 2
    print("student".ljust(width) + "".join(a[:2].rjust(8) for a in assignments))
    for student in sorted(table):
        print(student.ljust(width) + "".join(table[student].get(a, "-").rjust(8) for a in assignments))
    print("(! marks an error or a note: a cell that crashed, looped or was stopped)")
