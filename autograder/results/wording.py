"""How a result says what it found: a check cell's verdict, each mistake explained once, a visible check worded
as the hidden checks word theirs, the instructor's hand grades written in. Below every stage, beside the model."""
from __future__ import annotations

import re

from .scores import points
from .model import CheckResult, SubmissionResult


def not_handed_in(notebook: str) -> str:
    """The note on a result that one of an nbgrader assignment's notebooks (its file name) was not handed in."""
    return f"{notebook} was not handed in."


def with_hand_grades(result: SubmissionResult, grades: dict) -> SubmissionResult:
    """The result with the instructor's grades of its written answers (grade id -> gradebook.HandGrade) in."""
    for test in result.tests:
        grade = grades.get(test.name) if test.manual else None
        if grade is not None and grade.score is not None:
            test.score, test.pending = float(grade.score), False
            test.output = f"Written answer: graded by your instructor, {points(grade.score, test.max_score)}." + (
                f" Comment: {grade.comment}" if grade.comment else "")
    result.score = round(sum(test.score for test in result.tests), 4)
    return result


def check_cell_verdict(output: str, error: dict | None) -> tuple[str, bool]:
    """Why a check cell's visible checks failed ("" if they passed), and whether it crashed rather than reported
    a failed check (then, as in nbgrader, the exercise earns 0). A failed check prints "✗ ..." and perhaps
    "Hint: ..." on the lines after it (graded cells set `_keep_going`; a CheckFailed error is a crash then)."""
    if error:
        return f"{error.get('type')}: {error.get('text', '')}", True
    lines, failing = [], False
    for line in output.splitlines():
        failing = line.startswith("\N{BALLOT X} ") or (failing and line.startswith("Hint: "))
        if failing:
            lines.append(line.removeprefix("\N{BALLOT X} "))
    return "\n".join(lines), False


def explained_once(failed: list[CheckResult]) -> list[str]:
    """The failed checks' messages, a known mistake's explanation and hint given only the first time it is named."""
    messages, named = [], set()
    for check in failed:
        message = check.message
        marker = f" It looks like you {check.mistake}."
        if check.mistake and marker in message:
            if check.mistake in named:
                message = message[:message.index(marker)] + f" The same mistake as above ({check.mistake})."
            named.add(check.mistake)
        messages.append(message)
    return messages


def in_our_style(visible: str) -> str:
    """A visible check's failure worded as the hidden checks word theirs: "returned", numbers to 6 digits."""
    subject = visible.split(" gave ")[0]
    text = re.sub(r"-?\d+\.\d+(?:e[-+]?\d+)?", lambda number: f"{float(number.group()):.6g}",
                  visible.replace(" gave ", " is " if subject.isidentifier() else " returned ", 1))
    # a long list shortened as describe() shortens arrays: its first 8 numbers, then "..."
    return re.sub(r"\[((?:[^\[\],]+, ){8})[^\[\]]*\]", lambda items: f"[{items.group(1)}...]", text)


def essential(messages: list[str]) -> list[str]:
    """Each message once; just one line when the exercise was simply not written yet."""
    unique = list(dict.fromkeys(messages))
    stub = [message for message in unique if "is not written yet" in message and "check cell" not in message]
    return stub[:1] or unique
