"""`autograder release`: nbgrader's generate_assignment, a check that nothing secret got out, and the assignment
registered in the gradebook, so that `nbgrader autograde` works right after it.

The release of an assignment must hold no solution code, no hidden check (neither the hidden region of
a test cell nor anything from the check file, reference values included), a clear stub in every
exercise, and be a valid notebook. Any leak is reported with the notebook and cell it is in.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np

from ..course import notebook as nb
from .check_audit import answer_leaks, disagreements
from ..checking.checks import check_file
from ..course.config import Course
from ..checking.expect import course_tolerances
from .lint import lint_check_file, lint_source

MARKERS = (nb.BEGIN_SOLUTION, nb.END_SOLUTION, nb.BEGIN_HIDDEN, nb.END_HIDDEN,
           "=== BEGIN MARK SCHEME ===", "=== END MARK SCHEME ===")
CODE_STUB, TEXT_STUB = "YOUR CODE HERE", "YOUR ANSWER HERE"


class ReleaseError(RuntimeError):
    pass


def release(course: Course, assignments: list[str]) -> list[str]:
    """Lint, generate and verify each assignment; the problems found (empty when all is well)."""
    problems = []
    for assignment in assignments:
        source = course.source_notebook(assignment)
        with course_tolerances(course):  # the references are checked as the students will be
            found = lint_source(source, assignment, course.root) + lint_check_file(assignment, source,
                                                                                   root=course.root)
            if not found:  # the checks load and their references pass: now run them against wrong answers
                checks = check_file(assignment, course.root)
                found = answer_leaks(checks, source) + disagreements(checks, source)
        if not found:
            generate(course, assignment)
            found = verify_release(source, course.release_notebook(assignment), assignment, course.root)
        if not found:
            register(course, assignment)
        problems += found
    return problems


def generate(course: Course, assignment: str) -> None:
    """Run nbgrader's own generator, exactly as `nbgrader generate_assignment` would from the course root."""
    command = [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force", "--log-level=WARN",
               f"--db={course.db_url}"]
    done = subprocess.run(command, cwd=course.root, capture_output=True, text=True)
    if done.returncode != 0:
        raise ReleaseError(f"nbgrader generate_assignment {assignment} failed:\n{done.stdout}{done.stderr}")


def register(course: Course, assignment: str) -> None:
    """Make sure the course's gradebook has the assignment, its notebook and grade cells as the source now has them
    (generate_assignment records them too, but not into a gradebook nbgrader resolves elsewhere), so
    `nbgrader autograde` works right after a release."""
    from ..grading.grade import assignment_spec
    from ..grading.gradebook import record_assignment

    record_assignment(course.db_url, course, assignment_spec(course, assignment))


def verify_release(source_path: Path, release_path: Path, assignment: str, root: Path | None = None) -> list[str]:
    """Every leak or missing stub in `release_path` compared with its source notebook and the hidden checks of the
    course at `root`."""
    try:
        release = nb.read(release_path)
        nbformat.validate(release)
    except nb.NotebookError as error:
        return [str(error)]
    except nbformat.ValidationError as error:
        return [f"{release_path}: not a valid notebook: {error.message}"]
    source = nb.read(source_path)
    public = _public_text(source)  # what the source shows students anyway is no secret
    secrets = {text: kind for text, kind in (_secrets(source) | _check_file_secrets(assignment, root)).items()
               if text not in public}
    problems = []
    for index, cell in enumerate(release.cells):
        at = nb.where(release_path, index, cell)
        for marker in MARKERS:
            if marker in cell.source:
                problems.append(f"{at}: contains the marker {marker!r}; a solution or hidden test was released.")
        for secret, kind in secrets.items():
            if secret in cell.source:
                problems.append(f"{at}: contains {kind} `{secret}`.")
    problems += _missing_stubs(source, release, release_path)
    problems += _answers_shown(release, release_path, _answers(source, assignment, root))
    return problems


def _answers(source, assignment: str, root: Path | None = None) -> dict[str, list]:
    """Variable exercise -> the values that are its answer: the solution's own value, and the values the hidden
    checks compare the student's with (`expect_close(submission.name, value, ...)`)."""
    answers: dict[str, list] = {}
    for name, value in nb.solution_values(source):
        answers.setdefault(name, []).append(value)
    for node in ast.walk(ast.parse(check_file(assignment, root).read_text())):
        if isinstance(node, ast.Call) and len(node.args) >= 2 and isinstance(node.args[0], ast.Attribute) and (
                getattr(node.args[0].value, "id", "") == "submission" and node.args[0].attr in answers):
            try:
                answers[node.args[0].attr].append(ast.literal_eval(node.args[1]))
            except ValueError:
                pass
    return answers


def _answers_shown(release, release_path: Path, answers: dict[str, list]) -> list[str]:
    """Visible checks that print an exercise's answer: `check(description, compute, expected)` shows
    `expected` whether the student's value is right or wrong, so it must not be the answer of what it checks."""
    problems = []
    for index, cell in enumerate(release.cells):
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "check" and len(node.args) >= 3):
                continue
            checked = {name.id for name in ast.walk(node.args[1]) if isinstance(name, ast.Name)}
            try:
                expected = ast.literal_eval(node.args[2])
            except ValueError:
                continue
            for name in sorted(checked & answers.keys()):
                if any(_same_value(expected, answer) for answer in answers[name]):
                    problems.append(f"{nb.where(release_path, index, cell)}: its visible check of `{name}` prints "
                                    f"{expected!r}, the answer of the exercise `{name}`. Judge the student's value "
                                    "by what it does instead (for example, run it), without showing the answer.")
    return problems


def _same_value(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):  # a verdict (True: "it converges") is no number's answer
        return a is b
    try:
        return bool(np.shape(a) == np.shape(b) and np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float)))
    except (TypeError, ValueError):
        return a == b


def _hidden_region(source: str) -> str:
    return "\n".join(nb.hidden_regions(source))


def _public_text(source) -> str:
    """The source's text outside solution regions, hidden tests and model answers."""
    lines = []
    for cell in source.cells:
        if cell.cell_type == "markdown" and nb.is_solution(cell):
            continue
        hidden = set(_hidden_region(cell.source).splitlines())
        solution = set(nb.solution_lines(cell.source))
        lines += [line for line in cell.source.splitlines() if line not in hidden and line not in solution]
    return "\n".join(lines)


def _secrets(source) -> dict[str, str]:
    """Solution code, model answers and hidden-test lines of the source: text the release must not contain."""
    secret = {}
    for cell in source.cells:
        if cell.cell_type == "markdown" and nb.is_solution(cell):
            secret.update({line.strip(): "the model answer" for line in cell.source.splitlines()
                           if len(line.strip()) >= 20})
            continue
        for line in nb.solution_lines(cell.source):
            secret.setdefault(line.strip(), "the solution line")
        for line in _hidden_region(cell.source).splitlines():
            secret.setdefault(line.strip(), "the hidden-test line")
    return {text: kind for text, kind in secret.items() if len(text) >= 6 and not text.startswith("#")}


def _check_file_secrets(assignment: str, root: Path | None = None) -> dict[str, str]:
    """Code lines and reference values of the assignment's hidden check file."""
    path = check_file(assignment, root)
    text = path.read_text()
    secrets = {line.strip(): "a line of the hidden checks" for line in text.splitlines()
               if len(line.strip()) >= 30 and not line.strip().startswith(("#", "import ", "from ", '"""'))}
    secrets[nb.HIDDEN_CALL] = "the hidden-check call"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Constant) and type(node.value) is float and len(repr(node.value).strip("-0.")) >= 5:
            secrets[repr(node.value)] = "a reference value of the hidden checks"
    return secrets


def _missing_stubs(source, release, release_path: Path) -> list[str]:
    released = {nb.grade_id(cell): (index, cell) for index, cell in enumerate(release.cells) if nb.grade_id(cell)}
    problems = []
    for cell in source.cells:
        name = nb.grade_id(cell)
        if not nb.is_solution(cell):
            continue
        if name not in released:
            problems.append(f"{release_path}: the exercise cell {name!r} of the source is missing.")
            continue
        index, out = released[name]
        stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
        if stub not in out.source:
            problems.append(f"{nb.where(release_path, index, out)}: no {stub!r} stub; the student would not "
                            "know where to write.")
    return problems
