"""The `autograder` command: a thin layer over the stage modules."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from pathlib import Path

from .course.config import NoCourse, course_folder, load_course
from .checking.checks import NoCheckFile

# The demo grades the sample class bundled with the package, and submit sends a notebook to a service: neither
# needs a course folder of its own.
WITHOUT_A_COURSE = ("demo", "submit")
# Verbs that also take an assignment of an nbgrader course graded by its notebooks' own test cells (nbtests.py).
IN_NOTEBOOKS_TOO = ("grade", "feedback", "report", "lti")

# A worker alternates between its sandbox running student code and the grader running checks; one extra
# worker keeps every core busy meanwhile (measured: +20 to +50% notebooks per second on 2 cores).
DEFAULT_WORKERS = (os.cpu_count() or 1) + 1

# Verbs that live in their stage's module: each has `add_command(commands)`, which adds its sub-parser with
# `set_defaults(run=...)` and keeps heavy imports inside the run function (a cold start stays fast).
VERB_MODULES: tuple[str, ...] = ("autograder.lms.gradescope", "autograder.present.feedback",
                                 "autograder.present.report", "autograder.lms.lti_cli", "autograder.lms.roster",
                                 "autograder.lms.collect", "autograder.lms.export", "autograder.authoring.scaffold",
                                 "autograder.web.cli", "autograder.submit")


# One format for every message on stderr: the commands', the service's threads' and the libraries' warnings.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class StderrHandler(logging.StreamHandler):
    """Writes each record to sys.stderr as it is then (a caller that runs `main` may have replaced it since)."""

    def __init__(self):
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _):
        pass


def configure_logging(level: int = logging.INFO) -> logging.Handler:
    """Send log records to stderr in LOG_FORMAT, once for the process (any thread), and return the handler.

    The package's own loggers ("autograder.*") log at `level`; other libraries' only their warnings and errors.
    Called again (a second `main` in one process), it replaces the handler it added before."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(handler)
    handler = StderrHandler()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("autograder").setLevel(level)
    return handler


def _add_logging_options(parser: argparse.ArgumentParser, default) -> None:
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", dest="log_level", action="store_const", const=logging.DEBUG,
                          default=default, help="also log what happens step by step (debug messages)")
    loudness.add_argument("-q", "--quiet", dest="log_level", action="store_const", const=logging.WARNING,
                          default=default, help="log only warnings and errors (no progress bar)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, read: `args.run(args)` runs the verb; `args.log_level` is what --verbose/--quiet chose."""
    parser = argparse.ArgumentParser(prog="autograder", description=__doc__)
    _add_logging_options(parser, logging.INFO)
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser("release", help="generate the student release and check it leaks nothing")
    release.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: every assignment")

    grade = commands.add_parser("grade", help="grade submitted notebooks into the gradebook")
    grade.add_argument("assignment", nargs="?", metavar="ASSIGNMENT")
    grade.add_argument("notebook", nargs="?", type=Path, metavar="NOTEBOOK",
                       help="grade this one notebook and print the result (default: every submission in submitted/); "
                            "of an assignment with several notebooks, a student's folder of them or one of them")
    grade.add_argument("--all", action="store_true",
                       help="grade the submissions of every assignment, in one run (the sandboxes start once)")
    grade.add_argument("--db", help="gradebook SQLAlchemy URL (default: the course's, sqlite:///gradebook.db)")
    grade.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                       help="sandboxes grading at once (default: one more than the cores)")
    grade.add_argument("--json", type=Path, metavar="PATH", help="also write every result to this JSON file")
    grade.add_argument("--student", help="student id for a single NOTEBOOK (default: the file's name; of a folder "
                                         "submitted/<student>/<assignment>, its student)")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    grade.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="grade on this Dask cluster's workers instead of local sandboxes")
    again = grade.add_mutually_exclusive_group()
    again.add_argument("--resume", dest="regrade", action="store_false", default=False,
                       help="skip submissions already graded and unchanged since (the default)")
    again.add_argument("--regrade", dest="regrade", action="store_true", default=False,
                       help="grade every submission again")

    demo = commands.add_parser("demo", help="grade the bundled sample class into a fresh SQLite gradebook")
    demo.add_argument("--folder", type=Path, default=Path("demo"), help="working folder (default: ./demo)")
    demo.add_argument("--workers", type=int, default=DEFAULT_WORKERS)

    release.set_defaults(run=run_release)
    grade.set_defaults(run=run_grade)
    demo.set_defaults(run=run_demo)
    for name in VERB_MODULES:
        importlib.import_module(name).add_command(commands)

    for command in commands.choices.values():  # `autograder grade --quiet` as well as `autograder --quiet grade`
        _add_logging_options(command, argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.log_level > logging.INFO and hasattr(args, "no_progress"):
        args.no_progress = True
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    if args.command not in WITHOUT_A_COURSE:
        try:
            course_folder()
        except NoCourse as error:
            print(f"autograder {args.command}: {error}", file=sys.stderr)
            return 2
    if getattr(args, "assignment", None) is not None:  # every verb that names one assignment
        course = load_course()
        known = list(course.assignments)
        if args.command in IN_NOTEBOOKS_TOO:  # and the ones graded by their notebooks' own test cells (nbtests.py)
            from .grading.nbtests import nbgrader_assignments

            known += nbgrader_assignments(course)
        if args.assignment not in known:
            print(f"Unknown assignment {args.assignment!r}. The course has: {', '.join(known)}", file=sys.stderr)
            return 2
    try:
        return args.run(args)
    except NoCheckFile as error:  # a course whose checks are missing (or still where they used to live)
        print(f"autograder {args.command}: {error}", file=sys.stderr)
        return 2


def run_release(args) -> int:
    from .grading.nbtests import nbgrader_assignments
    from .authoring.release import release

    course = load_course()
    in_notebooks = nbgrader_assignments(course)  # graded by their own test cells: every notebook of each released
    known = [*course.assignments, *in_notebooks]
    assignments = args.assignments or known
    unknown = [name for name in assignments if name not in known]
    if unknown:
        print(f"Unknown assignment(s): {', '.join(unknown)}. The course has: {', '.join(known)}", file=sys.stderr)
        return 2
    problems = release(course, assignments)
    for problem in problems:
        print(f"LEAK OR ERROR: {problem}", file=sys.stderr)
    if problems:
        print(f"Release refused: {len(problems)} problem(s) above.", file=sys.stderr)
        return 1
    for name in assignments:
        if name in in_notebooks:
            folder = course.root / "release" / name
            others = sorted(path.name for path in folder.iterdir() if path.suffix != ".ipynb")
            print(f"released {folder.relative_to(course.root)}: {', '.join(in_notebooks[name])}"
                  + (f" and {', '.join(others)}" if others else "") + ": no solution or hidden test in them")
        else:
            print(f"released {course.release_notebook(name).relative_to(course.root)}: no solution or hidden check "
                  "in it")
    return 0


def run_grade(args) -> int:
    from .grading.batch import grade_assignments, starting_line
    from .grading.distributed import ClusterError
    from .engine.sandbox import SandboxError

    course = load_course()
    if args.all == (args.assignment is not None):
        print("autograder grade: name one ASSIGNMENT, or give --all for every assignment", file=sys.stderr)
        return 2
    db_url = args.db or (None if args.notebook is not None else course.db_url)
    failures: tuple[type[Exception], ...] = (SandboxError, ClusterError)
    if db_url:  # one notebook without a gradebook need not import SQLAlchemy (a good part of a cold start)
        from .grading.gradebook import GradebookError, check_url, safe_url

        failures += (GradebookError,)
        try:
            check_url(db_url)
        except GradebookError as error:
            print(f"autograder grade: {error}", file=sys.stderr)
            return 2
    from .grading.nbtests import nbgrader_assignments

    in_notebooks = list(nbgrader_assignments(course))  # graded by their notebooks' own test cells (issue 28)
    try:
        if args.notebook is not None and args.assignment in in_notebooks:
            return _grade_one_submission(course, args)
        if args.notebook is not None:
            return _grade_one(course, args)
        print(starting_line(args.workers, args.scheduler), flush=True)

        def scores_done(summaries):  # every score is in the gradebook: said before any figure is drawn
            print("\n".join(line for summary in summaries for line in summary.lines()))
            print(f"  gradebook: {safe_url(db_url)}", flush=True)

        names = [*course.assignments, *in_notebooks] if args.all else [args.assignment]
        summaries = grade_assignments(course, names, db_url, args.workers, args.json, progress=not args.no_progress,
                                      regrade=args.regrade, scheduler=args.scheduler, on_scores=scores_done)
    except failures as error:
        print(f"autograder grade failed: {error}", file=sys.stderr)
        return 1
    for summary in summaries:
        if line := summary.figures_line():
            print(line)
    return 0


def _grade_one(course, args) -> int:
    from .grading.batch import SubmittedNotebook, grade_batch

    job = SubmittedNotebook(args.student or args.notebook.stem, args.notebook, None)
    results = []
    grade_batch(course, args.assignment, args.db, 1, args.json, submissions=[job], progress=False,
                on_result=results.append, regrade=True, on_scores=lambda summaries: _print_one(results[0]))
    return 0


def _print_one(result) -> None:
    """One notebook's verdict, printed as soon as it is saved (its figures are drawn after)."""
    from .results.scores import fraction, points

    print(f"{result.student} / {result.assignment}: {points(result.score, result.max_score)}"
          + (f" ({result.reason})" if result.status == "error" else ""))
    for note in result.notes:
        print(f"  note: {note}")
    for test in result.tests:
        print(f"  {test.name}: {fraction(test.score, test.max_score)}")
        for line in test.output.splitlines():
            print(f"      {line}")
    sys.stdout.flush()


def _grade_one_submission(course, args) -> int:
    """One student's notebooks of an nbgrader assignment (NOTEBOOK: their folder, or one notebook of it), graded
    together and printed notebook by notebook; a notebook not there scores 0, a file that is none of them is named."""
    import shutil
    import tempfile

    from .grading.batch import SubmittedNotebook, grade_batch
    from .grading.nbtests import nbgrader_spec, submission_files

    spec, given = nbgrader_spec(course, args.assignment), args.notebook
    files = sorted(path for path in given.iterdir() if path.is_file() and not path.name.startswith(".")) \
        if given.is_dir() else [given] if given.is_file() else []
    found, ignored = submission_files(course, spec, files)
    stamp = given / "timestamp.txt" if given.is_dir() else None
    results = []
    with tempfile.TemporaryDirectory(prefix="autograder-grade-") as folder:  # the notebooks under their own names
        for name, path in found.items():
            shutil.copyfile(path, Path(folder, name))
        job = SubmittedNotebook(args.student or _student_of(given, spec.name), Path(folder),
                                stamp if stamp is not None and stamp.is_file() else None)
        grade_batch(course, spec.name, args.db, 1, args.json, submissions=[job], progress=False,
                    on_result=results.append, regrade=True,
                    on_scores=lambda summaries: _print_submission(results[0], spec, given, found, ignored))
    return 0


def _student_of(given: Path, assignment: str) -> str:
    """The student a submission is of, by nbgrader's layout (submitted/<student>/<assignment>/), else its name."""
    folder = given.resolve() if given.is_dir() else given.resolve().parent
    if folder.name == assignment and folder.parent.name:
        return folder.parent.name
    return given.resolve().name if given.is_dir() else given.stem


def _print_submission(result, spec, given: Path, found: dict, ignored: list) -> None:
    """An nbgrader assignment's verdict, notebook by notebook, printed as soon as it is saved."""
    from .results.scores import count, fraction, points

    def total(earned: float, most: float, pending: float) -> str:
        return points(earned, most) + (f" ({count(pending, 'point')} to be graded by your instructor)"
                                       if pending else "")

    print(f"{result.student} / {result.assignment}: {total(result.score, result.max_score, result.pending_points)}"
          + (f" ({result.reason})" if result.status == "error" else ""))
    if not given.exists():
        print(f"  note: there is no file or folder {given}")
    for notebook in result.notebooks:
        most = sum(test.max_score for test in notebook.tests)
        if notebook.notebook not in found:
            print(f"  {notebook.notebook}: missing, 0 of {count(most, 'point')}")
            continue
        given_as = found[notebook.notebook].name
        renamed = f" (given as {given_as})" if given_as != notebook.notebook else ""
        print(f"  {notebook.notebook}{renamed}: " + total(sum(test.score for test in notebook.tests), most,
                                                  sum(test.max_score for test in notebook.tests if test.pending)))
        for flag in notebook.flags:
            print(f"    needs attention: {flag}")
        for note in (note for note in notebook.notes if note not in notebook.flags):
            print(f"    note: {note}")
        for test in notebook.tests:
            if test.pending:
                print(f"    {test.name}: {count(test.max_score, 'point')}, to be graded by your instructor")
                continue
            print(f"    {test.name}: {fraction(test.score, test.max_score)}")
            if test.score < test.max_score and test.output not in notebook.notes:  # e.g. "could not be read": once
                for line in test.output.splitlines():
                    print(f"        {line}")
    for path in ignored:
        print(f"  ignored: {path.name}, not one of the notebooks of {result.assignment} ({spec.notebook})")
    sys.stdout.flush()


def run_demo(args) -> int:
    from .demo import run_demo as demo

    return demo(args.folder, args.workers)


if __name__ == "__main__":
    sys.exit(main())
