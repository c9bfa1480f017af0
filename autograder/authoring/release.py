"""`autograder release`: nbgrader's generate_assignment, a check that nothing secret got out, and the assignment
registered in the gradebook, so that `nbgrader autograde` works right after it.

The release of an assignment must hold no solution code, no hidden check (neither the hidden region of
a test cell nor anything from the check file, reference values included), a clear stub in every
exercise, and be a valid notebook. Any leak is reported with the notebook and cell it is in.
An assignment of an nbgrader course as it is (graded by its own test cells, nbtests.py) is released the same way:
every notebook of it, and its other files (data, images) are searched for the notebooks' secrets too.
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
        if assignment not in course.assignments:  # an nbgrader assignment graded by its own test cells
            generate(course, assignment)  # which also records it in the gradebook, as `nbgrader autograde` needs
            problems += verify_nbgrader_release(course.root / "source" / assignment,
                                                course.root / "release" / assignment, nbgrader_stubs(course.root))
            continue
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
    from ..grading.gradebook import open_gradebook

    # made here: nbgrader makes a new gradebook by running `alembic` from PATH, which a venv not activated lacks
    open_gradebook(course.db_url).close()
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
        source = nb.read(source_path)
    except nb.NotebookError as error:
        return [str(error)]
    public = _public_text(source)  # what the source shows students anyway is no secret
    secrets = {text: kind for text, kind in (_secrets(source) | _check_file_secrets(assignment, root)).items()
               if text not in public}
    return _verify_notebook(source, release_path, secrets, _answers(source, assignment, root))


def nbgrader_stubs(root: Path) -> tuple[str, str]:
    """(code stub, text stub) as nbgrader's ClearSolutions writes them in this course (its nbgrader_config.py may set
    its own), each by its first line: a stub's lines are indented like the solution region they replace."""
    from nbgrader.preprocessors import ClearSolutions
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config() \
        if (Path(root) / "nbgrader_config.py").is_file() else None
    clear = ClearSolutions(config=config) if config is not None else ClearSolutions()
    code, text = clear.code_stub.get("python", CODE_STUB), clear.text_stub
    return (next((line.strip() for line in code.splitlines() if line.strip()), CODE_STUB),
            next((line.strip() for line in text.splitlines() if line.strip()), TEXT_STUB))


def verify_nbgrader_release(source_folder: Path, release_folder: Path,
                            stubs: tuple[str, str] = (CODE_STUB, TEXT_STUB)) -> list[str]:
    """Every leak or missing stub in the release of an nbgrader assignment with no hidden check file: each released
    notebook against its source, and every other released file, searched for the secrets of all its notebooks."""
    try:
        sources = {path.name: nb.read(path) for path in sorted(source_folder.glob("*.ipynb"))}
    except nb.NotebookError as error:
        return [str(error)]
    public = "\n".join(_public_text(source) for source in sources.values())
    secrets = {text: kind for source in sources.values() for text, kind in _secrets(source).items()
               if text not in public}
    problems = []
    for name, source in sources.items():
        answers: dict[str, list] = {}
        for variable, value in nb.solution_values(source):
            answers.setdefault(variable, []).append(value)
        problems += _verify_notebook(source, release_folder / name, secrets, answers, stubs)
    for path in sorted(release_folder.rglob("*")):
        if path.is_file() and path.suffix != ".ipynb":
            problems += _file_leaks(path, secrets)
    return problems


# a released file larger than this is data, not text an instructor wrote by hand: not searched
MAX_SEARCHED_BYTES = 2_000_000


def _file_leaks(path: Path, secrets: dict[str, str]) -> list[str]:
    """The secrets and markers in one released file other than a notebook (a helper module, a text file)."""
    if path.stat().st_size > MAX_SEARCHED_BYTES:
        return []
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:  # an image or other binary file
        return []
    found = [f"{path}: contains the marker {marker!r}; a solution or hidden test was released."
             for marker in MARKERS if marker in text]
    return found + [f"{path}: contains {kind} `{secret}`." for secret, kind in secrets.items() if secret in text]


def _verify_notebook(source, release_path: Path, secrets: dict[str, str], answers: dict[str, list],
                     stubs: tuple[str, str] = (CODE_STUB, TEXT_STUB)) -> list[str]:
    try:
        release = nb.read(release_path)
        nbformat.validate(release)
    except nb.NotebookError as error:
        return [str(error)]
    except nbformat.ValidationError as error:
        return [f"{release_path}: not a valid notebook: {error.message}"]
    problems = []
    for index, cell in enumerate(release.cells):
        at = nb.where(release_path, index, cell)
        for marker in MARKERS:
            if marker in cell.source:
                problems.append(f"{at}: contains the marker {marker!r}; a solution or hidden test was released.")
        for secret, kind in secrets.items():
            if secret in cell.source:
                problems.append(f"{at}: contains {kind} `{secret}`.")
    problems += _missing_stubs(source, release, release_path, stubs)
    problems += _answers_shown(release, release_path, answers)
    problems += _answers_compared(release, release_path, answers)
    return problems


def _code_trees(release):
    """(index, cell, syntax tree) of each released code cell that parses: what the answer checks below read."""
    for index, cell in enumerate(release.cells):
        if cell.cell_type == "code":
            try:
                yield index, cell, ast.parse(cell.source)
            except SyntaxError:
                continue


def _answers_compared(release, release_path: Path, answers: dict[str, list]) -> list[str]:
    """Visible tests that compare an exercise with its answer (`assert x == 42` where the solution sets `x = 42`):
    the student reads the answer off the test."""
    problems = []
    for index, cell, tree in _code_trees(release):
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq)):
                continue
            for named, other in ((node.left, node.comparators[0]), (node.comparators[0], node.left)):
                if not (isinstance(named, ast.Name) and named.id in answers):
                    continue
                try:
                    expected = ast.literal_eval(other)
                except ValueError:
                    continue
                if any(_same_value(expected, answer) for answer in answers[named.id]):
                    problems.append(f"{nb.where(release_path, index, cell)}: its visible test compares `{named.id}` "
                                    f"with {expected!r}, the answer of the exercise `{named.id}`. Move that "
                                    "comparison into a ### BEGIN HIDDEN TESTS region, or test a property of the "
                                    "answer instead.")
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
    for index, cell, tree in _code_trees(release):
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


def _missing_stubs(source, release, release_path: Path, stubs: tuple[str, str] = (CODE_STUB, TEXT_STUB)) -> list[str]:
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
        stub = stubs[0] if cell.cell_type == "code" else stubs[1]
        if stub not in out.source:
            problems.append(f"{nb.where(release_path, index, out)}: no {stub!r} stub; the student would not "
                            "know where to write.")
    return problems
