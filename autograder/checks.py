"""Runs an assignment's hidden checks against a Submission.

The hidden checks are ordinary pytest test functions in `autograder/hidden/test_<assignment>.py`,
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
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from .config import find_root
from .submission import Submission, StudentCodeError, local_submission

HIDDEN = Path(__file__).resolve().parent / "hidden"


@dataclass(frozen=True)
class Series:
    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    style: str = "line"   # "line", "path" (points joined in order), "curve" (a thin background line) or "bar"


@dataclass(frozen=True)
class Figure:
    title: str
    x_label: str
    y_label: str
    series: tuple[Series, ...]

    def to_json(self) -> dict:
        return {"title": self.title, "x_label": self.x_label, "y_label": self.y_label,
                "series": [{"label": s.label, "x": list(s.x), "y": list(s.y), "style": s.style} for s in self.series]}

    @classmethod
    def from_json(cls, data: dict) -> "Figure":
        return cls(data["title"], data["x_label"], data["y_label"],
                   tuple(Series(s["label"], tuple(s["x"]), tuple(s["y"]), s["style"]) for s in data["series"]))


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


@dataclass(frozen=True)
class CheckResult:
    check: str      # the test function's name
    exercise: str
    passed: bool
    message: str    # empty when passed; written for the student when not
    mistake: str | None = None        # the known mistake it recognised, e.g. "dropped the factor 2"
    figures: tuple[Figure, ...] = ()


def check_file(assignment: str, root: Path | None = None) -> Path:
    """`autograder/hidden/test_<assignment with - as _>.py`: the course root's, else (or if the course has none of
    its own) this package's; in the repository's own course both are the same file."""
    name = f"test_{assignment.replace('-', '_')}.py"
    course_file = (root or find_root()) / "autograder" / "hidden" / name
    return course_file if course_file.is_file() or not (HIDDEN / name).is_file() else HIDDEN / name


def load_checks(assignment: str) -> dict[str, tuple]:
    """Exercise name -> its check functions, in the order the file defines them."""
    return _checks_in(check_file(assignment))


@lru_cache(maxsize=None)
def _checks_in(path: Path) -> dict[str, tuple]:
    spec = importlib.util.spec_from_file_location(f"autograder_hidden_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    by_exercise: dict[str, list] = {}
    for name, function in vars(module).items():
        if name.startswith("test_") and inspect.isfunction(function):
            by_exercise.setdefault(exercise_of(function), []).append(function)
    return {exercise: tuple(sorted(functions, key=lambda f: f.__code__.co_firstlineno))
            for exercise, functions in by_exercise.items()}


def exercise_of(function) -> str:
    for mark in getattr(function, "pytestmark", []):
        if mark.name == "exercise":
            return mark.args[0]
    raise LookupError(f"hidden check {function.__name__} has no @pytest.mark.exercise(...)")


@cache
def fixtures_of(check) -> tuple[str, ...]:
    """The fixtures a check asks for, by name."""
    return tuple(inspect.signature(check).parameters)


def seed_for(student: str, check: str) -> int:
    digest = hashlib.sha256(f"{student}\0{check}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def run_exercise(assignment: str, exercise: str, submission: Submission, student: str) -> list[CheckResult]:
    """Run every hidden check of one exercise; never raises for anything the student's code did."""
    checks = load_checks(assignment).get(exercise)
    if not checks:
        raise LookupError(f"{assignment} has no hidden checks for exercise {exercise!r}")
    return [_run_one(check, exercise, submission, student) for check in checks]


def _run_one(check, exercise, submission, student) -> CheckResult:
    plots = Plots()
    wanted = fixtures_of(check)
    fixtures = {"submission": submission, "plots": plots}
    if "rng" in wanted:  # only then: a new generator costs more than some checks
        fixtures["rng"] = np.random.default_rng(seed_for(student, check.__name__))
    try:
        check(**{name: fixtures[name] for name in wanted})
    except (AssertionError, StudentCodeError) as failure:
        return CheckResult(check.__name__, exercise, False, bounded(str(failure).strip()) or "This check failed.",
                           getattr(failure, "mistake", None), tuple(plots.figures))
    except Exception as error:  # a check tripped over something odd the student returned
        return CheckResult(check.__name__, exercise, False,
                           f"Your result could not be checked ({type(error).__name__}: {bounded(str(error), 300)}).")
    return CheckResult(check.__name__, exercise, True, "", None, tuple(plots.figures))


def bounded(text: str, limit: int = 2000) -> str:
    """A message of at most about `limit` characters (a student's value can make one megabytes long)."""
    return text if len(text) <= limit else text[:limit] + f" … ({len(text) - limit:,} more characters left out)"


class HiddenChecksFailed(AssertionError):
    """Raised in an autograded cell; Jupyter shows the messages instead of a traceback."""

    def _render_traceback_(self):
        return str(self).splitlines()


def assert_hidden_checks_pass(assignment: str, exercise: str, **values):
    """The hidden part of an autograded cell under `nbgrader autograde`: raise if any check fails."""
    results = run_exercise(assignment, exercise, local_submission(values), _student_from_cwd())
    failed = [result for result in results if not result.passed]
    if failed:
        lines = [f"\N{BALLOT X} {exercise}: {len(failed)} of {len(results)} hidden checks failed."]
        lines += [f"- {result.message}" for result in failed]
        raise HiddenChecksFailed("\n".join(lines))
    print(f"\N{CHECK MARK} {exercise}: all {len(results)} hidden checks passed.")


def _student_from_cwd() -> str:
    """nbgrader autograde runs each notebook in autograded/<student>/<assignment>/."""
    if os.environ.get("AUTOGRADER_STUDENT"):
        return os.environ["AUTOGRADER_STUDENT"]
    cwd = Path.cwd()
    return cwd.parent.name if cwd.parent.parent.name == "autograded" else ""
