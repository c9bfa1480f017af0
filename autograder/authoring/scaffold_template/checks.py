"""Hidden checks for __ASSIGNMENT__: the student's functions against the reference on new inputs.

Written by `autograder new` as an example to replace; docs/check-authors.md explains every helper used here.
"""
import numpy as np
import pytest

from autograder.checking.expect import Mistake, expect_close, rounded, separates
from autograder.engine.submission import describe_call


def reference_squared_error(prediction, target):
    return (prediction - target) ** 2


def squared_error_mistakes(prediction, target):
    """Wrong answers students really give, each named so the feedback and the class report can say which."""
    mistakes = [
        Mistake("forgot to square the difference", prediction - target,
                "The squared error is the difference times itself: (prediction - target) ** 2."),
        Mistake("took the size of the difference instead of its square", np.abs(prediction - target),
                "Square the difference rather than taking its absolute value."),
        Mistake("squared only the target", prediction - target ** 2,
                "Put brackets around the difference before squaring it."),
    ]
    if np.ndim(prediction):
        mistakes.append(Mistake("added up the squared errors instead of returning one for every entry",
                                np.sum((prediction - target) ** 2),
                                "For an array of predictions, return an array: the squared error of each entry."))
    return mistakes


def unseen_case(rng, size):
    """Predictions (one number when size is 0) and a target the notebook never showed, on which every listed
    mistake gives a wrong answer."""
    while True:
        prediction = rounded(rng.uniform(-5, 5, size)) if size else round(float(rng.uniform(-5, 5)), 2)
        target = round(float(rng.uniform(-5, 5)), 2)
        if separates(reference_squared_error(prediction, target), squared_error_mistakes(prediction, target)):
            return prediction, target


# Two checks of weight 1: a student whose squared_error is right for one number but not entry by entry for an
# array earns half the points (the check cell's hidden `_keep_going = True` lets the hidden checks run).
@pytest.mark.exercise("squared_error")
def test_squared_error_of_one_new_number(submission, rng):
    prediction, target = unseen_case(rng, 0)
    expect_close(submission.squared_error(prediction, target), reference_squared_error(prediction, target),
                 describe_call("squared_error", (prediction, target)),
                 mistakes=lambda: squared_error_mistakes(prediction, target))


@pytest.mark.exercise("squared_error")
def test_squared_error_entry_by_entry_on_new_numbers(submission, rng, plots):
    prediction, target = unseen_case(rng, 3)
    got = submission.squared_error(prediction, target)
    grid = np.linspace(target - 6, target + 6, 121)
    plots.add(f"The squared error for the target {target}", "prediction", "squared error",
              ("reference", grid, reference_squared_error(grid, target), "curve"),
              ("your squared_error", prediction, got, "path"))
    expect_close(got, reference_squared_error(prediction, target),
                 describe_call("squared_error", (prediction, target)),
                 mistakes=lambda: squared_error_mistakes(prediction, target))


@pytest.mark.exercise("squared_error", weight=0)  # the visible check already checks it: it earns nothing more
def test_squared_error_on_the_worked_example(submission):
    for prediction in (3.0, np.array([-1.0, 0.0, 1.0])):
        expect_close(submission.squared_error(prediction, 1.0), reference_squared_error(prediction, 1.0),
                     describe_call("squared_error", (prediction, 1.0)),
                     mistakes=lambda: squared_error_mistakes(prediction, 1.0))
