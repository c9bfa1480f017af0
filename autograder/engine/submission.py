"""What a hidden check receives: a submission's functions and values by name, as plain data.

A check never sees the student's namespace or objects. It calls `submission.df(2.5)` and gets back a
fresh plain value (see `plain`); how the call reaches the student's code is up to whoever built the
`Submission`: the same process inside `nbgrader autograde` (`local_submission`), or a sandboxed
process across the trust boundary (`autograder.engine.sandbox`).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .plain import Opaque, decode, encode


class StudentCodeError(Exception):
    """The student's code raised, timed out, crashed, or is missing; the message is for the student."""


@dataclass(frozen=True)
class Call:
    result: object
    arguments_after: tuple  # the arguments as the student's function left them


class StudentFunction:
    """A student's function: called with plain values, returns a plain value or raises StudentCodeError."""

    def __init__(self, name: str, invoke: Callable[[tuple], Call]):
        self.name = name
        self._invoke = invoke

    def __call__(self, *args):
        return self.call(*args).result

    def call(self, *args) -> Call:
        """Run the function on `args`; also report what it did to its arguments."""
        return self._invoke(args)

    def __repr__(self):
        return f"<student function {self.name}>"


class Submission:
    """The names a check asked for; a missing one raises StudentCodeError when it is used."""

    def __init__(self, names: dict[str, object], missing: dict[str, str] | None = None):
        self._names = names
        self._missing = missing or {}

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._names:
            return self._names[name]
        reason = self._missing.get(name, "it is not defined")
        raise StudentCodeError(f"`{name}` could not be checked: {reason}. Check that the cell defining "
                               f"`{name}` keeps that exact name and runs without an error.")


def describe_call(name: str, args: tuple) -> str:
    """`name(args)` as a student would write it, arrays shown briefly."""
    return f"{name}({', '.join(describe(arg) for arg in args)})"


MAX_DESCRIPTION = 300  # characters of a value quoted in a message: enough to see it, never megabytes


def describe(value) -> str:
    """`value` as a student would write it, shortened: long strings, lists, dicts and arrays show their start."""
    text = _describe(value)
    return text if len(text) <= MAX_DESCRIPTION else text[:MAX_DESCRIPTION] + " ..."


def _describe(value) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:60]) + f" ... ({len(value):,} characters)"
    if isinstance(value, np.ndarray):
        return f"np.array({_nested(value)})"
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (bool, np.bool_)) or value is None:  # np.True_ reads as True, not as np.True_
        return repr(value if value is None else bool(value))
    if isinstance(value, (list, tuple)):  # long ones shortened with "..." like arrays
        inner = ", ".join(describe(item) for item in value[:8]) + (", ..." if len(value) > 8 else "")
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict):
        items = [f"{describe(key)}: {describe(item)}" for key, item in list(value.items())[:8]]
        return "{" + ", ".join(items) + (", ..." if len(value) > 8 else "") + "}"
    if isinstance(value, Opaque):
        return f"an object of type {value.type_name}" + (f" ({value.text})" if value.text else "")
    return repr(value)


def _nested(array, limit=8) -> str:
    if array.ndim == 0:
        return describe(array.item())
    if array.dtype.kind in "biuf":  # numbers: tolist() gives each as item() does, all in one go
        return _nested_list(array[(slice(limit),) * array.ndim].tolist(), array.shape, limit)
    items = [_nested(row, limit) for row in array[:limit]]
    return "[" + ", ".join(items) + (", ..." if len(array) > limit else "") + "]"


def _nested_list(items: list, shape: tuple, limit: int) -> str:
    """_nested for the first `limit` entries along every axis of an array of `shape`, as nested lists."""
    if len(shape) == 1:
        shown = [describe(item) for item in items]
    else:
        shown = [_nested_list(item, shape[1:], limit) for item in items]
    return "[" + ", ".join(shown) + (", ..." if shape[0] > limit else "") + "]"


def explain_exception(name: str, args: tuple, error_type: str, text: str) -> str:
    """The message for a student function that raised, with a hint when the cause is a common one."""
    message = f"{describe_call(name, args)} raised {error_type}: {text}"
    if "Cannot cast ufunc" in text and "int" in text:
        message += (" This happens when a float result is written into an integer array in place "
                    "(for example with `-=`). Compute a new array instead.")
    elif error_type == "NotImplementedError":
        message = f"{name} is not written yet: replace `raise NotImplementedError()` with your code."
    elif error_type == "RecursionError":
        message += " Your function calls itself without end."
    return message


def local_submission(values: dict[str, object]) -> Submission:
    """A Submission over objects in this very process (used inside `nbgrader autograde`).

    Values still pass through `plain`, so checks see exactly what they would see across the boundary.
    """
    names = {}
    for name, value in values.items():
        names[name] = StudentFunction(name, _local_invoker(name, value)) if callable(value) else _plain(value)
    return Submission(names)


def _plain(value):
    keep_callables = lambda fn: {"callable": id(fn)}  # noqa: E731
    return decode(encode(value, keep_callables), lambda data: None)


def _local_invoker(name, function):
    def invoke(args):
        student_args = tuple(copy.deepcopy(arg) if not callable(arg) else arg for arg in args)
        try:
            result = function(*student_args)
        except BaseException as error:  # the student's SystemExit too: it is their bug, not ours
            raise StudentCodeError(explain_exception(name, args, type(error).__name__, str(error))) from None
        return Call(_plain(result), tuple(_plain(arg) if not callable(arg) else arg for arg in student_args))
    return invoke
