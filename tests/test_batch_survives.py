"""One notebook never stops a batch, never leaks into what is stored, and is judged by what its values are.

Each submission below is one family of defects an independent set of submissions found (issue 11); they are graded
together with an honest control in one real batch (`grade_batch`: two sandboxes, nbgrader's SQLite gradebook,
autograded copies, the JSON report), with short limits so the slow ones cost seconds."""
import dataclasses
import json
import sqlite3

import nbformat
import pytest

from autograder.grading.batch import grade_batch
from autograder.course.config import load_course
from builders import inserted, replaced, solution, write
from course_files import copy_course

pytestmark = pytest.mark.slow  # real batches in sandboxes

A1, A3 = "01-gradient-descent", "03-backpropagation"
FULL_01, FULL_03 = 7.0, 12.0   # the autograded points of 01 and 03
CELL_TIMEOUT, SUBMISSION_TIMEOUT = 2, 12

FORGE = '''
import json, sys

def _grader_socket():
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name in ("run_child", "serve", "call") and "sock" in frame.f_locals:
            return frame.f_locals["sock"]
        frame = frame.f_back

def _frame(body: bytes):
    _grader_socket().sendall(len(body).to_bytes(4, "big") + body)
'''


def with_markdown(notebook, source, metadata=None):
    changed = nbformat.from_dict(notebook)
    cell = nbformat.v4.new_markdown_cell(source)
    cell.metadata.update(metadata or {})
    changed.cells.insert(1, cell)
    return changed


def write_raw(notebook, path):
    """As a notebook with lone surrogates is on disk: JSON escapes, which nbformat.write cannot produce."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, ensure_ascii=True))


SUBMISSIONS = {
    # the batch once stopped
    "surrogate_print": (A1, lambda c: inserted(solution(c, A1), "df", "print(b'caf\\xe9'.decode('utf-8', 'surrogateescape'))")),
    "surrogate_markdown": (A1, lambda c: with_markdown(solution(c, A1), "A bold \ud835 letter")),
    "nbgrader_metadata_string": (A1, lambda c: with_markdown(solution(c, A1), "notes", {"nbgrader": "oops"})),
    "grade_id_list": (A1, lambda c: with_markdown(solution(c, A1), "notes", {"nbgrader": {"grade_id": ["a"],
                                                                                          "solution": False}})),
    "nested_message": (A1, lambda c: inserted(solution(c, A1), "df", FORGE + "_frame(b'[' * 100000 + b']' * 100000)")),
    "shape_1e300": (A1, lambda c: replaced(solution(c, A1), "df", FORGE + '''
def df(x):
    _frame(json.dumps({"op": "return", "result": {"ndarray": "", "dtype": "<f8", "shape": [1e300]},
                       "args_after": {"tuple": []}}).encode())
    import os; os._exit(0)
''')),
    "shape_infinity": (A1, lambda c: replaced(solution(c, A1), "df", FORGE + '''
def df(x):
    _frame(json.dumps({"op": "return", "result": {"ndarray": "", "dtype": "<f8", "shape": [float("inf")]},
                       "args_after": {"tuple": []}}).encode())
    import os; os._exit(0)
''')),
    # limits not held
    "slow_drip": (A1, lambda c: inserted(solution(c, A1), "df", FORGE + '''
import time
_grader_socket().sendall((8_000_000).to_bytes(4, "big"))
while True:
    try:
        _grader_socket().sendall(b" ")
        time.sleep(0.5)
    except BaseException:
        pass
''')),
    "seven_megabyte_dict": (A1, lambda c: replaced(solution(c, A1), "df", '''
def df(x):
    return {f"key{i}": "x" * 100 for i in range(70_000)}
''')),
    # misleading messages
    "huge_int": (A1, lambda c: replaced(solution(c, A1), "df", "def df(x):\n    return 2 ** 10 ** 6\n")),
    # correct code marked wrong
    "longdouble": (A1, lambda c: replaced(solution(c, A1), "df", '''
import numpy as np
def df(x):
    return 2 * (np.longdouble(x) - 3)
''')),
    "namedtuple_and_ordered_dict": (A3, lambda c: replaced(replaced(solution(c, A3), "forward", '''
from collections import namedtuple, OrderedDict
ForwardPass = namedtuple("ForwardPass", "hidden_in hidden_out output")
def forward(inputs, weights):
    hidden_in = np.asarray(weights["hidden"], dtype=float) @ np.asarray(inputs, dtype=float)
    hidden_out = relu(hidden_in)
    return ForwardPass(hidden_in, hidden_out, np.float32(np.asarray(weights["output"], dtype=float) @ hidden_out))
'''), "backprop_weight_update", '''
def backprop_weight_update(weights, gradients, learning_rate):
    return OrderedDict((key, np.asarray(weights[key], dtype=float) - learning_rate * np.asarray(gradients[key]))
                       for key in weights)
''')),
    "zz_control": (A1, lambda c: solution(c, A1)),
}
RAW = {"surrogate_markdown"}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("survives") / "course")
    course = dataclasses.replace(load_course(root), cell_timeout=CELL_TIMEOUT, submission_timeout=SUBMISSION_TIMEOUT)
    for student, (assignment, build) in SUBMISSIONS.items():
        path = root / "submitted" / student / assignment / course.notebook(assignment)
        (write_raw if student in RAW else write)(build(course), path)
    nbformat3 = root / "submitted" / "old_format" / A1 / course.notebook(A1)
    nbformat3.parent.mkdir(parents=True)
    nbformat3.write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}))
    report = root / "results.json"
    for assignment in (A1, A3):
        grade_batch(course, assignment, course.db_url, workers=2, json_path=root / f"{assignment}.json",
                    progress=False)
    results = {}
    for assignment in (A1, A3):
        results.update({entry["student"]: entry for entry in json.loads((root / f"{assignment}.json").read_text())})
    return root, results


def test_every_submission_gets_a_result(batch):
    _, results = batch
    assert set(results) == set(SUBMISSIONS) | {"old_format"}


@pytest.mark.parametrize("student", ["surrogate_print", "surrogate_markdown", "nbgrader_metadata_string",
                                     "grade_id_list", "nested_message", "longdouble", "zz_control"])
def test_honest_work_beside_odd_text_or_metadata_earns_every_point(batch, student):
    _, results = batch
    assert (results[student]["status"], results[student]["score"]) == ("graded", FULL_01)


def test_a_lone_surrogate_is_written_as_a_replacement_character(batch):
    root, results = batch
    autograded = (root / "autograded" / "surrogate_print" / A1 / "gradient_descent.ipynb").read_text(encoding="utf-8")
    assert "caf\ufffd" in autograded
    marked = (root / "autograded" / "surrogate_markdown" / A1 / "gradient_descent.ipynb").read_text(encoding="utf-8")
    assert "A bold \ufffd letter" in marked


def test_a_message_nested_too_deeply_is_interference_not_a_crash(batch):
    _, results = batch
    assert any("interfered with the grader" in note for note in results["nested_message"]["notes"])


@pytest.mark.parametrize("student", ["shape_1e300", "shape_infinity"])
def test_an_array_claiming_an_impossible_shape_costs_its_exercise_only(batch, student):
    _, results = batch
    result = results[student]
    check_df = next(test for test in result["tests"] if test["name"] == "check_df")
    assert result["status"] == "graded" and check_df["score"] == 0


def test_a_message_trickling_in_is_stopped_at_the_cell_limit(batch):
    _, results = batch
    result = results["slow_drip"]
    assert result["status"] == "graded" and result["seconds"] < SUBMISSION_TIMEOUT
    assert any("did not finish and had to be stopped" in note for note in result["notes"])


def test_what_is_stored_of_a_huge_result_is_bounded(batch):
    root, results = batch
    result = results["seven_megabyte_dict"]
    assert len(json.dumps(result)) < 50_000
    check_df = next(test for test in result["tests"] if test["name"] == "check_df")
    assert check_df["score"] == 0 and "{'key0': 'xxxxx" in check_df["output"]
    autograded = root / "autograded" / "seven_megabyte_dict" / A1
    assert (autograded / "gradient_descent.ipynb").stat().st_size < 500_000
    assert (autograded / "results.json").stat().st_size < 50_000
    with sqlite3.connect(root / "gradebook.db") as db:
        stored, = db.execute("select length(result) from autograder_graded where student = ?",
                             ("seven_megabyte_dict",)).fetchone()
    assert stored < 50_000


def test_a_huge_integer_is_named_for_what_it_is(batch):
    _, results = batch
    check_df = next(test for test in results["huge_int"]["tests"] if test["name"] == "check_df")
    assert "an integer of 1,000,001 bits, too large to check" in check_df["output"]
    assert "connection" not in check_df["output"]


def test_a_namedtuple_and_an_ordered_dict_are_judged_as_the_tuple_and_dict_they_are(batch):
    _, results = batch
    result = results["namedtuple_and_ordered_dict"]
    assert (result["status"], result["score"]) == ("graded", FULL_03), result["tests"]


def test_an_old_notebook_format_is_named(batch):
    _, results = batch
    result = results["old_format"]
    assert (result["status"], result["score"]) == ("error", 0.0)
    assert "old format version 3" in result["reason"]
