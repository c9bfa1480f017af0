"""Hidden checks for 02-slopes-and-updates: prediction, error, slope and weight updates on new inputs."""
import numpy as np
import pytest

from autograder.checking.expect import Mistake, expect_close, expect_parts, expect_unchanged, rounded, separates
from autograder.engine.submission import describe_call

WORKED_INPUT, WORKED_WEIGHTS, WORKED_TARGET, WORKED_RATE = np.array([1, 2, 3]), np.array([0, 2, 1]), 0, 0.01


def reference_predict(input_data, weights):  # in every step of training, so .sum(): np.sum without its overhead
    return float((np.asarray(input_data, dtype=float) * np.asarray(weights, dtype=float)).sum())


def reference_error(input_data, target, weights):
    return reference_predict(input_data, weights) - target


def reference_slope(input_data, target, weights):
    return 2 * np.asarray(input_data, dtype=float) * reference_error(input_data, target, weights)


def reference_update(weights, slope, learning_rate):
    return np.asarray(weights, dtype=float) - learning_rate * np.asarray(slope, dtype=float)


# Exercise -> its reference: a caller of a wrong helper is re-checked with it (checked by `autograder release`).
REFERENCES = {"predict": reference_predict, "get_error": reference_error, "get_slope": reference_slope,
              "update_weights": reference_update}


def weights_path(input_data, target, weights, learning_rate, n_updates, step=reference_update):
    """The starting weights, then the weights after each of `n_updates` updates."""
    path = [np.asarray(weights, dtype=float)]
    for _ in range(n_updates):
        path.append(step(path[-1], reference_slope(input_data, target, path[-1]), learning_rate))
    return path


def reference_train(input_data, target, weights, learning_rate, n_updates):
    path = weights_path(input_data, target, weights, learning_rate, n_updates)
    return path[-1], np.array([reference_error(input_data, target, w) ** 2 for w in path[1:]])


def predict_mistakes(input_data, weights):
    x, w = np.asarray(input_data, dtype=float), np.asarray(weights, dtype=float)
    return [
        Mistake("added the inputs and weights instead of multiplying them", np.sum(x + w),
                "Each input is multiplied by its own weight."),
        Mistake("forgot to add up the products", x * w,
                "The prediction is a single number: the sum of all input-times-weight products."),
        Mistake("multiplied the sum of the inputs by the sum of the weights", np.sum(x) * np.sum(w),
                "Multiply each input by its own weight first, then add up those products."),
    ]


def error_mistakes(input_data, target, weights):
    prediction = reference_predict(input_data, weights)
    x, w = np.asarray(input_data, dtype=float), np.asarray(weights, dtype=float)
    return [
        Mistake("flipped the sign of the error (target - prediction)", target - prediction,
                "The error is the prediction minus the target: positive when the prediction is too high."),
        Mistake("returned the squared error", (prediction - target) ** 2,
                "get_error gives the plain difference; squaring it gives the loss, which is a separate step."),
        Mistake("forgot to add up the products in the prediction", x * w - target,
                "The prediction is the sum of the input-times-weight products."),
        Mistake("added the inputs and weights instead of multiplying them", np.sum(x + w) - target,
                "Each input is multiplied by its own weight."),
    ]


def slope_mistakes(input_data, target, weights):
    x, w = np.asarray(input_data, dtype=float), np.asarray(weights, dtype=float)
    error = reference_error(input_data, target, weights)
    return [
        Mistake("dropped the factor 2", x * error,
                "The derivative of error ** 2 brings the exponent 2 down in front."),
        Mistake("flipped the sign of the error (target - prediction)", 2 * x * -error,
                "Use the error as prediction minus target, as get_error returns it."),
        Mistake("used the weights instead of the inputs", 2 * w * error,
                "The prediction changes with a weight at the rate of that weight's input, so the input "
                "appears in the slope."),
        Mistake("added the slopes up into one number", np.sum(2 * x * error),
                "There is one slope per weight: return an array with one entry per input."),
        Mistake("used the squared error instead of the error", 2 * x * error ** 2,
                "The chain rule gives 2 * error times the slope of the error, not the squared error."),
    ]


def update_mistakes(weights, slope, learning_rate):
    w, s = np.asarray(weights, dtype=float), np.asarray(slope, dtype=float)
    return [
        Mistake("added the slope instead of subtracting it", w + learning_rate * s,
                "To lower the loss, step against the slope."),
        Mistake("ignored the learning rate", w - s, "Scale the slope by the learning rate before the step."),
        Mistake("applied the learning rate twice", w - learning_rate ** 2 * s, "Multiply by the learning rate once."),
        Mistake("multiplied the slope by (weights - learning_rate)", (w - learning_rate) * s,
                "Only the slope is scaled by the learning rate; that product is then taken from the weights."),
        Mistake("kept the result as integers", np.trunc(w - learning_rate * s),
                "With integer weights the update must still give floats: compute a new array rather than "
                "writing floats into an integer one."),
    ]


def train_mistakes(input_data, target, weights, learning_rate, n_updates):
    """Wrong (final_weights, losses) pairs, each as a Mistake on the weights and one on the losses."""
    path = weights_path(input_data, target, weights, learning_rate, n_updates + 1)
    errors = np.array([reference_error(input_data, target, w) for w in path])
    n = n_updates

    def wrong_path(step):
        return weights_path(input_data, target, weights, learning_rate, n, step=step)

    on_weights = [
        Mistake("made one update too many", path[n + 1], f"n_updates={n} means exactly {n} updates."),
        Mistake("made one update too few", path[n - 1], f"n_updates={n} means exactly {n} updates."),
        Mistake("computed every update from the starting weights", path[1],
                "Each update must start from the weights the previous update produced."),
        Mistake("added the slope instead of subtracting it", wrong_path(lambda w, s, r: w + r * s)[-1],
                "To lower the loss, step against the slope."),
        Mistake("ignored the learning rate", wrong_path(lambda w, s, r: w - s)[-1],
                "Scale the slope by the learning rate in every update."),
        Mistake("applied the learning rate twice", wrong_path(lambda w, s, r: w - r * r * s)[-1],
                "Multiply the slope by the learning rate once in every update."),
    ]
    on_losses = [
        Mistake("recorded each loss before its update instead of after it", errors[:n] ** 2,
                "losses[0] should be the squared error after the first update."),
        Mistake("also recorded the loss of the starting weights", errors[:n + 1] ** 2,
                f"losses holds one value per update ({n} here): the squared error after that update."),
        Mistake("made one update too many", errors[1:n + 2] ** 2, f"n_updates={n} means exactly {n} updates."),
        Mistake("made one update too few", errors[1:n] ** 2, f"n_updates={n} means exactly {n} updates."),
        Mistake("recorded the errors instead of the squared errors", errors[1:n + 1],
                "The loss is the squared error: square the error after each update."),
    ]
    return on_weights, on_losses


def unseen_case(rng, length, integers=False):
    """input_data, target and weights on which every mistake in prediction, error and slope shows."""
    while True:
        if integers:
            input_data, weights = rng.integers(-5, 6, length), rng.integers(-5, 6, length)
            target = int(rng.integers(-9, 10))
        else:
            input_data, weights = rounded(rng.uniform(-3, 3, length)), rounded(rng.uniform(-2, 2, length))
            target = round(float(rng.uniform(-5, 5)), 2)
        args = input_data, target, weights
        if (abs(reference_error(*args)) > 0.5
                and separates(reference_predict(input_data, weights), predict_mistakes(input_data, weights))
                and separates(reference_error(*args), error_mistakes(*args))
                and separates(reference_slope(*args), slope_mistakes(*args))):
            return args


def unseen_training(rng, integers=False):
    """train's arguments for a new example, learning slowly enough that every update shows."""
    while True:
        input_data, target, weights = unseen_case(rng, 3 if integers else int(rng.integers(3, 5)), integers)
        args = (input_data, target, weights, 0.01 if integers else 0.02, int(rng.integers(5, 12)))
        final_weights, losses = reference_train(*args)
        on_weights, on_losses = train_mistakes(*args)
        if separates(final_weights, on_weights) and separates(losses, on_losses):
            return args


@pytest.mark.exercise("predict")
def test_predict_sums_input_times_weight_on_new_inputs(submission, rng):
    cases = [unseen_case(rng, length) for length in (2, 3, 5)] + [unseen_case(rng, 4, integers=True)]
    for input_data, _, weights in cases:
        expect_close(submission.predict(input_data, weights), reference_predict(input_data, weights),
                     describe_call("predict", (input_data, weights)), mistakes=lambda: predict_mistakes(input_data, weights))


@pytest.mark.exercise("predict", weight=0)  # the visible check already checks it
def test_predict_on_the_worked_example(submission):
    expect_close(submission.predict(WORKED_INPUT, WORKED_WEIGHTS), 7,
                 describe_call("predict", (WORKED_INPUT, WORKED_WEIGHTS)),
                 mistakes=lambda: predict_mistakes(WORKED_INPUT, WORKED_WEIGHTS))


@pytest.mark.exercise("get_error")
def test_get_error_is_prediction_minus_target_on_new_inputs(submission, rng):
    cases = [unseen_case(rng, length) for length in (2, 3, 5)] + [unseen_case(rng, 3, integers=True)]
    for input_data, target, weights in cases:
        expect_close(submission.get_error(input_data, target, weights),
                     reference_error(input_data, target, weights),
                     describe_call("get_error", (input_data, target, weights)),
                     mistakes=lambda: error_mistakes(input_data, target, weights))


@pytest.mark.exercise("get_error", weight=0)  # the visible check already checks it
def test_get_error_on_the_worked_example(submission):
    updated = np.array([-0.14, 1.72, 0.58])
    for weights, expected in ((WORKED_WEIGHTS, 7), (updated, 5.04)):
        expect_close(submission.get_error(WORKED_INPUT, WORKED_TARGET, weights), expected,
                     describe_call("get_error", (WORKED_INPUT, WORKED_TARGET, weights)),
                     mistakes=lambda: error_mistakes(WORKED_INPUT, WORKED_TARGET, weights))


@pytest.mark.exercise("get_slope")
def test_get_slope_is_two_times_input_times_error_on_new_inputs(submission, rng):
    cases = [unseen_case(rng, length) for length in (2, 3, 5)] + [unseen_case(rng, 4, integers=True)]
    for input_data, target, weights in cases:
        expect_close(submission.get_slope(input_data, target, weights),
                     reference_slope(input_data, target, weights),
                     describe_call("get_slope", (input_data, target, weights)),
                     mistakes=lambda: slope_mistakes(input_data, target, weights))


@pytest.mark.exercise("get_slope", weight=0)  # the visible check already checks it
def test_get_slope_on_the_worked_example(submission):
    expect_close(submission.get_slope(WORKED_INPUT, WORKED_TARGET, WORKED_WEIGHTS), [14, 28, 42],
                 describe_call("get_slope", (WORKED_INPUT, WORKED_TARGET, WORKED_WEIGHTS)),
                 mistakes=lambda: slope_mistakes(WORKED_INPUT, WORKED_TARGET, WORKED_WEIGHTS))


@pytest.mark.exercise("update_weights")
def test_update_weights_steps_against_the_slope_and_leaves_arguments_unchanged(submission, rng):
    for length, learning_rate in ((3, 0.01), (5, 0.25)):
        weights, slope = rounded(rng.uniform(-2, 2, length)), rounded(rng.uniform(-20, 20, length))
        call = submission.update_weights.call(weights, slope, learning_rate)
        expect_unchanged(call, (weights, slope), ("weights", "slope"), "update_weights")
        expect_close(call.result, reference_update(weights, slope, learning_rate),
                     describe_call("update_weights", (weights, slope, learning_rate)),
                     mistakes=lambda: update_mistakes(weights, slope, learning_rate))


@pytest.mark.exercise("update_weights")
def test_update_weights_works_on_integer_arrays(submission, rng):
    # Slopes of size 1 to 9 times 0.1 are never whole numbers, so truncated results cannot pass.
    weights = rng.integers(-9, 10, 4)
    slope, learning_rate = rng.choice([-1, 1], 4) * rng.integers(1, 10, 4), 0.1
    call = submission.update_weights.call(weights, slope, learning_rate)
    expect_unchanged(call, (weights, slope), ("weights", "slope"), "update_weights")
    expect_close(call.result, reference_update(weights, slope, learning_rate),
                 describe_call("update_weights", (weights, slope, learning_rate)) + " with integer arrays",
                 mistakes=lambda: update_mistakes(weights, slope, learning_rate))


@pytest.mark.exercise("update_weights", weight=0)  # the visible check already checks it
def test_update_weights_on_the_worked_example(submission):
    slope = np.array([14, 28, 42])
    expect_close(submission.update_weights(WORKED_WEIGHTS, slope, WORKED_RATE), [-0.14, 1.72, 0.58],
                 describe_call("update_weights", (WORKED_WEIGHTS, slope, WORKED_RATE)),
                 mistakes=lambda: update_mistakes(WORKED_WEIGHTS, slope, WORKED_RATE))


@pytest.mark.exercise("train")
def test_train_returns_the_weights_after_n_updates(submission, rng):
    args = unseen_training(rng)
    what = describe_call("train", args)
    final_weights, _ = expect_parts(submission.train(*args), ("final_weights", "losses"), what)
    expect_close(final_weights, reference_train(*args)[0], f"The final weights from {what}",
                 mistakes=lambda: train_mistakes(*args)[0])


@pytest.mark.exercise("train")
def test_train_records_the_squared_error_after_each_update(submission, rng, plots):
    args = unseen_training(rng)
    what = describe_call("train", args)
    _, losses = expect_parts(submission.train(*args), ("final_weights", "losses"), what)
    expected = reference_train(*args)[1]
    plots.add(f"The losses of {what}", "update", "squared error after the update",
              ("reference", np.arange(1, len(expected) + 1), expected, "path"),
              ("yours", np.arange(1, np.size(losses) + 1), losses, "path"))
    expect_close(losses, expected, f"The losses from {what}", mistakes=lambda: train_mistakes(*args)[1])


@pytest.mark.exercise("train")
def test_train_works_on_integer_arrays(submission, rng):
    args = unseen_training(rng, integers=True)
    what = describe_call("train", args) + " with integer arrays"
    final_weights, losses = expect_parts(submission.train(*args), ("final_weights", "losses"), what)
    expected_weights, expected_losses = reference_train(*args)
    expect_close(final_weights, expected_weights, f"The final weights from {what}",
                 mistakes=lambda: train_mistakes(*args)[0])
    expect_close(losses, expected_losses, f"The losses from {what}", mistakes=lambda: train_mistakes(*args)[1])


@pytest.mark.exercise("train", weight=0)  # the visible check already checks it
def test_train_on_the_worked_example(submission):
    args = (WORKED_INPUT, WORKED_TARGET, WORKED_WEIGHTS, WORKED_RATE, 20)
    what = describe_call("train", args)
    _, losses = expect_parts(submission.train(*args), ("final_weights", "losses"), what)
    expect_close(losses, reference_train(*args)[1], f"The losses from {what}",
                 mistakes=lambda: train_mistakes(*args)[1],
                 hint="Here losses[0] is 25.4016, the square of the error 5.04 after the first update.")
