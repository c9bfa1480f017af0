import os
import sys
from pathlib import Path

import pytest

from autograder.course.config import load_course
from course_files import ROOT, copy_course

# `.venv/bin/python -m pytest` runs without the environment activated: put its bin/ first on PATH, so that every
# `python3`, `autograder` or `nbgrader` a test or a script it starts runs by name is this interpreter's, as after
# `source .venv/bin/activate`
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


@pytest.fixture(scope="session")
def course():
    return load_course(ROOT)


@pytest.fixture
def course_copy(tmp_path):
    return copy_course(tmp_path / "course")


# The suite runs in two pytest-xdist processes (`--dist loadfile` in pyproject.toml), a test file to each at a time,
# so module fixtures are built once. The longest files start first, so that the two processes finish together
# instead of one running a long file alone at the end (each takes 1 to 4 minutes, measured).
LONGEST_FIRST = ["test_nbgrader_agreement.py", "test_crash_safety.py", "test_demo.py", "test_feedback_and_report.py",
                 "adversarial/test_cheating.py", "adversarial/test_escapes.py", "test_new_assignment_end_to_end.py",
                 "test_postgres.py", "lms/test_gradescope.py", "test_grade_cli.py"]


def pytest_collection_modifyitems(items):
    def rank(item):
        path = item.nodeid.split("::")[0].removeprefix("tests/")
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a file, and of the other files, stays as collected
