import pytest

from autograder.config import load_course
from course_files import ROOT, copy_course


@pytest.fixture(scope="session")
def course():
    return load_course(ROOT)


@pytest.fixture
def course_copy(tmp_path):
    return copy_course(tmp_path / "course")
