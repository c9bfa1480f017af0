"""A value exercise's answer (a notebook variable such as max_stable_learning_rate) appears in no hidden-check
message: the messages say which way and roughly how far the value is off, and `autograder release` refuses a
check file whose messages on wrong values show the answer in any formatting."""
import re

import pytest

from autograder.authoring.check_audit import answer_leaks, shows, value_answers, wrong_values
from autograder.checking.checks import checks_in, run_check, check_file
from autograder.checking.expect import WrongResult, expect_close
from autograder.engine.submission import local_submission
from course_files import ASSIGNMENTS


def message(got, expected, what, **options):
    with pytest.raises(WrongResult) as failure:
        expect_close(got, expected, what, **options)
    return str(failure.value)


@pytest.mark.parametrize(("got", "direction"), [(0.5, "too small"), (0.97, "a little too small"),
                                                (1.05, "a little too large"), (2.5, "far too large")])
def test_a_value_exercise_s_message_says_which_way_and_how_far_not_the_answer(got, direction):
    text = message(got, 1.0, "max_stable_learning_rate")
    assert text == f"max_stable_learning_rate is {got:g}, which is {direction}."
    assert not shows(text, 1.0)


def test_a_value_just_outside_the_tolerance_is_not_rounded_into_the_answer():
    text = message(1.000002, 1.0, "max_stable_learning_rate")
    assert text == "max_stable_learning_rate is 1.000002, which is a little too large."
    assert not shows(text, 1.0)


def test_a_value_exercise_s_nan_does_not_show_the_answer():
    text = message(float("nan"), 0.75, "rate")
    assert "finite numbers were expected" in text and not shows(text, 0.75)


def test_a_function_exercise_still_shows_its_expected_value_on_a_new_input():
    assert message(2, 4, "df(5)") == "df(5) returned 2, but 4 was expected."


@pytest.mark.parametrize("text", ["is 1", "is 1.0", "was 1.00.", "(1e0)", "1e+00 expected", "+1.", "1.0000000001"])
def test_the_answer_is_found_however_it_is_written(text):
    assert shows(text, 1.0)


@pytest.mark.parametrize("text", ["x1 and test_01", "0.1", "10", "1.01", "is 2, which is too large."])
def test_other_numbers_are_not_taken_for_the_answer(text):
    assert not shows(text, 1.0)


def test_the_course_has_value_exercises_to_protect(course):
    values = {name for assignment in ASSIGNMENTS for name in value_answers(course.source_notebook(assignment))}
    assert "max_stable_learning_rate" in values


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_hidden_check_prints_a_value_exercise_s_answer_for_any_known_mistake(course, assignment):
    source, path = course.source_notebook(assignment), check_file(assignment)
    checks = checks_in(path)
    for exercise, answer in value_answers(source).items():
        for check in checks[exercise]:
            tried = wrong_values(check, answer)
            assert len(tried) >= 12  # the known mistakes' values, then values near and far
            for wrong in tried:
                result = run_check(check, exercise, local_submission({exercise: wrong}), "a student")
                assert not result.passed and result.message
                assert not shows(result.message, answer), (wrong, result.message)
    assert answer_leaks(path, source) == []


def test_the_known_mistakes_of_max_stable_learning_rate_are_named_without_the_answer():
    check = checks_in(check_file("01-gradient-descent"))["max_stable_learning_rate"][0]
    assert {0.5, 2.0} <= set(wrong_values(check, 1.0))
    result = run_check(check, "max_stable_learning_rate", local_submission({"max_stable_learning_rate": 0.5}), "s")
    assert result.mistake == "gave the rate that jumps to the minimum in one step"
    assert result.message.startswith("max_stable_learning_rate is 0.5, which is too small. It looks like you gave "
                                     "the rate that jumps to the minimum in one step. That rate is the fastest, but "
                                     "larger rates still converge")


def leaky_copy(tmp_path, replace: str, by: str):
    path = tmp_path / "test_01_gradient_descent.py"
    text = check_file("01-gradient-descent").read_text()
    assert replace in text
    path.write_text(text.replace(replace, by))
    return path


@pytest.mark.parametrize("answer_shown", ["1", "1.00", "1e0"])
def test_release_refuses_a_hint_that_gives_the_answer(course, tmp_path, answer_shown):
    path = leaky_copy(tmp_path, "find the largest rate for which the size of c stays \"\n            \"below one.",
                      f"the answer is {answer_shown}.\"\n            \"")
    problems = answer_leaks(path, course.source_notebook("01-gradient-descent"))
    assert len(problems) == 1
    assert re.search(r"test_max_stable_learning_rate prints the answer of the value exercise "
                     r"'max_stable_learning_rate' when it is [-\d.e]+: .*the answer is " + re.escape(answer_shown),
                     problems[0])


def test_release_refuses_a_message_printing_the_expected_value(course, tmp_path):
    path = leaky_copy(tmp_path, "    expect_close(submission.max_stable_learning_rate, 1.0,",
                      "    assert submission.max_stable_learning_rate == 1.0, (\n"
                      "        f\"{submission.max_stable_learning_rate} is not {1.0}\")\n"
                      "    expect_close(submission.max_stable_learning_rate, 1.0,")
    assert answer_leaks(path, course.source_notebook("01-gradient-descent")) != []


def test_an_answer_of_zero_is_tried_with_values_beside_it():
    check = checks_in(check_file("01-gradient-descent"))["max_stable_learning_rate"][0]
    assert {0.1, -0.1, 1.0, -1.0} <= set(wrong_values(check, 0.0)) and 0.0 not in wrong_values(check, 0.0)
