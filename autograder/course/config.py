"""The course's settings, read from `course_config.py` at the course root."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

CONFIG_FILE = "course_config.py"
NBGRADER_CONFIG = "nbgrader_config.py"  # an nbgrader course as it is, without a course_config.py (issue 28)


@dataclass(frozen=True)
class Course:
    root: Path
    course_id: str
    db_url: str
    assignments: dict[str, str]  # assignment name -> notebook file name
    rtol: float = 1e-6
    atol: float = 1e-8
    cell_timeout: float = 10
    submission_timeout: float = 60
    cpu_seconds: int = 60
    memory_mb: int = 1024
    max_output_kb: int = 256
    max_processes: int = 32
    cascade: bool = True        # a wrong helper costs only its own points: callers are re-checked with its reference
    max_notebook_mb: float = 50                 # a submitted notebook larger than this is not read
    budget_floor: float = 0.1                  # seconds any cell or call gets at least (budgets.py)
    budget_factor: float = 100                 # times what the instructor's solution needs (budgets.py)
    keep_figures: bool = True                  # autograded notebooks keep displayed figures (costs a PNG render each)
    lms_student_id: dict | None = None         # LMS -> roster columns giving the nbgrader id (lms/roster.py)
    canvas_assignment_ids: dict | None = None  # assignment -> Canvas assignment id (lms/export.py)
    policies: dict | None = None               # the web service's rules per assignment (web/policies.py)

    def source_notebook(self, assignment: str) -> Path:
        return self.root / "source" / assignment / self.notebook(assignment)

    def release_notebook(self, assignment: str) -> Path:
        return self.root / "release" / assignment / self.notebook(assignment)

    def notebook(self, assignment: str) -> str:
        try:
            return self.assignments[assignment]
        except KeyError:
            known = ", ".join(self.assignments)
            raise KeyError(f"unknown assignment {assignment!r}; the course has: {known}") from None


HIDDEN_CHECKS = "hidden"
OLD_HIDDEN_CHECKS = "autograder/hidden"  # where courses kept them while they shipped inside the package


def hidden_checks_folder(root: Path) -> Path:
    """Where the course at `root` keeps its hidden checks, one pytest file per assignment: `<root>/hidden/`, part of
    the course, never of the installed package (whose files the sandbox shows to student code). Every lookup of a
    check file goes through here (checks.check_file), and so does the Gradescope zip, whatever the package's install."""
    return Path(root) / HIDDEN_CHECKS


class NoCourse(LookupError):
    """No course folder where the command was run; the message says where it looked."""


def is_nbgrader_course(folder: Path) -> bool:
    """An nbgrader course as it is: its own nbgrader_config.py and a source/ folder."""
    return (folder / NBGRADER_CONFIG).is_file() and (folder / "source").is_dir()


def course_folder(start: Path | None = None) -> Path:
    """The course root as a command finds it: $AUTOGRADER_COURSE_ROOT, else the nearest folder upwards holding
    course_config.py (else nbgrader_config.py beside a source/ folder: an nbgrader course); raises NoCourse, naming the folder, when there is none."""
    if os.environ.get("AUTOGRADER_COURSE_ROOT"):
        root = Path(os.environ["AUTOGRADER_COURSE_ROOT"]).resolve()
        if not (root / CONFIG_FILE).is_file() and not is_nbgrader_course(root):
            raise NoCourse(f"AUTOGRADER_COURSE_ROOT is {root}, which has no {CONFIG_FILE} (nor {NBGRADER_CONFIG} "
                           "with a source/ folder). Point it at your course folder, or unset it and run the command "
                           "inside the course folder.")
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    for folder in (here, *here.parents):  # else an nbgrader course, unchanged
        if is_nbgrader_course(folder):
            return folder
    raise NoCourse(f"no course found: there is no {CONFIG_FILE} in {here} or any folder above it. Run the command "
                   f"in your course folder (the one holding {CONFIG_FILE}), or set AUTOGRADER_COURSE_ROOT to it.")


def find_root(start: Path | None = None) -> Path:
    """The course root: $AUTOGRADER_COURSE_ROOT, else the nearest folder upwards holding course_config.py,
    else the checkout this package lives in (its sample course, for `autograder demo`)."""
    if os.environ.get("AUTOGRADER_COURSE_ROOT"):
        return Path(os.environ["AUTOGRADER_COURSE_ROOT"]).resolve()
    try:
        return course_folder(start)
    except NoCourse:
        return Path(__file__).resolve().parents[2]


def config_file(root: Path) -> str:
    """The name of the file the course at `root` is configured in: course_config.py, else (an nbgrader course as
    it is) nbgrader_config.py."""
    return CONFIG_FILE if (Path(root) / CONFIG_FILE).is_file() or not (Path(root) / NBGRADER_CONFIG).is_file() \
        else NBGRADER_CONFIG


def load_course(root: Path | None = None) -> Course:
    """The course at `root`, else the one find_root() finds now (read once per folder and process: the cache is
    keyed by the folder, so a later change of AUTOGRADER_COURSE_ROOT or of the working directory is seen)."""
    return course_at(Path(root).resolve() if root else find_root())


@lru_cache(maxsize=None)
def course_at(root: Path) -> Course:
    """The course in the folder `root` (resolved), read once per process."""
    return read_course(root)


def read_course(root: Path) -> Course:
    """The course in the folder `root`, read from its configuration file now (the service, when the file changed)."""
    config = PyFileConfigLoader(config_file(root), path=str(root)).load_config()
    ours = {"assignments": {}, **{key: value for key, value in config.Autograder.items()}}  # nbgrader's: in source/
    db_url = config.CourseDirectory.get("db_url", "sqlite:///gradebook.db")
    if db_url.startswith("sqlite:///") and not db_url.startswith("sqlite:////"):
        db_url = f"sqlite:///{root / db_url[len('sqlite:///'):]}"  # relative to the course root, as nbgrader does
    return Course(root=root, course_id=config.CourseDirectory.course_id, db_url=db_url, **ours)
