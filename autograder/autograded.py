"""The autograded copy of a notebook, laid out as `nbgrader autograde` leaves it, for formgrader and
`nbgrader generate_feedback`: the submission with read-only cells restored, the outputs of our run and
the checks' messages under each autograded cell."""
from __future__ import annotations

from pathlib import Path

import nbformat

from . import notebook as nb
from .grade import AssignmentSpec, SubmissionResult


def autograded_notebook(spec: AssignmentSpec, result: SubmissionResult, submitted) -> nbformat.NotebookNode:
    graded = nbformat.from_dict(submitted)
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
            cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=output))
        if error:
            cell.outputs.append(nbformat.v4.new_output("error", ename=str(error.get("type")),
                                                       evalue=str(error.get("text")), traceback=[]))
    return graded


def _verdict(test):
    if test.score >= test.max_score:
        return nbformat.v4.new_output("stream", name="stdout", text=f"\N{CHECK MARK} {test.output}\n")
    lines = test.output.splitlines()
    return nbformat.v4.new_output("error", ename="AssertionError", evalue=" ".join(lines)[:1000],
                                  traceback=[f"\N{BALLOT X} {test.name}: this exercise earned 0 of "
                                             f"{test.max_score:g} points.", *lines])


def write_autograded(folder: Path, spec: AssignmentSpec, result: SubmissionResult, submitted,
                     timestamp_file: Path | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(autograded_notebook(spec, result, submitted), str(folder / spec.notebook))
    if timestamp_file and timestamp_file.is_file():
        (folder / "timestamp.txt").write_text(timestamp_file.read_text())
