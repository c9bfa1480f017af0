"""Runs an assignment's hidden checks against wrong answers before release, for two promises to students:

- a hidden check never prints a value exercise's answer (a notebook variable such as max_stable_learning_rate):
  each value exercise's checks run on the known mistakes' values and on values near and far from the answer,
  and no message may contain the answer's number in any formatting (1, 1.0, 1.00, 1e0);
- a visible check and the grade never disagree: for every exercise, the solution with one small change (a `>`
  made `>=`, a `-` made `+`, a 2 made 3, ...; for a value exercise, the wrong values above) must not fail the
  notebook's own check cell while earning every hidden point.

Both run in this process on the instructor's own source notebook and check file: no student code is involved.
"""
from __future__ import annotations

import ast
import contextlib
import copy
import inspect
import io
import logging
import re
import textwrap
import warnings
from itertools import chain
from pathlib import Path

import numpy as np

from ..course import notebook as nb
from ..checking.checks import check_module, checks_in, run_check, weight_of
from ..checking.expect import Mistake, is_close
from ..engine.submission import local_submission

logger = logging.getLogger(__name__)

# How far the wrong values for a value exercise lie from its answer: some just outside the course tolerance
# (a message rounding them would show the answer), some a little off, some far.
NEAR_AND_FAR = (1 + 1e-5, 1 - 1e-5, 1.001, 0.999, 1.01, 0.99, 1.1, 0.9, 0.5, 2.0, 10.0, -1.0, 0.0)
STEPS = (0.1, -0.1, 1.0, -1.0)  # added to the answer too: an answer of 0 has no multiples
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w])")
STUDENT = "release check"  # the student name seeding the checks' random inputs


def value_answers(source_path: Path) -> dict[str, object]:
    """Value exercise -> its answer: a solution cell's `name = <number or list of numbers>`."""
    return {name: value for name, value in nb.solution_values(nb.read(source_path)) if _numbers(value) is not None}


def answer_leaks(check_path: Path, source_path: Path) -> list[str]:
    """Every hidden-check message on a wrong value that shows a value exercise's answer, naming the check."""
    checks = checks_in(check_path)
    problems = []
    for exercise, answer in value_answers(source_path).items():
        for check in checks.get(exercise, ()):
            for wrong in wrong_values(check, answer):
                result = run_check(check, exercise, local_submission({exercise: wrong}), STUDENT)
                if not result.passed and shows(result.message, answer):
                    problems.append(f"{check_path}: {check.__name__} prints the answer of the value exercise "
                                    f"{exercise!r} when it is {wrong!r}: \"{result.message}\". Say which way and "
                                    "roughly how far the value is off instead (expect_close does so for a notebook "
                                    "variable), and keep the answer's number out of the hints.")
                    break
    return problems


def shows(message: str, answer) -> bool:
    """Whether `message` contains `answer` as a number, however written (1, 1.0, 1.00, 1e0, 1e+00)."""
    expected = _numbers(answer)
    found = []
    for match in NUMBER.finditer(message):
        try:
            found.append(float(match.group()))
        except ValueError:
            continue
    if expected.size == 1:
        return any(np.isclose(number, expected.item(), rtol=1e-9, atol=1e-12) for number in found)
    return len(found) >= expected.size and any(  # an array answer shows when its numbers appear in a row
        np.allclose(found[i:i + expected.size], expected.ravel(), rtol=1e-9, atol=1e-12)
        for i in range(len(found) - expected.size + 1))


def wrong_values(check, answer) -> list:
    """The known mistakes' values the check names (literal Mistake(...) values), then values near and far."""
    expected = _numbers(answer)
    candidates = _mistake_literals(check) + [float(expected.item() * factor) if expected.size == 1
                                             else (expected * factor).tolist() for factor in NEAR_AND_FAR]
    candidates += [float(expected.item() + step) if expected.size == 1 else (expected + step).tolist()
                   for step in STEPS]
    wrong = []
    for value in candidates:
        numbers = _numbers(value)
        if numbers is not None and numbers.shape == expected.shape and not is_close(value, answer) and \
                value not in wrong:
            wrong.append(value)
    return wrong


def _mistake_literals(check) -> list:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(check)))
    except (OSError, SyntaxError):
        return []
    values = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == Mistake.__name__ and len(node.args) >= 2:
            try:
                values.append(ast.literal_eval(node.args[1]))
            except ValueError:
                continue
    return values


def _numbers(value):
    if isinstance(value, (bool, str)) or value is None:
        return None
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return array if np.all(np.isfinite(array)) else None


def disagreements(check_path: Path, source_path: Path) -> list[str]:
    """Every exercise whose check cell fails on a slightly wrong solution that earns all its hidden points."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):  # a changed solution may divide by 0: no matter
        warnings.simplefilter("ignore")
        return _disagreements(check_path, source_path)


def _disagreements(check_path: Path, source_path: Path) -> list[str]:
    source = nb.read(source_path)
    checks = checks_in(check_path)
    namespace = _notebook_namespace(source)
    answers = value_answers(source_path)
    problems = []
    for cell in source.cells:
        if not nb.is_autograder_test(cell):
            continue
        call = nb.hidden_call(cell.source)
        if call is None or call.exercise not in checks:
            continue
        exercise, visible = call.exercise, nb.visible_part(cell.source)
        if not _passes(visible, namespace):
            problems.append(f"{source_path}: the check cell of {exercise!r} fails on the solution itself. Fix the "
                            "check cell or the solution: students would be told a right answer is wrong.")
            continue
        weighted = [check for check in checks[exercise] if weight_of(check) > 0]
        wrong_solutions = _known_mistakes(exercise, namespace, visible, check_module(check_path))
        for change, wrong in chain(wrong_solutions, _wrong_solutions(exercise, source, namespace, answers,
                                                                      checks[exercise])):
            if _passes(visible, dict(namespace, **{exercise: wrong})):
                continue
            submission = local_submission({exercise: wrong})
            if all(run_check(check, exercise, submission, STUDENT).passed for check in weighted):
                problems.append(f"{check_path}: the check cell of {exercise!r} fails when {change}, but every "
                                f"hidden check worth points passes: a student could fail the visible check and "
                                f"earn full marks. Add a weighted hidden check of what that check cell asserts.")
                break
    return problems


def _notebook_namespace(source) -> dict:
    """The notebook's globals after its nbgrader cells (given code, the check helper and the solutions) ran."""
    namespace: dict = {"__name__": "__notebook__"}
    for cell in source.cells:
        if cell.cell_type != "code" or nb.is_autograder_test(cell) or nb.grade_id(cell) is None:
            continue
        code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(code, f"<{nb.grade_id(cell)}>", "exec"), namespace)
        except Exception as error:  # the check cells that need this cell's names then fail on the solution: said so
            logger.warning("cell %s of the source notebook raised %s: %s", nb.grade_id(cell),
                           type(error).__name__, error)
    return namespace


def _passes(visible: str, namespace: dict) -> bool:
    """Whether the check cell's visible part runs through in `namespace` without a failed check or an error."""
    trial = dict(namespace)
    trial.pop("_keep_going", None)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(visible, "<check cell>", "exec"), trial)
    except Exception:  # a failed check (CheckFailed) or any error: the cell did not pass
        return False
    return True


def _known_mistakes(exercise: str, namespace: dict, visible: str, module):
    """(the mistake in words, a function making it) for each known mistake of the check file's `*_mistakes(...)`
    functions that takes the arguments the check cell calls the exercise with: a student making that mistake."""
    solution, calls = namespace.get(exercise), []
    if not callable(solution):
        return

    def recording(*args, **kwargs):
        calls.append(args)
        return solution(*args, **kwargs)

    _passes(visible, dict(namespace, **{exercise: recording}))
    for name, factory in vars(module).items() if calls else ():
        if not (name.endswith("_mistakes") and inspect.isfunction(factory)):
            continue
        try:
            made = factory(*calls[0])
        except Exception:  # a list for other arguments
            continue
        for key, mistakes in made.items() if isinstance(made, dict) else [(None, made)]:
            for did in dict.fromkeys(m.did for m in mistakes if isinstance(m, Mistake)) if isinstance(
                    mistakes, list) else ():
                yield f"a student {did} ({name})", _making(solution, factory, key, did)


def _making(solution, factory, key, did: str):
    """`solution`, but giving the value of the Mistake `did` (in the part `key` of a dict result) of
    factory(*args). Where the factory does not list that mistake, what a student making it gets is unknown (a
    slope taken at the inputs fails on a network whose shapes differ): the function raises, which fails both the
    visible and the hidden checks, so that only mistakes known on both sides are compared."""
    def wrong(*args, **kwargs):
        right = solution(*args, **kwargs)
        made = factory(*args)
        mistakes = made.get(key) if key is not None and isinstance(made, dict) else made
        value = next((m.value for m in mistakes if m.did == did), None) if isinstance(mistakes, list) else None
        if value is None or (key is not None and not isinstance(right, dict)):
            raise LookupError(f"the mistake {did!r} is not known for these arguments")
        return value if key is None else {**right, key: value}

    wrong.__name__ = solution.__name__
    return wrong


def _wrong_solutions(exercise: str, source, namespace: dict, answers: dict, checks):
    """(what was changed, the wrong function or value) for the exercise's solution with one small change."""
    if exercise in answers:
        for check in checks:
            for wrong in wrong_values(check, answers[exercise]):
                yield f"{exercise} is {wrong!r}", wrong
        return
    definition = _solution_function(source, exercise)
    if definition is None:
        return
    for mutant, change in _mutants(definition):
        module = ast.fix_missing_locations(ast.Module(body=[mutant], type_ignores=[]))
        scope = dict(namespace)
        try:
            exec(compile(module, f"<{exercise} changed>", "exec"), scope)
        except Exception:
            continue
        yield change, scope[exercise]


def _solution_function(source, exercise: str) -> ast.FunctionDef | None:
    for cell in source.cells:
        if nb.is_solution(cell) and cell.cell_type == "code":
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, ast.FunctionDef) and node.name == exercise:
                    return node
    return None


# One small change each: the usual slips of a student whose code almost works.
_COMPARE_SWAPS = {ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Eq: ast.NotEq,
                  ast.NotEq: ast.Eq}
_BINOP_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult}


def _mutants(definition: ast.FunctionDef):
    """(a copy of `definition` with one small change, the change in words), for every change found."""
    if any(isinstance(node, ast.While) for node in _nodes(definition)):
        return  # a changed while loop could run for ever in this very process; `for` loops end
    for position, node in enumerate(_nodes(definition)):
        for change in _changes(node):
            mutant = copy.deepcopy(definition)
            nodes = _nodes(mutant)
            change(nodes[position])
            before, after = (ast.unparse(_statement(of, position)).splitlines()[0] for of in (definition, mutant))
            yield mutant, f"the solution's {definition.name} has `{after}` for `{before}`"


def _nodes(definition: ast.FunctionDef) -> list:
    return [node for statement in definition.body for node in ast.walk(statement)]


def _statement(definition: ast.FunctionDef, position: int) -> ast.stmt:
    """The innermost statement of `definition` holding its node number `position` (as _nodes counts)."""
    nodes, holder = _nodes(definition), None
    for statement in (node for node in nodes if isinstance(node, ast.stmt)):
        if any(inner is nodes[position] for inner in ast.walk(statement)):
            holder = statement  # ast.walk is breadth-first: a later holder lies deeper
    return holder


def _changes(node) -> list:
    """Functions that make one small change to (a copy of) `node` in place."""
    changes = []
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE_SWAPS:
        changes.append(lambda target: setattr(target, "ops", [_COMPARE_SWAPS[type(target.ops[0])]()]))
    if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _BINOP_SWAPS:
        changes.append(lambda target: setattr(target, "op", _BINOP_SWAPS[type(target.op)]()))
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        changes.append(lambda target: setattr(target, "value", target.value + 1))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        changes.append(lambda target: setattr(target, "op", ast.UAdd()))
    for index in range(len(node.keywords) if isinstance(node, ast.Call) else 0):  # e.g. dtype=float left out
        changes.append(lambda target, index=index: target.keywords.pop(index))
    return changes
