"""Checks a source notebook before release: nbgrader metadata, unique grade ids, closed regions,
and hidden-check calls that name exercises the assignment's check file really has."""
from __future__ import annotations

from pathlib import Path

from nbgrader.nbgraderformat import MetadataValidator, ValidationError

from . import notebook as nb
from .checks import check_file, load_checks


def lint_source(path: Path, assignment: str) -> list[str]:
    """Every problem in one source notebook, each naming the notebook, the cell and the fix."""
    try:
        notebook = nb.read(path)
    except nb.NotebookError as error:
        return [f"{error}. Fix the JSON (for example by opening and saving it in Jupyter)."]
    problems, seen = [], {}
    validator = MetadataValidator()
    for index, cell in enumerate(notebook.cells):
        if "nbgrader" not in cell.get("metadata", {}):
            continue
        at = nb.where(path, index, cell)
        try:
            validator.validate_cell(validator.upgrade_cell_metadata(cell))
        except ValidationError as error:
            problems.append(f"{at}: broken nbgrader metadata: {error}. "
                            "Set the cell's type again in Jupyter's nbgrader toolbar.")
            continue
        name = nb.grade_id(cell)
        if name in seen:
            problems.append(f"{at}: grade id {name!r} is also used by cell {seen[name] + 1}. "
                            "Give each nbgrader cell its own grade id.")
        seen.setdefault(name, index)
        problems += _regions(at, cell)
        if nb.is_autograder_test(cell):
            problems += _hidden_call(at, cell, assignment)
    return problems


def _regions(at: str, cell) -> list[str]:
    problems = []
    for begin, end in ((nb.BEGIN_SOLUTION, nb.END_SOLUTION), (nb.BEGIN_HIDDEN, nb.END_HIDDEN)):
        depth = 0
        for line in cell.source.splitlines():
            if begin in line:
                depth += 1
                if depth > 1:
                    problems.append(f"{at}: {begin!r} opened twice before {end!r}. Close each region before "
                                    "opening the next.")
            elif end in line:
                depth -= 1
                if depth < 0:
                    problems.append(f"{at}: {end!r} without a {begin!r} before it. Add the missing line.")
                    depth = 0
        if depth > 0:
            problems.append(f"{at}: {begin!r} is never closed. Add a {end!r} line where the region ends.")
    if nb.BEGIN_SOLUTION in cell.source and not nb.is_solution(cell):
        problems.append(f"{at}: has a solution region but is not an nbgrader solution cell, so nbgrader would "
                        "release the solution. Mark the cell as \"Autograded answer\".")
    return problems


def _hidden_call(at: str, cell, assignment: str) -> list[str]:
    try:
        call = nb.hidden_call(cell.source)
    except (SyntaxError, ValueError) as error:
        return [f"{at}: the hidden tests do not parse ({error}). Fix the code between the hidden-test markers."]
    if call is None:
        return [f"{at}: an autograded test cell with no hidden checks. Add a hidden region calling "
                f"{nb.HIDDEN_CALL}({assignment!r}, <exercise>, <name>=<name>)."]
    if call.assignment != assignment:
        return [f"{at}: the hidden checks are for {call.assignment!r}, but this notebook is {assignment!r}."]
    if call.exercise not in load_checks(assignment):
        return [f"{at}: {check_file(assignment).name} has no checks marked "
                f"@pytest.mark.exercise({call.exercise!r}). Add them, or fix the exercise name."]
    return []
