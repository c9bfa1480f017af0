"""Hidden checks for 01-gradient-descent: the student's functions against the reference on new inputs."""
import numpy as np
import pytest

from autograder.checking.expect import Mistake, expect_close, expect_unchanged, kind_of
from autograder.engine.submission import describe


def reference_df(x):
    return 2 * (x - 3)


def reference_update(x, gradx, learning_rate):
    return np.asarray(x, dtype=float) - learning_rate * np.asarray(gradx, dtype=float) + 0.0


# Exercise -> its reference: a caller of a wrong helper is re-checked with it (checked by `autograder release`).
REFERENCES = {"df": reference_df, "gradient_descent_update": reference_update}


def reference_path(grad, x0, learning_rate, max_iters, step=lambda x, g, lr: x - lr * g):
    path = [x0]
    for _ in range(max_iters):
        path.append(step(path[-1], grad(path[-1]), learning_rate))
    return np.array(path, dtype=float)


def unseen_numbers(rng, count, low=-10, high=10):
    return [round(float(value), 3) for value in rng.uniform(low, high, count)]


@pytest.mark.exercise("df")
def test_df_is_the_slope_of_f_at_new_points(submission, rng):
    for x in unseen_numbers(rng, 4) + [int(rng.integers(-9, 10))]:
        expect_close(submission.df(x), reference_df(x), f"df({x})", mistakes=[
            Mistake("dropped the factor 2", x - 3, "The power rule brings the exponent 2 down in front."),
            Mistake("flipped the sign", 2 * (3 - x), "The slope of (x - 3)**2 is positive to the right of 3."),
            Mistake("forgot the brackets", 2 * x - 3, "Every part of (x - 3) is multiplied by 2."),
            Mistake("returned f(x) instead of its slope", (x - 3) ** 2, "df should give the derivative of f."),
        ])


@pytest.mark.exercise("df", weight=0)  # the visible check already checks it (release checks that they agree)
def test_df_on_the_worked_example(submission):
    for x in (5, 1, 3):
        expect_close(submission.df(x), reference_df(x), f"df({x})")


def step_mistakes(x, g, lr):
    x, g = np.asarray(x, dtype=float), np.asarray(g, dtype=float)
    return [
        Mistake("added the gradient instead of subtracting it", x + lr * g,
                "Gradient descent steps downhill: against the gradient."),
        Mistake("multiplied the gradient by (x - learning_rate)", (x - lr) * g,
                "Only the gradient is scaled by the learning rate; that product is then taken from x."),
        Mistake("ignored the learning rate", x - g, "Scale the gradient by the learning rate before the step."),
        Mistake("applied the learning rate twice", x - lr * lr * g, "Multiply by the learning rate once."),
        Mistake("stepped by the learning rate alone", x - lr, "The step is the learning rate times the gradient."),
        Mistake("kept the result as integers", np.trunc(x - lr * g),
                "With integer inputs the step must still give floats: compute a new array rather than "
                "writing floats into an integer one."),
    ]


@pytest.mark.exercise("gradient_descent_update")
def test_update_steps_against_the_gradient_for_floats(submission, rng):
    for x, g, lr in zip(unseen_numbers(rng, 3), unseen_numbers(rng, 3), (0.05, 0.3, 0.011)):
        expect_close(submission.gradient_descent_update(x, g, lr), x - lr * g,
                     f"gradient_descent_update({x}, {g}, {lr})", mistakes=lambda: step_mistakes(x, g, lr))


@pytest.mark.exercise("gradient_descent_update")
def test_update_works_on_float_arrays_and_leaves_them_unchanged(submission, rng):
    x, g, lr = np.round(rng.normal(0, 4, 5), 3), np.round(rng.normal(0, 4, 5), 3), 0.07
    call = submission.gradient_descent_update.call(x, g, lr)
    what = f"gradient_descent_update(np.array({x.tolist()}), np.array({g.tolist()}), {lr})"
    expect_unchanged(call, (x, g), ("x", "gradx"), "gradient_descent_update")
    expect_close(call.result, x - lr * g, what, mistakes=lambda: step_mistakes(x, g, lr))


@pytest.mark.exercise("gradient_descent_update")
def test_update_works_on_integer_arrays(submission, rng):
    x, g, lr = rng.integers(-9, 10, 4), rng.integers(-9, 10, 4), 0.25
    call = submission.gradient_descent_update.call(x, g, lr)
    what = f"gradient_descent_update(np.array({x.tolist()}), np.array({g.tolist()}), {lr}) with integer arrays"
    expect_unchanged(call, (x, g), ("x", "gradx"), "gradient_descent_update")
    expect_close(call.result, x - lr * g, what, mistakes=lambda: step_mistakes(x, g, lr))


def _numbers(values) -> bool:
    try:
        return bool(np.all(np.isfinite(np.asarray(values, dtype=float))))
    except (TypeError, ValueError):
        return False


def path_mistakes(grad, x0, lr, iters):
    right = reference_path(grad, x0, lr, iters)
    return [
        Mistake("left out the starting point x0", right[1:], "The first element of the result is x0 itself."),
        Mistake("made one step too few", right[:-1], f"max_iters={iters} steps give {iters + 1} values."),
        Mistake("made one step too many", reference_path(grad, x0, lr, iters + 1),
                f"max_iters={iters} steps give {iters + 1} values."),
        Mistake("added the gradient instead of subtracting it",
                reference_path(grad, x0, lr, iters, step=lambda x, g, r: x + r * g),
                "Each step goes against the gradient."),
        Mistake("ignored the learning rate", reference_path(grad, x0, lr, iters, step=lambda x, g, r: x - g),
                "Pass the learning rate on to gradient_descent_update."),
        Mistake("applied the learning rate twice",
                reference_path(grad, x0, lr, iters, step=lambda x, g, r: x - r * r * g),
                "Each step is the learning rate times the gradient, with the learning rate used once."),
        Mistake("kept the positions as integers",
                reference_path(grad, x0, lr, iters, step=lambda x, g, r: np.trunc(x - r * g)),
                "Each step moves x by a fraction: keep the positions as floats, e.g. start from float(x0), and do "
                "not write the new position into an integer array."),
        Mistake("called grad once at x0 and reused that slope",
                reference_path(lambda x: grad(x0), x0, lr, iters),
                "Evaluate the gradient at the current x in every step."),
    ]


@pytest.mark.exercise("gradient_descent")
def test_gradient_descent_follows_a_new_gradient(submission, rng, plots):
    centre, curvature = round(float(rng.uniform(0.5, 4)), 2), round(float(rng.uniform(0.5, 2)), 2)

    def slope_of_bowl(x):
        return 2 * curvature * (x - centre)

    def bowl(x):
        return curvature * (np.asarray(x, dtype=float) - centre) ** 2

    x0, lr, iters = round(float(rng.uniform(-8, 8)), 2), 0.1, int(rng.integers(7, 15))
    path = submission.gradient_descent(slope_of_bowl, x0, lr, iters)
    reference = reference_path(slope_of_bowl, x0, lr, iters)
    grid = np.linspace(min(x0, 2 * centre - x0) - 1, max(x0, 2 * centre - x0) + 1, 200)
    plots.add(f"The path of gradient_descent on the loss {curvature} * (x - {centre}) ** 2", "x", "loss",
              ("loss", grid, bowl(grid), "curve"), ("reference path", reference, bowl(reference), "path"),
              ("your path", path, bowl(path) if np.ndim(path) == 1 and _numbers(path) else (), "path"))
    expect_close(path, reference,
                 f"gradient_descent(grad, {x0}, {lr}, {iters}) with grad(x) = {describe(2 * curvature)} * (x - {centre})",
                 mistakes=lambda: path_mistakes(slope_of_bowl, x0, lr, iters))


@pytest.mark.exercise("gradient_descent")
def test_gradient_descent_starts_from_an_integer(submission, rng):
    x0, lr, iters = int(rng.integers(-9, 10)), 0.2, 6
    path = submission.gradient_descent(reference_df, x0, lr, iters)
    expect_close(path, reference_path(reference_df, x0, lr, iters),
                 f"gradient_descent(df, {x0}, {lr}, {iters})", mistakes=lambda: path_mistakes(reference_df, x0, lr, iters))


@pytest.mark.exercise("gradient_descent")
def test_gradient_descent_returns_a_numpy_array(submission, rng):
    x0 = round(float(rng.uniform(4, 9)), 1)  # not the worked example's 1, which a copied answer would pass
    what = f"gradient_descent(df, {x0}, 0.05, 25)"
    path = submission.gradient_descent(reference_df, x0, 0.05, 25)
    if not isinstance(path, np.ndarray):
        raise AssertionError(f"{what} returned {kind_of(path)}, but a 1-D "
                             "NumPy array was expected. Convert your list of iterates with np.array(...).")
    if path.ndim != 1:
        raise AssertionError(f"{what} returned {kind_of(path)}, but a 1-D NumPy array "
                             "[x0, x1, ..., x25] was expected: one number per position, the start included.")
    expect_close(path[-1:], reference_path(reference_df, x0, 0.05, 25)[-1:], f"The last iterate of {what}")


@pytest.mark.exercise("max_stable_learning_rate")
def test_max_stable_learning_rate(submission):
    # The messages say which way the rate is off, never the answer: its numeral appears in none of them (checked by
    # `autograder release`).
    expect_close(submission.max_stable_learning_rate, 1.0, "max_stable_learning_rate", mistakes=[
        Mistake("gave the rate that jumps to the minimum in one step", 0.5,
                "That rate is the fastest, but larger rates still converge: they overshoot by less each step."),
        Mistake("gave a rate that already diverges", 2.0,
                "Write one step as x_new - 3 = c * (x - 3): the iterates grow once the size of c is above one."),
    ], hint="Write one step as x_new - 3 = c * (x - 3) and find the largest rate for which the size of c stays "
            "below one.")
