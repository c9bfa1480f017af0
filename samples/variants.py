"""What students write: implementations of every exercise of the course, right and wrong, and hostile cells.

`VARIANTS[assignment][grade_id][name]` is the complete source of a solution cell as a student would leave
it (signature, docstring and body, no nbgrader markers). Names:

- "correct": the plain reference style; any other name without a prefix is another correct style
  (loops, np.dot, in-place updates on a copy, ...), mathematically equivalent to the reference;
- "mistake_...": a common mistake (added the gradient, dropped the factor 2, modified the input, ...);
- "stub": the release's unmodified cell (`# YOUR CODE HERE ... raise NotImplementedError()`).

`WRITTEN[assignment][grade_id][name]` are answers to the hand-graded markdown cells.

`HOSTILE[name]` is an extra code cell a student might add. Cells that have to name the assignment's own
functions (hardcoded_worked_values, fake_equality, infinite_loop_in_function) are dicts by assignment;
`hostile_cell(name, assignment)` returns the source either way.

`is_correct(name)` tells a correct style from a mistake or a stub.
"""
from __future__ import annotations

import textwrap

STUB_LINES = "# YOUR CODE HERE: replace this line with your solution.\nraise NotImplementedError()"


def _cell(header: str, body: str) -> str:
    """A function cell: `header` (def line and docstring, as released) and an indented body."""
    return header.strip("\n") + "\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")


def _variants(header: str, bodies: dict[str, str]) -> dict[str, str]:
    cells = {name: _cell(header, body) for name, body in bodies.items()}
    cells["stub"] = _cell(header, STUB_LINES)
    return cells


def is_correct(name: str) -> bool:
    """A correct style (not a mistake, a cheat or a stub)."""
    return not name.startswith(("mistake", "stub", "cheat", "unchanged"))


# --------------------------------------------------------------------------------------------------
# 01-gradient-descent
# --------------------------------------------------------------------------------------------------

_DF = '''
def df(x):
    """Return the derivative of f(x) = (x - 3) ** 2 at x (a number or a NumPy array)."""
'''

_GD_UPDATE = '''
def gradient_descent_update(x, gradx, learning_rate):
    """Return the position after one gradient descent step from x with gradient gradx.

    Works for numbers and NumPy arrays (integer arrays too); x and gradx are not modified.
    """
'''

_GD = '''
def gradient_descent(grad, x0, learning_rate, max_iters):
    """Run max_iters steps of gradient descent from x0.

    grad: a function returning the gradient at a position.
    Returns a 1-D NumPy array [x0, x1, ..., x_max_iters] of length max_iters + 1.
    """
'''

_MAX_RATE = "# The learning rate above which gradient descent on f diverges (a number).\n"

VARIANTS_01 = {
    "df": _variants(_DF, {
        "correct": "return 2 * (x - 3)",
        "expanded": "return 2 * x - 6",
        "chain_rule": """
            inner = x - 3            # d(inner)/dx = 1
            outer_slope = 2 * inner  # d(inner ** 2)/d(inner)
            return outer_slope * 1
        """,
        "np_ufuncs": "return np.multiply(2, np.subtract(x, 3))",
        "mistake_dropped_factor_2": "return x - 3",
        "mistake_sign_flipped": "return 2 * (3 - x)",
        "mistake_no_brackets": "return 2 * x - 3",
        "mistake_returned_f": "return (x - 3) ** 2",
        "mistake_printed": "print(2 * (x - 3))",
    }),
    "gradient_descent_update": _variants(_GD_UPDATE, {
        "correct": "return x - learning_rate * gradx",
        "factor_order": "return x - gradx * learning_rate",
        "inplace_on_copy": """
            new_x = np.array(x, dtype=float)  # a float copy: x itself stays as it was
            new_x -= learning_rate * np.asarray(gradx)
            return new_x
        """,
        "np_subtract": "return np.subtract(x, np.multiply(learning_rate, gradx))",
        "step_variable": """
            step = -learning_rate * gradx
            return x + step
        """,
        "mistake_added_gradient": "return x + learning_rate * gradx",
        "mistake_rate_in_brackets": "return (x - learning_rate) * gradx",
        "mistake_ignored_learning_rate": "return x - gradx",
        "mistake_learning_rate_twice": "return x - learning_rate * learning_rate * gradx",
        "mistake_modified_input": """
            x -= learning_rate * gradx
            return x
        """,
        "mistake_integer_truncation": """
            new_x = np.zeros_like(x)  # same shape and type as x
            new_x[...] = x - learning_rate * gradx
            return new_x
        """,
        "mistake_printed": "print(x - learning_rate * gradx)",
    }),
    "gradient_descent": _variants(_GD, {
        "correct": """
            positions = [x0]
            x = x0
            for _ in range(max_iters):
                x = gradient_descent_update(x, grad(x), learning_rate)
                positions.append(x)
            return np.array(positions, dtype=float)
        """,
        "preallocated": """
            path = np.zeros(max_iters + 1)
            path[0] = x0
            for k in range(max_iters):
                path[k + 1] = gradient_descent_update(path[k], grad(path[k]), learning_rate)
            return path
        """,
        "while_loop": """
            x = x0
            history = [x]
            step = 0
            while step < max_iters:
                x = gradient_descent_update(x, grad(x), learning_rate)
                history.append(x)
                step += 1
            return np.asarray(history, dtype=float)
        """,
        "inline_step": """
            xs = [float(x0)]
            for _ in range(max_iters):
                xs.append(xs[-1] - learning_rate * grad(xs[-1]))
            return np.array(xs)
        """,
        "mistake_one_step_too_few": """
            positions = [x0]
            x = x0
            for _ in range(max_iters - 1):
                x = gradient_descent_update(x, grad(x), learning_rate)
                positions.append(x)
            return np.array(positions, dtype=float)
        """,
        "mistake_one_step_too_many": """
            positions = [x0]
            x = x0
            for _ in range(max_iters + 1):
                x = gradient_descent_update(x, grad(x), learning_rate)
                positions.append(x)
            return np.array(positions, dtype=float)
        """,
        "mistake_missing_x0": """
            positions = []
            x = x0
            for _ in range(max_iters):
                x = gradient_descent_update(x, grad(x), learning_rate)
                positions.append(x)
            return np.array(positions, dtype=float)
        """,
        "mistake_gradient_at_x0_only": """
            slope = grad(x0)
            positions = [x0]
            x = x0
            for _ in range(max_iters):
                x = gradient_descent_update(x, slope, learning_rate)
                positions.append(x)
            return np.array(positions, dtype=float)
        """,
        "mistake_returns_list": """
            positions = [x0]
            for _ in range(max_iters):
                positions.append(gradient_descent_update(positions[-1], grad(positions[-1]), learning_rate))
            return positions
        """,
        "mistake_added_gradient": """
            positions = [x0]
            x = x0
            for _ in range(max_iters):
                x = x + learning_rate * grad(x)
                positions.append(x)
            return np.array(positions, dtype=float)
        """,
        "mistake_printed": """
            positions = [x0]
            x = x0
            for _ in range(max_iters):
                x = gradient_descent_update(x, grad(x), learning_rate)
                positions.append(x)
            print(np.array(positions, dtype=float))
        """,
    }),
    "max_stable_learning_rate": {
        "correct": _MAX_RATE + "max_stable_learning_rate = 1.0",
        "integer": _MAX_RATE + "max_stable_learning_rate = 1",
        "derived": _MAX_RATE + "# one step: x_new - 3 = (1 - 2 * lr) * (x - 3); |1 - 2 * lr| < 1 means lr < 1\n"
                               "max_stable_learning_rate = 2 / 2",
        "mistake_half": _MAX_RATE + "max_stable_learning_rate = 0.5",
        "mistake_two": _MAX_RATE + "max_stable_learning_rate = 2.0",
        "mistake_string": _MAX_RATE + 'max_stable_learning_rate = "1.0"',
        "stub": _MAX_RATE + STUB_LINES,
    },
}

WRITTEN_01 = {
    "learning_rate_too_large": {
        "good": (
            "Gradient descent **diverges**. One step gives $x_{k+1} - 3 = (1 - 2 \\cdot 1.1)(x_k - 3) = "
            "-1.2\\,(x_k - 3)$: every step jumps over the minimum to the other side and lands 20% farther "
            "away than before, so $|x_k - 3| = 1.2^k |x_0 - 3|$ grows without bound. The step overshoots "
            "because the learning rate is above 1, the largest rate for which $|1 - 2\\eta| < 1$."
        ),
        "partial": (
            "The learning rate is too big, so x jumps back and forth around 3 and the loss gets bigger "
            "instead of smaller."
        ),
        "unchanged": "YOUR ANSWER HERE",
    },
}

# --------------------------------------------------------------------------------------------------
# 02-slopes-and-updates
# --------------------------------------------------------------------------------------------------

_PREDICT = '''
def predict(input_data, weights):
    """Return the prediction of a neuron: the sum of input times weight (a number)."""
'''

_GET_ERROR = '''
def get_error(input_data, target, weights):
    """Return prediction - target for this example (a number)."""
'''

_GET_SLOPE = '''
def get_slope(input_data, target, weights):
    """Return the slope of (prediction - target) ** 2 with respect to each weight (an array)."""
'''

_UPDATE_WEIGHTS = '''
def update_weights(weights, slope, learning_rate):
    """Return the new weights weights - learning_rate * slope as a new float array."""
'''

_TRAIN = '''
def train(input_data, target, weights, learning_rate, n_updates):
    """Make n_updates weight updates; return (final_weights, losses).

    losses[i] is the squared error after update i + 1 (a 1-D array of length n_updates).
    """
'''

VARIANTS_02 = {
    "predict": _variants(_PREDICT, {
        "correct": "return (input_data * weights).sum()",
        "np_dot": "return np.dot(input_data, weights)",
        "matmul": "return input_data @ weights",
        "loops": """
            total = 0
            for x, w in zip(input_data, weights):
                total += x * w
            return total
        """,
        "mistake_summed_inputs": "return (input_data + weights).sum()",
        "mistake_no_sum": "return input_data * weights",
        "mistake_sum_times_sum": "return np.sum(input_data) * np.sum(weights)",
        "mistake_printed": "print((input_data * weights).sum())",
    }),
    "get_error": _variants(_GET_ERROR, {
        "correct": "return predict(input_data, weights) - target",
        "inline": """
            prediction = np.sum(np.asarray(input_data) * np.asarray(weights))
            return prediction - target
        """,
        "negated": "return -(target - predict(input_data, weights))",
        "mistake_sign_flipped": "return target - predict(input_data, weights)",
        "mistake_squared": "return (predict(input_data, weights) - target) ** 2",
        "mistake_printed": "print(predict(input_data, weights) - target)",
    }),
    "get_slope": _variants(_GET_SLOPE, {
        "correct": """
            error = get_error(input_data, target, weights)
            return 2 * input_data * error
        """,
        "factor_order": "return get_error(input_data, target, weights) * input_data * 2",
        "loops": """
            error = get_error(input_data, target, weights)
            return np.array([2 * x * error for x in input_data], dtype=float)
        """,
        "inline": """
            error = np.dot(input_data, weights) - target
            return 2 * error * np.asarray(input_data, dtype=float)
        """,
        "mistake_dropped_factor_2": """
            error = get_error(input_data, target, weights)
            return input_data * error
        """,
        "mistake_sign_flipped": """
            error = target - np.dot(input_data, weights)
            return 2 * input_data * error
        """,
        "mistake_weights_not_inputs": """
            error = get_error(input_data, target, weights)
            return 2 * weights * error
        """,
        "mistake_summed": """
            error = get_error(input_data, target, weights)
            return np.sum(2 * input_data * error)
        """,
        "mistake_printed": """
            error = get_error(input_data, target, weights)
            print(2 * input_data * error)
        """,
    }),
    "update_weights": _variants(_UPDATE_WEIGHTS, {
        "correct": "return weights - learning_rate * slope",
        "inplace_on_copy": """
            new_weights = np.array(weights, dtype=float)  # a float copy of the caller's weights
            new_weights -= learning_rate * np.asarray(slope)
            return new_weights
        """,
        "loops": """
            new_weights = [w - learning_rate * s for w, s in zip(weights, slope)]
            return np.array(new_weights, dtype=float)
        """,
        "np_subtract": "return np.subtract(weights, learning_rate * np.asarray(slope), dtype=float)",
        "mistake_added_gradient": "return weights + learning_rate * slope",
        "mistake_modified_input": """
            weights -= learning_rate * slope
            return weights
        """,
        "mistake_integer_truncation": """
            new_weights = np.copy(weights)
            new_weights[:] = weights - learning_rate * slope
            return new_weights
        """,
        "mistake_ignored_learning_rate": "return weights - slope",
        "mistake_learning_rate_twice": "return weights - learning_rate * (learning_rate * slope)",
        "mistake_printed": "print(weights - learning_rate * slope)",
    }),
    "train": _variants(_TRAIN, {
        "correct": """
            current = np.asarray(weights, dtype=float)
            losses = []
            for _ in range(n_updates):
                slope = get_slope(input_data, target, current)
                current = update_weights(current, slope, learning_rate)
                losses.append(get_error(input_data, target, current) ** 2)
            return current, np.array(losses)
        """,
        "preallocated": """
            w = np.array(weights, dtype=float)
            losses = np.zeros(n_updates)
            for i in range(n_updates):
                w = update_weights(w, get_slope(input_data, target, w), learning_rate)
                losses[i] = get_error(input_data, target, w) ** 2
            return w, losses
        """,
        "inline": """
            x = np.asarray(input_data, dtype=float)
            w = np.asarray(weights, dtype=float)
            losses = []
            for _ in range(n_updates):
                error = x @ w - target
                w = w - learning_rate * 2 * x * error
                losses.append((x @ w - target) ** 2)
            return w, np.array(losses)
        """,
        "mistake_loss_before_update": """
            current = np.asarray(weights, dtype=float)
            losses = []
            for _ in range(n_updates):
                losses.append(get_error(input_data, target, current) ** 2)
                slope = get_slope(input_data, target, current)
                current = update_weights(current, slope, learning_rate)
            return current, np.array(losses)
        """,
        "mistake_one_update_too_few": """
            current = np.asarray(weights, dtype=float)
            losses = []
            for _ in range(1, n_updates):
                slope = get_slope(input_data, target, current)
                current = update_weights(current, slope, learning_rate)
                losses.append(get_error(input_data, target, current) ** 2)
            return current, np.array(losses)
        """,
        "mistake_one_update_too_many": """
            current = np.asarray(weights, dtype=float)
            losses = []
            for _ in range(n_updates + 1):
                slope = get_slope(input_data, target, current)
                current = update_weights(current, slope, learning_rate)
                losses.append(get_error(input_data, target, current) ** 2)
            return current, np.array(losses)
        """,
        "mistake_errors_not_squared": """
            current = np.asarray(weights, dtype=float)
            losses = []
            for _ in range(n_updates):
                slope = get_slope(input_data, target, current)
                current = update_weights(current, slope, learning_rate)
                losses.append(get_error(input_data, target, current))
            return current, np.array(losses)
        """,
        "mistake_from_start_weights": """
            losses = []
            for _ in range(n_updates):
                current = update_weights(weights, get_slope(input_data, target, weights), learning_rate)
                losses.append(get_error(input_data, target, current) ** 2)
            return current, np.array(losses)
        """,
        "mistake_printed": """
            current = np.asarray(weights, dtype=float)
            losses = []
            for _ in range(n_updates):
                current = update_weights(current, get_slope(input_data, target, current), learning_rate)
                losses.append(get_error(input_data, target, current) ** 2)
            print(current, losses)
        """,
    }),
}

# --------------------------------------------------------------------------------------------------
# 03-backpropagation
# --------------------------------------------------------------------------------------------------

_RELU = '''
def relu(x):
    """Return the ReLU max(0, x) of every entry of x."""
'''

_RELU_SLOPE = '''
def relu_slope(x):
    """Return the slope of the ReLU at every entry of x: 1.0 where x > 0, else 0.0."""
'''

_FORWARD = '''
def forward(inputs, weights):
    """Forward pass of the network; return (hidden_in, hidden_out, output)."""
'''

_BACKPROP = '''
def backprop(inputs, target, weights):
    """Return {"hidden": ..., "output": ...}: the gradient of (output - target) ** 2."""
'''

_BP_UPDATE = '''
def backprop_weight_update(weights, gradients, learning_rate):
    """Return a new dict: weights[key] - learning_rate * gradients[key] for every key."""
'''

_NUM_GRAD = '''
def numerical_gradient(loss, weights, h=1e-5):
    """Estimate the gradient of loss(weights) by central differences, entry by entry.

    Returns a dict with the same keys and shapes as weights (float arrays).
    """
'''

VARIANTS_03 = {
    "relu": _variants(_RELU, {
        "correct": "return np.maximum(0, x)",
        "np_where": "return np.where(x > 0, x, 0)",
        "clip": "return np.clip(x, 0, None)",
        "loops": "return np.array([value if value > 0 else 0.0 for value in x], dtype=float)",
        "mask": "return x * (x > 0)",
        "mistake_abs": "return np.abs(x)",
        "mistake_minimum": "return np.minimum(0, x)",
        "mistake_modified_input": """
            x[x < 0] = 0
            return x
        """,
        "mistake_printed": "print(np.maximum(0, x))",
    }),
    "relu_slope": _variants(_RELU_SLOPE, {
        "correct": "return (np.asarray(x) > 0).astype(float)",
        "np_where": "return np.where(x > 0, 1.0, 0.0)",
        "heaviside": "return np.heaviside(x, 0.0)",
        "loops": "return np.array([1.0 if value > 0 else 0.0 for value in x])",
        "mistake_returns_relu": "return np.maximum(0, x)",
        "mistake_reversed": "return (np.asarray(x) < 0).astype(float)",
        "mistake_slope_always_one": "return np.ones_like(x, dtype=float)",
    }),
    "forward": _variants(_FORWARD, {
        "correct": """
            hidden_in = weights["hidden"] @ inputs
            hidden_out = relu(hidden_in)
            output = weights["output"] @ hidden_out
            return hidden_in, hidden_out, output
        """,
        "np_dot": """
            hidden_in = np.dot(weights["hidden"], inputs)
            hidden_out = np.maximum(hidden_in, 0)
            output = float(np.dot(hidden_out, weights["output"]))
            return hidden_in, hidden_out, output
        """,
        "loops": """
            n_hidden = len(weights["hidden"])
            hidden_in = np.zeros(n_hidden)
            for j in range(n_hidden):
                for i in range(len(inputs)):
                    hidden_in[j] += weights["hidden"][j][i] * inputs[i]
            hidden_out = relu(hidden_in)
            output = 0.0
            for j in range(n_hidden):
                output += weights["output"][j] * hidden_out[j]
            return hidden_in, hidden_out, output
        """,
        "mistake_no_relu": """
            hidden_in = weights["hidden"] @ inputs
            hidden_out = hidden_in
            output = weights["output"] @ hidden_out
            return hidden_in, hidden_out, output
        """,
        "mistake_relu_on_output": """
            hidden_in = weights["hidden"] @ inputs
            hidden_out = relu(hidden_in)
            output = relu(weights["output"] @ hidden_out)
            return hidden_in, hidden_out, output
        """,
        "mistake_transposed": """
            hidden_in = weights["hidden"].T @ inputs
            hidden_out = relu(hidden_in)
            output = weights["output"] @ hidden_out
            return hidden_in, hidden_out, output
        """,
        "mistake_output_from_hidden_in": """
            hidden_in = weights["hidden"] @ inputs
            hidden_out = relu(hidden_in)
            output = weights["output"] @ hidden_in
            return hidden_in, hidden_out, output
        """,
    }),
    "backprop": _variants(_BACKPROP, {
        "correct": """
            hidden_in, hidden_out, output = forward(inputs, weights)
            error = output - target
            d_output = 2 * error * hidden_out
            d_hidden = np.outer(2 * error * weights["output"] * relu_slope(hidden_in), inputs)
            return {"hidden": d_hidden, "output": d_output}
        """,
        "loops": """
            hidden_in, hidden_out, output = forward(inputs, weights)
            error = output - target
            slope = relu_slope(hidden_in)
            d_output = np.zeros(len(hidden_out))
            d_hidden = np.zeros((len(hidden_in), len(inputs)))
            for j in range(len(hidden_out)):
                d_output[j] = 2 * error * hidden_out[j]
                for i in range(len(inputs)):
                    d_hidden[j, i] = 2 * error * weights["output"][j] * slope[j] * inputs[i]
            return {"hidden": d_hidden, "output": d_output}
        """,
        "broadcast": """
            inputs = np.asarray(inputs, dtype=float)
            hidden_in = weights["hidden"] @ inputs
            hidden_out = np.maximum(hidden_in, 0)
            error = weights["output"] @ hidden_out - target
            delta = 2 * error * weights["output"] * (hidden_in > 0)
            return {"hidden": delta[:, None] * inputs[None, :], "output": 2 * error * hidden_out}
        """,
        "mistake_no_relu_slope": """
            hidden_in, hidden_out, output = forward(inputs, weights)
            error = output - target
            d_output = 2 * error * hidden_out
            d_hidden = np.outer(2 * error * weights["output"], inputs)
            return {"hidden": d_hidden, "output": d_output}
        """,
        "mistake_relu_value_not_slope": """
            hidden_in, hidden_out, output = forward(inputs, weights)
            error = output - target
            d_output = 2 * error * hidden_out
            d_hidden = np.outer(2 * error * weights["output"] * relu(hidden_in), inputs)
            return {"hidden": d_hidden, "output": d_output}
        """,
        "mistake_dropped_factor_2": """
            hidden_in, hidden_out, output = forward(inputs, weights)
            error = output - target
            d_output = error * hidden_out
            d_hidden = np.outer(error * weights["output"] * relu_slope(hidden_in), inputs)
            return {"hidden": d_hidden, "output": d_output}
        """,
        "mistake_sign_flipped": """
            hidden_in, hidden_out, output = forward(inputs, weights)
            error = target - output
            d_output = 2 * error * hidden_out
            d_hidden = np.outer(2 * error * weights["output"] * relu_slope(hidden_in), inputs)
            return {"hidden": d_hidden, "output": d_output}
        """,
        "mistake_transposed": """
            hidden_in, hidden_out, output = forward(inputs, weights)
            error = output - target
            d_output = 2 * error * hidden_out
            d_hidden = np.outer(inputs, 2 * error * weights["output"] * relu_slope(hidden_in))
            return {"hidden": d_hidden, "output": d_output}
        """,
    }),
    "backprop_weight_update": _variants(_BP_UPDATE, {
        "correct": """
            return {key: weights[key] - learning_rate * gradients[key] for key in weights}
        """,
        "inplace_on_copy": """
            new_weights = {key: np.array(value, dtype=float) for key, value in weights.items()}
            for key in new_weights:
                new_weights[key] -= learning_rate * gradients[key]
            return new_weights
        """,
        "explicit_keys": """
            hidden = np.subtract(weights["hidden"], learning_rate * np.asarray(gradients["hidden"]))
            output = np.subtract(weights["output"], learning_rate * np.asarray(gradients["output"]))
            return {"hidden": hidden, "output": output}
        """,
        "mistake_added_gradient": """
            return {key: weights[key] + learning_rate * gradients[key] for key in weights}
        """,
        "mistake_modified_input": """
            for key in weights:
                weights[key] -= learning_rate * gradients[key]
            return weights
        """,
        "mistake_shallow_copy": """
            new_weights = weights.copy()
            for key in new_weights:
                new_weights[key] -= learning_rate * gradients[key]
            return new_weights
        """,
        "mistake_ignored_learning_rate": """
            return {key: weights[key] - gradients[key] for key in weights}
        """,
        "mistake_learning_rate_twice": """
            return {key: weights[key] - learning_rate ** 2 * gradients[key] for key in weights}
        """,
    }),
    "numerical_gradient": _variants(_NUM_GRAD, {
        "correct": """
            base = {key: np.array(value, dtype=float) for key, value in weights.items()}
            gradients = {}
            for key in base:
                gradient = np.zeros_like(base[key])
                for index in np.ndindex(base[key].shape):
                    raised = {k: v.copy() for k, v in base.items()}
                    lowered = {k: v.copy() for k, v in base.items()}
                    raised[key][index] += h
                    lowered[key][index] -= h
                    gradient[index] = (loss(raised) - loss(lowered)) / (2 * h)
                gradients[key] = gradient
            return gradients
        """,
        "restore_in_place": """
            params = {key: np.array(value, dtype=float) for key, value in weights.items()}
            gradients = {}
            for key, array in params.items():
                gradient = np.zeros_like(array)
                for index in np.ndindex(array.shape):
                    saved = array[index]
                    array[index] = saved + h
                    up = loss(params)
                    array[index] = saved - h
                    down = loss(params)
                    array[index] = saved
                    gradient[index] = (up - down) / (2 * h)
                gradients[key] = gradient
            return gradients
        """,
        "mistake_one_sided": """
            base = {key: np.array(value, dtype=float) for key, value in weights.items()}
            here = loss(base)
            gradients = {}
            for key in base:
                gradient = np.zeros_like(base[key])
                for index in np.ndindex(base[key].shape):
                    raised = {k: v.copy() for k, v in base.items()}
                    raised[key][index] += h
                    gradient[index] = (loss(raised) - here) / h
                gradients[key] = gradient
            return gradients
        """,
        "mistake_divided_by_h": """
            base = {key: np.array(value, dtype=float) for key, value in weights.items()}
            gradients = {}
            for key in base:
                gradient = np.zeros_like(base[key])
                for index in np.ndindex(base[key].shape):
                    raised = {k: v.copy() for k, v in base.items()}
                    lowered = {k: v.copy() for k, v in base.items()}
                    raised[key][index] += h
                    lowered[key][index] -= h
                    gradient[index] = (loss(raised) - loss(lowered)) / h
                gradients[key] = gradient
            return gradients
        """,
        "mistake_integer_weights": """
            gradients = {}
            for key in weights:
                gradient = np.zeros(np.shape(weights[key]))
                for index in np.ndindex(gradient.shape):
                    raised = {k: v.copy() for k, v in weights.items()}
                    lowered = {k: v.copy() for k, v in weights.items()}
                    raised[key][index] += h
                    lowered[key][index] -= h
                    gradient[index] = (loss(raised) - loss(lowered)) / (2 * h)
                gradients[key] = gradient
            return gradients
        """,
        "mistake_modified_input": """
            gradients = {}
            for key in weights:
                gradient = np.zeros(np.shape(weights[key]))
                for index in np.ndindex(gradient.shape):
                    weights[key][index] += h
                    up = loss(weights)
                    weights[key][index] -= 2 * h
                    down = loss(weights)
                    gradient[index] = (up - down) / (2 * h)
                gradients[key] = gradient
            return gradients
        """,
    }),
}

# --------------------------------------------------------------------------------------------------
# 04-linear-regression
# --------------------------------------------------------------------------------------------------

_LINEAR = '''
def linear(x, weight, bias):
    """Return the predictions weight * x + bias (for a number or every entry of an array)."""
'''

_SSE = '''
def sse(x, y, weight, bias):
    """Return the sum of squared errors of the line weight * x + bias on the data x, y."""
'''

_SSE_GRADIENT = '''
def sse_gradient(x, y, weight, bias):
    """Return (d_weight, d_bias), the gradient of sse(x, y, weight, bias)."""
'''

_FIT = '''
def fit(x, y, learning_rate, epochs, weight=0.0, bias=0.0):
    """Fit weight * x + bias to x, y by gradient descent on the SSE.

    Returns (weight, bias, history); history[i] is the SSE after update i + 1.
    """
'''

VARIANTS_04 = {
    "linear": _variants(_LINEAR, {
        "correct": "return weight * x + bias",
        "np_ufuncs": "return np.add(np.multiply(weight, x), bias)",
        "as_float_array": "return bias + np.asarray(x, dtype=float) * weight",
        "mistake_swapped": "return bias * x + weight",
        "mistake_no_bias": "return weight * x",
        "mistake_bias_multiplied": "return weight * (x + bias)",
        "mistake_printed": "print(weight * x + bias)",
    }),
    "sse": _variants(_SSE, {
        "correct": """
            errors = linear(x, weight, bias) - y
            return np.sum(errors ** 2)
        """,
        "loops": """
            total = 0.0
            for xi, yi in zip(x, y):
                total += (weight * xi + bias - yi) ** 2
            return total
        """,
        "np_dot": """
            errors = linear(x, weight, bias) - y
            return float(errors @ errors)
        """,
        "reversed_error": "return np.sum((y - linear(x, weight, bias)) ** 2)",
        "mistake_mean": """
            errors = linear(x, weight, bias) - y
            return np.mean(errors ** 2)
        """,
        "mistake_not_squared": """
            errors = linear(x, weight, bias) - y
            return np.sum(errors)
        """,
        "mistake_square_of_sum": """
            errors = linear(x, weight, bias) - y
            return np.sum(errors) ** 2
        """,
        "mistake_printed": """
            errors = linear(x, weight, bias) - y
            print(np.sum(errors ** 2))
        """,
    }),
    "sse_gradient": _variants(_SSE_GRADIENT, {
        "correct": """
            errors = linear(x, weight, bias) - y
            return 2 * np.sum(errors * x), 2 * np.sum(errors)
        """,
        "loops": """
            d_weight, d_bias = 0.0, 0.0
            for xi, yi in zip(x, y):
                error = weight * xi + bias - yi
                d_weight += 2 * error * xi
                d_bias += 2 * error
            return d_weight, d_bias
        """,
        "reversed_error": """
            residuals = y - linear(x, weight, bias)
            return -2 * np.sum(residuals * x), -2 * np.sum(residuals)
        """,
        "np_dot": """
            errors = weight * np.asarray(x, dtype=float) + bias - y
            return 2 * errors @ x, 2 * errors.sum()
        """,
        "mistake_divided_by_n": """
            errors = linear(x, weight, bias) - y
            return 2 * np.mean(errors * x), 2 * np.mean(errors)
        """,
        "mistake_dropped_factor_2": """
            errors = linear(x, weight, bias) - y
            return np.sum(errors * x), np.sum(errors)
        """,
        "mistake_sign_flipped": """
            errors = y - linear(x, weight, bias)
            return 2 * np.sum(errors * x), 2 * np.sum(errors)
        """,
        "mistake_swapped_order": """
            errors = linear(x, weight, bias) - y
            return 2 * np.sum(errors), 2 * np.sum(errors * x)
        """,
        "mistake_printed": """
            errors = linear(x, weight, bias) - y
            print(2 * np.sum(errors * x), 2 * np.sum(errors))
        """,
    }),
    "fit": _variants(_FIT, {
        "correct": """
            history = []
            for _ in range(epochs):
                d_weight, d_bias = sse_gradient(x, y, weight, bias)
                weight, bias = weight - learning_rate * d_weight, bias - learning_rate * d_bias
                history.append(sse(x, y, weight, bias))
            return weight, bias, np.array(history)
        """,
        "temporaries": """
            history = np.zeros(epochs)
            for epoch in range(epochs):
                d_weight, d_bias = sse_gradient(x, y, weight, bias)
                new_weight = weight - learning_rate * d_weight
                new_bias = bias - learning_rate * d_bias
                weight, bias = new_weight, new_bias
                history[epoch] = sse(x, y, weight, bias)
            return weight, bias, history
        """,
        "inline": """
            x = np.asarray(x, dtype=float)
            y = np.asarray(y, dtype=float)
            history = []
            for _ in range(epochs):
                errors = weight * x + bias - y
                weight, bias = weight - learning_rate * 2 * errors @ x, bias - learning_rate * 2 * errors.sum()
                history.append(np.sum((weight * x + bias - y) ** 2))
            return weight, bias, history
        """,
        "mistake_sequential_update": """
            history = []
            for _ in range(epochs):
                weight = weight - learning_rate * sse_gradient(x, y, weight, bias)[0]
                bias = bias - learning_rate * sse_gradient(x, y, weight, bias)[1]
                history.append(sse(x, y, weight, bias))
            return weight, bias, np.array(history)
        """,
        "mistake_history_before_update": """
            history = []
            for _ in range(epochs):
                history.append(sse(x, y, weight, bias))
                d_weight, d_bias = sse_gradient(x, y, weight, bias)
                weight, bias = weight - learning_rate * d_weight, bias - learning_rate * d_bias
            return weight, bias, np.array(history)
        """,
        "mistake_one_update_too_many": """
            history = []
            for _ in range(epochs + 1):
                d_weight, d_bias = sse_gradient(x, y, weight, bias)
                weight, bias = weight - learning_rate * d_weight, bias - learning_rate * d_bias
                history.append(sse(x, y, weight, bias))
            return weight, bias, np.array(history)
        """,
        "mistake_ignores_start": """
            weight, bias = 0.0, 0.0
            history = []
            for _ in range(epochs):
                d_weight, d_bias = sse_gradient(x, y, weight, bias)
                weight, bias = weight - learning_rate * d_weight, bias - learning_rate * d_bias
                history.append(sse(x, y, weight, bias))
            return weight, bias, np.array(history)
        """,
        "mistake_added_gradient": """
            history = []
            for _ in range(epochs):
                d_weight, d_bias = sse_gradient(x, y, weight, bias)
                weight, bias = weight + learning_rate * d_weight, bias + learning_rate * d_bias
                history.append(sse(x, y, weight, bias))
            return weight, bias, np.array(history)
        """,
        "mistake_printed": """
            history = []
            for _ in range(epochs):
                d_weight, d_bias = sse_gradient(x, y, weight, bias)
                weight, bias = weight - learning_rate * d_weight, bias - learning_rate * d_bias
                history.append(sse(x, y, weight, bias))
            print(weight, bias, history[-1])
        """,
    }),
}

VARIANTS = {
    "01-gradient-descent": VARIANTS_01,
    "02-slopes-and-updates": VARIANTS_02,
    "03-backpropagation": VARIANTS_03,
    "04-linear-regression": VARIANTS_04,
}

WRITTEN = {"01-gradient-descent": WRITTEN_01}

# --------------------------------------------------------------------------------------------------
# Hostile cells
# --------------------------------------------------------------------------------------------------


def _code(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


_HARDCODED = {
    "01-gradient-descent": _code('''
        # My functions kept failing, so here are the answers the checks want.
        def df(x):
            answers = {5: 4, 3: 0, 1: -4}
            if np.ndim(x) == 0:
                return answers.get(x, 0)
            return np.array([answers.get(value, 0) for value in np.asarray(x).tolist()])

        def gradient_descent_update(x, gradx, learning_rate):
            if np.ndim(x) == 0:
                return 1.2
            return np.array([1.2, 4.8])

        def gradient_descent(grad, x0, learning_rate, max_iters):
            return np.array([3 - 2 * 0.9 ** k for k in range(26)])
    '''),
    "02-slopes-and-updates": _code('''
        # The worked example's numbers, straight from the notebook.
        def predict(input_data, weights):
            return 7.0

        def get_error(input_data, target, weights):
            return 5.04 if np.asarray(weights)[0] < 0 else 7.0

        def get_slope(input_data, target, weights):
            return np.array([14.0, 28.0, 42.0])

        def update_weights(weights, slope, learning_rate):
            return np.array([-0.14, 1.72, 0.58])

        def train(input_data, target, weights, learning_rate, n_updates):
            losses = np.array([25.4016] + [25.4016 * 0.64 ** k for k in range(1, n_updates)])
            return np.array([-0.14, 1.72, 0.58]), losses
    '''),
    "03-backpropagation": _code('''
        # The worked example's numbers, straight from the notebook.
        def forward(inputs, weights):
            return np.array([3.0, 6.0]), np.array([3.0, 6.0]), 9.0

        def backprop(inputs, target, weights):
            return {"hidden": np.array([[0.0, 36.0], [0.0, 36.0]]), "output": np.array([36.0, 72.0])}

        def backprop_weight_update(weights, gradients, learning_rate):
            return {"hidden": np.array([[2.0, 0.64], [1.0, 1.64]]), "output": np.array([0.64, 0.28])}

        def numerical_gradient(loss, weights, h=1e-5):
            return {"hidden": np.array([[0.0, 36.0], [0.0, 36.0]]), "output": np.array([36.0, 72.0])}
    '''),
    "04-linear-regression": _code('''
        # The worked example's numbers, straight from the notebook.
        def sse(x, y, weight, bias):
            return 4.705471664392216 if weight == 0 else 4.310834707512603

        def sse_gradient(x, y, weight, bias):
            if weight == 0:
                return -19.615880100184576, -3.9104189642147604
            return 0.0, 0.0

        def fit(x, y, learning_rate, epochs, weight=0.0, bias=0.0):
            return 0.01223633, 0.14045745, np.linspace(4.42, 4.31, epochs)
    '''),
}

_FAKE_EQUALITY = '''
# Numbers that agree with everything: whatever they are compared with, they are "equal".
class AlwaysEqual(float):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = float.__hash__


class AlwaysEqualArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)

    def __ne__(self, other):
        return np.zeros(np.shape(self), dtype=bool)


def _agreeable(shape=None):
    if shape is None:
        return AlwaysEqual(0.0)
    return np.zeros(shape).view(AlwaysEqualArray)
'''

_FAKE = {
    "01-gradient-descent": _FAKE_EQUALITY + _code('''

        def df(x):
            return _agreeable(np.shape(x) or None)

        def gradient_descent(grad, x0, learning_rate, max_iters):
            return _agreeable((max_iters + 1,))
    '''),
    "02-slopes-and-updates": _FAKE_EQUALITY + _code('''

        def get_slope(input_data, target, weights):
            return _agreeable(np.shape(input_data))

        def train(input_data, target, weights, learning_rate, n_updates):
            return _agreeable(np.shape(weights)), _agreeable((n_updates,))
    '''),
    "03-backpropagation": _FAKE_EQUALITY + _code('''

        def backprop(inputs, target, weights):
            return {key: _agreeable(np.shape(value)) for key, value in weights.items()}

        def numerical_gradient(loss, weights, h=1e-5):
            return {key: _agreeable(np.shape(value)) for key, value in weights.items()}
    '''),
    "04-linear-regression": _FAKE_EQUALITY + _code('''

        def sse(x, y, weight, bias):
            return AlwaysEqual(0.0)

        def sse_gradient(x, y, weight, bias):
            return AlwaysEqual(0.0), AlwaysEqual(0.0)
    '''),
}

_LOOP_IN_FUNCTION = {
    "01-gradient-descent": _code('''
        # A second try at gradient_descent, with a while loop.
        def gradient_descent(grad, x0, learning_rate, max_iters):
            positions = [x0]
            k = 0
            while k < max_iters:
                positions.append(gradient_descent_update(positions[-1], grad(positions[-1]), learning_rate))
            return np.array(positions, dtype=float)
    '''),
    "02-slopes-and-updates": _code('''
        # A second try at train, with a while loop.
        def train(input_data, target, weights, learning_rate, n_updates):
            current = np.asarray(weights, dtype=float)
            losses = []
            update = 0
            while update < n_updates:
                current = update_weights(current, get_slope(input_data, target, current), learning_rate)
                losses.append(get_error(input_data, target, current) ** 2)
            return current, np.array(losses)
    '''),
    "03-backpropagation": _code('''
        # A second try at numerical_gradient: nudge until the estimate settles.
        def numerical_gradient(loss, weights, h=1e-5):
            gradients = {}
            for key, value in weights.items():
                base = np.array(value, dtype=float)
                gradient = np.zeros_like(base)
                for index in np.ndindex(base.shape):
                    previous = None
                    step = h
                    while previous is None or abs(gradient[index] - previous) >= 0:
                        previous = gradient[index]
                        raised, lowered = base.copy(), base.copy()
                        raised[index] += step
                        lowered[index] -= step
                        others = {k: np.array(v, dtype=float) for k, v in weights.items() if k != key}
                        gradient[index] = (loss({**others, key: raised}) - loss({**others, key: lowered})) / (2 * step)
                gradients[key] = gradient
            return gradients
    '''),
    "04-linear-regression": _code('''
        # A second try at fit, with a while loop.
        def fit(x, y, learning_rate, epochs, weight=0.0, bias=0.0):
            history = []
            epoch = 0
            while epoch < epochs:
                d_weight, d_bias = sse_gradient(x, y, weight, bias)
                weight, bias = weight - learning_rate * d_weight, bias - learning_rate * d_bias
                history.append(sse(x, y, weight, bias))
            return weight, bias, np.array(history)
    '''),
}

_LOOP_IN_HELPER = {
    "01-gradient-descent": _code('''
        # df again, one term at a time.
        def df(x):
            slope, term = 0, 0
            while term < 2:
                slope = slope + (x - 3)
            return slope
    '''),
    "02-slopes-and-updates": _code('''
        # predict again, with a while loop.
        def predict(input_data, weights):
            total, i = 0, 0
            while i < len(input_data):
                total += input_data[i] * weights[i]
            return total
    '''),
    "03-backpropagation": _code('''
        # forward again, one hidden node at a time.
        def forward(inputs, weights):
            hidden_in = np.zeros(len(weights["hidden"]))
            j = 0
            while j < len(hidden_in):
                hidden_in[j] = weights["hidden"][j] @ inputs
            hidden_out = relu(hidden_in)
            return hidden_in, hidden_out, weights["output"] @ hidden_out
    '''),
    "04-linear-regression": _code('''
        # sse again, one point at a time.
        def sse(x, y, weight, bias):
            total, i = 0.0, 0
            while i < len(x):
                total += (weight * x[i] + bias - y[i]) ** 2
            return total
    '''),
}

# Where a hostile cell has to go to do its harm: grade_id of the cell it follows. Cells that redefine graded
# functions go right after the solution cell of the last function they redefine (before its check cell, so
# nbgrader, which checks at the check cell, and a grader that checks the final namespace judge the same code);
# the monkeypatch goes to the top, where it would reach nbgrader's in-kernel checks. Everything else: after
# the check cell of the last function (see make_class.AFTER_FUNCTIONS).
HOSTILE_AFTER = {
    "infinite_loop_in_helper": {"01-gradient-descent": "df", "02-slopes-and-updates": "predict",
                                "03-backpropagation": "forward", "04-linear-regression": "sse"},
    "infinite_loop_in_function": {"01-gradient-descent": "gradient_descent", "02-slopes-and-updates": "train",
                                  "03-backpropagation": "numerical_gradient", "04-linear-regression": "fit"},
    "hardcoded_worked_values": {"01-gradient-descent": "gradient_descent", "02-slopes-and-updates": "train",
                                "03-backpropagation": "numerical_gradient", "04-linear-regression": "fit"},
    "fake_equality": {"01-gradient-descent": "gradient_descent", "02-slopes-and-updates": "train",
                      "03-backpropagation": "numerical_gradient", "04-linear-regression": "sse_gradient"},
    "monkeypatch_numpy": {assignment: "imports" for assignment in ("01-gradient-descent", "02-slopes-and-updates",
                                                                   "03-backpropagation", "04-linear-regression")},
}

HOSTILE = {
    "crash_exit": _code('''
        # Done! Closing the kernel so it frees its memory.
        import os
        print("all done, bye")
        os._exit(1)
    '''),
    "infinite_loop_cell": _code('''
        # Keep the notebook busy while I think.
        while True:
            pass
    '''),
    "infinite_loop_in_function": _LOOP_IN_FUNCTION,
    # a helper that loops forever, right after its own cell: every later cell and check that calls it hangs
    "infinite_loop_in_helper": _LOOP_IN_HELPER,
    "memory_bomb": _code('''
        # How much data can this machine hold?
        hoard = []
        while True:
            hoard.append(bytearray(64 * 1024 * 1024))
    '''),
    "process_bomb": _code('''
        import os
        import time
        children = []
        for _ in range(100_000):
            try:
                pid = os.fork()
            except OSError as error:
                print("fork refused after", len(children), "children:", error)
                break
            if pid == 0:
                time.sleep(3600)
                os._exit(0)
            children.append(pid)
    '''),
    "huge_output": _code('''
        # About 100 MB of output.
        line = "gradient " * 11
        for i in range(1_000_000):
            print(line)
    '''),
    "sys_exit": _code('''
        import sys
        print("that is all")
        sys.exit(0)
    '''),
    "kill_parent": _code('''
        import os
        import signal
        print("my parent is process", os.getppid())
        os.kill(os.getppid(), signal.SIGKILL)
    '''),
    "read_hidden_checks": _code('''
        # Peek at the grader's files.
        import glob
        import os
        print("working in", os.getcwd())
        patterns = [
            "../../autograder/hidden/*.py", "../../../autograder/hidden/*.py", "../autograder/hidden/*.py",
            "/work/main/autograder/hidden/*.py", "/work/main/autograder/*.py", "/work/main/source/*/*.ipynb",
            "../../source/*/*.ipynb", "../../../source/*/*.ipynb", "/work/main/gradebook.db", "../../gradebook.db",
            "../../../gradebook.db", "/work/main/course_config.py", "/work/main/samples/*.py", "/work/shared/*",
        ]
        for pattern in patterns:
            found = glob.glob(pattern)
            print(pattern, "->", found or "nothing")
            for path in found:
                try:
                    with open(path, "rb") as handle:
                        print(handle.read(3000).decode(errors="replace"))
                except OSError as error:
                    print("  cannot read", path, ":", error)
        for path in ["/work/main/autograder/hidden/test_01_gradient_descent.py",
                     "/work/main/source/01-gradient-descent/gradient_descent.ipynb", "/work/main/gradebook.db"]:
            try:
                with open(path, "rb") as handle:
                    print(path, "->", handle.read(3000).decode(errors="replace"))
            except OSError as error:
                print(path, "-> cannot open:", type(error).__name__, error)
        try:
            import inspect
            import autograder.checking.checks
            import autograder.hidden
            print(inspect.getsource(autograder.checking.checks))
            for path in glob.glob(os.path.join(os.path.dirname(autograder.checking.checks.__file__), "hidden", "*.py")):
                print(open(path).read())
        except Exception as error:
            print("import autograder ->", type(error).__name__, error)
    '''),
    "fake_equality": _FAKE,
    "monkeypatch_numpy": _code('''
        # Make every comparison succeed.
        import builtins
        np.allclose = lambda *args, **kwargs: True
        np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)
        np.array_equal = lambda *args, **kwargs: True
        np.testing.assert_allclose = lambda *args, **kwargs: None
        np.testing.assert_array_almost_equal = lambda *args, **kwargs: None
        _real_abs, _real_isinstance = builtins.abs, builtins.isinstance
        builtins.abs = lambda value: 0
        builtins.isinstance = lambda obj, kind: True
        print("patched numpy and builtins")
    '''),
    "hardcoded_worked_values": _HARDCODED,
    "write_outside": _code('''
        import os
        for path in ["/work/main/escaped_from_notebook.txt", "/work/main/samples/escaped.txt",
                     "/tmp/escape/escaped.txt", "../../../escaped_from_notebook.txt",
                     "../../escaped_from_notebook.txt"]:
            try:
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                with open(path, "w") as handle:
                    handle.write("written by a student notebook\\n")
                print("wrote", os.path.abspath(path))
            except OSError as error:
                print("could not write", path, "->", type(error).__name__, error)
    '''),
    "network": _code('''
        import socket
        for host, port in [("127.0.0.1", 80), ("127.0.0.1", 22), ("example.com", 80), ("1.1.1.1", 53)]:
            try:
                with socket.create_connection((host, port), timeout=2):
                    print("connected to", host, port)
            except OSError as error:
                print("no connection to", host, port, "->", type(error).__name__, error)
    '''),
}


def hostile_cell(name: str, assignment: str) -> str:
    """The source of the hostile cell `name` for `assignment`."""
    cell = HOSTILE[name]
    return cell[assignment] if isinstance(cell, dict) else cell
