"""The hidden checks compare numbers with the tolerances of the course that runs them, told by the runner (grade,
release, the nbgrader cell), not looked up from the working directory inside an assertion helper."""
import dataclasses
import threading

import pytest

from autograder.checking.expect import course_tolerances, expect_close, is_close


def test_the_runners_course_decides_and_the_working_directory_does_not(course, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no course_config.py here, nor above
    loose = dataclasses.replace(course, rtol=0.1)
    with course_tolerances(loose):
        assert is_close(1.05, 1.0)
        expect_close(1.05, 1.0, "f(1)")
    assert not is_close(1.05, 1.0)  # outside, the defaults: rtol 1e-6
    with pytest.raises(AssertionError, match=r"f\(1\)"):
        expect_close(1.05, 1.0, "f(1)")


def test_an_explicit_tolerance_wins_and_another_thread_keeps_its_own(course):
    seen = []
    with course_tolerances(dataclasses.replace(course, rtol=0.1)):
        assert not is_close(1.05, 1.0, rtol=1e-3)
        other = threading.Thread(target=lambda: seen.append(is_close(1.05, 1.0)))
        other.start()
        other.join()
    assert seen == [False]  # a grading thread of another course is not affected
