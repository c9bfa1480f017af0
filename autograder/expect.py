"""Assertions for hidden checks, failing with a message written for the student.

A failed expectation raises AssertionError whose text says what was expected, what the student's
code gave on which input, and, when the wrong value matches a known mistake, names it with a hint.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import load_course
from .plain import Opaque
from .submission import Call, describe


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


def is_close(got, expected, rtol=None, atol=None) -> bool:
    course = load_course()
    rtol = course.rtol if rtol is None else rtol
    atol = course.atol if atol is None else atol
    got_array, expected_array = _numeric(got), _numeric(expected)
    if got_array is None or expected_array is None or got_array.shape != expected_array.shape:
        return False
    return bool(np.allclose(got_array, expected_array, rtol=rtol, atol=atol, equal_nan=False))


def what_came_back(got, expected) -> str | None:
    """Why `got` cannot even be compared with `expected`, in the student's terms; None if it can."""
    if got is None:
        return ("returned None. Did you forget the `return` statement? "
                "Printing a result does not hand it back to the caller.")
    if isinstance(got, Opaque):
        return f"returned {describe(got)}, but a number or NumPy array was expected"
    got_array = _numeric(got)
    if got_array is None:
        return f"returned {describe(got)} (a {type(got).__name__}), but a number or NumPy array was expected"
    expected_shape = np.shape(np.asarray(expected, dtype=float))
    if got_array.shape != expected_shape:
        if expected_shape == ():
            return f"returned {describe(got)} with shape {got_array.shape}, but a single number was expected"
        return f"returned {describe(got)} with shape {got_array.shape}, but shape {expected_shape} was expected"
    if not np.all(np.isfinite(got_array)):
        return (f"returned {describe(got)}, which contains nan or infinity; "
                f"{describe(expected)} was expected")
    return None


def expect_close(got, expected, what: str, *, mistakes=(), hint: str = "", rtol=None, atol=None):
    """Fail unless `got` equals `expected` within the course tolerances (same shape, finite numbers).

    `what` names the call as the student would write it, e.g. "df(2.37)".
    """
    if is_close(got, expected, rtol, atol):
        return
    problem = what_came_back(got, expected)
    message = f"{what} {problem}." if problem else (
        f"{what} returned {describe(got)}, but {describe(expected)} was expected.")
    raise AssertionError(message + _diagnosis(got, mistakes, hint, rtol, atol))



def _diagnosis(got, mistakes, hint, rtol, atol) -> str:
    for mistake in mistakes:
        if is_close(got, mistake.value, rtol, atol):
            return f" It looks like you {mistake.did}. {mistake.hint}"
    return f" {hint}" if hint else ""


def expect_unchanged(call: Call, originals: tuple, names: tuple[str, ...], function: str):
    """Fail if the student's function modified any argument it was given."""
    for original, after, name in zip(originals, call.arguments_after, names):
        if callable(original):
            continue
        if not _same_value(original, after):
            raise AssertionError(
                f"{function} changed the `{name}` you passed in: {describe(original)} became {describe(after)}. "
                f"It looks like you modified the caller's array in place (for example with `-=`). "
                f"Compute a new array instead and return it, so the caller's data stays as it was.")


def _same_value(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    a_array, b_array = _numeric(a), _numeric(b)
    if a_array is None or b_array is None:
        return a == b
    return a_array.shape == b_array.shape and bool(np.array_equal(a_array, b_array, equal_nan=True))
