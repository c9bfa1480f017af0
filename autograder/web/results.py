"""What a result page shows of a graded attempt: plain data for the templates, cut to the visibility the
assignment's policy allows (`score`, `worked example` or `full`), with the figures as inline SVG drawn by
feedback.py: the same scores, messages and figures as `autograder feedback`."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from .. import scores
from ..grade import SubmissionResult, TestResult, with_hand_grades
from ..report import exercise_name
from .gradebook_view import GradebookMarks

WORKED_EXAMPLE = "worked_example"   # the hidden checks on the notebook's own worked example carry this name
CACHE_SIZE = 256                     # result pages kept drawn (their SVG figures cost tens of ms each)


@dataclass
class ExerciseView:
    anchor: str
    title: str
    score: float
    max_score: float
    verdict: str                 # "works", "needs work", "graded by hand" or "to be graded by your instructor"
    messages: list[str] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)   # (caption, svg)
    checks_passed: int = 0
    checks: int = 0
    hidden_note: str = ""        # what the visibility leaves out, said plainly
    pending: bool = False        # a written answer not graded by hand yet: no points shown, not 0


@dataclass(frozen=True)
class Standing:
    """An attempt's score as nbgrader's gradebook counts it, the same on every page that shows it."""
    earned: float          # autograded points and the hand grades given so far
    max_score: float
    pending: float         # written answers' points not graded by hand yet: left out, not counted as 0
    late_penalty: float    # nbgrader's late-submission penalty
    counts: bool           # only the counting attempt's written answers are graded by hand

    @property
    def score(self) -> float:
        return max(0.0, round(self.earned - self.late_penalty, 4))

    def summary(self) -> str:
        """E.g. "0 of 7 points so far (7 earned, less a late-submission penalty of 7); 2 more points to be graded
        by your instructor"."""
        text = f"{scores.points(self.score, self.max_score - self.pending)}{' so far' if self.pending else ''}"
        if self.late_penalty:
            text += (f" ({scores.score(self.earned)} earned, less a late-submission penalty of "
                     f"{scores.score(self.late_penalty)})")
        if self.pending:
            text += (f"; {scores.score(self.pending)} more point{'' if self.pending == 1 else 's'} "
                     + ("to be graded by your instructor" if self.counts else
                        "for written answers (graded on the attempt that counts)"))
        return text


def counted(result: SubmissionResult, marks: GradebookMarks | None, counts: bool) -> Standing:
    """What `result` counts for: the gradebook's hand grades applied to it in place (`with_hand_grades`, as
    `autograder feedback` and `report` do) and its late penalty taken off; `marks` is None for an attempt
    that is not the one in the gradebook."""
    marks = marks or GradebookMarks()
    with_hand_grades(result, marks.hand_grades)
    return Standing(result.score, result.max_score, result.pending_points, marks.late_penalty, counts)


@dataclass
class ResultView:
    standing: Standing
    status: str
    reason: str
    notes: list[str]
    encouragement: str
    exercises: list[ExerciseView]
    visibility: str


_cache: OrderedDict = OrderedDict()
_cache_lock = threading.Lock()


def result_view(result: SubmissionResult, visibility: str, key=None, marks: GradebookMarks | None = None,
                counts: bool = False) -> ResultView:
    """The page's data; `key` (an attempt's id and finish time) caches it; `marks`: what the gradebook adds
    to the counting attempt (hand grades given in formgrader, the late penalty)."""
    cache_key = (key, visibility, marks.key() if marks else None, counts) if key is not None else None
    if cache_key is not None:
        with _cache_lock:
            if cache_key in _cache:
                _cache.move_to_end(cache_key)
                return _cache[cache_key]
    view = _build(result, visibility, marks, counts)
    if cache_key is not None:
        with _cache_lock:
            _cache[cache_key] = view
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return view


def _build(result: SubmissionResult, visibility: str, marks: GradebookMarks | None, counts: bool) -> ResultView:
    standing = counted(result, marks, counts)
    auto = [test for test in result.tests if not test.manual]
    working = sum(test.score >= test.max_score for test in auto)
    exercises = [_exercise(test, visibility, counts) for test in result.tests]
    return ResultView(standing, result.status, result.reason, list(result.notes),
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


def _exercise(test: TestResult, visibility: str, counts: bool) -> ExerciseView:
    if test.manual and test.pending and not counts:  # only the counting attempt reaches formgrader
        return ExerciseView(test.name, f"written answer ({test.name})", test.score, test.max_score,
                            "graded on the attempt that counts", ["Written answer: your instructor grades it on "
                                                                  "the attempt that counts, not on this one."],
                            pending=True)
    if test.manual:  # with_hand_grades has put the instructor's grade and comment in, if there is one
        return ExerciseView(test.name, f"written answer ({test.name})", test.score, test.max_score,
                            "to be graded by your instructor" if test.pending else "graded by hand",
                            [test.output], pending=test.pending)
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
