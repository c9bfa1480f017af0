"""Diagnostics go through `logging`: one format on stderr, --verbose and --quiet, the service's threads included."""
import ast
import logging
import os
import re
import threading
from pathlib import Path

import pytest

from autograder.grading.batch import find_submissions
from autograder.cli import StderrHandler, configure_logging, main, parse_args
from course_files import ROOT

A1 = "01-gradient-descent"
PACKAGE = ROOT / "autograder"
# The command-line layer answers a wrong command line itself, as argparse does; every other module logs.
COMMAND_LINE = {PACKAGE / "cli.py", PACKAGE / "web" / "cli.py"}
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


@pytest.fixture
def logs(capsys):
    """Logging configured as `main` does, into pytest's captured stderr; the handler is removed afterwards."""
    yield configure_logging
    for handler in [h for h in logging.getLogger().handlers if isinstance(h, StderrHandler)]:
        logging.getLogger().removeHandler(handler)
    logging.getLogger("autograder").setLevel(logging.NOTSET)


def test_a_warning_reaches_stderr_in_the_one_format(logs, capsys, course, tmp_path):
    os.mkdir(os.fsencode(tmp_path) + b"/caf\xe9")  # not UTF-8: no student id
    logs(logging.INFO)
    assert list(find_submissions(course, A1, tmp_path)) == []
    assert re.fullmatch(f"{STAMP} WARNING autograder.grading.batch: the folder .*caf.* is not a student id "
                        "\\(rename it\\); it was not graded\n", capsys.readouterr().err)


def test_a_command_refusing_logs_one_error_line(logs, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_COURSE_ROOT", str(ROOT))
    assert main(["feedback", A1, "--autograded", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and re.fullmatch(f"{STAMP} ERROR autograder.present.feedback: No graded results of {A1} "
                                      f"in {tmp_path}: run `autograder grade {A1}` first.\n", err)


@pytest.mark.parametrize("argv, shown", [
    (["grade", "--all"], {"INFO", "WARNING"}),
    (["--quiet", "grade", "--all"], {"WARNING"}),
    (["grade", "--all", "-q"], {"WARNING"}),
    (["--verbose", "serve"], {"DEBUG", "INFO", "WARNING"}),
    (["serve", "-v"], {"DEBUG", "INFO", "WARNING"}),
])
def test_verbose_shows_debug_and_quiet_silences_info(logs, capsys, argv, shown):
    logs(parse_args(argv).log_level)
    log = logging.getLogger("autograder.web.grading")
    log.debug("step")
    log.info("news")
    log.warning("trouble")
    assert {line.split()[2] for line in capsys.readouterr().err.splitlines()} == shown


def test_quiet_also_hides_the_progress_bar():
    assert parse_args(["--quiet", "grade", "--all"]).no_progress
    assert not parse_args(["grade", "--all"]).no_progress


def test_the_service_threads_log_in_the_same_format(logs, capsys):
    logs(logging.INFO)
    saver = threading.Thread(target=logging.getLogger("autograder.web.grading").warning,
                             args=("could not record attempt %s (%s); retrying", 7, "database away"))
    saver.start()
    saver.join()
    assert re.fullmatch(f"{STAMP} WARNING autograder.web.grading: could not record attempt 7 \\(database away\\); "
                        "retrying\n", capsys.readouterr().err)


def test_other_libraries_log_only_their_warnings(logs, capsys):
    logs(logging.DEBUG)
    logging.getLogger("waitress").info("Serving on http://127.0.0.1:8000")
    logging.getLogger("waitress").warning("Task queue depth is 3")
    assert re.fullmatch(f"{STAMP} WARNING waitress: Task queue depth is 3\n", capsys.readouterr().err)


def _stderr_prints(path: Path) -> list[str]:
    """`print(..., file=sys.stderr)` and `traceback.print_exc()` calls in one source file, as 'path:line'."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        to = {keyword.arg: ast.unparse(keyword.value) for keyword in node.keywords}.get("file")
        # traceback's printers write to stderr unless told otherwise (Gradescope's runner writes to stdout on purpose)
        if (name == "print" and to == "sys.stderr") or (name.startswith("traceback.print_")
                                                        and to in (None, "sys.stderr")):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_library_code_logs_instead_of_printing_to_stderr():
    files = [path for path in PACKAGE.rglob("*.py") if path not in COMMAND_LINE]
    assert len(files) > 30
    assert [where for path in files for where in _stderr_prints(path)] == []


def test_the_stderr_finder_finds_a_print():
    assert _stderr_prints(PACKAGE / "cli.py")  # the command line does print its refusals to stderr
