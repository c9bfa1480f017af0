"""`autograder feedback ASSIGNMENT`: one self-contained HTML page per student, from the graded results.

Each page shows what `view.build` makes of a result under the policy "full": the score of every exercise,
every message the checks wrote with its hint, what went wrong while the notebook ran, and the figures the
checks drew (the student's path or loss history against the reference). It works offline: styles are inline and figures are inline SVG, with no external asset. Pages
are written to `autograder_feedback/<student>/<assignment>/feedback.html`, a folder `nbgrader
generate_feedback` never writes to, so the two never overwrite each other. `render_feedback` renders one result
for any caller (the CLI here, a web application).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

from . import pages
from ..results.model import SubmissionResult
from .view import build

logger = logging.getLogger(__name__)

PAGE = "feedback.html"
# Our pages live apart from `nbgrader generate_feedback`'s feedback/<student>/<assignment>/<notebook>.html.
FOLDER = "autograder_feedback"


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
    from ..grading.autograded import read_results
    from ..course.config import load_course
    from ..grading.gradebook import hand_grades
    from ..results.wording import with_hand_grades

    course = load_course()
    by_hand = hand_grades(args.db or course.db_url, args.assignment)
    autograded = args.autograded or course.root / "autograded"
    output = args.output or course.root / FOLDER
    written = 0
    for result in read_results(autograded, args.assignment):
        if args.student and result.student not in args.student:
            continue
        write_page(output / result.student / args.assignment / PAGE,
                   with_hand_grades(result, by_hand.get(result.student, {})), course.root)
        written += 1
    if not written:
        logger.error("No graded results of %s in %s: run `autograder grade %s` first.", args.assignment, autograded,
                     args.assignment)
        return 1
    print(f"Wrote {written} feedback page{'' if written == 1 else 's'}: {output}/<student>/{args.assignment}/{PAGE}")
    return 0


def write_page(path: Path, result: SubmissionResult, course_root: Path | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_feedback(result, course_root), encoding="utf-8")


def render_feedback(result: SubmissionResult, course_root: Path | None = None, written: datetime | None = None) -> str:
    """The whole HTML page for one student's result (templates: the course's `templates/`, else the package's)."""
    # `result` too: a course's own feedback.html may read it
    return pages.render("feedback.html", course_root, view=build(result), result=result,
                        written=(written or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC"))
