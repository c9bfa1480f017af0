"""Properties of the result model and of the cascade, over generated values (no sandbox: fast).

- A result survives its JSON (what `autograder grade --json` writes and the feedback pages read back).
- A mistake is charged once: `checks.run_fairly` re-checks an exercise with the wrong helpers it was told of
  replaced by their references, through a `rebind` that swaps names in a notebook namespace (as the sandbox's
  rebind does in its child), and the outcome matches a model of who calls whom."""
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from autograder.checking.checks import load_checks, load_references, run_fairly, weight_of
from autograder.results.model import CheckResult, Figure, Series, earned
from autograder.results.model import SubmissionResult
from autograder.results.model import TestResult as ExerciseResult  # not a pytest class
from autograder.engine.plain import swap_in
from autograder.engine.submission import local_submission

# ---------------------------------------------------------------------------------------------------------
# The result model and its JSON
# ---------------------------------------------------------------------------------------------------------

text = st.text(max_size=30)
points = st.floats(min_value=0, max_value=100, allow_nan=False).map(lambda x: round(x, 4))
numbers = st.floats(allow_nan=False, allow_infinity=False, width=64)
series = st.builds(Series, text, st.lists(numbers, max_size=5).map(tuple), st.lists(numbers, max_size=5).map(tuple),
                   st.sampled_from(["line", "path", "curve", "bar"]))
figures = st.builds(Figure, text, text, text, st.lists(series, max_size=2).map(tuple))
check_results = st.builds(CheckResult, st.from_regex(r"test_[a-z_]{1,20}", fullmatch=True), text, st.booleans(),
                          text, st.none() | text.filter(bool), st.lists(figures, max_size=2).map(tuple),
                          st.just(0.0) | st.floats(min_value=0.01, max_value=5))  # weights as check files write them
test_results = st.builds(ExerciseResult, text, points, points, text, st.booleans(),
                         st.lists(check_results, max_size=3).map(tuple), st.booleans(),
                         st.lists(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), max_size=2).map(tuple),
                         st.booleans())
cell_errors = st.dictionaries(st.integers(0, 200), st.tuples(st.just(""), st.fixed_dictionaries(
    {"type": st.from_regex(r"[A-Za-z]{1,30}Error", fullmatch=True), "text": st.text(max_size=300)})), max_size=4)
submission_results = st.builds(
    SubmissionResult, text.filter(bool), st.from_regex(r"0[1-4]-[a-z-]{1,20}", fullmatch=True), points, points,
    st.sampled_from(["graded", "error"]), text, st.lists(test_results, max_size=3), st.lists(text, max_size=3),
    st.floats(0, 1e4, allow_nan=False), st.floats(0, 1e5, allow_nan=False), cell_errors)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])  # big values: slow on a loaded machine
@given(submission_results)
def test_a_result_survives_its_json(result):
    written = json.loads(json.dumps(result.to_json()))
    read = SubmissionResult.from_json(written)
    assert read.to_json() == written
    assert (read.student, read.assignment, read.score, read.max_score, read.status, read.notes) == (
        result.student, result.assignment, result.score, result.max_score, result.status, result.notes)
    assert read.reason == (result.reason if result.status == "error" else "")
    assert read.tests == result.tests  # every check, mistake, figure and weight, as they were
    assert read.cell_errors() == result.cell_errors()
    assert math.isclose(read.seconds, result.seconds, abs_tol=5e-4)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(test_results)
def test_a_tests_checks_share_its_points_by_weight(test):
    lines = test.check_lines()
    assert [name for name, _, _ in lines] == [c.check.removeprefix("test_").replace("_", " ") for c in test.checks]
    if sum(check.weight for check in test.checks):
        assert math.isclose(sum(share for _, _, share in lines), test.max_score, abs_tol=1e-3)
        assert math.isclose(sum(share for _, passed, share in lines if passed), earned(test.checks, test.max_score),
                            abs_tol=1e-3)


# ---------------------------------------------------------------------------------------------------------
# A mistake is charged once
# ---------------------------------------------------------------------------------------------------------

A4 = "04-linear-regression"
# The notebook's functions, right and with a mistake; each calls its helpers by their global names, as a notebook does.
RIGHT = {
    "linear": "def linear(x, weight, bias):\n    return weight * np.asarray(x, dtype=float) + bias\n",
    "sse": "def sse(x, y, weight, bias):\n    return float(np.sum((linear(x, weight, bias) - y) ** 2))\n",
    "sse_gradient": "def sse_gradient(x, y, weight, bias):\n    errors = linear(x, weight, bias) - y\n"
                    "    return float(np.sum(2 * errors * x)), float(np.sum(2 * errors))\n",
    "fit": "def fit(x, y, learning_rate, epochs, weight=0.0, bias=0.0):\n    history = []\n"
           "    for _ in range(epochs):\n        slope_w, slope_b = sse_gradient(x, y, weight, bias)\n"
           "        weight, bias = weight - learning_rate * slope_w, bias - learning_rate * slope_b\n"
           "        history.append(sse(x, y, weight, bias))\n    return weight, bias, np.array(history)\n",
}
# a right fit that works out the slopes itself: it calls linear and sse, never sse_gradient
INLINE_FIT = RIGHT["fit"].replace("slope_w, slope_b = sse_gradient(x, y, weight, bias)",
                                  "errors = linear(x, weight, bias) - y\n"
                                  "        slope_w, slope_b = np.sum(2 * errors * x), np.sum(2 * errors)")
WRONG = {
    "linear": RIGHT["linear"].replace("+ bias", ""),                                   # left out the bias
    "sse": RIGHT["sse"].replace("** 2", ""),                                           # did not square
    "sse_gradient": RIGHT["sse_gradient"].replace("2 * errors * x", "errors * x"),     # dropped a factor 2
    "fit": RIGHT["fit"].replace("weight - learning_rate", "weight + learning_rate"),  # climbs the slope
}
CALLS = {"fit": ("sse_gradient", "sse"), "sse_gradient": ("linear",), "sse": ("linear",), "linear": ()}


def notebook(wrong: set[str], inline: bool) -> dict:
    """The namespace of a notebook whose functions in `wrong` have a mistake (fit: an inline right one if asked)."""
    namespace = {"np": np}
    for name in CALLS:
        exec(INLINE_FIT if name == "fit" and inline and name not in wrong else
             (WRONG if name in wrong else RIGHT)[name], namespace)
    return namespace


def run_by_fit(replaced: set[str], calls: dict) -> tuple[set[str], set[str]]:
    """The model: which of the student's functions run when fit is called, and which replaced helpers are called,
    when the helpers in `replaced` are references (which call nothing of the student's)."""
    ran, called, todo = set(), set(), ["fit"]
    while todo:
        name = todo.pop()
        if name in replaced:
            called.add(name)
        elif name not in ran:
            ran.add(name)
            todo += calls[name]
    return ran, called


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # a fit that climbs the slope overflows
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wrong=st.sets(st.sampled_from(sorted(CALLS))), inline=st.booleans(),
       told=st.lists(st.sampled_from(sorted(CALLS) + ["predict"]), max_size=5),
       student=st.sampled_from(["ada", "alan", "grace"]))
@example(wrong={"sse"}, inline=True, told=["sse_gradient"], student="ada")  # told of a helper fit never calls
@example(wrong={"linear"}, inline=False, told=["sse_gradient", "sse", "linear"], student="alan")  # linear not reached
@example(wrong={"fit", "sse_gradient"}, inline=False, told=["sse_gradient"], student="grace")  # both charged
def test_a_mistake_is_charged_once(wrong, inline, told, student):
    namespace = notebook(wrong, inline)
    calls = {**CALLS, "fit": ("linear", "sse") if inline and "fit" not in wrong else CALLS["fit"]}
    own = {name: namespace[name] for name in CALLS}
    saved, rebinds = {}, []

    def rebind(functions):  # the sandbox's rebind, done in this process: the notebook's names now call these
        rebinds.append(sorted(functions))
        swap_in(namespace, functions, saved)
        return True

    def student_call(name):  # what the sandbox does for a check: call the notebook's function by its name now
        return lambda *args: namespace[name](*args)

    submission = local_submission({name: student_call(name) for name in CALLS})
    checks, used = run_fairly(A4, "fit", submission, student, told, rebind)

    full = earned(checks, 1.0) == 1.0
    replaceable = [name for name in dict.fromkeys(told) if name in load_references(A4) and name != "fit"]
    right_at_first = not run_by_fit(set(), calls)[0] & wrong
    if right_at_first or not replaceable:
        assert (full, used, rebinds) == (right_at_first, (), [])
    else:
        ran, called = run_by_fit(set(replaceable), calls)
        assert rebinds == [sorted(replaceable), []]  # the references stood in, then the notebook's own came back
        assert used == tuple(name for name in replaceable if name in called)
        assert full == bool(used and not ran & wrong)  # fit earns what its own code (and what it still runs) earns
    # what counts is the first run, every check of fit, unless the re-check's (worth points only) did use a reference
    assert [check.check for check in checks] == [check.__name__ for check in load_checks(A4)["fit"]
                                                 if not used or weight_of(check) > 0]
    assert {name: namespace[name] for name in CALLS} == own
