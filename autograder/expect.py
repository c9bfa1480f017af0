"""Assertions for hidden checks, failing with a message written for the student.

A failed expectation raises AssertionError whose text says what was expected, what the student's
code gave on which input, and, when the wrong value matches a known mistake, names it with a hint.
The small helpers that several check files share (kind_of, expect_parts, separates, rounded) live here too.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import load_course
from .plain import Opaque
from .submission import Call, describe


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
                f"{describe(expected)} was expected")
    return None


def expect_close(got, expected, what: str, *, mistakes=(), hint: str = "", rtol=None, atol=None):
    """Fail unless `got` equals `expected` within the course tolerances (same shape, finite numbers).

    `what` names the call as the student would write it, e.g. "df(2.37)". `mistakes` is a list of
    Mistake, or a function returning one: then it is only computed when the student's result is wrong.
    """
    if is_close(got, expected, rtol, atol):
        return
    problem = what_came_back(got, expected)
    message = f"{what} {problem.rstrip('.')}." if problem else (
        f"{what} returned {describe(got)}, but {describe(expected)} was expected.")
    # a known mistake may change the shape too (one step too many), so it is looked for even then
    for mistake in (mistakes() if callable(mistakes) else mistakes):
        if is_close(got, mistake.value, rtol, atol):
            raise WrongResult(f"{message} It looks like you {mistake.did}. {mistake.hint}", mistake.did)
    if problem:
        raise WrongResult(message, _unusable_kind(got, expected))
    raise WrongResult(message + (f" {hint}" if hint else ""))


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
        return a == b
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
    for i, mistake in enumerate(mistakes):
        if is_close(mistake.value, expected, 1e-4, 1e-4) or any(other.did != mistake.did and is_close(
                other.value, mistake.value, 1e-4, 1e-4) for other in mistakes[i + 1:]):
            return False
    return True


def rounded(values, decimals=2):
    """Numbers rounded for readable messages, never -0.0 (which would show as -0)."""
    return np.round(values, decimals) + 0.0
