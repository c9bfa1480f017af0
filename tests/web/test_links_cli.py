"""`autograder serve links --student ID` makes a link only for a student the gradebook has: a typo is refused with
the names it may have meant, and --create adds a new student first."""
import os
import subprocess
import sys

import pytest

from autograder.grading.gradebook import open_gradebook
from autograder.web.gradebook_view import students

pytestmark = pytest.mark.slow  # each case runs the command, which opens the service


@pytest.fixture
def course_with_students(course_copy):
    gradebook = open_gradebook(f"sqlite:///{course_copy / 'gradebook.db'}")
    for student in ("ada_lovelace", "alan_turing", "emmy_noether"):
        gradebook.update_or_create_student(student)
    gradebook.close()
    return course_copy


def links(root, *arguments):
    return subprocess.run([sys.executable, "-m", "autograder", "serve", "links", "--url", "http://127.0.0.1:8000",
                           *arguments], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "AUTOGRADER_COURSE_ROOT": str(root)})


def test_a_link_for_a_student_the_gradebook_does_not_have_is_refused_with_close_names(course_with_students):
    """Was: `--student adaa` printed a working link for a student who does not exist."""
    done = links(course_with_students, "--student", "ada_lovelac")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("autograder serve links: the gradebook has no student 'ada_lovelac' (did you mean "
                           "'ada_lovelace'?). No link was made. Give --create to add a new student to the gradebook "
                           "and make the link.\n")
    assert students(f"sqlite:///{course_with_students / 'gradebook.db'}") == [
        "ada_lovelace", "alan_turing", "emmy_noether"]


def test_create_adds_the_new_student_and_makes_the_link(course_with_students):
    done = links(course_with_students, "--student", "grace_hopper", "--create")
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    assert line.startswith("student\tgrace_hopper\thttp://127.0.0.1:8000/signin/")
    assert "grace_hopper" in students(f"sqlite:///{course_with_students / 'gradebook.db'}")


def test_a_known_student_gets_a_link_without_create(course_with_students):
    done = links(course_with_students, "--student", "emmy_noether")
    assert done.returncode == 0 and done.stdout.startswith("student\temmy_noether\t"), done.stderr
