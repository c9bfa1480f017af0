"""Runs an assignment's hidden checks against a Submission.

The hidden checks are ordinary pytest test functions in the course's `hidden/test_<assignment>.py`,
each marked with `@pytest.mark.exercise("<exercise>")` and asking for the fixtures `submission` (the
student's functions and values), if it wants random inputs `rng` (seeded by student and check, so a
submission always meets the same inputs), and if a picture explains its verdict, `plots` (figures for
the student's feedback report, e.g. their loss history against the reference). This module runs them without a pytest session, so
grading a notebook costs microseconds of overhead rather than a pytest start-up.
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import warnings
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from ..results import scores
from ..results.model import CheckResult, Figure, Series, bounded, earned
from ..course.config import find_root, hidden_checks_folder
from ..engine.plain import swap_in
from ..engine.submission import Submission, StudentCodeError, local_submission

class Plots:
    """The `plots` fixture: figures a check draws for the student's feedback report.

    `plots.add(title, x_label, y_label, (label, x, y, style), ...)`. A series whose values are not finite
    numbers of matching length (a student's result can be anything) is left out rather than failing the check.
    """

    def __init__(self):
        self.figures: list[Figure] = []

    def add(self, title: str, x_label: str, y_label: str, *series: tuple):
        usable = tuple(filter(None, (_series(*item) for item in series)))
        if usable:
            self.figures.append(Figure(title, x_label, y_label, usable))


def _series(label, x, y, style="line") -> Series | None:
    try:
        xs, ys = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    except (TypeError, ValueError):
        return None
    if len(xs) != len(ys) or not len(xs) or len(xs) > 5000 or not np.all(np.isfinite(ys)):
        return None
    return Series(label, tuple(xs.tolist()), tuple(ys.tolist()), style)  # tolist(): the same Python floats, faster


def check_file_name(assignment: str) -> str:
    """The name of `assignment`'s hidden check file: test_<assignment with - as _>.py."""
    return f"test_{assignment.replace('-', '_')}.py"


def check_file(assignment: str, root: Path | None = None) -> Path:
    """`hidden/test_<assignment with - as _>.py` in the course at `root` (default: the course found from here), as
    config.hidden_checks_folder says; the course's own file or none, never a copy from the installed package."""
    return hidden_checks_folder(root or find_root()) / check_file_name(assignment)


class NoCheckFile(LookupError):
    """An assignment of course_config.py whose hidden check file is not in the course; the message says what to do."""


def load_checks(assignment: str, root: Path | None = None) -> dict[str, tuple]:
    """Exercise name -> its check functions, in the order the file defines them (of the course at `root`)."""
    path = check_file(assignment, root)
    if not path.is_file():
        old = path.parent.parent / "autograder" / "hidden" / path.name
        raise NoCheckFile(f"{assignment}: its hidden checks are not at {path}. " + (
            "This course keeps them in autograder/hidden/, where they used to live: move that folder to hidden/ "
            "in the course folder (`git mv autograder/hidden hidden`)." if old.is_file() else
            "Write them there (`autograder new` starts a check file), or take the assignment out of "
            "course_config.py."))
    return checks_in(path)


@lru_cache(maxsize=None)
def check_module(path: Path):
    """The hidden check file at `path`, imported once (its checks, REFERENCES and mistake helpers)."""
    spec = importlib.util.spec_from_file_location(f"autograder_hidden_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@lru_cache(maxsize=None)
def checks_in(path: Path) -> dict[str, tuple]:
    """Exercise name -> the check functions of the file at `path`, in the order the file defines them."""
    by_exercise: dict[str, list] = {}
    for name, function in vars(check_module(path)).items():
        if name.startswith("test_") and inspect.isfunction(function):
            by_exercise.setdefault(exercise_of(function), []).append(function)
    return {exercise: tuple(sorted(functions, key=lambda f: f.__code__.co_firstlineno))
            for exercise, functions in by_exercise.items()}


def load_references(assignment: str, root: Path | None = None) -> dict:
    """Exercise -> the reference implementation its callers are re-checked with when the student's own version
    fails its checks: the check file's REFERENCES, named explicitly there (`autograder release` checks them)."""
    return dict(getattr(check_module(check_file(assignment, root)), "REFERENCES", {}))
def _exercise_mark(function):
    for mark in getattr(function, "pytestmark", []):
        if mark.name == "exercise":
            return mark
    raise LookupError(f"hidden check {function.__name__} has no @pytest.mark.exercise(...)")


def exercise_of(function) -> str:
    return _exercise_mark(function).args[0]


def weight_of(function) -> float:
    """The check's weight: `@pytest.mark.exercise("backprop", weight=2)`; 1 when not given."""
    return _exercise_mark(function).kwargs.get("weight", 1)


@cache
def fixtures_of(check) -> tuple[str, ...]:
    """The fixtures a check asks for, by name."""
    return tuple(inspect.signature(check).parameters)


def seed_for(student: str, check: str) -> int:
    digest = hashlib.sha256(f"{student}\0{check}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def run_exercise(assignment: str, exercise: str, submission: Submission, student: str,
                 weighted_only: bool = False, root: Path | None = None) -> list[CheckResult]:
    """Run every hidden check of one exercise (with `weighted_only`, those worth points) of the course at `root`;
    never raises for anything the student's code did."""
    checks = load_checks(assignment, root).get(exercise)
    if not checks:
        raise LookupError(f"{assignment} has no hidden checks for exercise {exercise!r}")
    if weighted_only:
        checks = [check for check in checks if weight_of(check) > 0]
    return [run_check(check, exercise, submission, student) for check in checks]


def run_check(check, exercise, submission, student) -> CheckResult:
    """One check function on `submission`, with the fixtures it asks for; whatever it raises ends as its verdict."""
    plots = Plots()
    wanted = fixtures_of(check)
    fixtures = {"submission": submission, "plots": plots}
    if "rng" in wanted:  # only then: a new generator costs more than some checks
        fixtures["rng"] = np.random.default_rng(seed_for(student, check.__name__))
    weight = float(weight_of(check))
    try:
        check(**{name: fixtures[name] for name in wanted})
    except (AssertionError, StudentCodeError) as failure:
        return CheckResult(check.__name__, exercise, False, bounded(str(failure).strip()) or "This check failed.",
                           getattr(failure, "mistake", None), tuple(plots.figures), weight)
    except Exception as error:  # a check tripped over something odd the student returned
        return CheckResult(check.__name__, exercise, False,
                           f"Your result could not be checked ({type(error).__name__}: {bounded(str(error), 300)}).",
                           weight=weight)
    return CheckResult(check.__name__, exercise, True, "", None, tuple(plots.figures), weight)


def run_fairly(assignment: str, exercise: str, submission: Submission, student: str, wrong_helpers,
               rebind, root: Path | None = None) -> tuple[list[CheckResult], tuple[str, ...]]:
    """The exercise's checks, a mistake charged once: when some fail while helpers it may call fail their own
    checks, they run again with those helpers replaced by their references. `rebind({name: function})` makes
    the student's code call `function` for `name` (rebind({}) undoes it) and says whether it could.

    Returns the checks that count and the wrong helpers the exercise was found to call (then the re-check's).
    The checks are those of the course at `root` (default: the course found from here, config.find_root)."""
    checks = run_exercise(assignment, exercise, submission, student, root=root)
    references = load_references(assignment, root)
    wrong = [name for name in dict.fromkeys(wrong_helpers) if name in references and name != exercise]
    if all(check.passed for check in checks) or not wrong:
        return checks, ()
    called: set[str] = set()
    if not rebind({name: _counted(name, references[name], called) for name in wrong}):
        return checks, ()
    try:
        # the checks worth points: the worked example's, which the visible check covers, cost callbacks for nothing
        rechecked = run_exercise(assignment, exercise, submission, student, weighted_only=True, root=root)
    finally:
        rebind({})
    used = tuple(name for name in wrong if name in called)
    return (rechecked, used) if used else (checks, ())


def _counted(name: str, reference, called: set):
    """`reference` under the helper's name, noting in `called` that the student's code called it."""
    def stand_in(*args):
        called.add(name)
        return reference(*args)

    stand_in.__name__ = name
    return stand_in


def helper_note(exercise: str, helpers: tuple[str, ...], own_mistake: bool, crashed: bool = False) -> str:
    """What a re-check with reference helpers found, in the student's terms."""
    one = len(helpers) == 1
    names = " and ".join(f"`{name}`" for name in helpers)
    if crashed and not own_mistake:  # e.g. a helper that loops stopped the check cell, which earns 0 as in nbgrader
        return (f"`{exercise}` is right when {names} {'is' if one else 'are'} right, but its check cell stopped with "
                f"an error, and a check cell that stops earns nothing: fix {names}, then run the check cell again.")
    if not own_mistake:
        return f"`{exercise}` is right when {names} {'is' if one else 'are'} right; fix {names}."
    return (f"`{exercise}` was checked with a correct {names} in place of yours, which {'does' if one else 'do'} "
            f"not pass {'its' if one else 'their'} own checks yet: fix {'it' if one else 'them'} too. Even so, "
            f"`{exercise}` has a mistake of its own:")


class HiddenChecksFailed(AssertionError):
    """Raised in an autograded cell; Jupyter shows the messages instead of a traceback."""

    def _render_traceback_(self):
        return str(self).splitlines()


_VERDICTS: dict = {}  # (assignment, exercise) -> (the function checked, whether its own logic passed)


def assert_hidden_checks_pass(assignment: str, exercise: str, **values):
    """The hidden part of an autograded cell under `nbgrader autograde`: raise if every check fails, print what
    failed and return the points earned (nbgrader's partial credit) if some do, print a tick if all pass.

    A mistake is charged once, as `autograder grade` charges it: an exercise failing while a helper it calls
    failed its own check cell is checked again with the helper replaced by its reference."""
    from ..course.config import load_course
    from .expect import course_tolerances
    from ..course.spec import read_spec

    course = load_course()
    spec = read_spec(course, assignment)
    points = next((e.points for e in spec.exercises if e.name == exercise), 1.0)
    function = values.get(exercise)
    namespace = getattr(function, "__globals__", None) if callable(function) else None
    wrong = [name for name in _earlier_exercises(spec, exercise) if _failed_before(assignment, name, namespace)]
    # The warnings that the checks' own calls of the student's code raise are not shown: nbgrader takes a grade cell
    # with anything on stderr for an error and gives it 0, while `autograder grade` judges the checks' verdicts. A
    # wrong helper's overflow while a caller is tried with it would otherwise cost the caller's points a second time.
    # Only the showing is dropped: a warning the notebook made an error still raises.
    with warnings.catch_warnings(), course_tolerances(course):
        warnings.showwarning = lambda *args, **kwargs: None
        results, helpers = run_fairly(assignment, exercise, local_submission(values), _student_from_cwd(),
                                      wrong if course.cascade and namespace is not None else (),
                                      lambda functions: _rebind_locally(namespace, functions), course.root)
    score = earned(results, points)
    if namespace is not None:
        _VERDICTS[(assignment, exercise)] = (function, score >= points)
    failed = [result for result in results if not result.passed]
    lines = [helper_note(exercise, helpers, bool(failed))] if helpers else []
    lines += [f"- {result.message}" for result in failed]
    if failed and score <= 0:
        raise HiddenChecksFailed("\n".join([f"\N{BALLOT X} {exercise}: {len(failed)} of {len(results)} hidden "
                                             "checks failed."] + lines))
    if failed:
        print("\n".join([f"\N{BALLOT X} {exercise}: {len(failed)} of {len(results)} hidden checks failed; "
                         f"{scores.score(score)} of {scores.score(points)} points."] + lines))
        return score
    print("\n".join(lines + [f"\N{CHECK MARK} {exercise}: all {len(results)} hidden checks passed."]))


def _earlier_exercises(spec, exercise: str) -> list[str]:
    names = [e.name for e in spec.exercises]
    return names[:names.index(exercise)] if exercise in names else []


def _failed_before(assignment: str, name: str, namespace) -> bool:
    """Whether the earlier exercise `name` fell short in its own check cell (whose hidden part never ran when
    its visible checks failed), for the function the notebook has under that name now."""
    function, passed = _VERDICTS.get((assignment, name), (None, False))
    return not (passed and namespace is not None and namespace.get(name) is function)


_REBOUND: dict = {}  # name -> the notebook's own value, while a reference stands in for it


def _rebind_locally(namespace, functions: dict) -> bool:
    """rebind for code running in this very process: swap the names in the notebook's namespace."""
    swap_in(namespace, functions, _REBOUND)
    return True


def _student_from_cwd() -> str:
    """nbgrader autograde runs each notebook in autograded/<student>/<assignment>/."""
    if os.environ.get("AUTOGRADER_STUDENT"):
        return os.environ["AUTOGRADER_STUDENT"]
    cwd = Path.cwd()
    return cwd.parent.name if cwd.parent.parent.name == "autograded" else ""
