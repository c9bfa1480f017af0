"""Checks a source notebook before release: nbgrader metadata, unique grade ids, closed regions,
and hidden-check calls that name exercises the assignment's check file really has; the contracts the grader
relies on (docs/check-authors.md): the check file's name, the check helper cell, solution cells named after
their exercises; and the check file itself: its marks and weights, and references that pass their own
exercise's checks."""
from __future__ import annotations

import ast
import importlib.util
import inspect
from math import isfinite
from pathlib import Path

from nbgrader.nbgraderformat import MetadataValidator, ValidationError

from ..course import notebook as nb
from ..checking.checks import run_check, check_file, load_checks
from ..course.config import HIDDEN_CHECKS, OLD_HIDDEN_CHECKS
from ..engine.submission import local_submission

WORKED_EXAMPLE = "_on_the_worked_example"  # a check named so repeats the visible check: it earns nothing more

VISIBLE_CHECK = Path(__file__).resolve().parents[1] / "checking" / "visible_check.py"
HELPER_GRADE_ID = "check_helpers"  # the check helper cell's fixed grade id
KEEP_GOING = "_keep_going = True"  # set by a check cell's first hidden block: a failed visible check then reports


def lint_source(path: Path, assignment: str, root: Path | None = None) -> list[str]:
    """Every problem in one source notebook of the course at `root`, each naming the notebook, the cell and the fix."""
    try:
        notebook = nb.read(path)
    except nb.NotebookError as error:
        return [f"{error}. Fix the JSON (for example by opening and saving it in Jupyter)."]
    problems, seen = _check_file_problems(assignment, root), {}
    checks_load = not problems
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
        if nb.is_autograder_test(cell) and checks_load:
            problems += _hidden_call(at, cell, assignment, root)
    return problems + _contracts(path, notebook, assignment, checks_load, root)


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


def _hidden_call(at: str, cell, assignment: str, root: Path | None = None) -> list[str]:
    try:
        call = nb.hidden_call(cell.source)
    except (SyntaxError, ValueError) as error:
        return [f"{at}: the hidden tests do not parse ({error}). Fix the code between the hidden-test markers."]
    if call is None:
        return [f"{at}: an autograded test cell with no hidden checks. Add a hidden region calling "
                f"{nb.HIDDEN_CALL}({assignment!r}, <exercise>, <name>=<name>)."]
    if call.assignment != assignment:
        return [f"{at}: the hidden checks are for {call.assignment!r}, but this notebook is {assignment!r}."]
    if call.exercise not in load_checks(assignment, root):
        return [f"{at}: {check_file(assignment, root).name} has no checks marked "
                f"@pytest.mark.exercise({call.exercise!r}). Add them, or fix the exercise name."]
    return []


def lint_check_file(assignment: str, source_path: Path, path: Path | None = None,
                    root: Path | None = None) -> list[str]:
    """Every problem of an assignment's hidden check file, each naming the file and line: a check without one
    exercise mark, a weight that is not a number of 0 or more, an exercise whose weights add up to 0, a check
    repeating the worked example that carries weight, and REFERENCES that are not right answers."""
    if path is None and _check_file_problems(assignment, root):
        return []  # lint_source has said why the file is missing or does not load
    path = path or check_file(assignment, root)
    try:
        module_spec = importlib.util.spec_from_file_location(f"autograder_lint_{path.stem}", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    except Exception as error:  # the file is the instructor's: say what is wrong with it, whatever it is
        return [f"{path}: the check file does not load ({type(error).__name__}: {error}). Fix it, then release again."]
    problems, by_exercise = [], {}
    for name, function in vars(module).items():
        if not (name.startswith("test_") and inspect.isfunction(function)):
            continue
        at = f"{path}:{function.__code__.co_firstlineno}"
        marks = [mark for mark in getattr(function, "pytestmark", []) if mark.name == "exercise"]
        if len(marks) != 1 or len(marks[0].args) != 1 or not isinstance(marks[0].args[0], str):
            problems.append(f'{at}: {name} needs exactly one @pytest.mark.exercise("<exercise>").')
            continue
        weight, unknown = marks[0].kwargs.get("weight", 1), set(marks[0].kwargs) - {"weight"}
        if unknown:
            problems.append(f"{at}: {name}'s exercise mark has {', '.join(sorted(unknown))}; only weight=... is known.")
        if type(weight) not in (int, float) or not isfinite(weight) or weight < 0:
            problems.append(f"{at}: {name}'s weight {weight!r} is not a number of 0 or more.")
            continue
        if name.endswith(WORKED_EXAMPLE) and weight:
            problems.append(f"{at}: {name} repeats the worked example, which the visible check already checks, "
                            f"so it must not earn points of its own: give it weight=0.")
        by_exercise.setdefault(marks[0].args[0], []).append((at, weight))
    for exercise, checks in by_exercise.items():
        if not sum(weight for _, weight in checks):
            problems.append(f"{checks[0][0]}: the weights of {exercise!r}'s checks add up to 0, so the exercise could "
                            "earn nothing: give at least one of them a weight above 0.")
    return problems + _reference_problems(path, module, by_exercise, _solution_parameters(source_path))


def _reference_problems(path: Path, module, by_exercise: dict, parameters: dict) -> list[str]:
    """REFERENCES must map exercises of this file to functions taking the exercise's arguments and passing
    its own checks: callers of a wrong helper are graded with them."""
    references = getattr(module, "REFERENCES", {})
    lines = _reference_lines(path)
    if not isinstance(references, dict):
        return [f"{path}:{lines.get(None, 1)}: REFERENCES must be a dict: exercise -> its reference function."]
    problems = []
    checks = {name: function for name, function in vars(module).items()
              if name.startswith("test_") and inspect.isfunction(function)}
    for exercise, reference in references.items():
        at = f"{path}:{lines.get(exercise, lines.get(None, 1))}"
        if exercise not in by_exercise:
            problems.append(f"{at}: REFERENCES names {exercise!r}, which has no checks in this file.")
            continue
        if not callable(reference):
            problems.append(f"{at}: the reference of {exercise!r} is not a function.")
            continue
        if exercise in parameters:
            try:
                inspect.signature(reference).bind(*parameters[exercise])
            except (TypeError, ValueError):
                problems.append(f"{at}: the reference of {exercise!r} cannot be called as the notebook's "
                                f"{exercise}({', '.join(parameters[exercise])}).")
                continue
        submission = local_submission({exercise: reference})
        for name, check in checks.items():
            if name.startswith("test_") and any(m.name == "exercise" and m.args == (exercise,)
                                                for m in getattr(check, "pytestmark", [])):
                result = run_check(check, exercise, submission, "reference")
                if not result.passed:
                    problems.append(f"{at}: the reference of {exercise!r} fails its own check {name}: "
                                    f"{result.message}")
    return problems


def _reference_lines(path: Path) -> dict:
    """Line of each key of the REFERENCES dict (None: of REFERENCES itself)."""
    try:
        tree = ast.parse(path.read_text())
    except SyntaxError:
        return {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "REFERENCES" for t in node.targets):
            lines = {None: node.lineno}
            if isinstance(node.value, ast.Dict):
                lines.update({key.value: key.lineno for key in node.value.keys if isinstance(key, ast.Constant)})
            return lines
    return {}


def _solution_parameters(source_path: Path) -> dict[str, tuple[str, ...]]:
    """Function exercise -> the names of its required parameters, from the source notebook's solutions."""
    try:
        source = nb.read(source_path)
    except nb.NotebookError:
        return {}
    parameters = {}
    for cell in source.cells:
        if not (nb.is_solution(cell) and cell.cell_type == "code"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                positional = node.args.args
                required = positional[:len(positional) - len(node.args.defaults)]
                parameters[node.name] = tuple(argument.arg for argument in required)
    return parameters


def _check_file_problems(assignment: str, root: Path | None = None) -> list[str]:
    """The hidden-check file must exist under its one name and load, every check marked with its exercise."""
    path = check_file(assignment, root)
    if not path.is_file():
        near = sorted(other.name for other in path.parent.glob("test_*.py")
                      if assignment.replace("-", "_").lower() in other.stem.replace("-", "_").lower())
        if (path.parent.parent / OLD_HIDDEN_CHECKS / path.name).is_file():
            return [f"{path}: no hidden-check file. The course's checks are in {OLD_HIDDEN_CHECKS}/, inside the "
                    f"package's folder, where they were kept before; they now belong to the course in "
                    f"{HIDDEN_CHECKS}/: move the folder (`git mv {OLD_HIDDEN_CHECKS} {HIDDEN_CHECKS}`)."]
        return [f"{path}: no hidden-check file. The checks of {assignment!r} must be in {HIDDEN_CHECKS}/"
                f"{path.name} (test_ and the assignment's name with - as _)"
                + (f"; rename {', '.join(near)} to it." if near else "; `autograder new` starts one.")]
    try:
        load_checks(assignment, root)
    except LookupError as error:
        return [f"{path}: {error}. Mark every test_ function with the exercise it grades."]
    except Exception as error:  # an instructor's file: any error means it does not load
        return [f"{path} does not load ({type(error).__name__}: {error}). Fix it, then release again."]
    return []


def keeps_going(source: str) -> bool:
    """Whether a hidden region sets `_keep_going = True` before the cell's first visible line of code: graded, a
    failed visible check then prints its cross and the hidden checks still run (`visible_check._fail`)."""
    region = None
    for line in source.split("\n"):
        if nb.BEGIN_HIDDEN in line:
            region = []
        elif nb.END_HIDDEN in line and region is not None:
            try:
                tree = ast.parse("\n".join(region))
            except SyntaxError:
                return False
            if any(isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["_keep_going"]
                   and isinstance(node.value, ast.Constant) and node.value.value is True for node in tree.body):
                return True
            region = None
        elif region is not None:
            region.append(line)
        elif line.strip() and not line.strip().startswith("#"):
            return False
    return False


def _contracts(path: Path, notebook, assignment: str, checks_load: bool, root: Path | None = None) -> list[str]:
    """What the grader relies on beyond nbgrader's own rules, each with why."""
    problems = []
    helper = VISIBLE_CHECK.read_text(encoding="utf-8").strip()
    solutions = {nb.grade_id(cell) for cell in notebook.cells if nb.is_solution(cell) and cell.cell_type == "code"}
    called = set()
    for index, cell in enumerate(notebook.cells):
        at = nb.where(path, index, cell)
        if nb.grade_id(cell) == HELPER_GRADE_ID and cell.source.strip() != helper:
            problems.append(f"{at}: the check helper cell differs from autograder/checking/visible_check.py. "
                            "Paste that file into the cell unchanged: "
                            "the grader recognises a failed visible check by its CheckFailed, "
                            "and every notebook shares that one tested helper.")
        if not nb.is_autograder_test(cell):
            continue
        try:
            call = nb.hidden_call(cell.source)
        except (SyntaxError, ValueError):
            continue  # reported by _hidden_call
        if call is None:
            continue
        called.add(call.exercise)
        if "check(" in nb.visible_part(cell.source) and not keeps_going(cell.source):
            problems.append(f"{at}: the check cell does not start with the hidden block that turns partial credit "
                            f"on, so a failed visible check stops the cell and the exercise earns 0. Put these "
                            f"three lines first in the cell:\n    {nb.BEGIN_HIDDEN}\n    {KEEP_GOING}\n"
                            f"    {nb.END_HIDDEN}")
        if call.exercise not in solutions:
            problems.append(f"{at}: no solution cell has the grade id {call.exercise!r}. Give the cell where "
                            f"students write {call.exercise} that grade id: feedback finds a student's code by it "
                            "(to say \"fix that one first\" when it calls another exercise that fails).")
    uses_check = any(nb.is_autograder_test(cell) and "check(" in cell.source for cell in notebook.cells)
    if uses_check and not any(nb.grade_id(cell) == HELPER_GRADE_ID for cell in notebook.cells):
        problems.append(f"{path}: the check cells call check(...), but no cell has the grade id "
                        f"{HELPER_GRADE_ID!r}. Add a read-only cell with that grade id holding "
                        "autograder/checking/visible_check.py, before the first exercise.")
    if checks_load:
        for exercise in load_checks(assignment, root):
            if exercise not in called:
                problems.append(f"{check_file(assignment, root)}: the checks of exercise {exercise!r} are never run: "
                                f"no check cell of {path.name} calls {nb.HIDDEN_CALL}({assignment!r}, {exercise!r}, "
                                "...). Add that call, or fix the exercise name.")
    return problems
