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
    """Plain JSON-able data for `value`; `callable_hook(fn)` encodes a callable, if given."""
    if depth > MAX_DEPTH:
        return _opaque(value, "nested too deeply")
    if value is None or type(value) in (bool, int, str):
        return value[:MAX_STRING] if type(value) is str else value
    if type(value) is float:
        return {"float": repr(value)}  # repr keeps nan and inf, which JSON cannot carry
    if isinstance(value, np.generic) and value.dtype.kind in _ARRAY_KINDS:
        return encode(value.item(), callable_hook, depth)
    if type(value) is np.ndarray:
        return _encode_array(value)
    if type(value) in (list, tuple):
        items = [encode(item, callable_hook, depth + 1) for item in value]
        return {"list": items} if type(value) is list else {"tuple": items}
    if type(value) is dict and all(type(key) is str for key in value):
        return {"dict": [[key, encode(item, callable_hook, depth + 1)] for key, item in value.items()]}
    if callable_hook is not None and callable(value):
        return callable_hook(value)
    return _opaque(value)


def _encode_array(array):
    if array.dtype.kind not in _ARRAY_KINDS or array.nbytes > MAX_ARRAY_BYTES:
        return _opaque(array, f"array of dtype {array.dtype}")
    return {"ndarray": base64.b64encode(array.tobytes(order="C")).decode("ascii"),
            "dtype": array.dtype.str, "shape": list(array.shape)}  # shape kept as is: 0-d stays 0-d


def _opaque(value, text=""):
    return {"opaque": type(value).__name__[:100], "text": text[:200]}


def decode(data, callable_hook=None, depth=0):
    """Genuine Python and NumPy values from `encode`'s output; raises DecodeError on anything else."""
    if depth > MAX_DEPTH + 1:
        raise DecodeError("value nested too deeply")
    if data is None or type(data) in (bool, int, str):
        return data
    if type(data) is not dict or len(data) == 0:
        raise DecodeError(f"unexpected {type(data).__name__} in encoded value")
    tag = next(iter(data))
    try:
        if tag == "float":
            return float(data["float"])
        if tag == "list":
            return [decode(item, callable_hook, depth + 1) for item in data["list"]]
        if tag == "tuple":
            return tuple([decode(item, callable_hook, depth + 1) for item in data["tuple"]])
        if tag == "dict":
            return {str(key): decode(item, callable_hook, depth + 1) for key, item in data["dict"]}
        if tag == "ndarray":
            return _decode_array(data)
        if tag == "opaque":
            return Opaque(str(data["opaque"]), str(data.get("text", "")))
        if tag == "callable" and callable_hook is not None:
            return callable_hook(data)
    except (KeyError, TypeError, ValueError) as error:
        raise DecodeError(f"malformed {tag!r} value: {error}") from None
    raise DecodeError(f"unknown tag {tag!r} in encoded value")


def _decode_array(data):
    dtype = np.dtype(str(data["dtype"]))
    if dtype.kind not in _ARRAY_KINDS:
        raise DecodeError(f"array dtype {dtype} is not numeric")
    shape = tuple(map(int, data["shape"]))
    raw = base64.b64decode(data["ndarray"], validate=True)
    if len(raw) > MAX_ARRAY_BYTES or len(raw) != _size(shape) * dtype.itemsize:
        raise DecodeError("array data does not match its shape")
    return np.frombuffer(raw, dtype).reshape(shape).copy()


def _size(shape: tuple) -> int:
    """How many numbers an array of `shape` holds, counted as NumPy counts them: in int64, wrapping around."""
    size = math.prod(shape)
    if shape and (min(shape) < 0 or max(shape) >= 2 ** 63 or size >= 2 ** 63):
        return int(np.prod(shape, dtype=np.int64))  # a hostile shape: NumPy's count, which wraps or fails
    return size


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


def recv_message(sock, limit: int = MAX_MESSAGE) -> dict | None:
    """The next message, or None when the other side has gone; raises DecodeError on garbage or beyond `limit` bytes."""
    import json

    header = _recv_exactly(sock, 4)
    if header is None:
        return None
    size = int.from_bytes(header, "big")
    if size > limit:
        raise DecodeError(f"message of {size} bytes is larger than {limit}")
    body = _recv_exactly(sock, size)
    if body is None:
        return None
    try:
        message = json.loads(body)
    except ValueError as error:
        raise DecodeError(f"message is not JSON: {error}") from None
    if type(message) is not dict:
        raise DecodeError("message is not an object")
    return message


def _recv_exactly(sock, size):
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
