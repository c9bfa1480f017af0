"""`autograder demo`: grade the bundled sample class into a fresh SQLite gradebook and show the results."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from .grading.batch import find_submissions, grade_assignments, starting_line
from .course.config import load_course
from .results.scores import fraction


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
    print(f"Grading the sample class in {folder} into {db_url}")
    print(starting_line(workers, None) + "\n", flush=True)
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
            table.setdefault(result.student, {})[assignment] = mark(result)
    print("\n".join(table_lines(table, list(course.assignments))))
    print(f"\nEach result, with every message: {folder}/<assignment>.json")
    print(f"The nbgrader gradebook: {db_url} (try: nbgrader export --db {db_url})")
    print(f"Feedback pages and the class report: autograder feedback 04-linear-regression --autograded "
          f"{folder}/autograded --output {folder}/autograder_feedback; autograder report 04-linear-regression "
          f"--autograded {folder}/autograded --output {folder}/reports/04-linear-regression.html "
          f"--feedback {folder}/autograder_feedback --db sqlite:///{folder / 'gradebook.db'}")
    return 0


ERROR, STOPPED = "!", "*"
LEGEND = {ERROR: f"{ERROR} could not be graded (counted in the summaries' errors)",
          STOPPED: f"{STOPPED} graded, but a cell was stopped (it ran too long or ended Python) and the rest graded "
                   "without it"}


def mark(result) -> str:
    """'2.67/9', with ERROR when the notebook could not be graded, STOPPED when a cell of it was stopped."""
    return fraction(result.score, result.max_score) + (
        ERROR if result.status == "error" else STOPPED if result.notes else "")


def table_lines(table: dict[str, dict[str, str]], assignments: list[str]) -> list[str]:
    """Students down, assignments (by their number) across; every column as wide as its widest entry and two
    spaces apart, so no two entries ever touch; then what each mark in the table means."""
    headers = ["student", *(assignment[:2] for assignment in assignments)]
    rows = [[student, *(table[student].get(assignment, "-") for assignment in assignments)]
            for student in sorted(table)]
    widths = [max(len(row[column]) for row in [headers, *rows]) for column in range(len(headers))]
    return [row[0].ljust(widths[0]) + "".join("  " + entry.rjust(width) for entry, width in zip(row[1:], widths[1:]))
            for row in [headers, *rows]] + [text for mark, text in LEGEND.items()
                                             if any(entry.endswith(mark) for row in rows for entry in row[1:])]
