"""`autograder report ASSIGNMENT`: what the class got right and wrong, for the instructor.

Read from the graded results (`autograded/<student>/<assignment>/results.json`), one submission at a
time (a class of any size stays small in memory): the score distribution, the pass rate of every
exercise and hidden check, the most frequent mistakes with how many students made each, and the
students who need a look (their notebook could not be graded, crashed or looped, or tried something
that looks like cheating). Printed as a terminal summary and written as one self-contained HTML page.
"""
from __future__ import annotations

import html
import re
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .checks import CheckResult
from .grade import SubmissionResult, TestResult

# Code that reaches for what a notebook has no business touching: not proof of cheating, worth a look.
SUSPICIOUS = (
    (re.compile(r"autograder/hidden|hidden/\*|source/\d\d|/source/|gradebook\.db|course_config|nbgrader_config"),
     "refers to the course's own files (hidden checks, source notebooks or the gradebook)"),
    (re.compile(r"\b(np|numpy)\.(allclose|isclose|array_equal|testing\.\w+)\s*=(?!=)|builtins\.\w+\s*=(?!=)"
                r"|__builtins__|^\s*(isinstance|abs|len|round|float)\s*=(?!=)", re.M),
     "replaces NumPy or built-in functions"),
    (re.compile(r"def __eq__|__eq__\s*=(?!=)"), "defines its own equality (__eq__)"),
    (re.compile(r"\bos\.kill|\bkillpg\b|getppid|\bsignal\.|/proc/"), "signals or inspects other processes"),
    (re.compile(r"\bsocket\.|urllib|\brequests\.|http\.client"), "tries to use the network"),
)


@dataclass
class Attention:
    student: str
    reasons: list[str]


@dataclass
class ClassReport:
    assignment: str
    max_score: float = 0.0
    scores: list[float] = field(default_factory=list)   # one float per student: small even for thousands
    errors: int = 0
    pending: int = 0    # written answers still to be graded by hand: left out of the scores, not counted as 0
    exercises: dict[str, list[int]] = field(default_factory=dict)   # exercise -> [passed, total]
    checks: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (exercise, check) -> [passed, total]
    mistakes: Counter = field(default_factory=Counter)  # (exercise, what the students did) -> students
    attention: list[Attention] = field(default_factory=list)

    def add(self, result: SubmissionResult, suspicious_cells=()):
        self.max_score = result.max_score
        self.scores.append(result.score)
        self.errors += result.status == "error"
        for test in result.tests:
            self.pending += test.pending
            if test.manual:
                continue
            exercise = exercise_name(test)
            tally = self.exercises.setdefault(exercise, [0, 0])
            tally[0] += test.score >= test.max_score
            tally[1] += 1
            for check in test.checks:
                tally = self.checks.setdefault((exercise, check.check), [0, 0])
                tally[0] += check.passed
                tally[1] += 1
            self.mistakes.update({(exercise, kind) for kind in map(failure_kind, test.checks) if kind})
        reasons = attention_reasons(result, suspicious_cells)
        if reasons:
            self.attention.append(Attention(result.student, reasons))

    def histogram(self) -> list[tuple[float, int]]:
        """(score, students) for every score from 0 to the maximum in steps of one point."""
        counts = Counter(int(score) for score in self.scores)
        return [(points, counts.get(points, 0)) for points in range(int(self.max_score) + 1)]

    def lines(self) -> list[str]:
        n = len(self.scores)
        lines = [f"{self.assignment}: {n} submissions ({n - self.errors} graded, {self.errors} could not be graded)"]
        if not n:
            return lines
        lines.append(f"  score: mean {statistics.mean(self.scores):.2f}, median {statistics.median(self.scores):g} "
                     f"(out of {self.max_score:g})")
        if self.pending:
            lines.append(f"  written answers to be graded by hand (formgrader): {self.pending}; until then the "
                         "scores above leave them out")
        lines.append("  score distribution:")
        most = max(count for _, count in self.histogram()) or 1
        for points, count in self.histogram():
            lines.append(f"    {points:>3g} | {'#' * round(30 * count / most):<30} {count}")
        lines.append("  exercises passed:")
        for exercise, (passed, total) in self.exercises.items():
            lines.append(f"    {exercise:<26} {passed:>4}/{total:<4} {_percent(passed, total):>5}")
        lines.append("  hidden checks passed least often:")
        for (exercise, check), (passed, total) in sorted(self.checks.items(), key=lambda i: i[1][0] / i[1][1])[:5]:
            lines.append(f"    {check:<58} {_percent(passed, total):>5}")
        lines.append("  most frequent mistakes (students):")
        for (exercise, kind), count in self.mistakes.most_common(10):
            lines.append(f"    {count:>4}  {exercise}: {kind}")
        if self.attention:
            lines.append("  needs attention:")
            for item in self.attention:
                lines.append(f"    {item.student}: {'; '.join(item.reasons)}")
        return lines


def exercise_name(test: TestResult) -> str:
    names = {check.exercise for check in test.checks if check.exercise}
    return names.pop() if len(names) == 1 else test.name.removeprefix("check_")


def failure_kind(check: CheckResult) -> str | None:
    """What went wrong in a failed check, as a mistake to count: the known mistake it named, else the kind."""
    if check.passed:
        return None
    if check.mistake:
        return check.mistake
    message = check.message
    if "is not written yet" in message:
        return "not written yet"
    if "could not be checked:" in message:
        return "function missing, renamed or broken by an earlier error"
    if "did not finish within" in message:
        return "too slow, or an endless loop"
    if "ended the Python process" in message or "had already stopped" in message:
        return "stopped the Python process"
    if re.search(r"\) raised \w+", message):
        return "raised an error: " + re.search(r"\) raised (\w+)", message).group(1)
    return "a wrong value not matching a known mistake"


def suspicious_code(notebook, editable) -> list[tuple[int, str]]:
    """(1-based cell, what it does) for every code cell the student could edit that looks like an attempt."""
    found = []
    for number, cell in enumerate(notebook.cells if notebook else [], start=1):
        if cell.get("cell_type") != "code" or not editable(cell) or not isinstance(cell.get("source"), str):
            continue
        found += [(number, what) for pattern, what in SUSPICIOUS if pattern.search(cell.source)]
    return found


def attention_reasons(result: SubmissionResult, suspicious_cells=()) -> list[str]:
    """Why an instructor should look at this submission; empty when nothing unusual happened."""
    reasons = []
    if result.status == "error":
        reasons.append(f"could not be graded: {result.reason}")
    reasons += result.notes
    for cell, what in suspicious_cells:
        reasons.append(f"possible cheating attempt: cell {cell} {what}")
    for test in result.tests:
        if test.manual or not test.checks:
            continue
        exercise = exercise_name(test)
        if any(check.mistake == "returned an object that is not plain numbers" for check in test.checks):
            reasons.append(f"possible cheating attempt: {exercise} returned objects that are not plain numbers "
                           "(a number look-alike whose == is always true?)")
        new_inputs = [check for check in test.checks if "worked_example" not in check.check]
        worked = [check for check in test.checks if "worked_example" in check.check]
        if (not test.visible_failed and worked and all(check.passed for check in worked)
                and new_inputs and not any(check.passed for check in new_inputs)):
            reasons.append(f"{exercise} is right on the worked example but wrong on every new input "
                           "(a mistake the example hides, or hard-coded values)")
    return list(dict.fromkeys(reasons))


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def build(course, autograded: Path, assignment: str, db_url: str | None = None) -> ClassReport:
    """The report of every graded submission of `assignment` under `autograded`, read one at a time, with the
    written answers' hand grades from the gradebook (the course's unless `db_url`)."""
    from . import notebook as nb
    from .autograded import read_results
    from .grade import assignment_spec, with_hand_grades
    from .gradebook import hand_grades

    spec = assignment_spec(course, assignment)
    editable = lambda cell: nb.grade_id(cell) not in spec.locked  # noqa: E731 (the student's cells, not the course's)
    report = ClassReport(assignment)
    by_hand = hand_grades(db_url or course.db_url, assignment)
    for result in read_results(autograded, assignment):
        result = with_hand_grades(result, by_hand.get(result.student, {}))
        try:
            notebook = nb.read(autograded / result.student / assignment / spec.notebook)
        except (nb.NotebookError, OSError):
            notebook = None
        report.add(result, suspicious_code(notebook, editable))
    return report


def add_command(commands):
    parser = commands.add_parser("report", help="class report: score distribution, pass rates, frequent mistakes, "
                                                "students who need attention")
    parser.add_argument("assignment", metavar="ASSIGNMENT")
    parser.add_argument("--autograded", type=Path, help="where `autograder grade` wrote its results "
                                                        "(default: the course's autograded/)")
    parser.add_argument("--output", type=Path, help="the HTML file (default: reports/<assignment>.html)")
    parser.add_argument("--feedback", type=Path, help="the folder of `autograder feedback` pages to link to "
                                                      "(default: the course's feedback/)")
    parser.add_argument("--db", help="the gradebook with the written answers' hand grades (default: the course's)")
    parser.set_defaults(run=run_report)


def run_report(args) -> int:
    from .config import load_course

    course = load_course()
    autograded = args.autograded or course.root / "autograded"
    report = build(course, autograded, args.assignment, args.db)
    if not report.scores:
        print(f"No graded results of {args.assignment} in {autograded}: run `autograder grade {args.assignment}` first.",
              file=sys.stderr)
        return 1
    output = args.output or course.root / "reports" / f"{args.assignment}.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page(report, args.feedback or course.root / "feedback", output.parent), encoding="utf-8")
    print("\n".join(report.lines()))
    print(f"  HTML report: {output}")
    return 0


def page(report: ClassReport, feedback: Path, here: Path) -> str:
    """The report as one self-contained HTML page (inline styles and SVG)."""
    from .checks import Figure, Series
    from .feedback import STYLE, svg

    e = html.escape
    n = len(report.scores)
    histogram = report.histogram()
    chart = svg(Figure(f"Scores of {n} submissions", "points", "students", (
        Series("students", tuple(float(p) for p, _ in histogram), tuple(float(c) for _, c in histogram), "bar"),)))
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Class report: {e(report.assignment)}"
             f"</title><style>{STYLE}</style></head><body><h1>Class report: {e(report.assignment)}</h1>",
             f"<p class='meta'>{n} submissions, {n - report.errors} graded, {report.errors} could not be graded</p>",
             f"<p class='score'>mean {statistics.mean(report.scores):.2f}, median {statistics.median(report.scores):g} "
             f"of {report.max_score:g} points</p><figure>{chart}</figure>",
             "<h2>Exercises</h2><table><tr><th>exercise</th><th>passed</th><th>rate</th></tr>"]
    parts += [f"<tr><td>{e(ex)}</td><td>{p} / {t}</td><td>{_percent(p, t)}</td></tr>"
              for ex, (p, t) in report.exercises.items()]
    parts.append("</table><h2>Hidden checks</h2><table><tr><th>exercise</th><th>check</th><th>passed</th>"
                 "<th>rate</th></tr>")
    parts += [f"<tr><td>{e(ex)}</td><td>{e(check)}</td><td>{p} / {t}</td><td>{_percent(p, t)}</td></tr>"
              for (ex, check), (p, t) in report.checks.items()]
    parts.append("</table><h2>Most frequent mistakes</h2><table><tr><th>students</th><th>exercise</th>"
                 "<th>what they did</th></tr>")
    parts += [f"<tr><td>{count}</td><td>{e(ex)}</td><td>{e(kind)}</td></tr>"
              for (ex, kind), count in report.mistakes.most_common()]
    parts.append("</table><h2>Students who need attention</h2>")
    if not report.attention:
        parts.append("<p>None: every submission ran without crashes, endless loops or suspicious attempts.</p>")
    for item in report.attention:
        link = feedback / item.student / report.assignment / "feedback.html"
        name = e(item.student)
        if link.is_file():
            name = f"<a href='{e(_relative(link, here))}'>{name}</a>"
        parts.append(f"<h3>{name}</h3><ul>" + "".join(f"<li>{e(reason)}</li>" for reason in item.reasons) + "</ul>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _relative(path: Path, start: Path) -> str:
    import os

    return os.path.relpath(path, start)
