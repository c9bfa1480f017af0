"""What a result page shows of a graded attempt: plain data for the templates, cut to the visibility the
assignment's policy allows (`score`, `worked example` or `full`), with the figures as inline SVG drawn by
feedback.py: the same scores, messages and figures as `autograder feedback`."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from ..grade import SubmissionResult, TestResult
from ..report import exercise_name

WORKED_EXAMPLE = "worked_example"   # the hidden checks on the notebook's own worked example carry this name
CACHE_SIZE = 256                     # result pages kept drawn (their SVG figures cost tens of ms each)


@dataclass
class ExerciseView:
    anchor: str
    title: str
    score: float
    max_score: float
    verdict: str                 # "works", "needs work" or "graded by hand"
    messages: list[str] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)   # (caption, svg)
    checks_passed: int = 0
    checks: int = 0
    hidden_note: str = ""        # what the visibility leaves out, said plainly


@dataclass
class ResultView:
    score: float
    max_score: float
    status: str
    reason: str
    notes: list[str]
    encouragement: str
    exercises: list[ExerciseView]
    visibility: str


_cache: OrderedDict = OrderedDict()
_cache_lock = threading.Lock()


def result_view(result: SubmissionResult, visibility: str, key=None, manual_scores: dict | None = None) -> ResultView:
    """The page's data; `key` (an attempt's id and finish time) caches it; `manual_scores`: grade id ->
    points an instructor gave in formgrader."""
    cache_key = (key, visibility, tuple(sorted((manual_scores or {}).items()))) if key is not None else None
    if cache_key is not None:
        with _cache_lock:
            if cache_key in _cache:
                _cache.move_to_end(cache_key)
                return _cache[cache_key]
    view = _build(result, visibility, manual_scores or {})
    if cache_key is not None:
        with _cache_lock:
            _cache[cache_key] = view
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return view


def _build(result: SubmissionResult, visibility: str, manual_scores: dict) -> ResultView:
    auto = [test for test in result.tests if not test.manual]
    working = sum(test.score >= test.max_score for test in auto)
    exercises = [_exercise(test, visibility, manual_scores) for test in result.tests]
    score = result.score + sum(manual_scores.get(test.name, 0.0) for test in result.tests if test.manual)
    return ResultView(score, result.max_score, result.status, result.reason, list(result.notes),
                      _encouragement(result, working, len(auto), visibility), exercises, visibility)


def _encouragement(result: SubmissionResult, working: int, exercises: int, visibility: str) -> str:
    if result.status == "error":
        return "Nothing could be checked this time; the box below says why and what to do."
    if working == exercises:
        return "Every exercise works: well done."
    if visibility == "score":
        return f"{working} of {exercises} exercises work. The checks' messages are shown after the due date."
    return (f"{working} of {exercises} exercises work. Each message below says what your code did on an input "
            "it had not seen, what was expected, and how to fix it.")


def _exercise(test: TestResult, visibility: str, manual_scores: dict) -> ExerciseView:
    if test.manual:
        given = manual_scores.get(test.name)
        return ExerciseView(test.name, f"written answer ({test.name})", given or 0.0, test.max_score,
                            "graded by hand", [test.output if given is None else
                                               f"Your instructor gave {given:g} of {test.max_score:g} points."])
    view = ExerciseView(test.name, exercise_name(test), test.score, test.max_score,
                        "works" if test.score >= test.max_score else "needs work",
                        checks_passed=sum(check.passed for check in test.checks), checks=len(test.checks))
    if visibility == "full":
        view.messages = [line.removeprefix("- ") for line in test.output.splitlines() if line.strip()]
        view.figures = _figures(test.checks)
    elif visibility == "worked example":
        shown = [check for check in test.checks if WORKED_EXAMPLE in check.check]
        view.messages = [line.removeprefix("- ") for line in test.output.splitlines()
                         if line.startswith("- The check cell under this exercise failed")]
        view.messages += [check.message for check in shown if not check.passed and check.message]
        view.figures = _figures(shown)
        hidden = [check for check in test.checks if check not in shown and not check.passed]
        if hidden:
            view.hidden_note = (f"{len(hidden)} more check(s) on inputs your notebook has not seen did not pass; "
                                "their messages are shown after the due date.")
    elif test.score < test.max_score:
        view.hidden_note = "The checks' messages are shown after the due date."
    return view


def _figures(checks) -> list[tuple[str, str]]:
    from ..pages import svg

    return [(figure.title, svg(figure)) for check in checks for figure in check.figures]
