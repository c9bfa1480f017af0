"""The labelled set: realistic submissions and the verdict each exercise deserves.

A case is one student's notebook for one assignment: the release notebook with every solution cell
filled in, by default with the reference style ("correct" in samples/variants.py), otherwise with the
variant named in `cells` ("stub" leaves the cell as released) or the student's own source (`Code`),
plus any cells the student added. `failing` maps every exercise that falls short to a phrase its feedback
must contain (the mistake it names); it earns 0 points unless `earns` gives the partial credit its checks'
weights give. Every exercise not listed must earn its full points and show no complaint, except, when it
calls a wrong helper, the note `charged_to` expects: a mistake is charged once, to the helper.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from make_class import A1, A2, A3, A4, hostile_cell

NOT_WRITTEN = "is not written yet"
NO_RETURN = "Printing a result does not hand it back to the caller"


class Code(str):
    """A solution cell's source as the student wrote it (instead of a variant's name)."""

    def __new__(cls, text: str):
        return super().__new__(cls, textwrap.dedent(text).strip("\n"))


@dataclass(frozen=True)
class Case:
    student: str                      # the submission's folder; it also seeds the checks' inputs
    assignment: str
    profile: str                      # what the student did, in words
    cells: dict                       # solution grade_id -> variant name or Code; the rest are "correct"
    failing: dict = field(default_factory=dict)   # exercise -> phrase its feedback must contain
    extra_cells: tuple = ()           # (after_grade_id, source) cells the student added
    earns: dict = field(default_factory=dict)       # failing exercise -> the partial credit it earns (else 0)
    charged_to: dict = field(default_factory=dict)  # exercise -> the wrong helper(s) it was re-checked without


def stubs(*exercises: str) -> dict:
    return {exercise: "stub" for exercise in exercises}


CASES = [
    # ---------------------------------------------------------------- 01-gradient-descent
    Case("a1_reference", A1, "correct, reference style", {}),
    Case("a1_styles_while", A1, "correct: expanded derivative, step variable, while loop, derived rate",
         {"df": "expanded", "gradient_descent_update": "step_variable", "gradient_descent": "while_loop",
          "max_stable_learning_rate": "derived"}),
    Case("a1_styles_prealloc", A1, "correct: NumPy ufuncs, float copy updated in place, preallocated path, 1",
         {"df": "np_ufuncs", "gradient_descent_update": "inplace_on_copy", "gradient_descent": "preallocated",
          "max_stable_learning_rate": "integer"}),
    Case("a1_styles_own", A1, "correct, own style: np.polyval, np.add, a list grown until long enough", {
        "df": Code('''
            def df(x):
                """Return the derivative of f(x) = (x - 3) ** 2 at x (a number or a NumPy array)."""
                return np.polyval([2, -6], x)
        '''),
        "gradient_descent_update": Code('''
            def gradient_descent_update(x, gradx, learning_rate):
                """Return the position after one gradient descent step from x with gradient gradx."""
                return np.add(x, -learning_rate * np.asarray(gradx, dtype=float))
        '''),
        "gradient_descent": Code('''
            def gradient_descent(grad, x0, learning_rate, max_iters):
                """Run max_iters steps of gradient descent from x0."""
                positions = [float(x0)]
                while len(positions) <= max_iters:
                    positions.append(gradient_descent_update(positions[-1], grad(positions[-1]), learning_rate))
                return np.array(positions)
        '''),
    }),
    Case("a1_added_gradient", A1, "the update adds the gradient; gradient_descent uses it (and is right)",
         {"gradient_descent_update": "mistake_added_gradient"},
         {"gradient_descent_update": "added the gradient instead of subtracting it"},
         charged_to={"gradient_descent": ("gradient_descent_update",)}),
    Case("a1_df_sign_and_rate_two", A1, "df is 2 * (3 - x); the stable rate given as 2.0",
         {"df": "mistake_sign_flipped", "max_stable_learning_rate": "mistake_two"},
         {"df": "flipped the sign", "max_stable_learning_rate": "gave a rate that already diverges"}),
    Case("a1_df_factor_and_rate_half", A1, "df drops the factor 2; the stable rate given as 0.5",
         {"df": "mistake_dropped_factor_2", "max_stable_learning_rate": "mistake_half"},
         {"df": "dropped the factor 2", "max_stable_learning_rate": "jumps to the minimum in one step"}),
    Case("a1_learning_rate_ignored", A1, "the update ignores the learning rate; gradient_descent uses it",
         {"gradient_descent_update": "mistake_ignored_learning_rate"},
         {"gradient_descent_update": "ignored the learning rate"},
         charged_to={"gradient_descent": ("gradient_descent_update",)}),
    Case("a1_learning_rate_twice", A1, "the update multiplies by the learning rate twice",
         {"gradient_descent_update": "mistake_learning_rate_twice"},
         {"gradient_descent_update": "applied the learning rate twice"},
         charged_to={"gradient_descent": ("gradient_descent_update",)}),
    Case("a1_modified_input", A1, "the update changes the caller's x with -= (gradient_descent still right)",
         {"gradient_descent_update": "mistake_modified_input"},
         {"gradient_descent_update": "modified the caller's array in place"},
         earns={"gradient_descent_update": 0.6667}),  # 1 of 3 checks: right on numbers, but arrays are changed
    Case("a1_integer_truncation", A1, "the update writes floats into an integer array like x",
         {"gradient_descent_update": "mistake_integer_truncation"},
         {"gradient_descent_update": "kept the result as integers"},
         earns={"gradient_descent_update": 1.3333},  # 2 of 3 checks: right on floats, not on integer arrays
         charged_to={"gradient_descent": ("gradient_descent_update",)}),
    Case("a1_one_step_too_few", A1, "gradient_descent loops range(max_iters - 1)",
         {"gradient_descent": "mistake_one_step_too_few"}, {"gradient_descent": "made one step too few"}),
    Case("a1_one_step_too_many", A1, "gradient_descent loops range(max_iters + 1)",
         {"gradient_descent": "mistake_one_step_too_many"}, {"gradient_descent": "made one step too many"}),
    Case("a1_missing_x0", A1, "gradient_descent leaves out the starting point",
         {"gradient_descent": "mistake_missing_x0"}, {"gradient_descent": "left out the starting point x0"},
         earns={"gradient_descent": 1.0}),  # 1 of 3 checks: its last position is right
    Case("a1_gradient_once", A1, "gradient_descent evaluates grad once, at x0",
         {"gradient_descent": "mistake_gradient_at_x0_only"},
         {"gradient_descent": "called grad once at x0 and reused that slope"}),
    Case("a1_returns_list", A1, "gradient_descent returns a list",
         {"gradient_descent": "mistake_returns_list"}, {"gradient_descent": "but a 1-D NumPy array was expected"},
         earns={"gradient_descent": 2.0}),  # 2 of 3 checks: the right positions, in a list
    Case("a1_nan_in_path", A1, "gradient_descent fills a NaN array but never sets its first entry", {
        "gradient_descent": Code('''
            def gradient_descent(grad, x0, learning_rate, max_iters):
                """Run max_iters steps of gradient descent from x0."""
                path = np.full(max_iters + 1, np.nan)
                x = x0
                for k in range(max_iters):
                    x = gradient_descent_update(x, grad(x), learning_rate)
                    path[k + 1] = x
                return path
        '''),
    }, {"gradient_descent": "contains nan or infinity"}, earns={"gradient_descent": 1.0}),  # its last position is right
    Case("a1_printed", A1, "df and the update print their results instead of returning them",
         {"df": "mistake_printed", "gradient_descent_update": "mistake_printed"},
         {"df": NO_RETURN, "gradient_descent_update": NO_RETURN},
         charged_to={"gradient_descent": ("gradient_descent_update",)}),
    Case("a1_df_as_list", A1, "df wraps its result in a list", {
        "df": Code('''
            def df(x):
                """Return the derivative of f(x) = (x - 3) ** 2 at x (a number or a NumPy array)."""
                return [2 * (x - 3)]
        '''),
    }, {"df": "but a single number was expected"}),
    Case("a1_rate_as_string", A1, "the stable rate written as a string", {"max_stable_learning_rate": "mistake_string"},
         {"max_stable_learning_rate": "(the str '1.0')"}),
    Case("a1_partial", A1, "only df written; the rest left as released",
         stubs("gradient_descent_update", "gradient_descent", "max_stable_learning_rate") | {"df": "correct"},
         {"gradient_descent_update": NOT_WRITTEN, "gradient_descent": NOT_WRITTEN,
          "max_stable_learning_rate": NOT_WRITTEN}),
    Case("a1_name_error", A1, "gradient_descent calls a misspelt gradient_decent_update", {
        "gradient_descent": Code('''
            def gradient_descent(grad, x0, learning_rate, max_iters):
                """Run max_iters steps of gradient descent from x0."""
                positions = [x0]
                for _ in range(max_iters):
                    positions.append(gradient_decent_update(positions[-1], grad(positions[-1]), learning_rate))
                return np.array(positions, dtype=float)
        '''),
    }, {"gradient_descent": "NameError: name 'gradient_decent_update' is not defined"}),
    Case("a1_syntax_error", A1, "df's cell has an unclosed bracket", {
        "df": Code('''
            def df(x):
                """Return the derivative of f(x) = (x - 3) ** 2 at x (a number or a NumPy array)."""
                return 2 * (x - 3
        '''),
    }, {"df": "SyntaxError"}),
    Case("a1_hardcoded", A1, "df and the update return the worked example's answers, whatever they are given", {
        "df": Code('''
            def df(x):
                """Return the derivative of f(x) = (x - 3) ** 2 at x (a number or a NumPy array)."""
                answers = {5: 4, 3: 0, 1: -4}  # the values the check cell wants
                return answers.get(x, 0)
        '''),
        "gradient_descent_update": Code('''
            def gradient_descent_update(x, gradx, learning_rate):
                """Return the position after one gradient descent step from x with gradient gradx."""
                return 1.2
        '''),
    }, {"df": "was expected", "gradient_descent_update": "was expected"},
        charged_to={"gradient_descent": ("gradient_descent_update",)}),
    # a mistake is charged once: a wrong helper under a caller, the caller with or without its own mistake
    Case("a1_own_mistake_under_wrong_helper", A1, "the update adds the gradient and gradient_descent makes one step "
         "too few: both lose their points, the caller for its own mistake",
         {"gradient_descent_update": "mistake_added_gradient", "gradient_descent": "mistake_one_step_too_few"},
         {"gradient_descent_update": "added the gradient instead of subtracting it",
          "gradient_descent": "made one step too few"}, charged_to={"gradient_descent": ("gradient_descent_update",)}),
    Case("a1_helper_crashes", A1, "the update raises for every input; gradient_descent is right", {
        "gradient_descent_update": Code('''
            def gradient_descent_update(x, gradx, learning_rate):
                """Return the position after one gradient descent step from x with gradient gradx."""
                raise ValueError("not sure how yet")
        '''),
    }, {"gradient_descent_update": "raised ValueError: not sure how yet"},
        charged_to={"gradient_descent": ("gradient_descent_update",)}),
    Case("a1_helper_renamed", A1, "the update is written as gd_update, which gradient_descent calls", {
        "gradient_descent_update": Code('''
            def gd_update(x, gradx, learning_rate):
                """Return the position after one gradient descent step from x with gradient gradx."""
                return x - learning_rate * gradx
        '''),
        "gradient_descent": Code('''
            def gradient_descent(grad, x0, learning_rate, max_iters):
                """Run max_iters steps of gradient descent from x0."""
                positions = [x0]
                for _ in range(max_iters):
                    positions.append(gd_update(positions[-1], grad(positions[-1]), learning_rate))
                return np.array(positions, dtype=float)
        '''),
    }, {"gradient_descent_update": "`gradient_descent_update` could not be checked"}),
    Case("a1_helper_deleted", A1, "the update's cell is emptied; gradient_descent still calls it",
         {"gradient_descent_update": Code("# I will do this one later")},
         {"gradient_descent_update": "`gradient_descent_update` could not be checked"},
         charged_to={"gradient_descent": ("gradient_descent_update",)}),

    # ---------------------------------------------------------------- 02-slopes-and-updates
    Case("a2_reference", A2, "correct, reference style", {}),
    Case("a2_styles_dot", A2, "correct: np.dot, inline error, factor order, float copy, preallocated losses",
         {"predict": "np_dot", "get_error": "inline", "get_slope": "factor_order",
          "update_weights": "inplace_on_copy", "train": "preallocated"}),
    Case("a2_styles_loops", A2, "correct: loops, negated error, list comprehension, np.subtract, inline train",
         {"predict": "loops", "get_error": "negated", "get_slope": "loops", "update_weights": "np_subtract",
          "train": "inline"}),
    Case("a2_update_returns_list", A2, "correct numbers: update_weights returns a plain list", {
        "update_weights": Code('''
            def update_weights(weights, slope, learning_rate):
                """Return the new weights weights - learning_rate * slope as a new float array."""
                return [float(w - learning_rate * s) for w, s in zip(weights, slope)]
        '''),
    }),
    Case("a2_summed_inputs", A2, "predict adds inputs and weights (the other functions compute their own)",
         {"predict": "mistake_summed_inputs", "get_error": "inline", "get_slope": "inline", "train": "inline"},
         {"predict": "added the inputs and weights instead of multiplying them"}),
    Case("a2_no_sum", A2, "predict forgets to add up the products",
         {"predict": "mistake_no_sum", "get_error": "inline", "get_slope": "inline", "train": "inline"},
         {"predict": "but a single number was expected"}),
    Case("a2_error_sign", A2, "get_error is target - prediction",
         {"get_error": "mistake_sign_flipped", "get_slope": "inline", "train": "inline"},
         {"get_error": "flipped the sign of the error"}),
    Case("a2_error_squared", A2, "get_error squares the error; get_slope uses it",
         {"get_error": "mistake_squared", "train": "inline"},
         {"get_error": "returned the squared error"}, charged_to={"get_slope": ("get_error",)}),
    Case("a2_slope_factor", A2, "get_slope drops the factor 2",
         {"get_slope": "mistake_dropped_factor_2", "train": "inline"},
         {"get_slope": "dropped the factor 2"}),
    Case("a2_slope_sign", A2, "get_slope uses target - prediction",
         {"get_slope": "mistake_sign_flipped", "train": "inline"},
         {"get_slope": "flipped the sign of the error"}),
    Case("a2_slope_summed", A2, "get_slope adds the slopes up", {"get_slope": "mistake_summed", "train": "inline"},
         {"get_slope": "added the slopes up into one number"}),
    Case("a2_slope_column", A2, "get_slope returns a column (shape error)", {
        "get_slope": Code('''
            def get_slope(input_data, target, weights):
                """Return the slope of (prediction - target) ** 2 with respect to each weight (an array)."""
                error = get_error(input_data, target, weights)
                return 2 * error * np.asarray(input_data, dtype=float).reshape(-1, 1)
        '''),
        "train": "inline",
    }, {"get_slope": "was expected"}),
    Case("a2_update_added", A2, "update_weights adds the slope; train uses it",
         {"update_weights": "mistake_added_gradient"},
         {"update_weights": "added the slope instead of subtracting it"}, charged_to={"train": ("update_weights",)}),
    Case("a2_update_in_place", A2, "update_weights changes the caller's weights (train still right)",
         {"update_weights": "mistake_modified_input"}, {"update_weights": "modified the caller's array in place"}),
    Case("a2_update_truncation", A2, "update_weights keeps integer weights integer (train passes floats)",
         {"update_weights": "mistake_integer_truncation"}, {"update_weights": "kept the result as integers"},
         earns={"update_weights": 1.0}),  # 1 of 2 checks: right on floats, not on integer arrays
    Case("a2_update_rate_ignored", A2, "update_weights ignores the learning rate; train uses it",
         {"update_weights": "mistake_ignored_learning_rate"},
         {"update_weights": "ignored the learning rate"}, charged_to={"train": ("update_weights",)}),
    Case("a2_update_rate_twice", A2, "update_weights multiplies by the learning rate twice; train uses it",
         {"update_weights": "mistake_learning_rate_twice"},
         {"update_weights": "applied the learning rate twice"}, charged_to={"train": ("update_weights",)}),
    Case("a2_loss_before_update", A2, "train records each loss before its update",
         {"train": "mistake_loss_before_update"},
         {"train": "recorded each loss before its update instead of after it"},
         earns={"train": 1.0}),  # 1 of 3 checks: the final weights are right
    Case("a2_one_update_too_few", A2, "train makes n_updates - 1 updates", {"train": "mistake_one_update_too_few"},
         {"train": "made one update too few"}),
    Case("a2_one_update_too_many", A2, "train makes n_updates + 1 updates", {"train": "mistake_one_update_too_many"},
         {"train": "made one update too many"}),
    Case("a2_errors_not_squared", A2, "train records the errors, not their squares",
         {"train": "mistake_errors_not_squared"},
         {"train": "recorded the errors instead of the squared errors"},
         earns={"train": 1.0}),  # 1 of 3 checks: the final weights are right
    Case("a2_from_start_weights", A2, "train updates the starting weights every time",
         {"train": "mistake_from_start_weights"},
         {"train": "computed every update from the starting weights"}),
    Case("a2_printed", A2, "predict and train print instead of returning",
         {"predict": "mistake_printed", "get_error": "inline", "get_slope": "inline", "train": "mistake_printed"},
         {"predict": NO_RETURN, "train": NO_RETURN}),
    Case("a2_partial", A2, "predict and get_error written; the rest left as released",
         stubs("get_slope", "update_weights", "train"),
         {"get_slope": NOT_WRITTEN, "update_weights": NOT_WRITTEN, "train": NOT_WRITTEN}),
    Case("a2_hardcoded", A2, "get_slope and update_weights return the worked example's numbers", {
        "get_slope": Code('''
            def get_slope(input_data, target, weights):
                """Return the slope of (prediction - target) ** 2 with respect to each weight (an array)."""
                return np.array([14.0, 28.0, 42.0])
        '''),
        "update_weights": Code('''
            def update_weights(weights, slope, learning_rate):
                """Return the new weights weights - learning_rate * slope as a new float array."""
                return np.array([-0.14, 1.72, 0.58])
        '''),
    }, {"get_slope": "was expected", "update_weights": "was expected"},
        charged_to={"train": ("get_slope", "update_weights")}),

    # ---------------------------------------------------------------- 03-backpropagation
    Case("a3_reference", A3, "correct, reference style", {}),
    Case("a3_styles_loops", A3, "correct: loops everywhere, weights nudged and restored on a float copy",
         {"relu": "loops", "relu_slope": "loops", "forward": "loops", "backprop": "loops",
          "backprop_weight_update": "inplace_on_copy", "numerical_gradient": "restore_in_place"}),
    Case("a3_styles_vectorised", A3, "correct: np.where, heaviside, np.dot, broadcasting, explicit keys",
         {"relu": "np_where", "relu_slope": "heaviside", "forward": "np_dot", "backprop": "broadcast",
          "backprop_weight_update": "explicit_keys"}),
    Case("a3_relu_abs", A3, "relu takes the absolute value (forward and backprop compute their own)",
         {"relu": "mistake_abs", "forward": "np_dot", "backprop": "broadcast"}, {"relu": "took the absolute value"}),
    Case("a3_relu_in_place", A3, "relu zeroes the caller's array; forward's hidden_in is then changed too",
         {"relu": "mistake_modified_input"},
         {"relu": "modified the caller's array in place"},
         earns={"relu": 0.5}, charged_to={"forward": ("relu",)}),  # relu: 1 of 2 checks, right values
    Case("a3_slope_is_relu", A3, "relu_slope returns relu(x); backprop uses it",
         {"relu_slope": "mistake_returns_relu"},
         {"relu_slope": "returned relu(x) instead of its slope"}, charged_to={"backprop": ("relu_slope",)}),
    Case("a3_slope_always_one", A3, "relu_slope is 1 everywhere; backprop uses it",
         {"relu_slope": "mistake_slope_always_one"},
         {"relu_slope": "returned 1 everywhere"}, charged_to={"backprop": ("relu_slope",)}),
    Case("a3_forward_relu_on_output", A3, "forward applies ReLU to the output too",
         {"forward": "mistake_relu_on_output", "backprop": "broadcast"}, {"forward": "applied ReLU to the output"},
         earns={"forward": 1.5}),  # 3 of 4 checks: hidden_in and hidden_out are right
    Case("a3_forward_transposed", A3, "forward multiplies by the transposed matrix (a shape error on 3 inputs)",
         {"forward": "mistake_transposed", "backprop": "broadcast"}, {"forward": "raised ValueError"}),
    Case("a3_backprop_no_slope", A3, "backprop leaves out the ReLU slope", {"backprop": "mistake_no_relu_slope"},
         {"backprop": "left out the ReLU slope"}, earns={"backprop": 1.5}),  # 3 of 8: the output gradient is right
    Case("a3_backprop_factor", A3, "backprop drops the factor 2", {"backprop": "mistake_dropped_factor_2"},
         {"backprop": "dropped the factor 2"}),
    Case("a3_backprop_sign", A3, "backprop uses target - output", {"backprop": "mistake_sign_flipped"},
         {"backprop": "flipped the sign of the error"}),
    Case("a3_backprop_transposed", A3, "backprop's hidden gradient is transposed", {"backprop": "mistake_transposed"},
         {"backprop": "transposed the hidden gradient"}, earns={"backprop": 1.5}),  # the output gradient is right
    Case("a3_backprop_no_output_weights", A3, "backprop forgets the output weights on the way back", {
        "backprop": Code('''
            def backprop(inputs, target, weights):
                """Return {"hidden": ..., "output": ...}: the gradient of (output - target) ** 2."""
                hidden_in, hidden_out, output = forward(inputs, weights)
                error = output - target
                d_output = 2 * error * hidden_out
                d_hidden = np.outer(2 * error * relu_slope(hidden_in), inputs)
                return {"hidden": d_hidden, "output": d_output}
        '''),
    }, {"backprop": "left out the output weights on the way back"}, earns={"backprop": 1.5}),  # output gradient right
    Case("a3_backprop_slope_at_output", A3, "backprop takes the ReLU slope of the output, not of hidden_in", {
        "backprop": Code('''
            def backprop(inputs, target, weights):
                """Return {"hidden": ..., "output": ...}: the gradient of (output - target) ** 2."""
                hidden_in, hidden_out, output = forward(inputs, weights)
                error = output - target
                d_hidden = np.outer(2 * error * weights["output"] * relu_slope(output), inputs)
                return {"hidden": d_hidden, "output": 2 * error * hidden_out}
        '''),
    }, {"backprop": "took the ReLU slope at the output instead of at hidden_in"},
        earns={"backprop": 1.5}),  # 3 of 8: the output gradient is right
    Case("a3_backprop_returns_list", A3, "backprop returns a list of the two gradients", {
        "backprop": Code('''
            def backprop(inputs, target, weights):
                """Return {"hidden": ..., "output": ...}: the gradient of (output - target) ** 2."""
                hidden_in, hidden_out, output = forward(inputs, weights)
                error = output - target
                return [np.outer(2 * error * weights["output"] * relu_slope(hidden_in), inputs),
                        2 * error * hidden_out]
        '''),
    }, {"backprop": "but a dict with the keys"}),
    Case("a3_update_added", A3, "the weight update adds the gradient",
         {"backprop_weight_update": "mistake_added_gradient"},
         {"backprop_weight_update": "added the gradient instead of subtracting it"}),
    Case("a3_update_shallow_copy", A3, "the weight update changes the caller's arrays through dict.copy()",
         {"backprop_weight_update": "mistake_shallow_copy"}, {"backprop_weight_update": "in place"}),
    Case("a3_update_rate_twice", A3, "the weight update multiplies by the learning rate twice",
         {"backprop_weight_update": "mistake_learning_rate_twice"},
         {"backprop_weight_update": "applied the learning rate twice"}),
    Case("a3_numerical_one_sided", A3, "numerical_gradient uses forward differences",
         {"numerical_gradient": "mistake_one_sided"}, {"numerical_gradient": "used a one-sided difference"},
         earns={"numerical_gradient": 1.3333}),  # 2 of 3 checks: close enough on the network's quadratic loss
    Case("a3_numerical_over_h", A3, "numerical_gradient divides by h", {"numerical_gradient": "mistake_divided_by_h"},
         {"numerical_gradient": "divided by h instead of 2 * h"}),
    Case("a3_numerical_integer", A3, "numerical_gradient nudges copies of integer arrays",
         {"numerical_gradient": "mistake_integer_weights"},
         {"numerical_gradient": "nudged the weights inside an integer array"},
         earns={"numerical_gradient": 1.3333}),  # 2 of 3 checks: right on float weights
    Case("a3_numerical_in_place", A3, "numerical_gradient nudges the caller's arrays and never restores them",
         {"numerical_gradient": "mistake_modified_input"}, {"numerical_gradient": "did not put every weight back"}),
    Case("a3_partial", A3, "relu, relu_slope and forward written; the rest left as released",
         stubs("backprop", "backprop_weight_update", "numerical_gradient"),
         {"backprop": NOT_WRITTEN, "backprop_weight_update": NOT_WRITTEN, "numerical_gradient": NOT_WRITTEN}),
    Case("a3_half_right_backprop", A3, "backprop's output gradient is right, its hidden gradient drops the factor 2", {
        "backprop": Code('''
            def backprop(inputs, target, weights):
                """Return {"hidden": ..., "output": ...}: the gradient of (output - target) ** 2."""
                hidden_in, hidden_out, output = forward(inputs, weights)
                error = output - target
                d_hidden = np.outer(error * weights["output"] * relu_slope(hidden_in), inputs)
                return {"hidden": d_hidden, "output": 2 * error * hidden_out}
        '''),
    }, {"backprop": "dropped the factor 2"}, earns={"backprop": 1.5}),

    # ---------------------------------------------------------------- 04-linear-regression
    Case("a4_reference", A4, "correct, reference style", {}),
    Case("a4_styles_loops", A4, "correct: ufuncs, loops, temporaries",
         {"linear": "np_ufuncs", "sse": "loops", "sse_gradient": "loops", "fit": "temporaries"}),
    Case("a4_styles_reversed", A4, "correct: y - prediction as the error, np.dot, fit without helpers",
         {"linear": "as_float_array", "sse": "reversed_error", "sse_gradient": "reversed_error", "fit": "inline"}),
    Case("a4_styles_own", A4, "correct, own style: a norm, an array of two slopes, a while loop", {
        "sse": Code('''
            def sse(x, y, weight, bias):
                """Return the sum of squared errors of the line weight * x + bias on the data x, y."""
                return np.linalg.norm(linear(x, weight, bias) - y) ** 2
        '''),
        "sse_gradient": Code('''
            def sse_gradient(x, y, weight, bias):
                """Return (d_weight, d_bias), the gradient of sse(x, y, weight, bias)."""
                errors = linear(x, weight, bias) - y
                return 2 * np.array([np.dot(errors, x), np.sum(errors)])
        '''),
        "fit": Code('''
            def fit(x, y, learning_rate, epochs, weight=0.0, bias=0.0):
                """Fit weight * x + bias to x, y by gradient descent on the SSE."""
                history = []
                while len(history) < epochs:
                    step = learning_rate * np.asarray(sse_gradient(x, y, weight, bias))
                    weight, bias = weight - step[0], bias - step[1]
                    history.append(sse(x, y, weight, bias))
                return weight, bias, np.array(history)
        '''),
    }),
    Case("a4_linear_swapped", A4, "linear swaps weight and bias; sse uses it",
         {"linear": "mistake_swapped", "sse_gradient": "np_dot", "fit": "inline"},
         {"linear": "swapped the weight and the bias"}, charged_to={"sse": ("linear",)}),
    Case("a4_linear_swapped_helpers_right", A4, "linear is bias * x + weight; sse, sse_gradient and fit are right "
         "and call it (the issue's 0 of 8)", {
             "linear": Code('''
                 def linear(x, weight, bias):
                     """Return the predictions weight * x + bias (for a number or every entry of an array)."""
                     return bias * np.asarray(x, dtype=float) + weight
             '''),
         }, {"linear": "swapped the weight and the bias"},
         charged_to={"sse": ("linear",), "sse_gradient": ("linear",), "fit": ("linear",)}),
    Case("a4_linear_no_bias", A4, "linear leaves out the bias (the others compute their own)",
         {"linear": "mistake_no_bias", "sse": "loops", "sse_gradient": "np_dot", "fit": "inline"},
         {"linear": "left out the bias"}),
    Case("a4_sse_mean", A4, "sse takes the mean; fit records it", {"sse": "mistake_mean"},
         {"sse": "took the mean instead of the sum"}, charged_to={"fit": ("sse",)}),
    Case("a4_sse_not_squared", A4, "sse adds up the plain errors", {"sse": "mistake_not_squared", "fit": "inline"},
         {"sse": "did not square the errors"}),
    Case("a4_sse_square_of_sum", A4, "sse squares the sum", {"sse": "mistake_square_of_sum", "fit": "inline"},
         {"sse": "squared the sum of the errors instead of adding up their squares"}),
    Case("a4_gradient_over_n", A4, "sse_gradient divides by n (the MSE's gradient with the SSE); fit uses it",
         {"sse_gradient": "mistake_divided_by_n"},
         {"sse_gradient": "divided the gradient by the number of points"}, charged_to={"fit": ("sse_gradient",)}),
    Case("a4_gradient_factor", A4, "sse_gradient drops the factor 2",
         {"sse_gradient": "mistake_dropped_factor_2", "fit": "inline"},
         {"sse_gradient": "dropped the factor 2"}),
    Case("a4_gradient_sign", A4, "sse_gradient uses y - prediction without the minus",
         {"sse_gradient": "mistake_sign_flipped", "fit": "inline"}, {"sse_gradient": "flipped the sign"}),
    Case("a4_gradient_order", A4, "sse_gradient returns (d_bias, d_weight)",
         {"sse_gradient": "mistake_swapped_order", "fit": "inline"},
         {"sse_gradient": "returned the two slopes in the wrong order"}),
    Case("a4_gradient_dict", A4, "sse_gradient returns a dict", {
        "sse_gradient": Code('''
            def sse_gradient(x, y, weight, bias):
                """Return (d_weight, d_bias), the gradient of sse(x, y, weight, bias)."""
                errors = linear(x, weight, bias) - y
                return {"d_weight": 2 * np.sum(errors * x), "d_bias": 2 * np.sum(errors)}
        '''),
        "fit": "inline",
    }, {"sse_gradient": "returned a dict with the keys 'd_weight', 'd_bias'"}),
    Case("a4_fit_sequential", A4, "fit updates the bias with the new weight", {"fit": "mistake_sequential_update"},
         {"fit": "updated the bias with the already updated weight"}),
    Case("a4_fit_history_before", A4, "fit records the SSE before each update",
         {"fit": "mistake_history_before_update"},
         {"fit": "recorded each SSE before its update instead of after it"},
         earns={"fit": 1.5}),  # 2 of 4 checks: the weight and bias are right
    Case("a4_fit_too_many", A4, "fit makes epochs + 1 updates", {"fit": "mistake_one_update_too_many"},
         {"fit": "made one update too many"}),
    Case("a4_fit_ignores_start", A4, "fit always starts from 0", {"fit": "mistake_ignores_start"},
         {"fit": "ignored the starting weight and bias you were given"},
         earns={"fit": 0.75}),  # 1 of 4 checks: right when starting from 0
    Case("a4_fit_added", A4, "fit adds the gradient", {"fit": "mistake_added_gradient"},
         {"fit": "added the gradient instead of subtracting it"}),
    Case("a4_fit_rate_twice", A4, "fit multiplies the slopes by the learning rate twice", {
        "fit": Code('''
            def fit(x, y, learning_rate, epochs, weight=0.0, bias=0.0):
                """Fit weight * x + bias to x, y by gradient descent on the SSE."""
                history = []
                for _ in range(epochs):
                    d_weight, d_bias = sse_gradient(x, y, weight, bias)
                    weight = weight - learning_rate * learning_rate * d_weight
                    bias = bias - learning_rate * learning_rate * d_bias
                    history.append(sse(x, y, weight, bias))
                return weight, bias, np.array(history)
        '''),
    }, {"fit": "applied the learning rate twice"}),
    Case("a4_printed", A4, "sse and fit print instead of returning",
         {"sse": "mistake_printed", "fit": "mistake_printed"},
         {"sse": NO_RETURN, "fit": NO_RETURN}, charged_to={"fit": ("sse",)}),
    Case("a4_partial", A4, "linear and sse written; the rest left as released", stubs("sse_gradient", "fit"),
         {"sse_gradient": NOT_WRITTEN, "fit": NOT_WRITTEN}),
    # Honest slow code: pure-Python loops where the reference uses NumPy (budgets.py must let them pass).
    Case("a2_pure_python_slow", A2, "correct, pure Python: loops over lists for every function, floats one by one", {
        "predict": Code('''
            def predict(input_data, weights):
                """Return the network's prediction: the weighted sum of the inputs."""
                total = 0.0
                for value, weight in zip(list(input_data), list(weights)):
                    total = total + float(value) * float(weight)
                return total
        '''),
        "get_slope": Code('''
            def get_slope(input_data, target, weights):
                """Return the slope of (prediction - target) ** 2 with respect to each weight (an array)."""
                error = get_error(input_data, target, weights)
                return np.array([2.0 * float(value) * error for value in list(input_data)])
        '''),
        "train": Code('''
            def train(input_data, target, weights, learning_rate, n_updates):
                """Make n_updates weight updates; return (final_weights, losses)."""
                current = [float(weight) for weight in weights]
                losses = []
                for _ in range(n_updates):
                    slope = [float(s) for s in get_slope(input_data, target, np.array(current))]
                    current = [w - learning_rate * s for w, s in zip(current, slope)]
                    losses.append(float(get_error(input_data, target, np.array(current))) ** 2)
                return np.array(current), np.array(losses)
        '''),
    }),
    Case("a3_pure_python_slow", A3, "correct, pure Python: a deep copy of every weight for every nudge", {
        "numerical_gradient": Code('''
            import copy

            def numerical_gradient(loss, weights, h=1e-5):
                """Estimate the gradient of loss(weights) by central differences, entry by entry."""
                gradients = {}
                for key in weights:
                    shape = np.shape(weights[key])
                    grid = np.zeros(shape)
                    for index in np.ndindex(*shape):
                        raised = copy.deepcopy({k: np.array(v, dtype=float) for k, v in weights.items()})
                        lowered = copy.deepcopy({k: np.array(v, dtype=float) for k, v in weights.items()})
                        raised[key][index] = raised[key][index] + h
                        lowered[key][index] = lowered[key][index] - h
                        grid[index] = (loss(raised) - loss(lowered)) / (2 * h)
                    gradients[key] = grid
                return gradients
        '''),
    }),
    Case("a4_pure_python_slow", A4, "correct, pure Python: every sum a loop over the points, in fit too", {
        "sse": Code('''
            def sse(x, y, weight, bias):
                """Return the sum of squared errors of weight * x + bias against y."""
                total = 0.0
                for xi, yi in zip(list(x), list(y)):
                    total += (weight * float(xi) + bias - float(yi)) ** 2
                return total
        '''),
        "sse_gradient": Code('''
            def sse_gradient(x, y, weight, bias):
                """Return (d_weight, d_bias), the gradient of sse(x, y, weight, bias)."""
                d_weight = d_bias = 0.0
                for xi, yi in zip(list(x), list(y)):
                    error = weight * float(xi) + bias - float(yi)
                    d_weight += 2 * error * float(xi)
                    d_bias += 2 * error
                return d_weight, d_bias
        '''),
        "fit": Code('''
            def fit(x, y, learning_rate, epochs, weight=0.0, bias=0.0):
                """Fit weight * x + bias to x, y by gradient descent on the SSE."""
                points = [(float(xi), float(yi)) for xi, yi in zip(list(x), list(y))]
                history = []
                for _ in range(epochs):
                    d_weight = sum(2 * (weight * xi + bias - yi) * xi for xi, yi in points)
                    d_bias = sum(2 * (weight * xi + bias - yi) for xi, yi in points)
                    weight, bias = weight - learning_rate * d_weight, bias - learning_rate * d_bias
                    history.append(sum((weight * xi + bias - yi) ** 2 for xi, yi in points))
                return weight, bias, np.array(history)
        '''),
    }),
    Case("a4_fake_equality", A4, "right below sse, a cell redefining sse to return an object whose == is always "
         "True; fit records those objects", {"sse": "stub"},
         {"sse": "returned 0, but"},  # a float subclass: judged as the float it is
         (("sse", hostile_cell("fake_equality", A4)),), charged_to={"fit": ("sse",)}),
]
