"""The autograded copy of a notebook, laid out as `nbgrader autograde` leaves it, for formgrader and
`nbgrader generate_feedback`: the submission with read-only cells restored, the outputs of our run and
the checks' messages under each autograded cell. Beside it, `results.json`: the full result (every
check's verdict, the mistakes it named, its figures), which `autograder feedback` and `report` read."""
from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

from ..course import notebook as nb
from .deferred import placeholder
from .grade import AssignmentSpec
from ..results.model import SubmissionResult
from ..results.scores import score
from ..engine.sandbox import MAX_DISPLAY_CHARS


def _stream(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


def _error(ename, evalue, traceback):
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": traceback}


def autograded_notebook(spec: AssignmentSpec, result: SubmissionResult, submitted) -> nb.Node:
    # a copy of the notebook and of each cell: only cells' top-level fields (source, outputs) change
    graded = nb.Node(submitted, cells=[nb.Node(cell) for cell in submitted.cells])
    tests = {test.name: test for test in result.tests if not test.manual}
    kept = 0
    for index, cell in enumerate(graded.cells):
        if cell.get("cell_type") != "code":
            continue
        grade_id = nb.grade_id(cell)
        if grade_id in spec.locked:  # a check cell as the student saw it: its hidden regions stay with the grader
            cell.source = nb.visible_part(spec.locked[grade_id]) if grade_id in tests else spec.locked[grade_id]
        cell.outputs = []
        output, error = result.cell_outputs.get(index, ("", None))
        if grade_id in tests:
            verdict = _verdict(tests[grade_id], output)
            cell.outputs = verdict if isinstance(verdict, list) else [verdict]
            continue
        if output:
            cell.outputs.append(_stream(output))
        for display in result.cell_displays.get(index, ()):
            if "pending" in display:  # drawn after the verdict: deferred.fill puts the figure here
                cell.outputs.append(placeholder(display))
            elif "image/png" in display and kept + len(display["image/png"]) <= MAX_DISPLAY_CHARS:  # reruns add up
                kept += len(display["image/png"])
                cell.outputs.append({"output_type": "display_data", "data": dict(display), "metadata": {}})
        if error:
            cell.outputs.append(_error(str(error.get("type")), str(error.get("text")), []))
    return graded


def _verdict(test, shown: str):
    """The check cell's own lines (what the student saw), then the exercise's verdict, wrapped to be read."""
    visible = sum(line.startswith("\N{CHECK MARK}") for line in shown.splitlines())
    ran = f"The {_count(visible, 'check')} of this cell and " if visible else ""
    hidden = _count(len(test.checks), "hidden check") if test.checks else "the hidden checks"
    if test.score >= test.max_score:
        note = "".join(_wrapped(line) + "\n" for line in test.output.splitlines() if test.helpers and
                       line.startswith("- "))  # a wrong helper's note: the exercise was re-checked with its reference
        return _stream(shown + _wrapped(f"\N{CHECK MARK} {ran}{hidden} passed: "
                                        f"{score(test.score)} of {_count(test.max_score, 'point')}.") + "\n" + note)
    lines = [line for text in test.output.splitlines() for line in _wrapped(text).splitlines()]
    passed = [line for line in shown.splitlines() if line.startswith("\N{CHECK MARK}")]  # the failure is in lines
    if test.score > 0:  # partial credit, as nbgrader reads it: the cell's result is the points it earned
        return [_stream("".join(line + "\n" for line in [
                    *passed, f"\N{BALLOT X} {test.name}: {score(test.score)} of {_count(test.max_score, 'point')}.",
                    *lines])),
                {"output_type": "execute_result", "execution_count": None, "metadata": {},
                 "data": {"text/plain": f"{test.score:g}"}}]
    return _error("AssertionError", " ".join(test.output.splitlines())[:1000],
                  [*passed, f"\N{BALLOT X} {test.name}: this exercise earned 0 of "
                                        f"{_count(test.max_score, 'point')}.", *lines])


def _count(number: float, noun: str) -> str:
    return f"{score(number)} {noun if number == 1 else noun + 's'}"


def _wrapped(text: str, width: int = 100) -> str:
    """Long lines broken at spaces: formgrader shows outputs in <pre>, cut off at the right."""
    return "\n".join(textwrap.fill(line, width, subsequent_indent="  ", break_long_words=False,
                                    break_on_hyphens=False) or line for line in text.splitlines())


RESULTS = "results.json"


def write_autograded(folder: Path, spec: AssignmentSpec, result: SubmissionResult, submitted,
                     timestamp_file: Path | None) -> None:
    """Write the autograded notebook (when the submission could be read), its timestamp and results.json,
    each atomically: a grader killed half-way leaves the old file or the new one, never half of one."""
    folder.mkdir(parents=True, exist_ok=True)
    if submitted is not None:  # nbformat's own layout
        write_atomically(folder / spec.notebook, json.dumps(
            autograded_notebook(spec, result, submitted), indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    if timestamp_file and timestamp_file.is_file():
        write_atomically(folder / "timestamp.txt", timestamp_file.read_text(errors="replace"))
    write_atomically(folder / RESULTS, json.dumps(result.to_json(), ensure_ascii=False))


def read_results(autograded_root: Path, assignment: str):
    """Every graded submission's results.json of `assignment`, as SubmissionResult, students in name order."""
    for path in sorted(autograded_root.glob(f"*/{assignment}/{RESULTS}")):
        yield SubmissionResult.from_json(json.loads(path.read_text(encoding="utf-8")))


def write_atomically(path: Path, text: str):
    # a fixed temporary name: a grader killed mid-write leaves one stray file, which the next write replaces
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
