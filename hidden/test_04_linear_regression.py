"""Hidden checks for 04-linear-regression: the line, its sum of squared errors (SSE), the SSE's gradient, and fit."""
import numpy as np
import pytest

from autograder.checking.expect import Mistake, expect_close, expect_parts, rounded, separates
from autograder.engine.submission import describe_call

WORKED_X = np.arange(10)
WORKED_Y = np.sin(WORKED_X)
BEST_WEIGHT, BEST_BIAS = 0.01223633, 0.14045745  # np.polyfit(WORKED_X, WORKED_Y, 1)


def reference_linear(x, weight, bias):
    return weight * np.asarray(x, dtype=float) + bias


def reference_errors(x, y, weight, bias):
    return reference_linear(x, weight, bias) - np.asarray(y, dtype=float)


def reference_sse(x, y, weight, bias):
    return float(np.sum(reference_errors(x, y, weight, bias) ** 2))


def reference_sse_gradient(x, y, weight, bias):
    errors = reference_errors(x, y, weight, bias)
    return float(np.sum(2 * errors * np.asarray(x, dtype=float))), float(np.sum(2 * errors))


# Exercise -> its reference: a caller of a wrong helper is re-checked with it (checked by `autograder release`).
REFERENCES = {"linear": reference_linear, "sse": reference_sse, "sse_gradient": reference_sse_gradient}


class Sums:
    """x and y as the sums the SSE and its gradient need: a fit's many steps then cost a few float operations
    each rather than passes over arrays (the same values as reference_sse and reference_sse_gradient)."""

    def __init__(self, x, y):
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        self.n, self.x, self.y = len(x), float(x.sum()), float(y.sum())
        self.xx, self.xy, self.yy = float(x @ x), float(x @ y), float(y @ y)

    def gradient(self, weight, bias):
        return (2 * (weight * self.xx + bias * self.x - self.xy), 2 * (weight * self.x + bias * self.n - self.y))

    def sse(self, weight, bias):
        return (weight * weight * self.xx + 2 * weight * bias * self.x + self.n * bias * bias
                - 2 * weight * self.xy - 2 * bias * self.y + self.yy)


def simultaneous_step(data, weight, bias, learning_rate):
    d_weight, d_bias = data.gradient(weight, bias)
    return weight - learning_rate * d_weight, bias - learning_rate * d_bias


def bias_after_weight_step(data, weight, bias, learning_rate):
    new_weight = weight - learning_rate * data.gradient(weight, bias)[0]
    return new_weight, bias - learning_rate * data.gradient(new_weight, bias)[1]


def weight_after_bias_step(data, weight, bias, learning_rate):
    new_bias = bias - learning_rate * data.gradient(weight, bias)[1]
    return weight - learning_rate * data.gradient(weight, new_bias)[0], new_bias


def mean_gradient_step(data, weight, bias, learning_rate):
    return simultaneous_step(data, weight, bias, learning_rate / data.n)


def ascent_step(data, weight, bias, learning_rate):
    return simultaneous_step(data, weight, bias, -learning_rate)


def unscaled_step(data, weight, bias, learning_rate):
    return simultaneous_step(data, weight, bias, 1.0)


def squared_rate_step(data, weight, bias, learning_rate):
    return simultaneous_step(data, weight, bias, learning_rate ** 2)


def fit_states(x, y, learning_rate, epochs, weight=0.0, bias=0.0, step=simultaneous_step):
    """(weight, bias) at the start and after each of `epochs` updates."""
    data, states = Sums(x, y), [(float(weight), float(bias))]
    for _ in range(epochs):
        states.append(step(data, *states[-1], learning_rate))
    return states


def reference_fit(x, y, learning_rate, epochs, weight=0.0, bias=0.0):
    states, data = fit_states(x, y, learning_rate, epochs, weight, bias), Sums(x, y)
    return states[-1][0], states[-1][1], np.array([data.sse(w, b) for w, b in states[1:]])


def linear_mistakes(x, weight, bias):
    x = np.asarray(x, dtype=float)
    return [
        Mistake("swapped the weight and the bias", bias * x + weight,
                "The weight multiplies x; the bias is added on its own."),
        Mistake("left out the bias", weight * x, "Add the bias to every weight * x."),
        Mistake("multiplied the bias in as well", weight * (x + bias), "Only x is multiplied by the weight."),
    ]


def sse_mistakes(x, y, weight, bias):
    errors = reference_errors(x, y, weight, bias)
    return [
        Mistake("took the mean instead of the sum", np.mean(errors ** 2),
                "The SSE adds up the squared errors without dividing by their number."),
        Mistake("did not square the errors", np.sum(errors),
                "Square each error before adding them up, so that errors of opposite sign cannot cancel."),
        Mistake("did not square the errors", -np.sum(errors),
                "Square each error before adding them up, so that errors of opposite sign cannot cancel."),
        Mistake("squared the sum of the errors instead of adding up their squares", np.sum(errors) ** 2,
                "Square each error first, then add up the squares."),
        Mistake("swapped the weight and the bias", reference_sse(x, y, bias, weight),
                "The weight multiplies x; the bias is added on its own."),
    ]


def sse_gradient_mistakes(x, y, weight, bias):
    d_weight, d_bias = reference_sse_gradient(x, y, weight, bias)
    n = len(x)
    return [
        Mistake("divided the gradient by the number of points", (d_weight / n, d_bias / n),
                "The gradient of a sum of squared errors has no 1/n; that factor belongs to the mean squared "
                "error, a different loss."),
        Mistake("dropped the factor 2", (d_weight / 2, d_bias / 2),
                "The derivative of error ** 2 brings the exponent 2 down in front."),
        Mistake("flipped the sign", (-d_weight, -d_bias),
                "With error = prediction - y, the gradient points uphill: positive when the line is too high."),
        Mistake("returned the two slopes in the wrong order", (d_bias, d_weight),
                "Return the slope for the weight first, then the slope for the bias."),
        Mistake("left x out of d_weight", (d_bias, d_bias),
                "Each error's effect on the weight is scaled by its x."),
    ]


def fit_mistakes(x, y, learning_rate, epochs, weight=0.0, bias=0.0):
    """Wrong results of fit, as Mistakes on (weight, bias) and on history."""
    def states(step=simultaneous_step, count=epochs, start=(weight, bias)):
        return fit_states(x, y, learning_rate, count, *start, step=step)

    data = Sums(x, y)

    def sse_along(path):
        return np.array([data.sse(w, b) for w, b in path])

    right, n = states(count=epochs + 1), len(x)
    sequential = "Compute both slopes from the current weight and bias first, then update both."
    on_line = [
        Mistake("updated the bias with the already updated weight", states(bias_after_weight_step)[-1], sequential),
        Mistake("updated the weight with the already updated bias", states(weight_after_bias_step)[-1], sequential),
        Mistake("divided the gradient by the number of points", states(mean_gradient_step)[-1],
                "The gradient of the SSE has no 1/n; that factor belongs to the mean squared error."),
        Mistake("added the gradient instead of subtracting it", states(ascent_step)[-1],
                "Gradient descent steps against the gradient."),
        Mistake("ignored the learning rate", states(unscaled_step)[-1],
                "Scale both slopes by the learning rate in every update."),
        Mistake("applied the learning rate twice", states(squared_rate_step)[-1],
                "Multiply the slopes by the learning rate once in every update."),
        Mistake("made one update too many", right[epochs + 1], f"epochs={epochs} means exactly {epochs} updates."),
        Mistake("made one update too few", right[epochs - 1], f"epochs={epochs} means exactly {epochs} updates."),
    ]
    on_history = [
        Mistake("recorded each SSE before its update instead of after it", sse_along(right[:epochs]),
                "history[0] should be the SSE after the first update."),
        Mistake("also recorded the SSE of the starting line", sse_along(right[:epochs + 1]),
                f"history holds one value per update ({epochs} here): the SSE after that update."),
        Mistake("made one update too many", sse_along(right[1:epochs + 2]),
                f"epochs={epochs} means exactly {epochs} updates."),
        Mistake("made one update too few", sse_along(right[1:epochs]),
                f"epochs={epochs} means exactly {epochs} updates."),
        Mistake("recorded the mean squared error instead of the SSE", sse_along(right[1:epochs + 1]) / n,
                "history holds the sum of squared errors, like sse."),
        Mistake("updated the bias with the already updated weight", sse_along(states(bias_after_weight_step)[1:]),
                sequential),
        Mistake("divided the gradient by the number of points", sse_along(states(mean_gradient_step)[1:]),
                "The gradient of the SSE has no 1/n; that factor belongs to the mean squared error."),
    ]
    if (weight, bias) != (0.0, 0.0):
        from_zero = states(start=(0.0, 0.0))
        ignored = "Start from the weight and bias passed to fit; 0.0 is only the default."
        on_line.append(Mistake("ignored the starting weight and bias you were given", from_zero[-1], ignored))
        on_history.append(Mistake("ignored the starting weight and bias you were given", sse_along(from_zero[1:]),
                                  ignored))
    return on_line, on_history


def check_fit(submission, args, part, description="", hint="", plots=None):
    """Run fit(*args) and compare its (weight, bias) or its history with the reference (drawn on `plots`)."""
    what = describe_call("fit", args) + description
    weight, bias, history = expect_parts(submission.fit(*args), ("weight", "bias", "history"), what, accept_array=True)
    expected_weight, expected_bias, expected_history = reference_fit(*args)
    if plots is not None:
        plots.add(f"The history of {what}", "update", "SSE after the update",
                  ("reference", np.arange(1, len(expected_history) + 1), expected_history, "line"),
                  ("yours", np.arange(1, np.size(history) + 1), history, "line"))
    if part == "line":
        expect_close((weight, bias), (expected_weight, expected_bias), f"The (weight, bias) from {what}",
                     mistakes=lambda: fit_mistakes(*args)[0], hint=hint)
    else:
        expect_close(history, expected_history, f"The history from {what}",
                     mistakes=lambda: fit_mistakes(*args)[1], hint=hint)


def unseen_data(rng, length, integers=False):
    """x, y and a line (weight, bias) missing the points, on which every linear, sse and sse_gradient mistake shows."""
    while True:
        if integers:
            x = rng.integers(-5, 6, length)
            args = x, 2 * x + rng.integers(-4, 5, length), int(rng.integers(-3, 4)), int(rng.integers(-3, 4))
        else:
            x = rounded(rng.uniform(-3, 3, length))
            y = rounded(rng.uniform(-2, 2) * x + rng.uniform(-2, 2) + rng.normal(0, 0.5, length))
            args = x, y, round(float(rng.uniform(-2, 2)), 2), round(float(rng.uniform(-2, 2)), 2)
        x, y, weight, bias = args
        if (separates(reference_linear(x, weight, bias), linear_mistakes(x, weight, bias))
                and separates(reference_sse(*args), sse_mistakes(*args))
                and separates(reference_sse_gradient(*args), sse_gradient_mistakes(*args))):
            return args


def unseen_fit(rng, integers=False, from_zero=False):
    """fit's arguments for new data; few, small steps, so that fit has not converged and every mistake shows."""
    while True:
        x, y, weight, bias = unseen_data(rng, int(rng.integers(5, 9)), integers)
        epochs = int(rng.integers(20, 40))
        steepest = np.linalg.eigvalsh(2 * np.array([[np.sum(x * x), np.sum(x)], [np.sum(x), len(x)]]))[-1]
        learning_rate = next(rate for rate in (0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001)
                             if rate * steepest * epochs < 4)
        args = (x, y, learning_rate, epochs) + (() if from_zero else (weight, bias))
        expected_weight, expected_bias, expected_history = reference_fit(*args)
        on_line, on_history = fit_mistakes(*args)
        if separates((expected_weight, expected_bias), on_line) and separates(expected_history, on_history):
            return args


@pytest.mark.exercise("linear")
def test_linear_is_weight_times_x_plus_bias_on_new_arrays(submission, rng):
    for length in (3, 6):
        x, _, weight, bias = unseen_data(rng, length)
        expect_close(submission.linear(x, weight, bias), reference_linear(x, weight, bias),
                     describe_call("linear", (x, weight, bias)), mistakes=lambda: linear_mistakes(x, weight, bias))


@pytest.mark.exercise("linear")
def test_linear_works_on_integer_arrays(submission, rng):
    x, _, weight, bias = unseen_data(rng, 5, integers=True)
    expect_close(submission.linear(x, weight, bias), reference_linear(x, weight, bias),
                 describe_call("linear", (x, weight, bias)), mistakes=lambda: linear_mistakes(x, weight, bias))


@pytest.mark.exercise("linear", weight=0)  # the visible check already checks it
def test_linear_on_the_worked_example(submission):
    args = (WORKED_X, BEST_WEIGHT, BEST_BIAS)
    expect_close(submission.linear(*args), reference_linear(*args), describe_call("linear", args),
                 mistakes=lambda: linear_mistakes(*args))


@pytest.mark.exercise("sse")
def test_sse_adds_up_squared_errors_on_new_data(submission, rng):
    for length in (4, 7):
        x, y, weight, bias = unseen_data(rng, length)
        expect_close(submission.sse(x, y, weight, bias), reference_sse(x, y, weight, bias),
                     describe_call("sse", (x, y, weight, bias)), mistakes=lambda: sse_mistakes(x, y, weight, bias))


@pytest.mark.exercise("sse")
def test_sse_works_on_integer_data(submission, rng):
    x, y, weight, bias = unseen_data(rng, 6, integers=True)
    expect_close(submission.sse(x, y, weight, bias), reference_sse(x, y, weight, bias),
                 describe_call("sse", (x, y, weight, bias)), mistakes=lambda: sse_mistakes(x, y, weight, bias))


@pytest.mark.exercise("sse", weight=0)  # the visible check already checks it
def test_sse_on_the_worked_example(submission):
    for weight, bias in ((0.0, 0.0), (BEST_WEIGHT, BEST_BIAS)):
        args = (WORKED_X, WORKED_Y, weight, bias)
        expect_close(submission.sse(*args), reference_sse(*args), describe_call("sse", args),
                     mistakes=lambda: sse_mistakes(*args))


def check_sse_gradient(submission, x, y, weight, bias, description=""):
    what = describe_call("sse_gradient", (x, y, weight, bias)) + description
    pair = expect_parts(submission.sse_gradient(x, y, weight, bias), ("d_weight", "d_bias"), what, accept_array=True)
    expect_close(pair, reference_sse_gradient(x, y, weight, bias), what,
                 mistakes=lambda: sse_gradient_mistakes(x, y, weight, bias))


@pytest.mark.exercise("sse_gradient")
def test_sse_gradient_on_new_data(submission, rng):
    for length in (4, 7):
        check_sse_gradient(submission, *unseen_data(rng, length))


@pytest.mark.exercise("sse_gradient")
def test_sse_gradient_works_on_integer_data(submission, rng):
    check_sse_gradient(submission, *unseen_data(rng, 6, integers=True), " with integer arrays")


@pytest.mark.exercise("sse_gradient", weight=0)  # the visible check already checks it
def test_sse_gradient_on_the_worked_example(submission):
    check_sse_gradient(submission, WORKED_X, WORKED_Y, 0.0, 0.0)
    check_sse_gradient(submission, WORKED_X, WORKED_Y, BEST_WEIGHT, BEST_BIAS, " (almost 0 at the best line)")


@pytest.mark.exercise("fit")
def test_fit_starts_from_zero_by_default(submission, rng):
    check_fit(submission, unseen_fit(rng, from_zero=True), "line",
              hint="Given only four arguments, fit starts from weight 0.0 and bias 0.0, then makes `epochs` "
                   "updates, each changing the weight and the bias together.")


@pytest.mark.exercise("fit")
def test_fit_starts_from_the_given_weight_and_bias(submission, rng):
    check_fit(submission, unseen_fit(rng), "line")


@pytest.mark.exercise("fit")
def test_fit_history_holds_the_sse_after_each_update(submission, rng, plots):
    check_fit(submission, unseen_fit(rng), "history", plots=plots)


@pytest.mark.exercise("fit")
def test_fit_works_on_integer_data(submission, rng):
    args = unseen_fit(rng, integers=True)
    check_fit(submission, args, "line", " with integer arrays")
    check_fit(submission, args, "history", " with integer arrays")


@pytest.mark.exercise("fit", weight=0)  # the visible check already fits the worked example
def test_fit_ends_near_the_best_line_on_the_worked_example(submission):
    args = (WORKED_X, WORKED_Y, 0.002, 1000)
    what = describe_call("fit", args)
    weight, bias, _ = expect_parts(submission.fit(*args), ("weight", "bias", "history"), what, accept_array=True)
    # Most mistakes still end at the best line after 1000 updates; a gradient divided by n is too slow to get there.
    def too_slow():
        return [Mistake("divided the gradient by the number of points", fit_states(*args, step=mean_gradient_step)[-1],
                        "The gradient of the SSE has no 1/n; that factor belongs to the mean squared error.")]

    expect_close((weight, bias), (BEST_WEIGHT, BEST_BIAS), f"The (weight, bias) from {what}", mistakes=too_slow,
                 rtol=0, atol=1e-3, hint="After 1000 updates the line should be within 0.001 of the best line, "
                                         "np.polyfit(x, y, 1).")
