"""Hidden checks for __ASSIGNMENT__: the student's functions against the reference on new inputs.

Written by `autograder new` as an example to replace; docs/check-authors.md explains every helper used here.
"""
import numpy as np
import pytest

from autograder.expect import Mistake, expect_close, rounded, separates
from autograder.submission import describe_call


def reference_squared_error(prediction, target):
    return (prediction - target) ** 2


def squared_error_mistakes(prediction, target):
    """Wrong answers students really give, each named so the feedback and the class report can say which."""
    return [
        Mistake("forgot to square the difference", prediction - target,
                "The squared error is the difference times itself: (prediction - target) ** 2."),
        Mistake("took the size of the difference instead of its square", np.abs(prediction - target),
                "Square the difference rather than taking its absolute value."),
        Mistake("squared only the target", prediction - target ** 2,
                "Put brackets around the difference before squaring it."),
    ]


def unseen_case(rng):
    """A prediction and target the notebook never showed, on which every listed mistake gives a wrong answer."""
    while True:
        prediction, target = rounded(rng.uniform(-5, 5, 3)), round(float(rng.uniform(-5, 5)), 2)
        if separates(reference_squared_error(prediction, target), squared_error_mistakes(prediction, target)):
            return prediction, target


@pytest.mark.exercise("squared_error")
def test_squared_error_on_new_numbers(submission, rng, plots):
    prediction, target = unseen_case(rng)
    got = submission.squared_error(prediction, target)
    grid = np.linspace(target - 6, target + 6, 121)
    plots.add(f"The squared error for the target {target}", "prediction", "squared error",
              ("reference", grid, reference_squared_error(grid, target), "curve"),
              ("your squared_error", prediction, got, "path"))
    expect_close(got, reference_squared_error(prediction, target),
                 describe_call("squared_error", (prediction, target)),
                 mistakes=lambda: squared_error_mistakes(prediction, target))
