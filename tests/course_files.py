"""The repository's course, for tests: its root, its assignments, and throwaway copies of it."""
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "samples"))

from autograder.course.config import load_course  # noqa: E402

ASSIGNMENTS = list(load_course(ROOT).assignments)


def copy_course(dest: Path) -> Path:
    """A throwaway course folder: the repository's course files (hidden checks included), without its gradebook or
    submissions."""
    for name in ("source", "release", "hidden"):
        shutil.copytree(ROOT / name, dest / name)
    for name in ("course_config.py", "nbgrader_config.py"):
        shutil.copy(ROOT / name, dest / name)
    return dest
