"""The bundled sample class: twelve students' submissions of each of the course's assignments.

Importable (`build_notebook`, `SAMPLE_CLASS`, `EXPECTED`, `write_class`, `random_class`, `write_random_class`)
and runnable: `python3 samples/make_class.py` rebuilds `samples/submitted/` from the release notebooks.

A submission is the RELEASE notebook with each solution cell replaced by a variant from `variants.py`
(matched by nbgrader grade_id) and, for some students, extra cells of their own (crashing, looping or
cheating ones among them). An assignment variants.py does not know yet (one `autograder new` added) gets
submissions built from its own notebooks: each exercise right (the source's solution) or left as released.
`EXPECTED[assignment][student]` is the number of autograded points each bundled
submission deserves; it is derived from each exercise's variant alone, its hidden checks run in-process
(`expected_points`), and was confirmed by grading the class and reading every message.

Usage:
    python3 samples/make_class.py                      # rebuild samples/submitted/
    python3 samples/make_class.py --dest DIR           # write the bundled class elsewhere
    python3 samples/make_class.py --random 200 --seed 1 --dest DIR   # a random class for benchmarks
"""
from __future__ import annotations

import argparse
import ast
import datetime as dt
import importlib.util
import random
import shutil
import sys
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import nbformat

HERE = Path(__file__).resolve().parent
COURSE_ROOT = HERE.parent
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"


def _load_variants():
    name = "autograder_samples_variants"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / "variants.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


variants = _load_variants()
VARIANTS, WRITTEN, HOSTILE = variants.VARIANTS, variants.WRITTEN, variants.HOSTILE
hostile_cell, is_correct = variants.hostile_cell, variants.is_correct

# --------------------------------------------------------------------------------------------------
# The course
# --------------------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def course_assignments(course_root: Path = COURSE_ROOT) -> dict[str, str]:
    """assignment -> notebook file name, from the course's c.Autograder.assignments."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("course_config.py", path=str(course_root)).load_config()
    return dict(config.Autograder.assignments)


def notebook_name(course_root: Path, assignment: str) -> str:
    return course_assignments(Path(course_root).resolve())[assignment]


def _grade_id(cell) -> str | None:
    return (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")


@lru_cache(maxsize=None)
def exercise_points(course_root: Path, assignment: str) -> dict[str, float]:
    """exercise name -> points of its autograded test cell, read from the SOURCE notebook."""
    source = nbformat.read(str(Path(course_root) / "source" / assignment / notebook_name(course_root, assignment)), 4)
    points = {}
    for cell in source.cells:
        meta = cell.get("metadata", {}).get("nbgrader") or {}
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            exercise = _hidden_exercise(cell.source) or meta["grade_id"].removeprefix("check_")
            points[exercise] = float(meta.get("points", 0))
    return points


def _hidden_exercise(source: str) -> str | None:
    """The exercise named in `assert_hidden_checks_pass("<assignment>", "<exercise>", ...)`."""
    try:
        tree = ast.parse(source.split("### BEGIN HIDDEN TESTS", 1)[-1].split("### END HIDDEN TESTS", 1)[0])
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == \
                "assert_hidden_checks_pass" and len(node.args) >= 2:
            return ast.literal_eval(node.args[1])
    return None


@lru_cache(maxsize=None)
def course_variants(course_root: Path, assignment: str) -> dict[str, dict[str, str]]:
    """grade_id -> variant name -> source: VARIANTS[assignment], or, for an assignment variants.py does not know
    (a new one), each exercise's "correct" (the source notebook's solution) and "stub" (the release's cell)."""
    if assignment in VARIANTS:
        return VARIANTS[assignment]
    course_root = Path(course_root)
    name = notebook_name(course_root, assignment)
    source = nbformat.read(str(course_root / "source" / assignment / name), 4)
    release = nbformat.read(str(course_root / "release" / assignment / name), 4)
    released = {_grade_id(cell): cell.source for cell in release.cells}
    return {_grade_id(cell): {
        "correct": "\n".join(line for line in cell.source.splitlines()
                             if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line),
        "stub": released.get(_grade_id(cell), "")}
        for cell in source.cells
        if cell.cell_type == "code" and (cell.get("metadata", {}).get("nbgrader") or {}).get("solution")}


# --------------------------------------------------------------------------------------------------
# Building a submission
# --------------------------------------------------------------------------------------------------


def build_notebook(course_root: Path, assignment: str, choices: dict[str, str],
                   extra_cells=()) -> nbformat.NotebookNode:
    """The release notebook of `assignment` as a student hands it in.

    choices: grade_id -> variant name (see variants.py); solution cells not in `choices` stay as released.
    extra_cells: (after_grade_id, source) pairs; each becomes a code cell without nbgrader metadata right
    after the cell with that grade_id (several after the same cell keep their order). Outputs are cleared.
    """
    course_root = Path(course_root)
    path = course_root / "release" / assignment / notebook_name(course_root, assignment)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `autograder release {assignment}` in {course_root} first")
    notebook = nbformat.read(str(path), as_version=4)
    solution_ids = set()
    for cell in notebook.cells:
        grade_id = _grade_id(cell)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if not (cell.get("metadata", {}).get("nbgrader") or {}).get("solution"):
            continue
        solution_ids.add(grade_id)
        choice = choices.get(grade_id)
        if choice is None or choice in ("stub", "unchanged"):
            continue  # the release's own stub, unmodified
        table = (WRITTEN.get(assignment, {}) if cell.cell_type == "markdown"
                 else course_variants(course_root.resolve(), assignment)).get(grade_id, {})
        if choice not in table:
            raise KeyError(f"{assignment}: no variant {choice!r} for {grade_id!r}; there are: {', '.join(table)}")
        cell.source = table[choice]
    unknown = set(choices) - solution_ids
    if unknown:
        raise KeyError(f"{assignment}: the release has no solution cell {', '.join(sorted(unknown))}")
    inserted_after: dict[str, int] = {}
    for number, (after, source) in enumerate(extra_cells):
        positions = [index for index, cell in enumerate(notebook.cells) if _grade_id(cell) == after]
        if not positions:
            raise KeyError(f"{assignment}: no cell with grade_id {after!r} to put an extra cell after")
        position = positions[0] + 1 + inserted_after.get(after, 0)
        inserted_after[after] = inserted_after.get(after, 0) + 1
        cell = nbformat.v4.new_code_cell(source)
        cell.id = f"student-cell-{number + 1}"
        notebook.cells.insert(position, cell)
    nbformat.validate(notebook)
    return notebook


# --------------------------------------------------------------------------------------------------
# The bundled class
# --------------------------------------------------------------------------------------------------

A1, A2, A3, A4 = "01-gradient-descent", "02-slopes-and-updates", "03-backpropagation", "04-linear-regression"

STUDENTS = ["ada_lovelace", "alan_turing", "grace_hopper", "katherine_johnson", "john_von_neumann", "emmy_noether",
            "claude_shannon", "barbara_liskov", "edsger_dijkstra", "margaret_hamilton", "donald_knuth",
            "frances_allen"]

# Where extra cells go: after the check cell of the last function, so every function is defined above them.
AFTER_FUNCTIONS = {A1: "check_gradient_descent", A2: "check_train", A3: "check_numerical_gradient",
                   A4: "check_fit"}


def hostile_after(name: str, assignment: str) -> str:
    """The grade_id of the cell after which the hostile cell `name` goes (see variants.HOSTILE_AFTER)."""
    last = f"check_{list(course_variants(COURSE_ROOT, assignment))[-1]}"  # a new assignment's last check cell
    return variants.HOSTILE_AFTER.get(name, {}).get(assignment, AFTER_FUNCTIONS.get(assignment, last))


def _hostile(assignment: str, *names: str) -> list[tuple[str, str]]:
    return [(hostile_after(name, assignment), name) for name in names]


def _correct(assignment: str, **styles) -> dict[str, str]:
    """Every exercise "correct", except those given another variant."""
    choices = {exercise: "correct" for exercise in course_variants(COURSE_ROOT, assignment)}
    choices.update(styles)
    return choices


def _only(assignment: str, *done, **styles) -> dict[str, str]:
    """The exercises in `done` correct (or in the given style); everything else left as the stub."""
    choices = {exercise: "stub" for exercise in course_variants(COURSE_ROOT, assignment)}
    choices.update({exercise: "correct" for exercise in done})
    choices.update(styles)
    return choices


def disguised(source: str) -> str:
    """`source` as a student who copied it might hand it in: its local variables renamed, its comments and
    docstrings replaced and its layout changed, the behaviour the same (for the report's similarity section)."""
    import io
    import tokenize

    tree = ast.parse(source)
    parameters = {arg.arg for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) for arg in node.args.args}
    assigned = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    renames = {name: f"my_{name}" for name in sorted(assigned - parameters)}
    tokens = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.string in renames:
            token = token._replace(string=renames[token.string])
        elif token.type == tokenize.COMMENT:
            continue
        elif token.type == tokenize.STRING and token.string.startswith('"""'):
            token = token._replace(string='"""My solution."""')
        tokens.append((token.type, token.string))
    return "# worked this out myself\n" + tokenize.untokenize(tokens)


def _copied(assignment: str, choices: dict[str, str]) -> dict[str, str]:
    """`choices` disguised as a copy would be (the variants `copied_<name>`, made here from `<name>`)."""
    for grade_id, name in choices.items():
        if is_correct(name) or name.startswith("mistake"):
            VARIANTS[assignment][grade_id].setdefault(f"copied_{name}", disguised(VARIANTS[assignment][grade_id][name]))
    return {grade_id: f"copied_{name}" if is_correct(name) or name.startswith("mistake") else name
            for grade_id, name in choices.items()}


def _student(profile: str, assignment: str, choices: dict[str, str], hostile=(), written=None) -> dict:
    """One submission: its profile, choices and extra cells (hostile: (after_grade_id, HOSTILE name) pairs)."""
    if written is not None:
        choices = {**choices, **written}
    return {"profile": profile, "choices": choices, "hostile": list(hostile),
            "extra_cells": [(after, hostile_cell(name, assignment)) for after, name in hostile]}


SAMPLE_CLASS: dict[str, dict[str, dict]] = {
    A1: {
        "ada_lovelace": _student("fully correct, reference style", A1, _correct(A1),
                                 written={"learning_rate_too_large": "good"}),
        "alan_turing": _student(
            "fully correct: expanded derivative, float copy updated in place, preallocated path, integer 1", A1,
            _correct(A1, df="expanded", gradient_descent_update="inplace_on_copy", gradient_descent="preallocated",
                     max_stable_learning_rate="integer"), written={"learning_rate_too_large": "partial"}),
        "grace_hopper": _student(
            "fully correct: chain rule, np.subtract, while loop, derived value", A1,
            _correct(A1, df="chain_rule", gradient_descent_update="np_subtract", gradient_descent="while_loop",
                     max_stable_learning_rate="derived"), written={"learning_rate_too_large": "good"}),
        "katherine_johnson": _student(
            "partly done: df and the update; gradient_descent and the learning rate left as stubs", A1,
            _only(A1, "df", gradient_descent_update="factor_order"), written={"learning_rate_too_large": "unchanged"}),
        "john_von_neumann": _student(
            "partly done: df, update and gradient_descent (inline steps); max_stable_learning_rate left", A1,
            _only(A1, "df", "gradient_descent_update", gradient_descent="inline_step"),
            written={"learning_rate_too_large": "partial"}),
        "emmy_noether": _student(
            "mistake: update adds the gradient (so gradient_descent, which uses it, is wrong too)", A1,
            _correct(A1, gradient_descent_update="mistake_added_gradient"),
            written={"learning_rate_too_large": "good"}),
        "claude_shannon": _student(
            "mistakes: df drops the factor 2; max_stable_learning_rate 0.5", A1,
            _correct(A1, df="mistake_dropped_factor_2", max_stable_learning_rate="mistake_half"),
            written={"learning_rate_too_large": "partial"}),
        "barbara_liskov": _student(
            "mistakes: update modifies the caller's array (-=); gradient_descent makes one step too few", A1,
            _correct(A1, gradient_descent_update="mistake_modified_input",
                     gradient_descent="mistake_one_step_too_few"), written={"learning_rate_too_large": "good"}),
        "edsger_dijkstra": _student(
            "mistakes: update applies the learning rate twice (breaks gradient_descent too); rate 2.0", A1,
            _correct(A1, gradient_descent_update="mistake_learning_rate_twice", max_stable_learning_rate="mistake_two"),
            written={"learning_rate_too_large": "partial"}),
        "margaret_hamilton": _student(
            "crash: correct functions, then a cell calling os._exit(1) (before max_stable_learning_rate)", A1,
            _correct(A1), hostile=_hostile(A1, "crash_exit"), written={"learning_rate_too_large": "good"}),
        "donald_knuth": _student(
            "endless loop: correct functions, then a `while True: pass` cell", A1,
            _correct(A1, gradient_descent="while_loop"), hostile=_hostile(A1, "infinite_loop_cell"),
            written={"learning_rate_too_large": "unchanged"}),
        "frances_allen": _student(
            "cheat: instead of writing df, the update and gradient_descent, a cell defining them to return the "
            "worked example's values", A1,
            _correct(A1, df="stub", gradient_descent_update="stub", gradient_descent="stub"),
            hostile=_hostile(A1, "hardcoded_worked_values"),
            written={"learning_rate_too_large": "partial"}),
    },
    A2: {
        "ada_lovelace": _student(
            "mistake: get_slope drops the factor 2 (train, which uses it, is wrong too)", A2,
            _correct(A2, get_slope="mistake_dropped_factor_2")),
        "alan_turing": _student("crash: correct functions, then os._exit(1)", A2,
                                _correct(A2, predict="np_dot"), hostile=_hostile(A2, "crash_exit")),
        "grace_hopper": _student("partly done: predict and get_error; the rest left as stubs", A2,
                                 _only(A2, "predict", "get_error")),
        "katherine_johnson": _student(
            "fully correct: np.dot, inline error, factor order, float copy updated in place, preallocated losses", A2,
            _correct(A2, predict="np_dot", get_error="inline", get_slope="factor_order",
                     update_weights="inplace_on_copy", train="preallocated")),
        "john_von_neumann": _student(
            "cheat: a cell trying to read the hidden checks, source notebooks and gradebook; predict and get_error "
            "done, the rest stubs", A2,
            _only(A2, predict="matmul", get_error="correct"), hostile=_hostile(A2, "read_hidden_checks")),
        "emmy_noether": _student("fully correct, reference style", A2, _correct(A2)),
        "claude_shannon": _student("endless loop: correct functions, then a `while True: pass` cell", A2,
                                   _correct(A2), hostile=_hostile(A2, "infinite_loop_cell")),
        "barbara_liskov": _student(
            "mistake: get_error is target - prediction (get_slope and train use it, so they are wrong too)", A2,
            _correct(A2, get_error="mistake_sign_flipped")),
        "edsger_dijkstra": _student(
            "fully correct: loops, negated error, loops, np.subtract, computations inline in train", A2,
            _correct(A2, predict="loops", get_error="negated", get_slope="loops", update_weights="np_subtract",
                     train="inline")),
        "margaret_hamilton": _student(
            "mistakes: update_weights modifies the caller's array (-=); train records each loss before its update",
            A2, _correct(A2, update_weights="mistake_modified_input", train="mistake_loss_before_update")),
        "donald_knuth": _student("partly done: everything but train", A2,
                                 _correct(A2, update_weights="loops", train="stub")),
        "frances_allen": _student(
            "mistake: predict adds inputs and weights instead of multiplying (everything built on it is wrong)", A2,
            _correct(A2, predict="mistake_summed_inputs")),
    },
    A3: {
        "ada_lovelace": _student(
            "endless loop inside a graded function: a second numerical_gradient, right below the first, whose while "
            "loop never ends", A3,
            _correct(A3), hostile=_hostile(A3, "infinite_loop_in_function")),
        "alan_turing": _student("fully correct, reference style", A3, _correct(A3)),
        "grace_hopper": _student("crash: correct functions, then os._exit(1)", A3, _correct(A3, relu="clip"),
                                 hostile=_hostile(A3, "crash_exit")),
        "katherine_johnson": _student("mistake: backprop leaves out the ReLU slope", A3,
                                      _correct(A3, backprop="mistake_no_relu_slope")),
        "john_von_neumann": _student(
            "fully correct: loops everywhere, float copy nudged and restored in numerical_gradient", A3,
            _correct(A3, relu="loops", relu_slope="loops", forward="loops", backprop="loops",
                     backprop_weight_update="inplace_on_copy", numerical_gradient="restore_in_place")),
        "emmy_noether": _student("partly done: relu, relu_slope and forward; the rest left as stubs", A3,
                                 _only(A3, "relu", "relu_slope", "forward")),
        "claude_shannon": _student(
            "mistakes: relu_slope returns relu(x) (so backprop, which uses it, is wrong); the update changes the "
            "caller's arrays through a shallow dict copy", A3,
            _correct(A3, relu_slope="mistake_returns_relu", backprop_weight_update="mistake_shallow_copy")),
        "barbara_liskov": _student(
            "cheat: a cell at the top monkeypatching np.allclose, np.isclose, abs and isinstance, hoping that the wrong "
            "relu_slope, update and numerical_gradient then pass", A3,
            _correct(A3, relu_slope="mistake_slope_always_one", backprop="broadcast",
                     backprop_weight_update="mistake_added_gradient", numerical_gradient="mistake_one_sided"),
            hostile=_hostile(A3, "monkeypatch_numpy")),
        "edsger_dijkstra": _student(
            "mistakes: forward leaves out the ReLU (backprop uses forward, so it is wrong too); one-sided "
            "differences", A3,
            _correct(A3, forward="mistake_no_relu", numerical_gradient="mistake_one_sided")),
        "margaret_hamilton": _student(
            "fully correct: np.where, heaviside, np.dot, broadcasting, explicit keys", A3,
            _correct(A3, relu="np_where", relu_slope="heaviside", forward="np_dot", backprop="broadcast",
                     backprop_weight_update="explicit_keys")),
        "donald_knuth": _student("mistakes: backprop uses target - output; the update adds the gradient", A3,
                                 _correct(A3, backprop="mistake_sign_flipped",
                                          backprop_weight_update="mistake_added_gradient")),
        "frances_allen": _student(
            "partly done: everything but backprop_weight_update and numerical_gradient", A3,
            _correct(A3, relu="mask", relu_slope="np_where", backprop_weight_update="stub",
                     numerical_gradient="stub")),
    },
    A4: {
        "ada_lovelace": _student("fully correct: loops", A4,
                                 _correct(A4, linear="np_ufuncs", sse="loops", sse_gradient="loops",
                                          fit="temporaries")),
        "alan_turing": _student(
            "mistake: sse_gradient divided by n (fit, which uses it, is wrong too)", A4,
            _correct(A4, sse_gradient="mistake_divided_by_n")),
        "grace_hopper": _student("fully correct, reference style", A4, _correct(A4)),
        "katherine_johnson": _student("crash: correct functions, then os._exit(1)", A4,
                                      _correct(A4, fit="inline"), hostile=_hostile(A4, "crash_exit")),
        "john_von_neumann": _student("mistake: fit records the SSE before each update instead of after", A4,
                                     _correct(A4, fit="mistake_history_before_update")),
        "emmy_noether": _student(
            "cheat: instead of writing sse and sse_gradient, a cell defining them to return floats whose == is "
            "always True; fit left a stub", A4,
            _correct(A4, sse="stub", sse_gradient="stub", fit="stub"), hostile=_hostile(A4, "fake_equality")),
        "claude_shannon": _student("partly done: linear and sse; the rest left as stubs", A4,
                                   _only(A4, "linear", sse="np_dot")),
        "barbara_liskov": _student(
            "fully correct: y - prediction as the error, np.dot, fit without helpers", A4,
            _correct(A4, linear="as_float_array", sse="reversed_error", sse_gradient="reversed_error", fit="inline")),
        "edsger_dijkstra": _student("endless loop: correct functions, then a `while True: pass` cell", A4,
                                    _correct(A4, sse_gradient="np_dot"),
                                    hostile=_hostile(A4, "infinite_loop_cell")),
        "margaret_hamilton": _student(
            "copy: ada_lovelace's solutions with the variables renamed, other comments and another layout", A4,
            _copied(A4, _correct(A4, linear="np_ufuncs", sse="loops", sse_gradient="loops", fit="temporaries"))),
        "donald_knuth": _student(
            "mistakes: sse takes the mean (fit's history uses it, so fit is wrong too); fit updates the bias with "
            "the already updated weight", A4, _correct(A4, sse="mistake_mean", fit="mistake_sequential_update")),
        "frances_allen": _student(
            "mistake: sse_gradient drops the factor 2 (fit uses it, so fit is wrong too)", A4,
            _correct(A4, sse_gradient="mistake_dropped_factor_2")),
    },
}



def _partly_done_class(assignment: str) -> dict[str, dict]:
    """For an assignment without curated submissions (a new one): student n has the first n mod (E + 1) of its E
    exercises right and the rest left as released, so every score from none to all is graded."""
    exercises = list(course_variants(COURSE_ROOT, assignment))
    class_ = {}
    for number, student in enumerate(STUDENTS):
        done = exercises[:number % (len(exercises) + 1)]
        class_[student] = _student(f"{len(done)} of {len(exercises)} exercises done, the rest left as released",
                                   assignment, _only(assignment, *done))
    return class_


SAMPLE_CLASS.update({assignment: _partly_done_class(assignment)
                     for assignment in course_assignments() if assignment not in SAMPLE_CLASS})


def _defined_functions(source: str) -> set[str]:
    try:
        return {node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}
    except SyntaxError:
        return set()



def expected_points(course_root: Path, assignment: str, choices: dict[str, str], hostile=(), student: str = "") -> float:
    """The autograded points a submission deserves, by the course's rules rather than by the grader.

    Each exercise earns its points split over its hidden checks by weight, for its own code alone: a mistake is
    charged once, so a wrong helper's callers are judged with the helper's reference. Here that is done directly:
    the variant runs in this process among every other exercise's reference, its check cell first (a cell that
    crashes earns 0, as nbgrader scores it), then its hidden checks, seeded for `student` as the grader seeds
    them. Hostile cells placed after the functions that redefine an exercise replace it with a wrong version
    (0 points); other hostile cells (crashes, endless loops, reading files) cost nothing: the engine skips them.
    """
    exercises = course_variants(Path(course_root).resolve(), assignment)
    overridden = set()
    for _, name in hostile:
        overridden |= _defined_functions(hostile_cell(name, assignment)) & set(exercises)
    points = exercise_points(Path(course_root), assignment)
    return round(sum(_earned(Path(course_root), assignment, exercise, choices.get(exercise, "stub"), student)
                     for exercise in exercises if exercise in points and exercise not in overridden), 4)


@lru_cache(maxsize=None)
def _course_cells(course_root: Path, assignment: str) -> dict:
    """The namespace after the course's own cells: the worked example, the check helpers, given code."""
    import contextlib
    import io

    import matplotlib

    from autograder.course.config import load_course
    from autograder.grading.grade import assignment_spec

    matplotlib.use("agg")
    spec = assignment_spec(load_course(course_root), assignment)
    namespace: dict = {}
    checks = {e.grade_id for e in spec.exercises}
    with contextlib.redirect_stdout(io.StringIO()):
        for source in (*spec.prefix, *(text for grade_id, text in spec.locked.items() if grade_id not in checks)):
            exec("\n".join(line for line in source.splitlines() if not line.startswith("%")), namespace)
    matplotlib.pyplot.close("all")
    return namespace


@lru_cache(maxsize=None)
def _earned(course_root: Path, assignment: str, exercise: str, variant: str, student: str) -> float:
    """The points one exercise's variant earns on its own, among the references of the others."""
    import contextlib
    import io

    from autograder.checking.checks import load_references, run_exercise
    from autograder.results.model import earned
    from autograder.course.config import load_course
    from autograder.grading.grade import assignment_spec
    from autograder.engine.submission import local_submission

    spec = assignment_spec(load_course(course_root), assignment)
    task = next(e for e in spec.exercises if e.name == exercise)
    variants = course_variants(course_root.resolve(), assignment)
    references = load_references(assignment, course_root)
    namespace = dict(_course_cells(course_root, assignment))
    with contextlib.redirect_stdout(io.StringIO()):
        for other in variants:  # an exercise without a reference (a new assignment's): its correct version
            if other != exercise and other not in references:
                exec(variants[other].get("correct", ""), namespace)
    namespace.update({name: reference for name, reference in references.items() if name != exercise})
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            exec(spec.locked["check_helpers"], namespace)  # afresh: check() reads _keep_going from its own globals
            exec(variants[exercise].get(variant, ""), namespace)
            exec(spec.locked[task.grade_id], namespace)
        except Exception:  # the cell or its check cell stops with an error: nbgrader gives 0
            return 0.0
        values = {name: namespace[name] for name in task.names if name in namespace}
        return earned(run_exercise(assignment, exercise, local_submission(values), student, root=course_root),
                      task.points)


# Known exceptions, confirmed by grading and reading the messages. None so far; kept for the record.
EXPECTED_OVERRIDES: dict[tuple[str, str], float] = {}

EXPECTED: dict[str, dict[str, float]] = {
    assignment: {
        student: EXPECTED_OVERRIDES.get((assignment, student), expected_points(
            COURSE_ROOT, assignment, sub["choices"], sub["hostile"], student))
        for student, sub in students.items()}
    for assignment, students in SAMPLE_CLASS.items()}


def max_auto_points(course_root: Path, assignment: str) -> float:
    return sum(exercise_points(Path(course_root), assignment).values())


def readme_table(course_root: Path = COURSE_ROOT) -> str:
    """The "Who is who" table of samples/README.md: every submission's profile and EXPECTED points (scores as
    the tools show them: at most two decimals)."""
    sys.path.insert(0, str(COURSE_ROOT))  # run as a script, the package beside samples/
    from autograder.results.scores import score

    lines = ["| student | assignment | profile | expected auto points |", "| --- | --- | --- | --- |"]
    for assignment, students in SAMPLE_CLASS.items():
        top = score(max_auto_points(course_root, assignment))
        lines += [f"| {student} | {assignment} | {submission['profile']} | {score(EXPECTED[assignment][student])} / "
                  f"{top} |" for student, submission in students.items()]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Writing a class
# --------------------------------------------------------------------------------------------------

DUE = {A1: dt.datetime(2026, 10, 9, 17, 0), A2: dt.datetime(2026, 10, 23, 17, 0),
       A3: dt.datetime(2026, 11, 6, 17, 0), A4: dt.datetime(2026, 11, 20, 17, 0)}


def _timestamp(student_number: int, assignment: str, rng: random.Random | None = None) -> str:
    """A submission time near the deadline: a few hours early, or a few minutes late for some."""
    due = DUE.get(assignment, dt.datetime(2026, 11, 20, 17, 0))
    if rng is None:
        minutes = (student_number * 47 + len(assignment) * 13) % 600 - 540  # -9 h .. +1 h
        seconds = (student_number * 7) % 60
        micro = (student_number * 123457) % 1_000_000
    else:
        minutes, seconds, micro = rng.randint(-4 * 24 * 60, 90), rng.randint(0, 59), rng.randint(0, 999_999)
    return (due + dt.timedelta(minutes=minutes, seconds=seconds, microseconds=micro)).strftime(TIMESTAMP_FORMAT)


def _write(dest: Path, student: str, assignment: str, notebook: nbformat.NotebookNode, name: str,
           stamp: str) -> Path:
    folder = Path(dest) / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(notebook, str(path))
    (folder / "timestamp.txt").write_text(stamp + "\n")
    return path


def write_class(dest: Path, course_root: Path = COURSE_ROOT, students=SAMPLE_CLASS) -> list[Path]:
    """Write `students` ({assignment: {student: {"choices", "extra_cells"}}}) in nbgrader's layout:
    dest/<student>/<assignment>/<notebook>.ipynb and a timestamp.txt next to each. Returns the notebooks."""
    dest, course_root = Path(dest), Path(course_root)
    written = []
    order = {student: number for number, student in enumerate(STUDENTS)}
    for assignment, submissions in students.items():
        name = notebook_name(course_root, assignment)
        for student, submission in submissions.items():
            notebook = build_notebook(course_root, assignment, submission["choices"],
                                      submission.get("extra_cells", ()))
            number = order.get(student, len(order) + len(written))
            written.append(_write(dest, student, assignment, notebook, name, _timestamp(number, assignment)))
    return written


# --------------------------------------------------------------------------------------------------
# A random class, for benchmarks
# --------------------------------------------------------------------------------------------------

FIRST_NAMES = ["amara", "bjorn", "chen", "dalia", "emeka", "farah", "gustavo", "hana", "ivan", "jamila", "kenji",
               "leila", "mateo", "nadia", "oskar", "priya", "quentin", "rosa", "samir", "tamar", "uma", "viktor",
               "wen", "ximena", "yusuf", "zoe", "anton", "beatriz", "cyrus", "dana", "elif", "felix"]
LAST_NAMES = ["abara", "berg", "castillo", "dubois", "eze", "fischer", "garcia", "haddad", "ivanova", "jensen",
              "kowalski", "lindqvist", "moreau", "nakamura", "okafor", "petrov", "quispe", "rossi", "silva",
              "tanaka", "ueda", "varga", "wagner", "xu", "yilmaz", "zhou", "andersen", "bianchi", "costa",
              "dimitrov", "eriksen", "ferreira"]


def random_student_id(number: int) -> str:
    """A realistic, unique first_last id for student `number` (0, 1, 2, ...)."""
    first = FIRST_NAMES[number % len(FIRST_NAMES)]
    last = LAST_NAMES[(number // len(FIRST_NAMES) + number * 7) % len(LAST_NAMES)]
    rounds = number // (len(FIRST_NAMES) * len(LAST_NAMES))
    return f"{first}_{last}" + (f"_{rounds + 1}" if rounds else "")


def random_choices(assignment: str, rng: random.Random,
                   course_root: Path = COURSE_ROOT) -> tuple[str, dict[str, str]]:
    """A realistic submission: about 40% fully correct in random styles, the rest with one or two exercises
    wrong (a random common mistake, or left as the stub in about a quarter of the cases)."""
    exercises = course_variants(Path(course_root).resolve(), assignment)
    choices = {exercise: rng.choice([name for name in table if is_correct(name)])
               for exercise, table in exercises.items()}
    profile = "fully correct"
    if rng.random() >= 0.4:
        broken = rng.sample(sorted(exercises), k=min(len(exercises), rng.choice([1, 1, 2])))
        for exercise in broken:
            mistakes = [name for name in exercises[exercise] if name.startswith("mistake")]
            choices[exercise] = "stub" if rng.random() < 0.25 or not mistakes else rng.choice(mistakes)
        profile = ", ".join(f"{exercise}: {choices[exercise]}" for exercise in sorted(broken))
    for grade_id, answers in WRITTEN.get(assignment, {}).items():
        choices[grade_id] = rng.choice(sorted(answers))
    return profile, choices


# A realistic class's trouble: this share of its submissions loops for ever in a helper the other functions call,
# and this share ends its Python process in a cell of its own.
LOOPING_SHARE, CRASHING_SHARE = 0.03, 0.02


def realistic_trouble(rng: random.Random) -> tuple[str, ...]:
    """The hostile cells of one submission of a realistic class: mostly none."""
    draw = rng.random()
    if draw < LOOPING_SHARE:
        return ("infinite_loop_in_helper",)
    if draw < LOOPING_SHARE + CRASHING_SHARE:
        return ("crash_exit",)
    return ()


def random_class(course_root: Path, n_students: int, seed: int,
                 realistic: bool = False) -> Iterator[tuple[str, str, nbformat.NotebookNode]]:
    """(student, assignment, notebook) for n_students students and every assignment; the same for the same seed.

    No hostile cells, unless `realistic`: then about 3% of the submissions loop for ever in a helper and 2% crash
    (`realistic_trouble`), the rest of each submission as in the class without them."""
    course_root = Path(course_root)
    for number in range(n_students):
        student = random_student_id(number)
        for assignment in course_assignments(course_root.resolve()):
            rng = random.Random(f"{seed}:{number}:{assignment}")
            _, choices = random_choices(assignment, rng, course_root)
            trouble = realistic_trouble(random.Random(f"{seed}:{number}:{assignment}:trouble")) if realistic else ()
            trouble = tuple(name for name in trouble if not isinstance(variants.HOSTILE[name], dict)
                            or assignment in variants.HOSTILE[name])  # a new assignment has no such cell yet
            extra = [(after, hostile_cell(name, assignment)) for after, name in _hostile(assignment, *trouble)]
            yield student, assignment, build_notebook(course_root, assignment, choices, extra)


def write_random_class(dest: Path, course_root: Path, n_students: int, seed: int,
                       realistic: bool = False) -> list[Path]:
    """Write random_class(...) in nbgrader's layout under `dest`, with timestamps; returns the notebooks."""
    dest, course_root = Path(dest), Path(course_root)
    written = []
    for student, assignment, notebook in random_class(course_root, n_students, seed, realistic):
        rng = random.Random(f"{seed}:{student}:{assignment}:time")
        written.append(_write(dest, student, assignment, notebook, notebook_name(course_root, assignment),
                              _timestamp(0, assignment, rng)))
    return written


def hostile_class(course_root: Path = COURSE_ROOT) -> dict[str, dict[str, dict]]:
    """Not bundled: for every assignment, one student per HOSTILE cell (all functions correct, the cell after
    them), named after the cell, e.g. "hostile_memory_bomb". Useful to test an engine's sandbox."""
    return {assignment: {f"hostile_{name}": _student(f"hostile cell {name}", assignment, _correct(assignment),
                                                     hostile=_hostile(assignment, name))
                         for name in HOSTILE if not isinstance(HOSTILE[name], dict) or assignment in HOSTILE[name]}
            for assignment in SAMPLE_CLASS}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", type=Path, default=COURSE_ROOT, help="course root (default: this checkout)")
    parser.add_argument("--dest", type=Path, default=None, help="default: samples/submitted")
    parser.add_argument("--random", type=int, metavar="N", help="write a random class of N students instead")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--realistic", action="store_true",
                        help="with --random: about 3%% of the submissions loop for ever in a helper, 2%% crash")
    parser.add_argument("--hostile", action="store_true", help="write the hostile class (one cell each) instead")
    parser.add_argument("--readme", action="store_true", help="print README.md's table of the class instead")
    args = parser.parse_args(argv)
    if args.readme:
        print(readme_table(args.course))
        return 0
    dest = args.dest or HERE / "submitted"
    if args.random is not None:
        paths = write_random_class(dest, args.course, args.random, args.seed, args.realistic)
    else:
        if dest.exists():
            shutil.rmtree(dest)
        paths = write_class(dest, args.course, hostile_class(args.course) if args.hostile else SAMPLE_CLASS)
    print(f"wrote {len(paths)} notebooks under {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
