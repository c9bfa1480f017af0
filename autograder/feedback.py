"""`autograder feedback ASSIGNMENT`: one self-contained HTML page per student, from the graded results.

Each page shows the score of every exercise, every message the checks wrote, what went wrong while the
notebook ran, and the figures the checks drew (the student's path or loss history against the
reference). It works offline: styles are inline and figures are inline SVG, with no external asset.
`nbgrader generate_feedback` keeps working beside it on the autograded notebooks.
"""
from __future__ import annotations

import html
import io
import sys
from datetime import datetime, timezone
from pathlib import Path

from .checks import Figure
from .grade import SubmissionResult, TestResult

PAGE = "feedback.html"
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 860px; margin: 2em auto;
       padding: 0 1em; color: #1d1d1f; line-height: 1.5; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.8em; }
.meta { color: #555; } .score { font-size: 1.3em; font-weight: 600; }
table { border-collapse: collapse; margin: 1em 0; } td, th { padding: 0.3em 0.9em; border-bottom: 1px solid #ddd;
       text-align: left; } th { background: #f4f4f6; }
.ok { color: #1a7f37; } .no { color: #b3261e; } .hand { color: #6b5b00; }
.messages li { margin: 0.4em 0; } .note { background: #fff6e0; border-left: 4px solid #e0a800; padding: 0.5em 1em; }
.error { background: #fdecea; border-left: 4px solid #b3261e; padding: 0.5em 1em; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.9em; } svg { max-width: 100%; height: auto; }
"""


def add_command(commands):
    parser = commands.add_parser("feedback", help="write an HTML feedback page per student from the graded results")
    parser.add_argument("assignment", metavar="ASSIGNMENT")
    parser.add_argument("--autograded", type=Path, help="where `autograder grade` wrote its results "
                                                        "(default: the course's autograded/)")
    parser.add_argument("--output", type=Path, help="folder for the pages (default: the course's feedback/): "
                                                    "<output>/<student>/<assignment>/feedback.html")
    parser.add_argument("--student", action="append", help="only this student (repeatable)")
    parser.add_argument("--db", help="the gradebook with the written answers' hand grades (default: the course's)")
    parser.set_defaults(run=run_feedback)


def run_feedback(args) -> int:
    from .autograded import read_results
    from .config import load_course
    from .gradebook import hand_grades
    from .grade import with_hand_grades

    course = load_course()
    by_hand = hand_grades(args.db or course.db_url, args.assignment)
    autograded = args.autograded or course.root / "autograded"
    output = args.output or course.root / "feedback"
    written = 0
    for result in read_results(autograded, args.assignment):
        if args.student and result.student not in args.student:
            continue
        write_page(output / result.student / args.assignment / PAGE,
                   with_hand_grades(result, by_hand.get(result.student, {})))
        written += 1
    if not written:
        print(f"No graded results of {args.assignment} in {autograded}: run `autograder grade {args.assignment}` first.",
              file=sys.stderr)
        return 1
    print(f"Wrote {written} feedback page(s): {output}/<student>/{args.assignment}/{PAGE}")
    return 0


def write_page(path: Path, result: SubmissionResult) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(result), encoding="utf-8")


def page(result: SubmissionResult) -> str:
    """The whole HTML page for one student's result."""
    e = html.escape
    auto = [test for test in result.tests if not test.manual]
    working = sum(test.score >= test.max_score for test in auto)
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>Feedback: {e(result.assignment)} ({e(result.student)})</title><style>{STYLE}</style></head><body>",
             f"<h1>Feedback on {e(result.assignment)}</h1>",
             f"<p class='meta'>Student: {e(result.student)} &middot; written "
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC</p>",
             f"<p class='score'>{e(result.headline())}</p>",
             f"<p>{e(_encouragement(result, working, len(auto)))}</p>"]
    if result.status == "error":
        parts.append(f"<div class='error'><strong>Your notebook could not be graded.</strong> {e(result.reason)}</div>")
    if result.notes:
        parts.append("<div class='note'><strong>While your notebook ran:</strong><ul>"
                     + "".join(f"<li>{e(note)}</li>" for note in result.notes) + "</ul></div>")
    parts.append("<table><tr><th>exercise</th><th>points</th><th></th></tr>" + "".join(
        f"<tr><td><a href='#{e(test.name)}'>{e(_title(test))}</a></td><td>{e(_points(test))}</td>"
        f"<td>{_verdict(test)}</td></tr>" for test in result.tests) + "</table>")
    for test in result.tests:
        parts.append(_section(test))
    parts.append("</body></html>\n")
    return "".join(parts)


def _encouragement(result: SubmissionResult, working: int, exercises: int) -> str:
    if result.status == "error":
        return "Nothing could be checked this time; the box below says why and what to do."
    if working == exercises:
        return "Every exercise works: well done."
    return (f"{working} of {exercises} exercises work. Each message below says what your code did on an input "
            "it had not seen, what was expected, and how to fix it.")


def _title(test: TestResult) -> str:
    if test.manual:
        return f"written answer ({test.name})"
    exercises = {check.exercise for check in test.checks if check.exercise}
    return exercises.pop() if len(exercises) == 1 else test.name.removeprefix("check_")


def _points(test: TestResult) -> str:
    return f"- / {test.max_score:g}" if test.pending else f"{test.score:g} / {test.max_score:g}"


def _verdict(test: TestResult) -> str:
    if test.pending:
        return "<span class='hand'>to be graded by your instructor</span>"
    if test.manual:
        return "<span class='hand'>graded by your instructor</span>"
    if test.score >= test.max_score:
        return "<span class='ok'>&#10003; works</span>"
    return "<span class='no'>&#10007; needs work</span>"


def _section(test: TestResult) -> str:
    e = html.escape
    lines = [line.removeprefix("- ") for line in test.output.splitlines() if line.strip()]
    passed = sum(check.passed for check in test.checks)
    earned = "to be graded by your instructor" if test.pending else f"{test.score:g} of {test.max_score:g} points"
    head = f"<h2 id='{e(test.name)}'>{e(_title(test))}: {e(earned)}</h2>"
    if test.checks:
        head += f"<p class='meta'>{passed} of {len(test.checks)} hidden checks passed.</p><ul class='checks'>" + "".join(
            f"<li class='{'ok' if ok else 'no'}'>{'&#10003;' if ok else '&#10007;'} {e(name)} ({points:g} "
            f"point{'' if points == 1 else 's'})</li>" for name, ok, points in test.check_lines()) + "</ul>"
    body = "<ul class='messages'>" + "".join(f"<li>{e(line)}</li>" for line in lines) + "</ul>"
    figures = "".join(_figure(figure) for check in test.checks for figure in check.figures)
    return head + body + figures


def _figure(figure: Figure) -> str:
    return (f"<figure>{svg(figure)}<figcaption>{html.escape(figure.title)}</figcaption></figure>")


def svg(figure: Figure) -> str:
    """The figure as inline SVG (text as paths: no font or file is needed to show it)."""
    import matplotlib

    matplotlib.use("agg")
    from matplotlib.figure import Figure as Canvas

    canvas = Canvas(figsize=(6.4, 3.6), layout="constrained")
    axes = canvas.subplots()
    for series in figure.series:
        mine = series.label.startswith("your")
        if series.style == "bar":
            axes.bar(series.x, series.y, color="#2e86ab", width=0.8, label=series.label)
        elif series.style == "curve":
            axes.plot(series.x, series.y, color="#9a9a9a", linewidth=1, label=series.label)
        elif series.style == "path":
            axes.plot(series.x, series.y, marker="o", markersize=4 if mine else 6, linewidth=1.2,
                      color="#d1495b" if mine else "#2e86ab", alpha=0.9, label=series.label,
                      linestyle="--" if mine else "-")
        else:
            axes.plot(series.x, series.y, linewidth=2 if mine else 2.5, color="#d1495b" if mine else "#2e86ab",
                      linestyle="--" if mine else "-", label=series.label)
    axes.set_xlabel(figure.x_label)
    axes.set_ylabel(figure.y_label)
    axes.grid(alpha=0.3)
    if len(figure.series) > 1:
        axes.legend()
    buffer = io.StringIO()
    canvas.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg"):]
