"""Assertions for hidden checks, failing with a message written for the student.

A failed expectation raises AssertionError whose text says what was expected, what the student's
code gave on which input, and, when the wrong value matches a known mistake, names it with a hint.
The small helpers that several check files share (kind_of, expect_parts, separates, rounded) live here too.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from math import isfinite

import numpy as np

from ..course.config import Course
from ..engine.plain import Opaque
from ..engine.submission import Call, describe


class WrongResult(AssertionError):
    """A failed expectation; `mistake` names what the student did, when a known mistake explains it,
    so class reports can count mistakes (e.g. "added the slope instead of subtracting it")."""

    def __init__(self, message: str, mistake: str | None = None):
        super().__init__(message)
        self.mistake = mistake


@dataclass(frozen=True)
class Mistake:
    """A common wrong answer: what the student did (completing "It looks like you ..."), and the fix."""

    did: str
    value: object
    hint: str


def _numeric(value):
    """`value` as a float array, or None when it is not numbers (None, an object, a string, ragged lists)."""
    if value is None or isinstance(value, (str, Opaque)) or callable(value):
        return None
    if isinstance(value, dict):
        return None
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return array


# Values of up to this many numbers are compared as Python floats: the same IEEE arithmetic as np.allclose, without
# its 13 microseconds a call (the checks' searches for new inputs make tens of thousands of comparisons).
_FEW = 64


def _comparable(value):
    """(shape, flat numbers) of `value` for _close: a list of Python floats when it is a few numbers, else a
    flat float array; None when it is not numbers."""
    if isinstance(value, float) or type(value) is int:  # np.float64 is a float too
        try:
            return (), [float(value)]
        except OverflowError:  # an int too large for a float: NumPy raises the same error below
            pass
    elif type(value) in (list, tuple) and len(value) <= _FEW and all(
            isinstance(item, float) or type(item) is int for item in value):
        try:
            return (len(value),), [float(item) for item in value]
        except OverflowError:
            pass
    elif (type(value) is np.ndarray and value.size <= _FEW and value.dtype.kind in "biuf"
          and value.dtype.itemsize <= 8):
        numbers = value.ravel().tolist()
        return value.shape, numbers if value.dtype.kind == "f" else [float(item) for item in numbers]
    array = _numeric(value)
    return None if array is None else (array.shape, array.ravel())


def _close(got, expected, rtol, atol) -> bool:
    """np.allclose(got, expected, rtol, atol, equal_nan=False) of two _comparable values; False unless both are
    numbers of the same shape."""
    if got is None or expected is None or got[0] != expected[0]:
        return False
    got_numbers, expected_numbers = got[1], expected[1]
    if type(got_numbers) is list and type(expected_numbers) is list:
        for x, y in zip(got_numbers, expected_numbers):
            if not (abs(x - y) <= atol + rtol * abs(y) and isfinite(y) or x == y):  # as np.isclose
                return False
        return True
    return bool(np.allclose(got_numbers, expected_numbers, rtol=rtol, atol=atol, equal_nan=False))


# The course's (rtol, atol) while its checks run: whoever runs them says so (the grader, `autograder release`, the
# nbgrader cell), rather than the checks looking for the course from the working directory.
_COURSE_TOLERANCES: ContextVar[tuple] = ContextVar("course_tolerances", default=(Course.rtol, Course.atol))


@contextmanager
def course_tolerances(course: Course):
    """Within this block (in this thread), checks compare numbers with `course`'s c.Autograder.rtol and atol."""
    token = _COURSE_TOLERANCES.set((course.rtol, course.atol))
    try:
        yield
    finally:
        _COURSE_TOLERANCES.reset(token)


def _tolerances(rtol, atol) -> tuple:
    """rtol and atol, the course's where not given (the defaults outside `course_tolerances`)."""
    course_rtol, course_atol = _COURSE_TOLERANCES.get()
    return course_rtol if rtol is None else rtol, course_atol if atol is None else atol


def is_close(got, expected, rtol=None, atol=None) -> bool:
    """np.allclose within the course tolerances, for numbers of the same shape (no broadcasting, nan never close)."""
    rtol, atol = _tolerances(rtol, atol)
    return _close(_comparable(got), _comparable(expected), rtol, atol)


def what_came_back(got, expected, answer_hidden: bool = False) -> str | None:
    """Why `got` cannot even be compared with `expected`, in the student's terms; None if it can (with
    `answer_hidden`, the reason never shows `expected`)."""
    if got is None:
        return ("returned None. Did you forget the `return` statement? "
                "Printing a result does not hand it back to the caller.")
    if isinstance(got, Opaque):
        return f"returned {describe(got)}, but a number or NumPy array was expected"
    got_array = _numeric(got)
    if got_array is None:
        if isinstance(got, (list, tuple)) and any(isinstance(item, Opaque) for item in got):
            strange = next(item for item in got if isinstance(item, Opaque))
            return f"returned {describe(got)}, with {describe(strange)} where a number was expected"
        return f"returned {describe(got)} ({kind_of(got)}), but a number or NumPy array was expected"
    expected_shape = np.shape(np.asarray(expected, dtype=float))
    if got_array.shape != expected_shape:
        if expected_shape == ():
            return f"returned {describe(got)} with shape {got_array.shape}, but a single number was expected"
        return f"returned {describe(got)} with shape {got_array.shape}, but shape {expected_shape} was expected"
    if not np.all(np.isfinite(got_array)):
        return (f"returned {describe(got)}, which contains nan or infinity; "
                f"{'finite numbers were' if answer_hidden else describe(expected) + ' was'} expected")
    return None


def expect_close(got, expected, what: str, *, mistakes=(), hint: str = "", rtol=None, atol=None):
    """Fail unless `got` equals `expected` within the course tolerances (same shape, finite numbers).

    `what` names the call as the student would write it, e.g. "df(2.37)", or the notebook variable checked, e.g.
    "max_stable_learning_rate": a variable is a value exercise, whose expected value is its answer, so its message
    says which way and roughly how far the student's value is off, never the value. `mistakes` is a list of
    Mistake, or a function returning one: then it is only computed when the student's result is wrong.
    """
    rtol, atol = _tolerances(rtol, atol)
    if _numeric(expected) is None:  # a check comparing something other than numbers: equal or not
        if _same_value(got, expected):
            return
        raise WrongResult(sentence(f"{what} {'is' if what.isidentifier() else 'returned'} {describe(got)}, "
                                   f"but {describe(expected)} was expected") + (f" {hint}" if hint else ""))
    if is_close(got, expected, rtol, atol):
        return
    message, problem = wrong_value_message(got, expected, what)
    # a known mistake may change the shape too (one step too many), so it is looked for even then
    got_numbers = _comparable(got)
    for mistake in (mistakes() if callable(mistakes) else mistakes):
        if _close(got_numbers, _comparable(mistake.value), rtol, atol):
            raise WrongResult(sentence(f"{message} It looks like you {mistake.did}") + (
                f" {sentence(mistake.hint)}" if mistake.hint else ""), mistake.did)
    if problem:
        raise WrongResult(message, _unusable_kind(got, expected))
    raise WrongResult(message + (f" {sentence(hint)}" if hint else ""))


def wrong_value_message(got, expected, what: str) -> tuple[str, bool]:
    """The sentence saying how `got` (of the call or variable `what`) differs from `expected`, and whether `got`
    could not even be compared. A notebook variable's expected value is its answer and never appears."""
    answer_hidden = what.isidentifier()  # a variable of the notebook is a value; only a call returns one
    problem = what_came_back(got, expected, answer_hidden)
    if problem:
        if answer_hidden:
            problem = "is None: set it to a number." if got is None else "is" + problem.removeprefix("returned")
        return sentence(f"{what} {problem}"), True
    if answer_hidden:
        return sentence(f"{what} is {_shown_apart(got, expected)}, {_how_far(got, expected)}"), False
    return sentence(f"{what} returned {describe(got)}, but {describe(expected)} was expected"), False


def _shown_apart(got, expected) -> str:
    """describe(got), with all its digits when the short form would read as the expected value."""
    shown = describe(got)
    if shown == describe(expected) or _close(_comparable(_shown_number(shown)), _comparable(expected), 1e-9, 0):
        return repr(float(got)) if np.ndim(got) == 0 else repr(np.asarray(got, dtype=float).tolist())
    return shown


def _shown_number(text: str):
    try:
        return float(text)
    except ValueError:
        return None


def _how_far(got, expected) -> str:
    """Which way and roughly how far `got` is from `expected`, in words that do not give `expected` away."""
    got_array, expected_array = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if got_array.ndim:
        wrong = int(np.sum(~np.isclose(got_array, expected_array)))
        return f"which is off in {wrong} of its {got_array.size} entries"
    got_number, expected_number = float(got_array), float(expected_array)
    distance = abs(got_number - expected_number) / (abs(expected_number) or 1.0)
    size = "a little " if distance < 0.1 else "" if distance <= 1 else "far "
    return f"which is {size}too {'small' if got_number < expected_number else 'large'}"


def sentence(text: str) -> str:
    """`text` ending in exactly one sentence end: a period added unless it already ends in one."""
    text = text.rstrip()
    while text.endswith("..") and not text.endswith("..."):
        text = text[:-1]
    return text if text.endswith((".", "?", "!", "…")) else text + "."


def _unusable_kind(got, expected) -> str:
    """The kind of result that cannot be compared at all, as a mistake to count in class reports."""
    if got is None:
        return "returned None (printed the result, or forgot `return`)"
    if isinstance(got, Opaque) or (isinstance(got, (list, tuple)) and any(isinstance(i, Opaque) for i in got)):
        return "returned an object that is not plain numbers"
    array = _numeric(got)
    if array is None:
        return "returned the wrong type"
    if array.shape != np.shape(np.asarray(expected, dtype=float)):
        return "returned the wrong shape"
    return "returned nan or infinity"


def expect_unchanged(call: Call, originals: tuple, names: tuple[str, ...], function: str, *,
                     atol: float = 0.0, advice: str = ""):
    """Fail if the student's function modified any argument it was given.

    `atol` lets numbers differ by that much (default 0: exactly the same); `advice`, if given, replaces
    the usual explanation of how the argument was changed and what to do instead.
    """
    for original, after, name in zip(originals, call.arguments_after, names):
        if callable(original):
            continue
        if not _same_value(original, after, atol):
            raise WrongResult(
                f"{function} changed the `{name}` you passed in: {describe(original)} became {describe(after)}. "
                + (advice or _in_place_advice(original, after, name, atol)), "modified an argument in place")


def _in_place_advice(original, after, name: str, atol: float) -> str:
    """What the student probably did to the argument `name`, and what to do instead."""
    if not (isinstance(original, dict) and isinstance(after, dict)):
        return ("It looks like you modified the caller's array in place (for example with `-=`). "
                "Compute a new array instead and return it, so the caller's data stays as it was.")
    for key in original:
        if key in after and not _same_value(original[key], after[key], atol):
            return (f"It looks like you changed `{name}[{key!r}]` in place (for example with `-=`, or by assigning "
                    f"a new array to it). Build a new dict of new arrays instead and return it, so the caller's "
                    f"`{name}` dict stays as it was.")
    added, removed = [key for key in after if key not in original], [key for key in original if key not in after]
    changes = [f"added the key {key!r}" for key in added] + [f"removed the key {key!r}" for key in removed]
    return (f"It looks like you changed the `{name}` dict in place: you {' and '.join(changes)}. Build a new dict "
            f"instead and return it, so the caller's `{name}` dict stays as it was.")


def _same_value(a, b, atol: float = 0.0) -> bool:
    if isinstance(a, dict):
        return (isinstance(b, dict) and a.keys() == b.keys()
                and all(_same_value(a[k], b[k], atol) for k in a))
    a_array, b_array = _numeric(a), _numeric(b)
    if a_array is None or b_array is None:
        try:
            return bool(a == b)
        except (TypeError, ValueError):  # an array compared with something else is no single verdict
            return False
    if a_array.shape != b_array.shape:
        return False
    if atol:
        return bool(np.allclose(a_array, b_array, rtol=0, atol=atol, equal_nan=True))
    return bool(np.array_equal(a_array, b_array, equal_nan=True))


def kind_of(value) -> str:
    """What a student's result is, briefly: 'a list of 3 values', 'the float 2.5', ..."""
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} values"
    if isinstance(value, dict):
        return f"a dict with the keys {', '.join(repr(key) for key in value) or '(none)'}"
    if isinstance(value, np.ndarray):
        return f"a NumPy array of shape {value.shape}"
    if isinstance(value, Opaque):
        return describe(value)
    return f"the {type(value).__name__} {describe(value)}"


def expect_parts(result, names: tuple[str, ...], what: str, *, accept_array: bool = False) -> tuple:
    """The parts of a result such as (final_weights, losses), or a failure saying what came back instead.

    With `accept_array`, a NumPy array with one entry per name is taken as the parts too.
    """
    wanted = f"a tuple of {len(names)} values ({', '.join(names)})"
    if result is None:
        raise WrongResult(f"{what} returned None, but {wanted} was expected. "
                          "Did you forget the `return` statement? Printing a result does not hand it back "
                          "to the caller.",
                          "returned None (printed the result, or forgot `return`)")
    if accept_array and isinstance(result, np.ndarray) and result.shape == (len(names),):
        return tuple(result)
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        raise WrongResult(f"{what} returned {kind_of(result)}, but {wanted} was expected. "
                          f"Return them together, in this order: `return {', '.join(names)}`.", "returned the wrong type")
    return tuple(result)


def separates(expected, mistakes) -> bool:
    """True when no named mistake gives the expected value and no two different mistakes give the same value."""
    expected, values = _comparable(expected), [_comparable(mistake.value) for mistake in mistakes]
    for i, (mistake, value) in enumerate(zip(mistakes, values)):
        if _close(value, expected, 1e-4, 1e-4) or any(
                other.did != mistake.did and _close(other_value, value, 1e-4, 1e-4)
                for other, other_value in zip(mistakes[i + 1:], values[i + 1:])):
            return False
    return True


def rounded(values, decimals=2):
    """Numbers rounded for readable messages, never -0.0 (which would show as -0)."""
    return np.round(values, decimals) + 0.0
