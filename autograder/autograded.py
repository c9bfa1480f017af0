"""The autograded copy of a notebook, laid out as `nbgrader autograde` leaves it, for formgrader and
`nbgrader generate_feedback`: the submission with read-only cells restored, the outputs of our run and
the checks' messages under each autograded cell."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from . import notebook as nb
from .grade import AssignmentSpec, SubmissionResult


def _stream(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


def _error(ename, evalue, traceback):
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": traceback}


def autograded_notebook(spec: AssignmentSpec, result: SubmissionResult, submitted) -> nb.Node:
    graded = copy.deepcopy(submitted)
    tests = {test.name: test for test in result.tests if not test.manual}
    for index, cell in enumerate(graded.cells):
        if cell.get("cell_type") != "code":
            continue
        grade_id = nb.grade_id(cell)
        if grade_id in spec.locked:
            cell.source = spec.locked[grade_id]
        cell.outputs = []
        output, error = result.cell_outputs.get(index, ("", None))
        if grade_id in tests:
            cell.outputs = [_verdict(tests[grade_id])]
            continue
        if output:
            cell.outputs.append(_stream(output))
        if error:
            cell.outputs.append(_error(str(error.get("type")), str(error.get("text")), []))
    return graded


def _verdict(test):
    if test.score >= test.max_score:
        return _stream(f"\N{CHECK MARK} {test.output}\n")
    lines = test.output.splitlines()
    return _error("AssertionError", " ".join(lines)[:1000],
                  [f"\N{BALLOT X} {test.name}: this exercise earned 0 of {test.max_score:g} points.", *lines])


def write_autograded(folder: Path, spec: AssignmentSpec, result: SubmissionResult, submitted,
                     timestamp_file: Path | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / spec.notebook, "w", encoding="utf-8") as file:  # nbformat's own layout
        json.dump(autograded_notebook(spec, result, submitted), file, indent=1, sort_keys=True, ensure_ascii=False)
        file.write("\n")
    if timestamp_file and timestamp_file.is_file():
        (folder / "timestamp.txt").write_text(timestamp_file.read_text())
