"""Property-based tests of everything that reads what a student controls: `plain` values, the framed messages on
the grader's socket (from a fake sandbox child that says anything, truncated, slowly or too much), and notebooks
with any JSON value in any field.

Each runs a bounded number of examples in CI; FUZZ_EXAMPLES=5000 runs a longer search by hand."""
import collections
import dataclasses
import json
import math
import os
import socket
import threading
import time
import types

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.course import notebook as nb
from autograder.engine import plain
from autograder.grading.grade import assignment_spec, cells_to_run
from autograder.engine.plain import DecodeError, Opaque, decode, encode, recv_message
from autograder.engine.sandbox import Run, SandboxError
from autograder.engine.submission import StudentCodeError, describe

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30)
tags = st.sampled_from(["float", "list", "tuple", "dict", "ndarray", "opaque", "callable", "dtype", "shape", "x"])
tagged = st.recursive(
    json_values,
    lambda inner: st.dictionaries(tags, inner, min_size=1, max_size=3) | st.lists(inner, max_size=4),
    max_leaves=30)


# plain: decode

@FUZZ
@given(data=tagged)
def test_decode_raises_only_its_own_error_on_any_json(data):
    try:
        decode(data)
    except DecodeError:
        pass


@FUZZ
@given(shape=st.lists(st.one_of(st.integers(), st.floats(), st.text(max_size=3), st.none()), max_size=40),
       dtype=st.sampled_from(["<f8", "<i4", "|b1", "<c16", "|O", "float64", "<U3", "nonsense"]),
       data=st.binary(max_size=64))
def test_decode_of_any_array_description_is_a_real_array_or_its_own_error(shape, dtype, data):
    import base64

    try:
        array = decode({"ndarray": base64.b64encode(data).decode(), "dtype": dtype, "shape": shape})
    except DecodeError:
        return
    assert isinstance(array, np.ndarray) and array.dtype.kind in "biuf" and list(array.shape) == shape


# plain: encode, judged by what a value is

plain_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20)


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


@FUZZ
@given(value=plain_values)
def test_plain_values_cross_unchanged(value):
    assert same(decode(json.loads(json.dumps(encode(value)))), value)


Point = collections.namedtuple("Point", "x y")


class Weird(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


def subclassed(value):
    """The same value as a student's subclass would hold it (namedtuple, OrderedDict, defaultdict, float subclass)."""
    if isinstance(value, dict):
        return collections.OrderedDict((k, subclassed(v)) for k, v in value.items())
    if isinstance(value, tuple) and len(value) == 2:
        return Point(*(subclassed(item) for item in value))
    if isinstance(value, list):
        return [subclassed(item) for item in value]
    if isinstance(value, float):
        return Weird(value)
    return value


@FUZZ
@given(value=plain_values)
def test_subclasses_cross_as_their_base_value(value):
    assert same(decode(json.loads(json.dumps(encode(subclassed(value))))), value)


@FUZZ
@given(number=st.floats(allow_nan=False, width=32) | st.integers(-2 ** 31, 2 ** 31),
       dtype=st.sampled_from([np.float16, np.float32, np.float64, np.longdouble, np.int8, np.int16, np.int32,
                              np.int64, np.uint8, np.uint64, np.bool_]))
def test_numpy_scalars_and_0d_arrays_cross_as_python_numbers(number, dtype):
    with np.errstate(all="ignore"):
        try:
            scalar = dtype(number)
        except (OverflowError, ValueError):
            return
    for value in (scalar, np.array(scalar)):
        crossed = decode(json.loads(json.dumps(encode(value))))
        assert type(crossed) in (int, float, bool)
        assert same(float(crossed), float(scalar)) or (math.isinf(float(scalar)) and crossed == float(scalar))


def test_what_cannot_be_encoded_is_named_honestly():
    assert decode(encode(np.complex128(1j))) == Opaque("complex128", "a NumPy complex128 value, not a real number")
    assert "an integer of 1,000,001 bits, too large to check" in describe(decode(encode(2 ** 10 ** 6)))
    assert decode(encode({1: 2})) == Opaque("dict", "a dict whose keys are not all strings")


@FUZZ
@given(text=st.text(max_size=200_000))
def test_a_description_is_short_whatever_it_describes(text):
    assert len(describe({text: [text] * 100})) <= 310 and len(describe(text)) <= 310


# messages on the grader's socket

@FUZZ
@given(body=st.binary(max_size=2000) | json_values.map(lambda v: json.dumps(v).encode()),
       declared=st.none() | st.integers(0, 2 ** 32 - 1))
def test_recv_message_returns_a_dict_or_none_or_raises_its_own_error(body, declared):
    ours, theirs = socket.socketpair()
    with ours, theirs:
        size = len(body) if declared is None else declared
        theirs.sendall(size.to_bytes(4, "big") + body[:size])
        theirs.shutdown(socket.SHUT_WR)
        try:
            message = recv_message(ours, deadline=time.monotonic() + 1)
        except DecodeError:
            return
        assert message is None or type(message) is dict


def test_recv_message_refuses_deep_nesting_and_trickling():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        body = b"[" * 100_000 + b"]" * 100_000
        theirs.sendall(len(body).to_bytes(4, "big") + body)
        with pytest.raises(DecodeError):
            recv_message(ours)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        def trickle():
            theirs.sendall((1000).to_bytes(4, "big"))
            for _ in range(30):
                try:
                    theirs.sendall(b" ")
                except OSError:
                    return
                time.sleep(0.05)
        threading.Thread(target=trickle, daemon=True).start()
        started = time.monotonic()
        with pytest.raises(socket.timeout):
            recv_message(ours, deadline=started + 0.5)
        assert time.monotonic() - started < 0.7


# a fake sandbox child: the grader's side of the protocol against anything

class ZygoteControl:
    """The zygote's side of a run (kill the child, say how it ended): here, close the child's socket."""

    def __init__(self, child: socket.socket):
        self.child = child

    def kill_child(self):
        self.child.close()

    def wait_child(self, timeout=10):
        return {"status": "exit status 0", "max_rss_kb": 0}


ops = st.sampled_from(["cell_started", "cell_done", "checkpoint", "ready", "return", "raise", "callback", "names",
                       "value", "sandbox_error", "bogus"])
messages = st.fixed_dictionaries({"op": ops}, optional={
    "index": st.integers(-1, 4) | json_values, "error": st.none() | json_values, "output": st.text(max_size=50)
    | json_values, "result": tagged, "args_after": tagged, "kinds": json_values, "value": tagged,
    "type": json_values, "text": json_values, "id": json_values, "args": tagged})
frames = st.one_of(
    messages.map(lambda m: ("frame", json.dumps(m).encode())),
    st.binary(max_size=100).map(lambda b: ("frame", b)),
    st.integers(0, 2 ** 32 - 1).map(lambda n: ("header only", n.to_bytes(4, "big"))),
    st.binary(max_size=10).map(lambda b: ("raw", b)),
    st.just(("pause", b"")))


@pytest.mark.slow
@settings(max_examples=max(15, EXAMPLES // 4), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(frames, max_size=12), names=st.lists(st.sampled_from(["f", "v", "w"]), max_size=3))
def test_the_grader_survives_any_child(course, script, names):
    """Whatever a child sends, in whatever order, cut short or trickling: advancing the run and calling the
    child's functions return or raise StudentCodeError (or SandboxError, for a failure before any cell), and all of
    it ends within the run's deadline."""
    ours, child = socket.socketpair()
    deadline = time.monotonic() + 1.5

    def speak():
        try:
            recv_message(child, plain.MAX_REQUEST)  # the grader's request first, as a real child reads it
            for kind, data in script:
                if kind == "frame":
                    child.sendall(len(data).to_bytes(4, "big") + data)
                elif kind == "pause":
                    time.sleep(0.05)
                else:
                    child.sendall(data)
        except OSError:
            pass

    speaker = threading.Thread(target=speak, daemon=True)
    speaker.start()
    limits = {"cell_timeout": 0.3, "output_chars": 1000}
    sandbox = types.SimpleNamespace(course=dataclasses.replace(course, cell_timeout=0.3))  # what a Run reads of it
    run = Run(sandbox, ZygoteControl(child), ours, [(0, "a = 1"), (1, "b = 2")], limits, deadline, (1,))
    started = time.monotonic()
    try:
        while run.advance() is not None:
            pass
    except SandboxError:
        pass
    submission = run.submission(tuple(names), "it is not defined")
    for name in names:
        try:
            value = getattr(submission, name)
            if callable(value):
                value(1.0, np.arange(3.0))
        except StudentCodeError:
            pass
    assert time.monotonic() - started < 1.5 + 2 * 0.3 + 2.5
    run.close() if run.alive else None
    speaker.join(timeout=2)
    ours.close()
    child.close()


# notebooks with any JSON value in any field

@pytest.fixture(scope="module")
def spec(course):
    return assignment_spec(course, "01-gradient-descent")


fields = st.sampled_from(["cells", "metadata", "nbformat", "nbformat_minor", "cell_type", "source", "cell metadata",
                          "nbgrader", "grade_id", "points", "solution", "grade", "locked", "outputs", "id"])


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.tuples(fields, st.integers(0, 30), json_values), min_size=1, max_size=4))
def test_a_notebook_with_anything_in_any_field_reads_or_is_refused_by_name(course, spec, tmp_path_factory, changes):
    notebook = json.loads(course.source_notebook("01-gradient-descent").read_text())
    for field, index, value in changes:
        cell = notebook["cells"][index % len(notebook["cells"])] if isinstance(notebook.get("cells"), list) and \
            notebook["cells"] and isinstance(notebook["cells"][index % len(notebook["cells"])], dict) else None
        if field in ("cells", "metadata", "nbformat", "nbformat_minor"):
            notebook[field] = value
        elif cell is None:
            continue
        elif field == "cell metadata":
            cell["metadata"] = value
        elif field in ("nbgrader",):
            if not isinstance(cell.get("metadata"), dict):  # an earlier change may have made it anything (None)
                cell["metadata"] = {}
            cell["metadata"]["nbgrader"] = value
        elif field in ("grade_id", "points", "solution", "grade", "locked"):
            meta = cell.get("metadata")
            if isinstance(meta, dict) and isinstance(meta.get("nbgrader"), dict):
                meta["nbgrader"][field] = value
        else:
            cell[field] = value
    path = tmp_path_factory.mktemp("nb") / "submitted.ipynb"
    path.write_text(json.dumps(notebook))
    try:
        read = nb.read(path)
    except nb.NotebookError as error:
        assert str(path) in str(error)
        return
    for cell in read.cells:
        assert nb.grade_id(cell) is None or isinstance(nb.grade_id(cell), str)
        assert isinstance(nb.nbgrader_meta(cell), dict)
    assert all(isinstance(source, str) for _, source in cells_to_run(spec, read))
