"""Values that cross the trust boundary, as plain JSON-able data.

`encode` turns numbers, strings, lists, tuples, str-keyed dicts and numeric NumPy arrays into tagged
JSON; anything else becomes an `Opaque` description. `decode` builds fresh, genuine Python and NumPy
values from that data and nothing else: no pickling, no evaluation, no import of anything a student made.
"""
from __future__ import annotations

import base64
import math
from dataclasses import dataclass

import numpy as np

MAX_DEPTH = 32
MAX_ARRAY_BYTES = 4 * 1024 * 1024  # half a million float64s: far more than any check passes or expects
MAX_STRING = 100_000
_ARRAY_KINDS = "biuf"  # bool, signed, unsigned, float


@dataclass(frozen=True)
class Opaque:
    """Something a student returned that is not plain data (a custom object, a generator, ...)."""

    type_name: str
    text: str = ""

    def __repr__(self):
        return f"<{self.type_name} object>"


class DecodeError(ValueError):
    pass


def encode(value, callable_hook=None, depth=0):
    """Plain JSON-able data for `value`; `callable_hook(fn)` encodes a callable, if given.

    A value is judged by what it is: subclasses of int, float, str, list, tuple and dict (a namedtuple, an
    OrderedDict, a defaultdict) cross as their base value, their own methods never called, and so do NumPy scalars
    of every numeric dtype and 0-d numeric arrays. Anything else becomes an `Opaque` naming its type."""
    if depth > MAX_DEPTH:
        return _opaque(value, "nested too deeply")
    kind = type(value)
    if value is None or kind is bool:
        return value
    if isinstance(value, np.generic) or (kind is np.ndarray and value.ndim == 0):
        return _encode_number(value)
    if isinstance(value, int):  # bool is handled above: a subclass of int other than bool is its int value
        return _encode_int(int.__index__(value))
    if isinstance(value, float):
        return {"float": float.__repr__(value)}  # repr keeps nan and inf, which JSON cannot carry
    if isinstance(value, str):
        return str.__str__(value)[:MAX_STRING]
    if kind is np.ndarray:
        return _encode_array(value)
    if isinstance(value, (list, tuple)):
        items = [encode(item, callable_hook, depth + 1) for item in (list.__iter__(value) if isinstance(value, list)
                                                                      else tuple.__iter__(value))]
        return {"list": items} if isinstance(value, list) else {"tuple": items}
    if isinstance(value, dict):
        items = list(dict.items(value))
        if all(type(key) is str for key, _ in items):
            return {"dict": [[key, encode(item, callable_hook, depth + 1)] for key, item in items]}
        return _opaque(value, "a dict whose keys are not all strings")
    if callable_hook is not None and callable(value):
        return callable_hook(value)
    return _opaque(value)


MAX_INT_BITS = 1024  # beyond any number a check compares; a larger int is described, not sent (2 ** 10 ** 6 ...)


def _encode_int(value: int):
    if value.bit_length() > MAX_INT_BITS:
        return _opaque(value, f"an integer of {value.bit_length():,} bits, too large to check")
    return value


def _encode_number(value):
    """A NumPy scalar or 0-d array as the Python number it holds (long double as the nearest float)."""
    dtype = value.dtype
    if dtype.kind == "U":
        return str(value)[:MAX_STRING]
    if dtype.kind == "b":
        return bool(value)
    if dtype.kind in "iu":
        return _encode_int(int(value))
    if dtype.kind == "f":
        return {"float": repr(float(value))}
    return _opaque(value, f"a NumPy {dtype} value, not a real number" if dtype.kind == "c" else f"of dtype {dtype}")


def _encode_array(array):
    if array.dtype.kind not in _ARRAY_KINDS or array.nbytes > MAX_ARRAY_BYTES:
        why = "too large to check" if array.dtype.kind in _ARRAY_KINDS else "not of real numbers"
        return _opaque(array, f"an array of dtype {array.dtype} and shape {array.shape}, {why}")
    if array.dtype.kind == "f" and array.dtype.itemsize > 8:  # long double: as float64, which every reader knows
        array = array.astype(np.float64)
    return {"ndarray": base64.b64encode(array.tobytes(order="C")).decode("ascii"),
            "dtype": array.dtype.str, "shape": list(array.shape)}


def _opaque(value, text=""):
    return {"opaque": type(value).__name__[:100], "text": text[:200]}


def decode(data, callable_hook=None, depth=0):
    """Genuine Python and NumPy values from `encode`'s output; raises DecodeError, and nothing else, on anything
    else (whatever JSON value it is given)."""
    try:
        return _decode(data, callable_hook, depth)
    except DecodeError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, MemoryError,
            RecursionError) as error:
        raise DecodeError(f"malformed value: {type(error).__name__}: {str(error)[:200]}") from None


def _decode(data, callable_hook, depth):
    if depth > MAX_DEPTH + 1:
        raise DecodeError("value nested too deeply")
    if data is None or type(data) in (bool, int, str):
        if type(data) is int and data.bit_length() > MAX_INT_BITS:
            raise DecodeError("integer too large")
        return data
    if type(data) is not dict or len(data) == 0:
        raise DecodeError(f"unexpected {type(data).__name__} in encoded value")
    tag = next(iter(data))
    if tag == "float":
        if type(data["float"]) is not str or len(data["float"]) > 40:
            raise DecodeError("malformed 'float' value")
        return float(data["float"])
    if tag in ("list", "tuple"):
        if type(data[tag]) is not list:
            raise DecodeError(f"malformed {tag!r} value")
        items = [_decode(item, callable_hook, depth + 1) for item in data[tag]]
        return items if tag == "list" else tuple(items)
    if tag == "dict":
        if type(data["dict"]) is not list or not all(type(pair) is list and len(pair) == 2 and type(pair[0]) is str
                                                     for pair in data["dict"]):
            raise DecodeError("malformed 'dict' value")
        return {key: _decode(item, callable_hook, depth + 1) for key, item in data["dict"]}
    if tag == "ndarray":
        return _decode_array(data)
    if tag == "opaque":
        return Opaque(str(data["opaque"])[:100], str(data.get("text", ""))[:200])
    if tag == "callable" and callable_hook is not None:
        return callable_hook(data)
    raise DecodeError(f"unknown tag {str(tag)[:40]!r} in encoded value")


MAX_DIMENSIONS = 32  # NumPy's own limit is 64; no check needs more than 3


def _decode_array(data):
    dtype = np.dtype(str(data["dtype"]))
    if dtype.kind not in _ARRAY_KINDS:
        raise DecodeError(f"array dtype {dtype} is not numeric")
    shape = data["shape"]
    if type(shape) is not list or len(shape) > MAX_DIMENSIONS or not all(
            type(n) is int and 0 <= n <= MAX_ARRAY_BYTES for n in shape):
        raise DecodeError("array shape is not a short list of sizes")
    if type(data["ndarray"]) is not str or len(data["ndarray"]) > MAX_ARRAY_BYTES * 4 // 3 + 4:
        raise DecodeError("array data is not base64 text of a bounded size")
    raw = base64.b64decode(data["ndarray"], validate=True)
    if len(raw) > MAX_ARRAY_BYTES or len(raw) != math.prod(shape) * dtype.itemsize:
        raise DecodeError("array data does not match its shape")
    return np.frombuffer(raw, dtype).reshape(tuple(shape)).copy()


# What the grader reads from the sandbox: parsing JSON can take 25 times its size in memory (128 MB of "{}," took
# 3.3 GB), and a student's code can write anything on its socket.
MAX_MESSAGE = 8 * 1024 * 1024
MAX_REQUEST = 128 * 1024 * 1024  # what the sandbox reads from the grader: the notebook's cells, trusted


class MessageTooLarge(ValueError):
    """A message larger than its receiver accepts; nothing was sent."""


def send_message(sock, message: dict, limit: int | None = None) -> None:
    """One message on a stream socket: 4-byte big-endian length, then JSON; MessageTooLarge beyond `limit` bytes."""
    import json

    data = json.dumps(message, separators=(",", ":")).encode()
    if limit is not None and len(data) > limit:
        raise MessageTooLarge(f"{len(data) / 1e6:.1f} MB of data, more than the {limit / 1e6:.0f} MB "
                              "that can be checked")
    sock.sendall(len(data).to_bytes(4, "big") + data)


def recv_message(sock, limit: int = MAX_MESSAGE, deadline: float | None = None) -> dict | None:
    """The next message, or None when the other side has gone; raises DecodeError on garbage or beyond `limit` bytes,
    and socket.timeout when the whole message has not arrived by `deadline` (time.monotonic()), however it trickles."""
    import json

    header = _recv_exactly(sock, 4, deadline)
    if header is None:
        return None
    size = int.from_bytes(header, "big")
    if size > limit:
        raise DecodeError(f"message of {size} bytes is larger than {limit}")
    body = _recv_exactly(sock, size, deadline)
    if body is None:
        return None
    try:
        message = json.loads(body)
    except (ValueError, RecursionError) as error:  # RecursionError: [[[[... nested deeper than the parser goes
        raise DecodeError(f"message is not JSON: {type(error).__name__}: {str(error)[:200]}") from None
    if type(message) is not dict:
        raise DecodeError("message is not an object")
    if _SURROGATE_ESCAPE.search(body):
        message = without_lone_surrogates(message)
    return message


# JSON may carry half of a UTF-16 pair (print(b"caf\xe9".decode("utf-8", "surrogateescape")) sends one): such a
# string cannot be written as UTF-8 anywhere, so each lone half becomes U+FFFD as soon as it arrives.
_SURROGATE_ESCAPE = __import__("re").compile(rb"\\u[dD][89a-fA-F]")


def without_lone_surrogates(value):
    """`value` (JSON data) with every lone surrogate in its strings and keys replaced by U+FFFD."""
    if type(value) is str:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if type(value) is list:
        return [without_lone_surrogates(item) for item in value]
    if type(value) is dict:
        return {without_lone_surrogates(key): without_lone_surrogates(item) for key, item in value.items()}
    return value


def _recv_exactly(sock, size, deadline=None):
    import socket
    import time

    chunks, left = [], size
    while left:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("the message did not arrive in time")
            sock.settimeout(remaining)
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def swap_in(namespace: dict, replacements: dict, saved: dict) -> None:
    """Put back in `namespace` what the last swap replaced (kept in `saved`), then set each of `replacements`,
    keeping what it replaces; `saved` itself stands for a name that was not defined. A re-check lets a reference
    stand in for a student's helper this way, in the sandbox and in a notebook run in one process alike."""
    for name, original in saved.items():
        if original is saved:
            namespace.pop(name, None)
        else:
            namespace[name] = original
    saved.clear()
    for name, value in replacements.items():
        saved[name] = namespace.get(name, saved)
        namespace[name] = value
