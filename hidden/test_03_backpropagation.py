"""Hidden checks for 03-backpropagation: ReLU, forward pass, gradients, weight update and gradient check.

A network is `weights = {"hidden": (n_hidden, n_inputs) array, "output": (n_hidden,) array}` with a
ReLU hidden layer, a linear output and the loss (output - target) ** 2. New networks have 3 inputs
and 4 hidden nodes, so a transposed matrix shows, and hidden nodes of both signs, never exactly 0.
"""
from functools import partial

import numpy as np
import pytest

from autograder.checking.expect import (Mistake, expect_close, expect_parts, expect_unchanged, kind_of, rounded,
    separates)
from autograder.engine.submission import describe_call

KEYS = ("hidden", "output")
WORKED_INPUTS, WORKED_TARGET = np.array([0, 3]), 3
WORKED_WEIGHTS = {"hidden": np.array([[2, 1], [1, 2]]), "output": np.array([1, 1])}


def reference_relu(x):
    return np.maximum(np.asarray(x, dtype=float), 0)


def reference_relu_slope(x):
    return (np.asarray(x, dtype=float) > 0).astype(float)


def reference_forward(inputs, weights):
    hidden_in = np.asarray(weights["hidden"], dtype=float) @ np.asarray(inputs, dtype=float)
    hidden_out = reference_relu(hidden_in)
    return hidden_in, hidden_out, float(np.asarray(weights["output"], dtype=float) @ hidden_out)


def reference_backprop(inputs, target, weights):
    hidden_in, hidden_out, output = reference_forward(inputs, weights)
    error = output - target
    hidden = np.outer(2 * error * np.asarray(weights["output"], dtype=float) * reference_relu_slope(hidden_in),
                      np.asarray(inputs, dtype=float))
    return {"hidden": hidden + 0.0, "output": 2 * error * hidden_out + 0.0}  # + 0.0 shows -0.0 as 0


def reference_weight_update(weights, gradients, learning_rate):
    return {key: np.asarray(weights[key], dtype=float) - learning_rate * np.asarray(gradients[key], dtype=float)
            for key in KEYS}


# Exercise -> its reference: a caller of a wrong helper is re-checked with it (checked by `autograder release`).
REFERENCES = {"relu": reference_relu, "relu_slope": reference_relu_slope, "forward": reference_forward,
              "backprop": reference_backprop, "backprop_weight_update": reference_weight_update}


def nudged(weights, key=None, index=None, step=0.0, integers=False):
    """A float copy of `weights`, with the single weight weights[key][index] moved by `step` if a key is given.

    integers=True moves it as an integer array would: the result is truncated towards 0, so 2 + h stays 2.
    """
    copy = {name: np.array(values, dtype=float) for name, values in weights.items()}
    if key is not None:
        copy[key][index] = np.trunc(copy[key][index] + step) if integers else copy[key][index] + step
    return copy


def reference_numerical_gradient(loss, weights, h=1e-5, difference="central", integers=False):
    """Finite differences of `loss`, one weight at a time; `difference` and `integers` give the usual wrong ones."""
    quotients = {
        "central": lambda up, here, down: (up - down) / (2 * h),
        "forward": lambda up, here, down: (up - here) / h,
        "backward": lambda up, here, down: (here - down) / h,
        "over h": lambda up, here, down: (up - down) / h,
    }
    here = loss(nudged(weights))
    gradient = {}
    for key in KEYS:
        slopes = np.zeros(np.shape(weights[key]))
        for index in np.ndindex(slopes.shape):
            up, down = loss(nudged(weights, key, index, h, integers)), loss(nudged(weights, key, index, -h, integers))
            slopes[index] = quotients[difference](up, here, down)
        gradient[key] = slopes
    return gradient


def network_loss(inputs, target, weights):
    return (reference_forward(inputs, weights)[2] - target) ** 2


def expect_weights_dict(result, what, like):
    """A result shaped like the weights (a dict with "hidden" and "output"), or a failure saying why not.

    The shapes are compared later by expect_close, which names both shapes.
    """
    shapes = " and ".join(f"'{key}' (shape {np.shape(like[key])})" for key in KEYS)
    if result is None:
        raise AssertionError(f"{what} returned None, but a dict with the keys {shapes} was expected. "
                             "Did you forget the `return` statement? Printing a result does not hand it back "
                             "to the caller.")
    if not isinstance(result, dict):
        raise AssertionError(f"{what} returned {kind_of(result)}, but a dict with the keys {shapes} was "
                             "expected, like the weights dict.")
    for key in KEYS:
        if key not in result:
            raise AssertionError(f"{what} returned {kind_of(result)}: the key '{key}' is missing. It should have "
                                 f"the same keys as the weights: {shapes}, one entry for every weight.")
    return result


def relu_mistakes(x):
    x = np.asarray(x, dtype=float)
    return [
        Mistake("returned the ReLU slope (0 or 1) instead of the ReLU value", reference_relu_slope(x),
                "relu keeps positive values as they are and replaces negative ones by 0."),
        Mistake("kept the negative values and zeroed the positive ones", np.minimum(x, 0),
                "relu keeps the positive values."),
        Mistake("took the absolute value", np.abs(x), "Negative values become 0, not positive."),
    ]


def relu_slope_mistakes(x):
    x = np.asarray(x, dtype=float)
    return [
        Mistake("returned relu(x) instead of its slope", reference_relu(x),
                "The slope of ReLU is 1 where x > 0 and 0 where x < 0, whatever the size of x."),
        Mistake("reversed the slope", 1 - reference_relu_slope(x),
                "ReLU is flat (slope 0) for negative x and rises (slope 1) for positive x."),
        Mistake("returned x itself", x, "The slope is 1 where x > 0 and 0 where x < 0."),
        Mistake("returned 1 everywhere", np.ones_like(x), "Where x < 0 ReLU is flat, so its slope there is 0."),
    ]


def forward_mistakes(inputs, weights):
    hidden_in, hidden_out, output = reference_forward(inputs, weights)
    output_weights = np.asarray(weights["output"], dtype=float)
    return {
        "hidden_in": [
            Mistake("applied ReLU to hidden_in already", hidden_out,
                    "hidden_in is the weighted sum of the inputs before the activation; ReLU gives hidden_out."),
        ],
        "hidden_out": [
            Mistake("left out the ReLU (hidden_out equals hidden_in)", hidden_in,
                    "hidden_out is the ReLU of hidden_in: negative values become 0."),
            Mistake("applied the ReLU slope instead of ReLU", reference_relu_slope(hidden_in),
                    "hidden_out is relu(hidden_in), not its slope."),
        ],
        "output": [
            Mistake("computed the output from hidden_in instead of hidden_out", float(output_weights @ hidden_in),
                    "The output node sees the hidden nodes after their ReLU."),
            Mistake("added up hidden_out without the output weights", float(np.sum(hidden_out)),
                    "Each hidden value is multiplied by its output weight before they are added."),
        ] + ([Mistake("applied ReLU to the output", 0.0, "The output node is linear: no ReLU there.")]
             if output < 0 else []),  # only a negative output shows this one
    }


def backprop_mistakes(inputs, target, weights):
    hidden_in, hidden_out, output = reference_forward(inputs, weights)
    error = output - target
    x, output_weights = np.asarray(inputs, dtype=float), np.asarray(weights["output"], dtype=float)
    right = reference_backprop(inputs, target, weights)
    slopes = reference_relu_slope(hidden_in)
    wrong_layer = []  # a slope taken at another layer than hidden_in shows only where its shape fits
    if output < 0:  # for a positive output the slope there is 1, the same as leaving the slope out
        wrong_layer.append(Mistake("took the ReLU slope at the output instead of at hidden_in",
                                   np.zeros_like(right["hidden"]), "Every entry came out 0, as relu_slope(output) "
                                   "gives for a negative output. Each hidden node's ReLU slope is "
                                   "relu_slope(hidden_in): the output node is linear and has no ReLU."))
    if x.shape == hidden_in.shape:
        wrong_layer.append(Mistake("took the ReLU slope at the inputs instead of at hidden_in",
                                   np.outer(2 * error * output_weights * reference_relu_slope(x), x),
                                   "Each hidden node's ReLU slope is relu_slope(hidden_in), at that node's own input."))
    return {
        "output": [
            Mistake("dropped the factor 2", right["output"] / 2,
                    "The slope of error ** 2 with respect to the error is 2 * error."),
            Mistake("flipped the sign of the error (target - output)", -right["output"],
                    "Use the error as output minus target."),
            Mistake("used hidden_in instead of hidden_out", 2 * error * hidden_in,
                    "The output weights multiply hidden_out, the values after the ReLU."),
        ],
        "hidden": [
            Mistake("left out the ReLU slope", np.outer(2 * error * output_weights, x),
                    "On the way back through a hidden node, multiply by relu_slope(hidden_in): 0 for a node "
                    "whose input was negative."),
            Mistake("multiplied by relu(hidden_in) instead of the ReLU slope",
                    np.outer(2 * error * output_weights * hidden_out, x),
                    "The chain rule needs the slope of ReLU at hidden_in (0 or 1), not its value."),
            Mistake("dropped the factor 2", right["hidden"] / 2,
                    "The slope of error ** 2 with respect to the error is 2 * error."),
            Mistake("flipped the sign of the error (target - output)", -right["hidden"],
                    "Use the error as output minus target."),
            Mistake("transposed the hidden gradient", right["hidden"].T,
                    "Give it the shape of weights['hidden']: one row per hidden node, one column per input."),
            Mistake("left out the output weights on the way back", np.outer(2 * error * slopes, x),
                    "A hidden node's effect on the output goes through its output weight, so the chain rule "
                    "multiplies by weights['output'] too."),
        ] + wrong_layer,
    }


def update_mistakes(weights, gradients, learning_rate):
    mistakes = {}
    for key in KEYS:
        w, g = np.asarray(weights[key], dtype=float), np.asarray(gradients[key], dtype=float)
        mistakes[key] = [
            Mistake("added the gradient instead of subtracting it", w + learning_rate * g,
                    "To lower the loss, step against the gradient."),
            Mistake("ignored the learning rate", w - g, "Scale the gradient by the learning rate before the step."),
            Mistake("applied the learning rate twice", w - learning_rate ** 2 * g,
                    "Multiply by the learning rate once."),
            Mistake("kept the result as integers", np.trunc(w - learning_rate * g),
                    "With integer weights the update must still give floats: compute new arrays rather than "
                    "writing floats into integer ones."),
        ]
    return mistakes


def numerical_gradient_mistakes(loss, weights, key):
    """The usual wrong numerical gradients of `loss`, their part for weights[key] (each calls loss twice a weight)."""
    def wrong(**how):
        return reference_numerical_gradient(loss, weights, **how)[key]

    mistakes = [
        Mistake("used a one-sided difference", wrong(difference="forward"),
                "Central differences nudge each weight both ways, by +h and by -h, which is far more accurate."),
        Mistake("used a one-sided difference", wrong(difference="backward"),
                "Central differences nudge each weight both ways, by +h and by -h, which is far more accurate."),
        Mistake("divided by h instead of 2 * h", wrong(difference="over h"),
                "From weight - h to weight + h is a distance of 2 * h."),
    ]
    if any(np.asarray(weights[name]).dtype.kind in "iu" for name in KEYS):
        mistakes.append(Mistake("nudged the weights inside an integer array, which cannot hold weight + h",
                                wrong(integers=True),
                                "Work on a float copy of the weights, so that adding h really changes them."))
    return mistakes


def signed_values(rng, shape, low, high):
    """Numbers of size low..high with random signs, never 0, rounded to 2 decimals."""
    return rounded(rng.choice([-1, 1], shape) * rng.uniform(low, high, shape))


def mixed_signs(rng, length, integers=False):
    """A new array with negative and positive entries (never 0) on which every ReLU mistake shows."""
    while True:
        if integers:
            x = rng.choice([-1, 1], length) * rng.integers(1, 10, length)
        else:
            x = signed_values(rng, length, 0.01, 5)
        if (np.any(x < 0) and np.any(x > 0) and separates(reference_relu(x), relu_mistakes(x))
                and separates(reference_relu_slope(x), relu_slope_mistakes(x))):
            return x


def new_problem(rng, integers=False, negative_output=False):
    """inputs, target and weights of a 3-input, 4-hidden network on which every forward and backprop
    mistake shows. Its hidden nodes have both signs and none is near 0, so the ReLU matters and its slope
    is defined; the target is missed by 1 to 3, so the error's sign and size show in every gradient.
    """
    while True:
        if integers:
            inputs, hidden = rng.integers(-3, 4, 3), rng.integers(-3, 4, (4, 3))
            output = rng.choice([-1, 1], 4) * rng.integers(1, 4, 4)
        else:
            inputs, hidden = rounded(rng.uniform(-2, 2, 3)), rounded(rng.uniform(-1.5, 1.5, (4, 3)))
            output = signed_values(rng, 4, 0.2, 1.5)
        weights = {"hidden": hidden, "output": output}
        parts = reference_forward(inputs, weights)
        hidden_in, _, prediction = parts
        sign = int(rng.choice([-1, 1]))
        target = int(round(prediction)) + sign * int(rng.integers(1, 4)) if integers else \
            round(prediction + sign * float(rng.uniform(1, 3)), 2)
        if not (np.all(np.abs(hidden_in) > 0.1) and np.any(hidden_in < 0) and np.any(hidden_in > 0)):
            continue
        if negative_output and prediction > -0.1:
            continue
        mistakes = forward_mistakes(inputs, weights)
        gradients = reference_backprop(inputs, target, weights)
        wrong_gradients = backprop_mistakes(inputs, target, weights)
        if (all(separates(part, mistakes[name]) for part, name in zip(parts, ("hidden_in", "hidden_out", "output")))
                and all(separates(gradients[key], wrong_gradients[key]) for key in KEYS)):
            return inputs, target, weights


@pytest.mark.exercise("relu")
def test_relu_zeroes_negative_values_on_new_arrays(submission, rng):
    for x in (mixed_signs(rng, 3), mixed_signs(rng, 6), mixed_signs(rng, 5, integers=True)):
        expect_close(submission.relu(x), reference_relu(x), describe_call("relu", (x,)), mistakes=lambda: relu_mistakes(x))


@pytest.mark.exercise("relu")
def test_relu_leaves_its_argument_unchanged(submission, rng):
    x = mixed_signs(rng, 5)
    call = submission.relu.call(x)
    expect_unchanged(call, (x,), ("x",), "relu")
    expect_close(call.result, reference_relu(x), describe_call("relu", (x,)), mistakes=lambda: relu_mistakes(x))


@pytest.mark.exercise("relu", weight=0)  # the visible check already checks it
def test_relu_on_the_worked_example(submission):
    for x in (np.array([3, 6]), np.array([-3, 6])):
        expect_close(submission.relu(x), reference_relu(x), describe_call("relu", (x,)), mistakes=lambda: relu_mistakes(x))


@pytest.mark.exercise("relu_slope")
def test_relu_slope_is_one_for_positive_and_zero_for_negative_values(submission, rng):
    for x in (mixed_signs(rng, 3), mixed_signs(rng, 6), mixed_signs(rng, 5, integers=True)):
        expect_close(submission.relu_slope(x), reference_relu_slope(x), describe_call("relu_slope", (x,)),
                     mistakes=lambda: relu_slope_mistakes(x))


@pytest.mark.exercise("relu_slope")
def test_relu_slope_is_zero_at_exactly_zero(submission, rng):
    # The check cell in the notebook asks for 0 at exactly 0; the grade asks the same, on new arrays.
    for x in (mixed_signs(rng, 5), mixed_signs(rng, 4, integers=True)):
        x[rng.choice(len(x), 2, replace=False)] = 0
        expect_close(submission.relu_slope(x), reference_relu_slope(x), describe_call("relu_slope", (x,)),
                     mistakes=lambda: [Mistake("returned 1 at exactly 0", (np.asarray(x) >= 0).astype(float),
                                               "ReLU is flat to the left of 0, and its slope at exactly 0 is taken "
                                               "as 0: use x > 0, not x >= 0.")] + relu_slope_mistakes(x))


@pytest.mark.exercise("relu_slope", weight=0)  # the visible check already checks it
def test_relu_slope_on_the_worked_example(submission):
    for x in (np.array([3, 6]), np.array([-3, 6])):
        expect_close(submission.relu_slope(x), reference_relu_slope(x), describe_call("relu_slope", (x,)),
                     mistakes=lambda: relu_slope_mistakes(x))


def check_forward_part(submission, inputs, weights, part, description=""):
    names = ("hidden_in", "hidden_out", "output")
    what = describe_call("forward", (inputs, weights)) + description
    got = expect_parts(submission.forward(inputs, weights), names, what)[names.index(part)]
    expect_close(got, reference_forward(inputs, weights)[names.index(part)], f"The {part} from {what}",
                 mistakes=lambda: forward_mistakes(inputs, weights)[part])


@pytest.mark.exercise("forward")
def test_forward_hidden_in_is_the_weighted_sum_of_the_inputs(submission, rng):
    inputs, _, weights = new_problem(rng)
    check_forward_part(submission, inputs, weights, "hidden_in")


@pytest.mark.exercise("forward")
def test_forward_hidden_out_is_relu_of_hidden_in(submission, rng):
    inputs, _, weights = new_problem(rng)
    check_forward_part(submission, inputs, weights, "hidden_out")


@pytest.mark.exercise("forward")
def test_forward_output_is_linear_in_hidden_out(submission, rng):
    inputs, _, weights = new_problem(rng, negative_output=True)  # shows a ReLU wrongly applied to the output
    check_forward_part(submission, inputs, weights, "output")


@pytest.mark.exercise("forward")
def test_forward_works_with_integer_arrays(submission, rng):
    inputs, _, weights = new_problem(rng, integers=True)
    for part in ("hidden_in", "hidden_out", "output"):
        check_forward_part(submission, inputs, weights, part, " with integer arrays")


@pytest.mark.exercise("forward", weight=0)  # the visible check already checks it
def test_forward_on_the_worked_example(submission):
    for part in ("hidden_in", "hidden_out", "output"):
        check_forward_part(submission, WORKED_INPUTS, WORKED_WEIGHTS, part)


def check_backprop_part(submission, inputs, target, weights, key, description=""):
    what = describe_call("backprop", (inputs, target, weights)) + description
    gradients = expect_weights_dict(submission.backprop(inputs, target, weights), what, weights)
    expect_close(gradients[key], reference_backprop(inputs, target, weights)[key],
                 f"The '{key}' gradient from {what}", mistakes=lambda: backprop_mistakes(inputs, target, weights)[key])


@pytest.mark.exercise("backprop", weight=3)  # the two gradients are the exercise; the checks after confirm
def test_backprop_output_gradient_on_a_new_network(submission, rng):
    check_backprop_part(submission, *new_problem(rng), "output")


@pytest.mark.exercise("backprop", weight=3)
def test_backprop_hidden_gradient_on_a_new_network(submission, rng):
    check_backprop_part(submission, *new_problem(rng), "hidden")


@pytest.mark.exercise("backprop")
def test_backprop_agrees_with_a_numerical_gradient_check(submission, rng):
    inputs, target, weights = new_problem(rng)
    what = describe_call("backprop", (inputs, target, weights))
    gradients = expect_weights_dict(submission.backprop(inputs, target, weights), what, weights)
    numerical = reference_numerical_gradient(lambda w: network_loss(inputs, target, w), weights)
    for key in KEYS:
        expect_close(gradients[key], numerical[key], f"The '{key}' gradient from {what}",
                     mistakes=lambda: backprop_mistakes(inputs, target, weights)[key], rtol=1e-5, atol=1e-6,
                     hint="The expected values come from nudging each weight by a tiny amount and measuring how "
                          "the loss changes: your gradient does not match how the loss really changes.")


@pytest.mark.exercise("backprop")
def test_backprop_works_with_integer_arrays(submission, rng):
    inputs, target, weights = new_problem(rng, integers=True)
    for key in KEYS:
        check_backprop_part(submission, inputs, target, weights, key, " with integer arrays")


@pytest.mark.exercise("backprop", weight=0)  # the visible check already checks it
def test_backprop_on_the_worked_example(submission):
    # error 6: output gradient [36, 72]; the hidden gradient's first column is 0 because inputs[0] is 0
    for key in KEYS:
        check_backprop_part(submission, WORKED_INPUTS, WORKED_TARGET, WORKED_WEIGHTS, key)


def check_weight_update(submission, weights, gradients, learning_rate, description=""):
    what = describe_call("backprop_weight_update", (weights, gradients, learning_rate)) + description
    call = submission.backprop_weight_update.call(weights, gradients, learning_rate)
    expect_unchanged(call, (weights, gradients), ("weights", "gradients"), "backprop_weight_update")
    new_weights = expect_weights_dict(call.result, what, weights)
    expected = reference_weight_update(weights, gradients, learning_rate)
    mistakes = update_mistakes(weights, gradients, learning_rate)
    for key in KEYS:
        expect_close(new_weights[key], expected[key], f"The new '{key}' weights from {what}", mistakes=mistakes[key])


@pytest.mark.exercise("backprop_weight_update")
def test_backprop_weight_update_steps_against_the_gradients(submission, rng):
    _, _, weights = new_problem(rng)
    gradients = {key: signed_values(rng, np.shape(weights[key]), 0.5, 5) for key in KEYS}
    check_weight_update(submission, weights, gradients, 0.05)


@pytest.mark.exercise("backprop_weight_update")
def test_backprop_weight_update_works_with_integer_arrays(submission, rng):
    # Gradients of size 1 to 9 times 0.1 are never whole numbers, so truncated results cannot pass.
    _, _, weights = new_problem(rng, integers=True)
    gradients = {key: rng.choice([-1, 1], np.shape(weights[key])) * rng.integers(1, 10, np.shape(weights[key]))
                 for key in KEYS}
    check_weight_update(submission, weights, gradients, 0.1, " with integer arrays")


@pytest.mark.exercise("backprop_weight_update", weight=0)  # the visible check already checks it
def test_backprop_weight_update_on_the_worked_example(submission):
    gradients = {"hidden": np.array([[0, 36], [0, 36]]), "output": np.array([36, 72])}
    check_weight_update(submission, WORKED_WEIGHTS, gradients, 0.01)


def cubic_network(rng):
    """Float weights and a loss with cubic terms, for which one-sided differences are clearly off."""
    _, _, weights = new_problem(rng)
    # Each weight sits 0.05 to 0.3 from its centre: the loss curves strongly there while its slope stays
    # small, so a one-sided difference misses the slope by far more than the tolerance.
    centres = {key: weights[key] - signed_values(rng, np.shape(weights[key]), 0.05, 0.3) for key in KEYS}
    coupling = round(float(rng.uniform(0.05, 0.2)), 2)

    def cubic_loss(weights):  # called some 30 times by each numerical_gradient: .sum() skips np.sum's overhead
        hidden = np.asarray(weights["hidden"], dtype=float)
        output = np.asarray(weights["output"], dtype=float)
        return float(20 * ((hidden - centres["hidden"]) ** 3).sum() + 20 * ((output - centres["output"]) ** 3).sum()
                     + coupling * hidden.sum() * output.sum())

    hidden, output = weights["hidden"], weights["output"]
    exact = {"hidden": 60 * (hidden - centres["hidden"]) ** 2 + coupling * np.sum(output),
             "output": 60 * (output - centres["output"]) ** 2 + coupling * np.sum(hidden)}
    return cubic_loss, weights, exact


@pytest.mark.exercise("numerical_gradient")
def test_numerical_gradient_uses_central_differences(submission, rng):
    cubic_loss, weights, exact = cubic_network(rng)
    what = describe_call("numerical_gradient", (cubic_loss, weights)) + (
        " (cubic_loss adds up cubes of the weights' distances from fixed centres)")
    gradient = expect_weights_dict(submission.numerical_gradient(cubic_loss, weights), what, weights)
    for key in KEYS:
        expect_close(gradient[key], exact[key], f"The '{key}' part from {what}",
                     mistakes=partial(numerical_gradient_mistakes, cubic_loss, weights, key), rtol=1e-5, atol=1e-6)


@pytest.mark.exercise("numerical_gradient")
def test_numerical_gradient_leaves_the_weights_unchanged(submission, rng):
    inputs, target, weights = new_problem(rng)

    def squared_error(weights):
        return float(network_loss(inputs, target, weights))

    call = submission.numerical_gradient.call(squared_error, weights)
    # Nudging by +h and -h may leave a rounding difference of about 1e-16, which is harmless.
    expect_unchanged(call, (squared_error, weights), ("loss", "weights"), "numerical_gradient", atol=1e-12,
                     advice="It looks like you nudged the caller's arrays and did not put every weight back. Nudge "
                            "a copy of the weights (or restore each weight to its saved value), so the caller's "
                            "weights stay as they were.")
    # and gives the gradient: leaving the weights alone earns nothing by itself
    what = describe_call("numerical_gradient", (squared_error, weights)) + " (squared_error is the network's loss)"
    gradient = expect_weights_dict(call.result, what, weights)
    expected = reference_backprop(inputs, target, weights)
    for key in KEYS:
        expect_close(gradient[key], expected[key], f"The '{key}' part from {what}",
                     mistakes=partial(numerical_gradient_mistakes, squared_error, weights, key), rtol=1e-5, atol=1e-6)


@pytest.mark.exercise("numerical_gradient")
def test_numerical_gradient_works_on_integer_weights(submission, rng):
    inputs, target, weights = new_problem(rng, integers=True)

    def squared_error(weights):
        return float(network_loss(inputs, target, weights))

    what = describe_call("numerical_gradient", (squared_error, weights)) + (
        f" with integer weights (squared_error is the network's loss on the inputs {describe_call('', (inputs,))[1:-1]}"
        f" with target {target})")
    gradient = expect_weights_dict(submission.numerical_gradient(squared_error, weights), what, weights)
    expected = reference_backprop(inputs, target, weights)
    for key in KEYS:
        expect_close(gradient[key], expected[key], f"The '{key}' part from {what}",
                     mistakes=partial(numerical_gradient_mistakes, squared_error, weights, key), rtol=1e-5, atol=1e-6)


@pytest.mark.exercise("numerical_gradient", weight=0)  # the visible check already checks it
def test_numerical_gradient_on_the_worked_example(submission):
    def worked_network_loss(weights):
        hidden_out = np.maximum(np.asarray(weights["hidden"], dtype=float) @ [0.0, 3.0], 0.0)
        return float((np.asarray(weights["output"], dtype=float) @ hidden_out - 3.0) ** 2)

    what = describe_call("numerical_gradient", (worked_network_loss, WORKED_WEIGHTS)) + (
        " (worked_network_loss is the squared error of the worked example's network, inputs [0, 3], target 3)")
    gradient = expect_weights_dict(submission.numerical_gradient(worked_network_loss, WORKED_WEIGHTS), what,
                                   WORKED_WEIGHTS)
    expected = reference_backprop(WORKED_INPUTS, WORKED_TARGET, WORKED_WEIGHTS)
    for key in KEYS:
        expect_close(gradient[key], expected[key], f"The '{key}' part from {what}",
                     mistakes=partial(numerical_gradient_mistakes, worked_network_loss, WORKED_WEIGHTS, key),
                     rtol=1e-5, atol=1e-6)
