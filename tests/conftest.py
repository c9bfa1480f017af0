import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "samples"))

from autograder.config import load_course  # noqa: E402

ASSIGNMENTS = list(load_course(ROOT).assignments)


@pytest.fixture(scope="session")
def course():
    return load_course(ROOT)


def copy_course(dest: Path) -> Path:
    """A throwaway course folder: the repository's course files, without its gradebook or submissions."""
    for name in ("source", "release"):
        shutil.copytree(ROOT / name, dest / name)
    for name in ("course_config.py", "nbgrader_config.py"):
        shutil.copy(ROOT / name, dest / name)
    return dest


@pytest.fixture
def course_copy(tmp_path):
    return copy_course(tmp_path / "course")
