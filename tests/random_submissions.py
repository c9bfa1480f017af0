"""Random submissions in nbgrader's layout, with the points each deserves (from samples/make_class.py)."""
from __future__ import annotations

import random
from pathlib import Path

import nbformat

import make_class


def write_submissions(course_root: Path, assignments: list[str], n_students: int, seed: int) -> dict:
    """Write n_students random submissions of each assignment into course_root/submitted (no hostile cells,
    so they grade fast) and return {assignment: {student: expected autograded points}}."""
    expected = {assignment: {} for assignment in assignments}
    for number in range(n_students):
        student = make_class.random_student_id(number)
        for assignment in assignments:
            rng = random.Random(f"{seed}:{number}:{assignment}")
            _, choices = make_class.random_choices(assignment, rng)
            folder = course_root / "submitted" / student / assignment
            folder.mkdir(parents=True, exist_ok=True)
            notebook = make_class.build_notebook(course_root, assignment, choices)
            nbformat.write(notebook, str(folder / make_class.notebook_name(course_root, assignment)))
            (folder / "timestamp.txt").write_text(f"2026-11-{1 + number % 28:02d} 12:00:00.000000 UTC\n")
            expected[assignment][student] = make_class.expected_points(course_root, assignment, choices, student=student)
    return expected
