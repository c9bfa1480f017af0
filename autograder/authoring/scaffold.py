"""`autograder new ASSIGNMENT`: a new assignment written in the course's conventions, ready to release.

It writes three things and touches nothing else: the source notebook `source/<assignment>/<notebook>` (teaching
text, a worked example, a plot, the check helper cell, one exercise with its check cell, a written answer), the
hidden-check file `hidden/test_<assignment>.py` with one example check, and the assignment's entry in
`course_config.py`. Every file is written to a temporary file beside its target and moved into place at the end;
if anything fails, what was already moved is taken back, so the course is either extended or left as it was.
"""
from __future__ import annotations

import ast
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..course.config import CONFIG_FILE

logger = logging.getLogger(__name__)

TEMPLATE = Path(__file__).resolve().parent / "scaffold_template"
# A folder name and, with - as _, the tail of a Python module name (the hidden-check file test_<name>.py).
ASSIGNMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
NOTEBOOK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.ipynb")


class ScaffoldError(ValueError):
    """Why the assignment cannot be added; nothing was written."""


@dataclass(frozen=True)
class NewAssignment:
    assignment: str
    notebook: Path       # the source notebook
    check_file: Path     # its hidden checks
    config: Path         # course_config.py, with the new entry


def default_notebook(assignment: str) -> str:
    """05-momentum -> momentum.ipynb: the name without its teaching-order number, as the course's notebooks are."""
    topic = re.sub(r"^[0-9]+[-_]", "", assignment).replace("-", "_")
    return f"{topic or assignment.replace('-', '_')}.ipynb"


def check_name(assignment: str, notebook: str) -> None:
    """Refuse a name nbgrader, a file system or Python's import would trip over."""
    if not ASSIGNMENT_NAME.fullmatch(assignment):
        raise ScaffoldError(f"{assignment!r} cannot name an assignment: use 1 to 64 letters, digits, - and _, "
                            "starting with a letter or digit (for example 05-momentum). It becomes a folder name "
                            "and, with - as _, part of the hidden-check module's name.")
    if not NOTEBOOK_NAME.fullmatch(notebook):
        raise ScaffoldError(f"{notebook!r} cannot name the notebook: use 1 to 64 letters, digits, - and _, starting "
                            "with a letter or digit, then .ipynb (for example momentum.ipynb).")


def new_assignment(root: Path, assignment: str, notebook: str | None = None) -> NewAssignment:
    """Add `assignment` to the course at `root`; raises ScaffoldError, having written nothing, if it cannot."""
    from ..checking.checks import check_file
    from ..course.config import course_at

    notebook = notebook or default_notebook(assignment)
    check_name(assignment, notebook)
    config_path = root / CONFIG_FILE
    config_text = _read_config(config_path)
    known = _assignments_of(config_path)
    target = NewAssignment(assignment, root / "source" / assignment / notebook, check_file(assignment, root),
                           config_path)
    clash = [name for name in known if name.lower() == assignment.lower()
             or check_file(name, root).name == target.check_file.name]
    if clash:
        raise ScaffoldError(f"The course already has the assignment {clash[0]!r}"
                            + ("" if clash[0] == assignment else f", whose hidden checks would share the file "
                               f"{target.check_file.name}") + ". Choose another name.")
    for path in (root / "source" / assignment, root / "release" / assignment, target.check_file):
        if path.exists():
            raise ScaffoldError(f"{path} already exists: {assignment!r} was started before. Choose another name, or "
                                "add its entry to course_config.py by hand.")
    new_config = with_assignment(config_text, assignment, notebook)
    _verify_config(new_config, {**known, assignment: notebook}, root)
    _write_all({target.check_file: _check_file_text(assignment),
                target.notebook: _notebook_text(assignment, target.check_file.relative_to(root)),
                config_path: new_config})  # the config last: the course learns of the assignment once its files exist
    course_at.cache_clear()
    return target


def _read_config(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScaffoldError(f"Cannot read {path}: {error.strerror}. Run `autograder new` in the course folder.") from None
    try:
        ast.parse(text, filename=str(path))
    except SyntaxError as error:
        raise ScaffoldError(f"{path} cannot be parsed (line {error.lineno}: {error.msg}). Fix it first; "
                            "nothing was written.") from None
    return text


def _assignments_of(config_path: Path) -> dict[str, str]:
    from traitlets.config.loader import PyFileConfigLoader

    try:
        config = PyFileConfigLoader(config_path.name, path=str(config_path.parent)).load_config()
    except Exception as error:  # the file runs instructor code: any error means "cannot be loaded"
        raise ScaffoldError(f"{config_path} cannot be loaded ({type(error).__name__}: {error}). Fix it first; "
                            "nothing was written.") from None
    assignments = config.Autograder.get("assignments", {})
    if not isinstance(assignments, dict):
        raise ScaffoldError(f"{config_path}: c.Autograder.assignments is not a dict. Fix it first; nothing was written.")
    return dict(assignments)


def with_assignment(config_text: str, assignment: str, notebook: str) -> str:
    """course_config.py with `assignment` added at the end of c.Autograder.assignments (and, when the course lists
    Canvas ids, of c.Autograder.canvas_assignment_ids with 0, "not set yet"); the rest of the text as it was."""
    text = _add_entry(config_text, "assignments", assignment, notebook, required=True)
    return _add_entry(text, "canvas_assignment_ids", assignment, 0, required=False)


def _add_entry(text: str, setting: str, key: str, value, required: bool) -> str:
    found = [node.value for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Assign)
             and any(ast.unparse(target) == f"c.Autograder.{setting}" for target in node.targets)]
    if len(found) != 1 or not isinstance(found[0], ast.Dict) or None in found[0].keys:
        if not required:
            return text
        raise ScaffoldError(f"course_config.py does not set c.Autograder.{setting} once, as a plain {{...}} dict, so "
                            f"`autograder new` cannot add to it safely. Add the line {key!r}: {value!r} to it by hand; "
                            "nothing was written.")
    mapping = found[0]
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def at(lineno, col):  # ast's (1-based line, UTF-8 byte column) as an offset into `text`
        return offsets[lineno - 1] + len(lines[lineno - 1].encode()[:col].decode())

    close = at(mapping.end_lineno, mapping.end_col_offset) - 1  # the closing brace
    entry = f"{key!r}: {value!r}".replace("'", '"')
    if not mapping.keys:
        return text[:close] + entry + text[close:]
    last = at(mapping.values[-1].end_lineno, mapping.values[-1].end_col_offset)
    comma = "" if "," in _code_only(text[last:close]) else ","
    line_start = text.rfind("\n", 0, close) + 1
    if mapping.lineno != mapping.end_lineno and not text[line_start:close].strip():
        first = mapping.keys[-1]
        indent = " " * first.col_offset
        after_last = text.find("\n", last)  # the rest of the last entry's line (a comment) stays with it
        return text[:last] + comma + text[last:after_last + 1] + f"{indent}{entry},\n" + text[after_last + 1:]
    return text[:last] + comma + " " + entry + text[last:]


def _code_only(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def _verify_config(new_text: str, expected: dict[str, str], root: Path) -> None:
    """Load the edited config, as `autograder` will, before it replaces the old one."""
    with tempfile.TemporaryDirectory(prefix="course-config-") as folder:
        (Path(folder) / CONFIG_FILE).write_text(new_text, encoding="utf-8")
        try:
            got = _assignments_of(Path(folder) / CONFIG_FILE)
        except ScaffoldError:
            got = None
    if got is None or list(got.items()) != list(expected.items()):
        raise ScaffoldError(f"Adding {list(expected)[-1]!r} to {root / CONFIG_FILE} did not give the expected "
                            "assignments, so the file was left as it was. Add the entry to "
                            "c.Autograder.assignments by hand.")


def _check_file_text(assignment: str) -> str:
    return (TEMPLATE / "checks.py").read_text(encoding="utf-8").replace("__ASSIGNMENT__", assignment)


def _notebook_text(assignment: str, check_file: Path) -> str:
    import nbformat

    from .lint import HELPER_GRADE_ID, VISIBLE_CHECK

    notebook = nbformat.read(TEMPLATE / "assignment.ipynb", as_version=4)
    title = re.sub(r"^[0-9]+[-_]", "", assignment).replace("-", " ").replace("_", " ").strip().capitalize()
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == HELPER_GRADE_ID:
            cell.source = VISIBLE_CHECK.read_text(encoding="utf-8").strip()  # a verbatim copy, as release checks
        cell.source = (cell.source.replace("__ASSIGNMENT__", assignment).replace("__TITLE__", title or assignment)
                       .replace("__CHECK_FILE__", check_file.as_posix()))
    return nbformat.writes(notebook) + "\n"


def _write_all(files: dict[Path, str]) -> None:
    """Write every file beside its target, then move them into place; on any failure take back what was moved
    and remove the folders made for them."""
    made_folders, staged, moved = [], {}, []
    originals = {path: path.read_bytes() for path in files if path.exists()}
    try:
        for path, text in files.items():
            for folder in reversed([path.parent, *path.parent.parents]):
                if not folder.exists():
                    folder.mkdir()
                    made_folders.append(folder)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")
            staged[path] = Path(temporary)
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
            if path in originals:
                os.chmod(temporary, path.stat().st_mode & 0o7777)
        for path, temporary in staged.items():
            os.replace(temporary, path)
            moved.append(path)
    except BaseException:
        for path in moved:
            if path in originals:
                path.write_bytes(originals[path])
            else:
                path.unlink(missing_ok=True)
        for temporary in staged.values():
            temporary.unlink(missing_ok=True)
        for folder in reversed(made_folders):
            folder.rmdir()
        raise


def add_command(commands):
    parser = commands.add_parser("new", help="start a new assignment: source notebook, hidden checks, config entry")
    parser.add_argument("name", metavar="ASSIGNMENT", help="its name, e.g. 05-momentum (a folder name)")
    parser.add_argument("--notebook", metavar="NAME.ipynb",
                        help="the notebook's file name (default: the name without its number, e.g. momentum.ipynb)")
    parser.set_defaults(run=run_new)


def run_new(args) -> int:
    from ..course.config import find_root

    root = find_root()
    try:
        made = new_assignment(root, args.name, args.notebook)
    except ScaffoldError as error:
        logger.error("autograder new: %s", error)
        return 2
    except OSError as error:
        logger.error("autograder new: could not write %s: %s. Nothing was written.", error.filename, error.strerror)
        return 1
    print(f"New assignment {made.assignment}:")
    for path in (made.notebook, made.check_file, made.config):
        print(f"  {'added to' if path == made.config else 'wrote'} {path.relative_to(root)}")
    print(f"Next: write the lesson and exercises in the notebook and their checks in {made.check_file.name} "
          f"(docs/check-authors.md), then `autograder release {made.assignment}`.")
    return 0
