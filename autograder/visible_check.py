# Friendly checks: each check cell below runs your code on the worked example and tells you how it did.
import numpy as _np


class CheckFailed(AssertionError):
    """A visible check that failed; Jupyter shows its message instead of a traceback."""

    def _render_traceback_(self):
        return ["\N{BALLOT X} " + line for line in str(self).splitlines()[:1]] + str(self).splitlines()[1:]


def _same(got, expected, tol):
    try:
        got_array = _np.asarray(got, dtype=float)
        expected_array = _np.asarray(expected, dtype=float)
    except (TypeError, ValueError):
        return False
    return got_array.shape == expected_array.shape and bool(
        _np.allclose(got_array, expected_array, rtol=tol, atol=tol))


def _fail(message):
    """Stop the cell with `message`; when graded (`_keep_going`, set by the check cell's hidden part) print it
    instead, so that the hidden checks still run and a partly right answer earns part of the points."""
    if globals().get("_keep_going"):
        print("\N{BALLOT X} " + message)
        return
    raise CheckFailed(message)


def check(description, compute, expected, hint="", tol=1e-6):
    """Run `compute()`, compare its result with `expected` and print a one-line verdict.

    `description` names what is checked in the student's words, e.g. "df(5)".
    """
    try:
        got = compute()
    except NotImplementedError:
        return _fail(f"{description}: not written yet. Replace `raise NotImplementedError()` "
                     "with your code and run that cell again.")
    except NameError as error:
        return _fail(f"{description}: {error}. Run the cell where you wrote it, then this check again.")
    except Exception as error:
        return _fail(f"{description} raised {type(error).__name__}: {error}")
    if got is None:
        return _fail(f"{description} gave None. Did you forget to `return` the result?")
    if not _same(got, expected, tol):
        if isinstance(expected, bool) and isinstance(got, (bool, _np.bool_)):  # a claim: say true or false
            message = f"{description}: {str(bool(got)).lower()}, but it should be {str(expected).lower()}."
        else:
            message = f"{description} gave {_shown(got)}, but {expected!r} was expected."
        return _fail(message + (f"\nHint: {hint}" if hint else ""))
    verdict = f": {str(expected).lower()}" if isinstance(expected, bool) else f" = {expected!r}"
    print(f"\N{CHECK MARK} {description}{verdict}, as expected.")


def _shown(value):
    """`value` as the student would write it: numbers rounded to 6 decimals, a bool as True or False."""
    if isinstance(value, (bool, _np.bool_)):
        return str(bool(value))
    try:
        return repr(_np.round(_np.asarray(value, dtype=float), 6).tolist())
    except (TypeError, ValueError):
        return repr(value)


def uses(exercise, **helpers):
    """Whether each helper `exercise` calls gives its worked-example answer: `name=(compute, expected)`.

    When one does not, say so instead of checking `exercise`, whose checks would blame it for the helper's mistake.
    """
    wrong = []
    for name, (compute, expected) in helpers.items():
        try:
            right = _same(compute(), expected, 1e-6)
        except Exception:
            right = False
        if not right:
            wrong.append(name)
    if wrong:
        names, one = " and ".join(wrong), len(wrong) == 1
        print(f"\N{WARNING SIGN} {exercise} calls your {names}, which {'does' if one else 'do'} not pass "
              f"{'its' if one else 'their'} own check yet (see the check cell{'' if one else 's'} above). Fix {names} "
              f"first, then run this cell again: {exercise} is checked once {names} {'is' if one else 'are'} right.")
    return not wrong
