"""Reading nbgrader notebooks: cells by role, solution regions and the hidden-check call of a test cell."""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import nbformat

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
HIDDEN_CALL = "assert_hidden_checks_pass"


class NotebookError(ValueError):
    """A notebook that cannot be used as it is; the message names the notebook, the cell and the fix."""


def read(path: Path) -> nbformat.NotebookNode:
    try:
        return nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise NotebookError(f"{path}: no such notebook") from None
    except Exception as error:  # nbformat raises several kinds for broken JSON
        raise NotebookError(f"{path}: not a readable notebook ({type(error).__name__}: {error})") from None


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def is_autograder_test(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_solution(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def where(path: Path, index: int, cell) -> str:
    name = grade_id(cell)
    return f"{path}, cell {index + 1}" + (f" ({name!r})" if name else "")


def solution_lines(source: str) -> list[str]:
    """The lines inside ### BEGIN/END SOLUTION regions."""
    lines, inside = [], False
    for line in source.splitlines():
        if BEGIN_SOLUTION in line:
            inside = True
        elif END_SOLUTION in line:
            inside = False
        elif inside:
            lines.append(line)
    return lines


@dataclass(frozen=True)
class HiddenCall:
    """`assert_hidden_checks_pass(assignment, exercise, name=name, ...)` in an autograded cell."""

    assignment: str
    exercise: str
    names: tuple[str, ...]  # the notebook names handed to the checks


def hidden_call(source: str) -> HiddenCall | None:
    """The hidden-check call in a test cell's hidden region, or None if it has none."""
    if BEGIN_HIDDEN not in source:
        return None
    region = source.split(BEGIN_HIDDEN, 1)[1].split(END_HIDDEN, 1)[0]
    for node in ast.walk(ast.parse(region)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == HIDDEN_CALL:
            assignment, exercise = (ast.literal_eval(arg) for arg in node.args[:2])
            return HiddenCall(assignment, exercise, tuple(keyword.arg for keyword in node.keywords))
    return None
