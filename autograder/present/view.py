"""What a reader sees of a graded submission: one builder for every page, file and comment that shows a result.

`build(result, shown)` turns a SubmissionResult and what the assignment's policy shows now (`Shown`) into a
`ResultView` of frozen dataclasses: the score headline, each exercise's status and points, its messages with
their hints and the mistakes they name, and references to its figures. The offline feedback page
(`autograder feedback`), the service's result page, Gradescope's results.json and the LMS comment all read it,
so a sentence is written here once and a reader never sees the same fact twice.

A message of an exercise's output (grade.py writes one per line starting with "- ") is classified by where it
came from: the notebook's own check cell, a hidden check on the notebook's worked example, another hidden check
(new inputs the student has not seen), or a re-check with correct helpers. The policy's "worked example" shows
the first two kinds only. Nothing here imports the sandbox, the web application or Flask.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from ..results.scores import count, points, score as format_score
from ..results.wording import not_handed_in

if TYPE_CHECKING:
    from ..results.model import CheckResult, Figure
    from ..results.model import SubmissionResult, TestResult

VISIBILITY = ("score", "worked example", "full")   # what a student sees of a result: less to more
WORKED_EXAMPLE = "worked_example"   # the hidden checks on the notebook's own worked example carry this in their name
CHECK_CELL = "The check cell under this exercise failed: "   # grade._check starts a visible failure so
HINT = "Hint: "
PASSED = re.compile(r"(All \d+ checks passed|The check passed)\.")   # grade._check's line when none failed: the
#                                                                    counts of passed checks say it


@dataclass(frozen=True)
class Shown:
    """What a policy shows of a result now, and from when (if ever) it shows more."""
    now: str = "full"                 # one of VISIBILITY
    due: datetime | None = None       # the due date (with the student's extension), UTC; None: there is none
    after_due: str = "full"           # what is shown from the due date on

    def later(self) -> str | None:
        """What more is shown from the due date on, or None when nothing more ever is."""
        if self.due is None or VISIBILITY.index(self.after_due) <= VISIBILITY.index(self.now):
            return None
        return self.after_due


@dataclass(frozen=True)
class Message:
    text: str                    # what the code did and what was expected
    hint: str = ""               # how to fix it (a check cell's "Hint:" line), without the "Hint: "
    mistake: str | None = None   # the known mistake the message names ("dropped the factor 2"), if any
    source: str = "hidden"       # "check cell", "worked example", "hidden", "helper" or "other"
    also: tuple[str, ...] = ()   # other exercises the same message is about (said once, here)

    def sentence(self) -> str:
        """The message as one line of plain text (for results.json, an LMS comment, a terminal)."""
        return " ".join(filter(None, (self.text, self.hint and HINT + self.hint,
                                      self.also and f"(The same for {', '.join(self.also)}.)")))


@dataclass(frozen=True)
class CheckLine:
    name: str        # the hidden check's name in words
    passed: bool
    points: float    # what it is worth of the exercise's points


@dataclass(frozen=True)
class FigureRef:
    title: str
    figure: "Figure"   # the data; a page draws it (pages.svg), a text reader names it


@dataclass(frozen=True)
class ExerciseView:
    anchor: str                  # the grade id: a page's link target
    title: str
    score: float
    max_score: float
    status: str                  # "works", "needs work", "graded by your instructor",
    #                              "to be graded by your instructor" or "graded on the attempt that counts"
    manual: bool = False
    pending: bool = False        # a written answer not graded by hand yet: no points shown, not 0
    checks_passed: int = 0
    checks: int = 0
    check_lines: tuple[CheckLine, ...] = ()   # partial credit check by check (policy "full" only)
    messages: tuple[Message, ...] = ()
    figures: tuple[FigureRef, ...] = ()
    withheld: int = 0            # failed hidden checks whose messages the policy does not show now

    @property
    def works(self) -> bool:
        return self.status == "works"

    @property
    def mistakes(self) -> tuple[str, ...]:
        """The known mistakes its messages name, each once."""
        return tuple(dict.fromkeys(message.mistake for message in self.messages if message.mistake))


@dataclass(frozen=True)
class NotebookView:
    """One notebook of an assignment of several (an nbgrader course's): its points and its cells' exercises."""
    name: str                    # its file name
    anchor: str                  # a page's link target
    score: float
    max_score: float
    headline: str                # its points in words
    exercises: tuple[ExerciseView, ...]
    missing: bool = False        # not handed in: its cells are not listed, `note` says why they earn nothing
    note: str = ""


@dataclass(frozen=True)
class ResultView:
    student: str
    assignment: str
    headline: str                # the score in words
    status: str                  # "graded" or "error"
    reason: str                  # why nothing could be graded, when status is "error"
    notes: tuple[str, ...]       # what went wrong while the notebook ran
    summary: str                 # how many exercises work, and what the messages below are
    withheld: str                # what the policy leaves out now, and from when it shows it ("" if nothing)
    exercises: tuple[ExerciseView, ...]
    visibility: str
    notebooks: tuple[NotebookView, ...] = ()   # the exercises by notebook, when they come from several

    def facts(self) -> list[str]:
        """Every message a reader is told, as plain text: for comparing readers, and for text-only readers."""
        return [message.sentence() for exercise in self.exercises for message in exercise.messages]


def headline(score: float, max_score: float, pending: float = 0.0, late_penalty: float = 0.0,
             earned: float | None = None, counts: bool = True) -> str:
    """The score in words, the same on every page, file and comment: e.g. "7 of 7 points so far; 2 more points
    to be graded by your instructor", or "0 of 7 points (7 earned, less a late-submission penalty of 7)".
    `pending`: written answers' points not graded by hand yet (left out, not 0); `counts`: False for an
    attempt that is not the one graded by hand."""
    text = points(score, max_score - pending) + (" so far" if pending else "")
    if late_penalty:
        text += f" ({format_score(earned if earned is not None else score + late_penalty)} earned, less a " \
                f"late-submission penalty of {format_score(late_penalty)})"
    if pending:
        text += f"; {count(pending, 'more point')} " + ("to be graded by your instructor" if counts else
                                                         "for written answers (graded on the attempt that counts)")
    return text


def build(result: "SubmissionResult", shown: Shown = Shown(), late_penalty: float = 0.0,
          counts: bool = True) -> ResultView:
    """What a reader sees of `result` under `shown`. Hand grades must already be in (results.wording.with_hand_grades);
    `late_penalty` is nbgrader's, taken off the score; `counts` is False for a service attempt that is not the
    one whose written answers are graded by hand."""
    if shown.now not in VISIBILITY:
        raise ValueError(f"visibility {shown.now!r} is none of {', '.join(VISIBILITY)}")
    said = {result.reason.replace("\n", " ")} if result.status == "error" else set()
    said |= set(result.notes)
    first: dict[str, int] = {}  # message text -> index of the exercise that says it
    hints: set[str] = set()
    exercises: list[ExerciseView] = []
    for test in result.tests:
        view = _exercise(test, shown.now, counts, result.status == "error")
        kept = []
        for message in view.messages:
            if message.text in said:
                continue
            if message.text in first:  # said already; under an earlier exercise, it names this one too
                if first[message.text] < len(exercises):
                    earlier = exercises[first[message.text]]
                    exercises[first[message.text]] = _also(earlier, message.text, view.title)
                continue
            first[message.text] = len(exercises)
            if message.hint in hints:  # e.g. two failures of one check cell with the same hint: given once
                message = replace(message, hint="")
            hints.add(message.hint)
            kept.append(message)
        exercises.append(replace(view, messages=tuple(kept)))
    auto = [view for view in exercises if not view.manual]
    working = sum(view.works for view in auto)
    score = max(0.0, round(result.score - late_penalty, 4))
    notebooks = _notebooks(result, exercises, counts)
    missing = {not_handed_in(notebook.name) for notebook in notebooks if notebook.missing}  # its heading says it
    return ResultView(result.student, result.assignment,
                      headline(score, result.max_score, result.pending_points, late_penalty, result.score, counts),
                      result.status, result.reason if result.status == "error" else "",
                      tuple(note for note in result.notes if note not in missing),
                      _summary(result.status, working, len(auto), exercises, shown.now, bool(missing)),
                      _withheld(exercises, shown), tuple(exercises), shown.now, notebooks)


NOT_HANDED_IN = "This notebook was not handed in, so none of its cells could be graded."


def _notebooks(result: "SubmissionResult", exercises: list[ExerciseView], counts: bool) -> tuple[NotebookView, ...]:
    """The exercises grouped by the notebook their test cell is in, when an assignment has several notebooks (an
    nbgrader course's); none for an assignment of one notebook, whose page has no notebook headings."""
    names = list(dict.fromkeys(test.notebook for test in result.tests))
    if len(names) < 2 or "" in names or result.status == "error":
        return ()
    missing = set(result.missing)
    grouped = []
    for stem in names:
        tests = [(test, view) for test, view in zip(result.tests, exercises) if test.notebook == stem]
        name = next((name for name in missing if name.removesuffix(".ipynb") == stem), f"{stem}.ipynb")
        pending = sum(test.max_score for test, _ in tests if test.pending)
        score = round(sum(test.score for test, _ in tests if not test.pending), 4)
        max_score = round(sum(test.max_score for test, _ in tests), 4)
        grouped.append(NotebookView(name, "notebook-" + re.sub(r"[^\w-]", "-", stem), score, max_score,
                                    headline(score, max_score, pending, counts=counts),
                                    tuple(view for _, view in tests), name in missing,
                                    NOT_HANDED_IN if name in missing else ""))
    return tuple(grouped)


def _also(view: ExerciseView, text: str, title: str) -> ExerciseView:
    return replace(view, messages=tuple(replace(message, also=(*message.also, title)) if message.text == text
                                        else message for message in view.messages))


def _summary(status: str, working: int, exercises: int, views, visibility: str, missing: bool = False) -> str:
    if status == "error":
        return "Nothing could be checked this time; the box below says why and what to do."
    if working == exercises:  # a notebook not handed in has its own heading below
        return "Every exercise handed in works: well done." if missing else "Every exercise works: well done."
    text = f"{working} of {exercises} exercises work."
    sources = {message.source for view in views for message in view.messages}
    if sources & {"hidden", "helper"}:
        text += (" Each message below says what your code did, on the notebook's examples or on inputs it had "
                 "not seen, and what was expected.")
    elif sources & {"check cell", "worked example"}:
        text += " Each message below says what your code did on the notebook's worked example and what was expected."
    return text


def _withheld(views, shown: Shown) -> str:
    """One sentence, true for this policy and due date, about the messages not shown now."""
    if shown.now == "full" or not any(view.withheld for view in views):
        return ""
    what = "The hidden checks' messages" if shown.now == "score" else \
        "The messages of the hidden checks on inputs your notebook has not seen"
    later = shown.later()
    if later is None:
        return f"{what} are not shown for this assignment; the points say which exercises need work."
    when = f"{shown.due:%Y-%m-%d %H:%M} UTC"
    return f"{what} are shown from the due date, {when}."


def _exercise(test: "TestResult", visibility: str, counts: bool, error: bool) -> ExerciseView:
    if test.manual:  # with_hand_grades has put the instructor's grade and comment in, if there is one
        if test.pending and not counts:  # only the counting attempt reaches formgrader
            return ExerciseView(test.name, f"written answer ({test.name})", test.score, test.max_score,
                                "graded on the attempt that counts", True, True, messages=(Message(
                                    "Written answer: your instructor grades it on the attempt that counts, "
                                    "not on this one.", source="other"),))
        status = "to be graded by your instructor" if test.pending else "graded by your instructor"
        said = () if test.pending else tuple(Message(text, source="other") for text in _texts(test.output))
        return ExerciseView(test.name, f"written answer ({test.name})", test.score, test.max_score, status, True,
                            test.pending, messages=said)  # a pending answer's output only says its status
    messages = tuple(parse(test))
    if visibility == "full":
        shown = messages
        figures = [figure for check in test.checks for figure in check.figures]
    elif visibility == "worked example":
        shown = tuple(message for message in messages if message.source in ("check cell", "worked example", "other"))
        figures = [figure for check in test.checks if WORKED_EXAMPLE in check.check for figure in check.figures]
    else:
        shown, figures = (), []
    withheld = len(messages) - len(shown)
    if error:  # the reason, said once for the whole notebook, is every exercise's output
        shown, withheld = (), 0
    lines = tuple(CheckLine(*line) for line in test.check_lines()) if visibility == "full" else ()
    return ExerciseView(test.name, title(test), test.score, test.max_score,
                        "works" if test.score >= test.max_score else "needs work",
                        checks_passed=sum(check.passed for check in test.checks), checks=len(test.checks),
                        check_lines=lines, messages=shown,
                        figures=tuple(FigureRef(figure.title, figure) for figure in figures), withheld=withheld)


def title(test: "TestResult") -> str:
    """An exercise's name as a student knows it: the function its checks are about, else the grade id."""
    if test.manual:
        return f"written answer ({test.name})"
    exercises = {check.exercise for check in test.checks if check.exercise}
    return exercises.pop() if len(exercises) == 1 else test.name.removeprefix("check_")


def _texts(output: str) -> list[str]:
    """An output's messages as grade._check writes them: a line starting with "- " starts one."""
    messages: list[list[str]] = []
    for line in output.splitlines():
        if not line.strip() or PASSED.fullmatch(line.removeprefix("- ")):
            continue
        if line.startswith("- ") or not messages:
            messages.append([line.removeprefix("- ")])
        else:
            messages[-1].append(line)
    return ["\n".join(lines) for lines in messages]


def parse(test: "TestResult") -> list[Message]:
    """An exercise's output as messages, each failure its own with its hint, and where each came from."""
    failed = [check for check in test.checks if not check.passed]
    messages: list[Message] = []
    for index, text in enumerate(_texts(test.output)):
        lines = text.split("\n")
        if lines[0].startswith(CHECK_CELL):
            messages += _check_cell(lines, failed)
        elif index == 0 and test.helpers:
            messages.append(Message(" ".join(lines), source="helper"))
        else:
            hint = [line.removeprefix(HINT) for line in lines[1:] if line.startswith(HINT)]
            body = " ".join([lines[0], *(line.strip() for line in lines[1:] if not line.startswith(HINT))])
            source = _source(text, failed) if test.checks else "other"
            messages.append(Message(body, " ".join(hint), _mistake(body, failed), source))
    return messages


def _check_cell(lines: list[str], failed: list["CheckResult"]) -> list[Message]:
    """A failed check cell: one message per visible failure ("✗" line), each with its "Hint:" line."""
    found: list[list[str]] = []
    for line in lines:
        if line.startswith(HINT) and found and len(found[-1]) == 1:
            found[-1].append(line.removeprefix(HINT))
        else:
            found.append([line])
    return [Message(parts[0], parts[1] if len(parts) > 1 else "", _mistake(" ".join(parts), failed), "check cell")
            for parts in found]


def _mistake(text: str, failed: list["CheckResult"]) -> str | None:
    return next((check.mistake for check in failed
                 if check.mistake and f"It looks like you {check.mistake}." in text), None)


def _source(text: str, failed: list["CheckResult"]) -> str:
    """Which failed check wrote `text` (wording.explained_once may have shortened a repeated mistake's explanation); a
    message no check of the exercise matches counts as hidden, so that a policy never shows too much."""
    from ..results.model import bounded

    matching = [check for check in failed if check.message and (
        text == bounded(check.message) or text.startswith(_stem(check)))]
    return "worked example" if any(WORKED_EXAMPLE in check.check for check in matching) else "hidden"


def _stem(check: "CheckResult") -> str:
    marker = f" It looks like you {check.mistake}." if check.mistake else None
    if marker and marker in check.message:
        return check.message[:check.message.index(marker)] + " "
    return "\0"  # matches nothing: the message must be equal
