"""Reading nbgrader notebooks: cells by role, solution regions and the hidden-check call of a test cell."""
from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass
from pathlib import Path

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
HIDDEN_CALL = "assert_hidden_checks_pass"
# JSON nesting a notebook may have: Jupyter's own is 6 to 8 levels (output data of JSON, widget state: some
# more); reading goes on recursively only within this bound, far below Python's recursion limit
MAX_DEPTH = 100
# where a notebook downloaded from the service keeps its submit key (web/api.py): metadata.autograder.key
SERVICE_METADATA, SUBMIT_KEY = "autograder", "key"


class NotebookError(ValueError):
    """A notebook that cannot be used as it is; the message names the notebook, the cell and the fix."""


class NestedTooDeep(NotebookError):
    """A notebook nested more than MAX_DEPTH levels deep."""


class Node(dict):
    """A notebook, cell or metadata dict with attribute access, as nbformat's NotebookNode has."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value


def _node(value):
    if isinstance(value, dict):
        return Node((valid_text(key), _node(item)) for key, item in value.items())
    if isinstance(value, list):
        return [_node(item) for item in value]
    return valid_text(value) if isinstance(value, str) else value


def valid_text(text: str) -> str:
    """`text` with any lone UTF-16 surrogate (valid JSON: "\\ud835") replaced, so it can be written as UTF-8."""
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def read(path: Path, max_bytes: int | None = None) -> Node:
    """A notebook's cells and metadata (sources joined into strings), without nbformat's slow start-up.

    Raises NotebookError, naming the file, for anything that is not a readable v4 notebook (or is larger than
    `max_bytes`). Whatever else a field holds, reading it through `nbgrader_meta` and `grade_id` is safe."""
    try:
        if max_bytes is not None and os.path.getsize(path) > max_bytes:
            raise NotebookError(f"{path}: the notebook is {os.path.getsize(path) / 1e6:.0f} MB, more than the "
                                f"{max_bytes / 1e6:.0f} MB a notebook may have (clear its outputs and save it again)")
        with open(path, encoding="utf-8") as file:
            notebook = json.load(file)
    except FileNotFoundError:
        raise NotebookError(f"{path}: no such notebook") from None
    except RecursionError:  # nested deeper than the JSON parser goes: the same message as a little less
        raise NestedTooDeep(f"{path}: not a readable notebook (nested more than {MAX_DEPTH} levels deep)") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise NotebookError(f"{path}: not a readable notebook ({type(error).__name__}: {str(error)[:200]})") from None
    if _nested_deeper_than(notebook, MAX_DEPTH):
        raise NestedTooDeep(f"{path}: not a readable notebook (nested more than {MAX_DEPTH} levels deep)")
    if not isinstance(notebook, dict):
        raise NotebookError(f"{path}: not a readable notebook (it holds JSON, but not a notebook)")
    if notebook.get("nbformat") != 4:
        version = notebook.get("nbformat")
        if isinstance(version, int) and not isinstance(version, bool) and version < 4:
            raise NotebookError(f"{path}: this notebook is in the old format version {version}; open it in Jupyter "
                                "and save it again (Jupyter saves version 4), or copy your code into a fresh copy")
        raise NotebookError(f"{path}: not a readable notebook (nbformat {str(version)[:40]}, expected 4)")
    if not isinstance(notebook.get("cells"), list):
        raise NotebookError(f"{path}: not a readable notebook (no list of cells)")
    for index, cell in enumerate(notebook["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise NotebookError(f"{path}: not a readable notebook (cell {index + 1} is malformed)")
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            cell["source"] = "".join(source)
        elif not isinstance(source, str):
            raise NotebookError(f"{path}: not a readable notebook (cell {index + 1} has no text source)")
        if not isinstance(cell.get("metadata", {}), dict):
            cell["metadata"] = {}
        cell.setdefault("metadata", {})
    if not isinstance(notebook.get("metadata", {}), dict):
        notebook["metadata"] = {}
    without_submit_key(notebook)  # no reader (grading, autograded copies, reports) ever holds it
    return _node(notebook)


def without_submit_key(notebook: dict) -> bool:
    """Remove the service's submit key from a notebook's metadata, in place; whether there was one."""
    service = notebook.get("metadata", {}).get(SERVICE_METADATA) if isinstance(notebook, dict) else None
    if isinstance(service, dict) and SUBMIT_KEY in service:
        del service[SUBMIT_KEY]
        return True
    return False


def _nested_deeper_than(value, limit: int) -> bool:
    """Whether lists and dicts in `value` are nested more than `limit` levels deep (`value` itself is level 1);
    found without recursion, so any depth the JSON parser returned is safe to measure."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item)
                     if isinstance(child, (dict, list)))
    return False


def nbgrader_meta(cell) -> dict:
    """The cell's nbgrader metadata; {} when it has none or it is not a dict (a string, a list...)."""
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    """The cell's grade id; None when it has none or it is not a string."""
    value = nbgrader_meta(cell).get("grade_id")
    return value if isinstance(value, str) else None


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


def solution_values(notebook):
    """(name, value) of each `name = <literal>` in the solution regions of `notebook`'s code cells, in order: the
    answers of value exercises (a literal that is not one is left out)."""
    for cell in notebook.cells:
        if not (is_solution(cell) and cell.cell_type == "code"):
            continue
        try:
            tree = ast.parse("\n".join(solution_lines(cell.source)))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    yield node.targets[0].id, ast.literal_eval(node.value)
                except ValueError:
                    continue


@dataclass(frozen=True)
class HiddenCall:
    """`assert_hidden_checks_pass(assignment, exercise, name=name, ...)` in an autograded cell."""

    assignment: str
    exercise: str
    names: tuple[str, ...]  # the notebook names handed to the checks


def _split_hidden(source: str) -> tuple[list[str], list[str]]:
    """(the lines outside hidden regions, each hidden region's text), as nbgrader's ClearHiddenTests splits them."""
    outside, regions, region = [], [], None
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            region = []
        elif END_HIDDEN in line and region is not None:
            regions.append("\n".join(region))
            region = None
        elif region is not None:
            region.append(line)
        else:
            outside.append(line)
    if region is not None:
        regions.append("\n".join(region))
    return outside, regions


def hidden_regions(source: str) -> list[str]:
    """The text of each hidden region of a cell (a check cell may have one before its visible checks too)."""
    return _split_hidden(source)[1]


def visible_part(source: str) -> str:
    """A cell as the student's release has it: without its hidden regions."""
    return "\n".join(_split_hidden(source)[0]).rstrip()


def graded_part(source: str) -> str:
    """A check cell as the grader's sandbox runs it: as `nbgrader autograde` would, but without the region that
    calls the hidden checks (they run in the grader)."""
    lines, region = [], None
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            region = [line]
        elif region is not None:
            region.append(line)
            if END_HIDDEN in line:
                lines += [] if HIDDEN_CALL in "\n".join(region) else region
                region = None
        else:
            lines.append(line)
    return "\n".join(lines).rstrip()


def hidden_call(source: str) -> HiddenCall | None:
    """The hidden-check call in a test cell's hidden regions, or None if it has none."""
    for region in hidden_regions(source):
        for node in ast.walk(ast.parse(region)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == HIDDEN_CALL:
                assignment, exercise = (ast.literal_eval(arg) for arg in node.args[:2])
                return HiddenCall(assignment, exercise, tuple(keyword.arg for keyword in node.keywords))
    return None
