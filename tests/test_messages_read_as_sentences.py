"""Messages read as sentences whatever the values (booleans, arrays, dicts, None, strings): one sentence end, no
doubled punctuation, a boolean as a true/false word rather than 0.0 or 1.0; a student whose mistake is named is not
counted again as "a wrong value not matching a known mistake"."""
import re
from pathlib import Path

import numpy as np
from hypothesis import given, settings, strategies as st

from autograder.results.model import CheckResult
from autograder.checking.expect import WrongResult, expect_close
from autograder.grading.grade import Runner
from autograder.present.report import mistakes_made

VISIBLE_CHECK = Path(__file__).resolve().parent.parent / "autograder" / "checking" / "visible_check.py"
WORDS = st.text("abcdefghij xyz", max_size=12)
NUMBERS = st.floats(-1e6, 1e6, allow_nan=False) | st.integers(-1000, 1000)
SCALARS = st.booleans() | NUMBERS | st.none() | WORDS
VALUES = (SCALARS
          | st.lists(NUMBERS | st.booleans(), max_size=10)
          | st.lists(NUMBERS, min_size=1, max_size=12).map(np.array)
          | st.lists(st.booleans(), min_size=1, max_size=5).map(np.array)
          | st.dictionaries(WORDS, SCALARS, max_size=3))
WHAT = st.sampled_from(["df(5)", "max_stable_learning_rate", "The losses from train(np.array([1, 2]), 0, 0.1, 3)"])
DOUBLED = re.compile(r"(?<!\.)\.\.(?!\.)|\?\.|!\.|\.\?|,\.|:\.|;\.")


def assert_one_sentence_per_paragraph(message: str):
    assert message.strip() and "\n" not in message
    assert not DOUBLED.search(message), message
    assert re.search(r"[^.?!][.?!]$", message), message


def failure(got, expected, what) -> WrongResult | None:
    try:
        expect_close(got, expected, what)
    except WrongResult as wrong:
        return wrong
    return None


@settings(max_examples=200, deadline=None)
@given(VALUES, VALUES, WHAT)
def test_expect_close_s_message_is_a_sentence_for_any_values(got, expected, what):
    wrong = failure(got, expected, what)
    if wrong is None:
        return
    message = str(wrong)
    assert_one_sentence_per_paragraph(message)
    if isinstance(got, bool):
        assert str(got) in message, message  # read as True or False, never as 1.0 or 0.0
        assert not re.search(rf"(?:returned|is) {float(got)}\b", message), message


def test_a_boolean_against_a_number_reads_as_a_word():
    assert str(failure(True, 2.5, "df(5)")) == "df(5) returned True, but 2.5 was expected."
    assert str(failure(np.True_, 2.5, "df(5)")) == "df(5) returned True, but 2.5 was expected."


def test_a_dict_or_a_string_expected_is_compared_as_is():
    assert failure({"a": 1}, {"a": 1}, "f()") is None
    assert str(failure(None, {"a": 1}, "f()")) == "f() returned None, but {'a': 1} was expected."
    assert str(failure(np.array([1, 2]), "ab", "f()")) == "f() returned np.array([1, 2]), but 'ab' was expected."


def visible_check():
    namespace = {}
    exec(VISIBLE_CHECK.read_text(), namespace)
    return namespace


def visible_message(compute, expected, description="gradient descent moves away from the minimum") -> str:
    namespace = visible_check()
    try:
        namespace["check"](description, compute, expected)
    except namespace["CheckFailed"] as failed:
        return str(failed)
    raise AssertionError("the check passed")


def test_a_boolean_visible_check_says_false_rather_than_zero():
    assert visible_message(lambda: False, True) == ("gradient descent moves away from the minimum: false, "
                                                    "but it should be true.")
    assert visible_message(lambda: np.True_, False) == ("gradient descent moves away from the minimum: true, "
                                                        "but it should be false.")
    assert visible_message(lambda: True, 2, "f(1)") == "f(1) gave True, but 2 was expected."


@settings(max_examples=100, deadline=None)
@given(VALUES, st.booleans() | st.integers(-5, 5) | st.lists(NUMBERS, min_size=1, max_size=4))
def test_visible_check_messages_read_a_boolean_as_a_word(got, expected):
    namespace = visible_check()
    try:
        namespace["check"]("f(1)", lambda: got, expected)
        return
    except namespace["CheckFailed"] as failed:
        message = str(failed)
    assert_one_sentence_per_paragraph(message)
    if isinstance(got, bool):
        assert "0.0" not in message.split(" but ")[0] and "1.0" not in message.split(" but ")[0], message


def quote(line: str) -> str:
    runner = Runner.__new__(Runner)
    runner.cells = [(4, f"\n{line}\nmore()")]
    return runner._quote(4)


def test_a_quoted_cell_line_ending_in_a_period_ends_the_sentence_once():
    assert quote("# I think.") == " It begins with `# I think`."
    long = "# " + "why " * 20 + "I think."
    assert quote(long) == f" It begins with `{long[:59]}\N{HORIZONTAL ELLIPSIS}`."
    assert ".." not in quote("x = 1" + " " * 53 + "..........")


def check(mistake=None, passed=False, message="df(5) returned 2, but 4 was expected.", weight=1.0):
    return CheckResult("test_df", "df", passed, "" if passed else message, mistake, weight=weight)


def test_a_named_mistake_is_not_also_counted_as_an_unknown_wrong_value():
    named = check("dropped the factor 2", message="df(2.5) returned -0.5, but -1 was expected. It looks like you "
                  "dropped the factor 2.")
    assert mistakes_made([named, check(weight=0)]) == ["dropped the factor 2"]
    assert mistakes_made([check(weight=0), check(passed=True)]) == ["a wrong value not matching a known mistake"]
    assert mistakes_made([check(message="df(5) raised TypeError: no"), check()]) == [
        "raised an error: TypeError", "a wrong value not matching a known mistake"]
