"""`autograder report ASSIGNMENT`: what the class got right and wrong, for the instructor.

Read from the graded results (`autograded/<student>/<assignment>/results.json`), one submission at a
time (a class of any size stays small in memory): the score distribution, the pass rate of every
exercise and hidden check, the most frequent mistakes with how many students made each, and the
students who need a look (their notebook could not be graded, crashed or looped, or tried something
that looks like cheating). Printed as a terminal summary and written as one self-contained HTML page.
"""
from __future__ import annotations

import logging
import os
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..results.model import CheckResult
from .feedback import FOLDER, PAGE
from ..results.model import SubmissionResult, TestResult
from .view import title

logger = logging.getLogger(__name__)

# Code that reaches for what a notebook has no business touching: not proof of cheating, worth a look.
SUSPICIOUS = (
    (re.compile(r"autograder/hidden|hidden/\*|hidden/test_|source/\d\d|/source/|gradebook\.db|course_config"
                r"|nbgrader_config"),
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
    mistakes: dict = field(default_factory=dict)  # (exercise, what the students did) -> [students]
    attention: list[Attention] = field(default_factory=list)
    similar: list = field(default_factory=list)   # similarity.SimilarPair, most alike first

    def add(self, result: SubmissionResult, suspicious_cells=()):
        self.max_score = result.max_score
        self.scores.append(result.score)
        self.errors += result.status == "error"
        for test in result.tests:
            self.pending += test.pending
            if test.manual:
                continue
            exercise = title(test)
            tally = self.exercises.setdefault(exercise, [0, 0])
            tally[0] += test.score >= test.max_score
            tally[1] += 1
            for check in test.checks:
                tally = self.checks.setdefault((exercise, check.check), [0, 0])
                tally[0] += check.passed
                tally[1] += 1
            for kind in mistakes_made(test.checks):
                self.mistakes.setdefault((exercise, kind), []).append(result.student)
        reasons = attention_reasons(result, suspicious_cells)
        if reasons:
            self.attention.append(Attention(result.student, reasons))

    def frequent_mistakes(self) -> list[tuple[tuple[str, str], list[str]]]:
        """((exercise, mistake), students), the known mistakes first, each kind by how many students made it."""
        return sorted(self.mistakes.items(), key=lambda item: (item[0][1] in UNNAMED or item[0][1].startswith(
            "raised an error"), -len(item[1]), item[0]))

    def histogram(self) -> list[tuple[float, int]]:
        """(score, students) for every score from 0 to the maximum in steps of one point."""
        counts = Counter(int(score) for score in self.scores)
        return [(points, counts.get(points, 0)) for points in range(int(self.max_score) + 1)]

    def lines(self) -> list[str]:
        n = len(self.scores)
        from ..results.scores import count
        from ..results.scores import score

        lines = [f"{self.assignment}: {count(n, 'submission')} ({n - self.errors} graded, {self.errors} could not be "
                 "graded)"]
        if not n:
            return lines
        lines.append(f"  score: mean {statistics.mean(self.scores):.2f}, "
                     f"median {score(statistics.median(self.scores))} (out of {score(self.max_score)})")
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
        if self.checks:  # an nbgrader assignment's test cells have none of their own
            lines.append("  hidden checks passed least often:")
        for (exercise, check), (passed, total) in sorted(self.checks.items(), key=lambda i: i[1][0] / i[1][1])[:5]:
            lines.append(f"    {check:<58} {_percent(passed, total):>5}")
        if self.mistakes:
            lines.append("  most frequent mistakes (students):")
        for (exercise, kind), students in self.frequent_mistakes()[:10]:
            lines.append(f"    {len(students):>4}  {exercise}: {kind} ({_names(students)})")
        if self.attention:
            lines.append("  needs attention:")
            for item in self.attention:
                lines.append(f"    {item.student}: {'; '.join(reason.rstrip('.') for reason in item.reasons)}")
        if self.similar:
            lines.append("  suspiciously alike solution code (a lead for a conversation, not a verdict):")
            for pair in self.similar:
                lines.append(f"    {pair.first} and {pair.second}: {pair.percent}% alike, resting on "
                             f"{pair.first_lines[0]} of {pair.first_lines[1]} lines of {pair.first}'s own code and "
                             f"{pair.second_lines[0]} of {pair.second_lines[1]} of {pair.second}'s")
                for z, y, x in pair.also:
                    lines.append(f"      also {z} with {y}, by the same code ({y} and {x} are alike as a whole)")
                if pair.merged:
                    lines.append(f"      {pair.merged.note}")
        return lines


def _names(students: list[str], shown: int = 5) -> str:
    return ", ".join(students[:shown]) + (f" and {len(students) - shown} more" if len(students) > shown else "")


# Failure kinds that name no mistake: listed after the known mistakes, which say more about the class.
UNNAMED = ("not written yet", "function missing, renamed or broken by an earlier error", "too slow, or an endless loop",
           "stopped the Python process", "a wrong value not matching a known mistake")
UNKNOWN_VALUE = UNNAMED[-1]


def mistakes_made(checks) -> list[str]:
    """The failure kinds of one exercise's checks, each once; a wrong value that no check could name is not
    counted besides a mistake another check named (a check without a mistake list saw the same wrong code)."""
    kinds = list(dict.fromkeys(filter(None, map(failure_kind, checks))))
    if any(kind not in UNNAMED and not kind.startswith("raised an error") for kind in kinds):
        kinds = [kind for kind in kinds if kind != UNKNOWN_VALUE]
    return kinds


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
    return UNKNOWN_VALUE


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
        exercise = title(test)
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


def exercise_code(notebook, editable, released=frozenset()) -> dict[str, str]:
    """The code the student wrote, per exercise: {grade id (else "cell N"): code} of every code cell they could edit
    that is not empty and not left as `released`."""
    from ..course.notebook import grade_id

    return {grade_id(cell) or f"cell {number}": cell.source
            for number, cell in enumerate(notebook.cells if notebook else [], start=1)
            if cell.get("cell_type") == "code" and editable(cell) and isinstance(cell.get("source"), str)
            and cell.source.strip() and cell.source.strip() not in released}


def notebooks_of(course, assignment: str) -> list[tuple[str, frozenset[str]]]:
    """(notebook file name, the grade ids of its cells the student may not change) of each notebook of `assignment`:
    one for the course's own assignments, each of them for an nbgrader assignment graded by its own test cells."""
    from ..grading.grade import assignment_spec
    from ..grading.nbresults import locked_ids
    from ..grading.nbtests import nbgrader_assignments

    if assignment in course.assignments:
        spec = assignment_spec(course, assignment)
        return [(spec.notebook, frozenset(spec.locked))]
    return [(name, locked_ids(course.root / "source" / assignment / name))
            for name in nbgrader_assignments(course)[assignment]]


def build(course, autograded: Path, assignment: str, db_url: str | None = None) -> ClassReport:
    """The report of every graded submission of `assignment` under `autograded`, read one at a time, with the
    written answers' hand grades from the gradebook (the course's unless `db_url`)."""
    from ..course import notebook as nb
    from ..grading.autograded import read_results
    from ..results.wording import with_hand_grades
    from ..grading.gradebook import hand_grades
    from .similarity import similar_pairs

    notebooks = notebooks_of(course, assignment)
    several = len(notebooks) > 1
    report = ClassReport(assignment)
    by_hand = hand_grades(db_url or course.db_url, assignment)
    codes, given = {}, []
    released, editable = {}, {}
    for name, locked in notebooks:
        # the student's cells, not the course's
        editable[name] = lambda cell, locked=locked: nb.grade_id(cell) not in locked
        paths = [course.root / folder / assignment / name for folder in ("release", "source")]
        release = nb.read(paths[0]) if paths[0].is_file() else None
        # the course's own example cells, as released: the same in every notebook, nobody's solution
        released[name] = frozenset(cell.source.strip() for cell in (release.cells if release else ())
                                   if cell.get("cell_type") == "code" and not nb.grade_id(cell))
        given += [code for path in paths if path.is_file()
                  for code in exercise_code(nb.read(path), editable[name]).values()]
    for result in read_results(autograded, assignment):
        result = with_hand_grades(result, by_hand.get(result.student, {}))
        suspicious, codes[result.student] = [], {}
        for name, _ in notebooks:
            try:
                notebook = nb.read(autograded / result.student / assignment / name)
            except (nb.NotebookError, OSError):
                notebook = None
            suspicious += [(f"{cell} of {name}" if several else cell, what)
                           for cell, what in suspicious_code(notebook, editable[name])]
            codes[result.student].update({f"{name}: {key}" if several else key: code for key, code in
                                          exercise_code(notebook, editable[name], released[name]).items()})
        report.add(result, suspicious)
    report.similar = similar_pairs(codes, given)
    return report


def add_command(commands):
    parser = commands.add_parser("report", help="class report: score distribution, pass rates, frequent mistakes, "
                                                "students who need attention")
    parser.add_argument("assignment", metavar="ASSIGNMENT")
    parser.add_argument("--autograded", type=Path, help="where `autograder grade` wrote its results "
                                                        "(default: the course's autograded/)")
    parser.add_argument("--output", type=Path, help="the HTML file (default: reports/<assignment>.html)")
    parser.add_argument("--feedback", type=Path, help="the folder of `autograder feedback` pages to link to "
                                                      f"(default: the course's {FOLDER}/)")
    parser.add_argument("--db", help="the gradebook: the written answers' hand grades, and formgrader's flags to set "
                                     "for the students who need attention (default: the course's)")
    parser.add_argument("--no-flag", action="store_true", help="leave formgrader's flags as they are")
    parser.set_defaults(run=run_report)


def run_report(args) -> int:
    from ..course.config import load_course

    course = load_course()
    autograded = args.autograded or course.root / "autograded"
    report = build(course, autograded, args.assignment, args.db)
    if not report.scores:
        logger.error("No graded results of %s in %s: run `autograder grade %s` first.", args.assignment, autograded,
                     args.assignment)
        return 1
    output = args.output or course.root / "reports" / f"{args.assignment}.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_report(report, args.feedback or course.root / FOLDER, output.parent, course.root),
                      encoding="utf-8")
    print("\n".join(report.lines()))
    print(f"  HTML report: {output}")
    db_url = args.db or course.db_url
    sqlite_file = Path(db_url.removeprefix("sqlite:///")) if db_url.startswith("sqlite:///") else None
    if args.no_flag or not report.attention or (sqlite_file and not sqlite_file.is_file()):
        return 0
    try:
        flagged = flag_attention(db_url, course, report)
    except Exception as error:  # the report is written; a gradebook that cannot be flagged must not hide it
        logger.warning("formgrader flags not set (%s: %s)", type(error).__name__, error)
        return 0
    print(f"  formgrader: {flagged} submitted notebook(s) flagged for attention")
    return 0


def render_report(report: ClassReport, feedback: Path, here: Path, course_root: Path | None = None) -> str:
    """The report as one self-contained HTML page (inline styles and SVG), linking each student to their
    feedback page under `feedback` when it exists, relative to the report's folder `here`."""
    from . import pages
    from ..results.model import Figure, Series

    histogram = report.histogram()
    chart = pages.svg(Figure(f"Scores of {len(report.scores)} submissions", "points", "students", (
        Series("students", tuple(float(p) for p, _ in histogram), tuple(float(c) for _, c in histogram), "bar"),)))
    links = {}

    def link(student: str) -> str | None:
        if student not in links:
            path = feedback / student / report.assignment / PAGE
            links[student] = os.path.relpath(path, here) if path.is_file() else None
        return links[student]

    return pages.render("report.html", course_root, report=report, chart=chart, link=link,
                        mean=statistics.mean(report.scores), median=statistics.median(report.scores),
                        checks=sorted(report.checks.items(), key=lambda item: item[1][0] / item[1][1]),
                        mistakes=report.frequent_mistakes(), percent=_percent)


def flag_attention(db_url: str, course, report: ClassReport) -> int:
    """Set formgrader's "Flagged?" on the submitted notebook of every student who needs attention, as formgrader's
    own flag button does; flags an instructor set stay. Returns how many notebooks are flagged now."""
    from nbgrader.api import Assignment, Notebook, SubmittedAssignment, SubmittedNotebook
    from sqlalchemy import select, update

    from ..grading.gradebook import open_gradebook

    students = [item.student for item in report.attention]
    if not students:
        return 0
    names = [name.removesuffix(".ipynb") for name, _ in notebooks_of(course, report.assignment)]
    gradebook = open_gradebook(db_url)
    try:
        ids = select(SubmittedNotebook.id).join(SubmittedAssignment).join(Notebook).join(
            Assignment, Notebook.assignment_id == Assignment.id).where(
            Assignment.name == report.assignment, Notebook.name.in_(names),
            SubmittedAssignment.student_id.in_(students))
        done = gradebook.db.execute(update(SubmittedNotebook).where(SubmittedNotebook.id.in_(ids))
                                    .values(flagged=True))
        gradebook.db.commit()
        return done.rowcount
    finally:
        gradebook.close()
