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


# Submitting: `submit()` in a cell sends this notebook, as last saved, to the course's service and prints the verdict.
def _started_cell(info=None):
    if "submit(" not in getattr(info, "raw_cell", ""):  # running submit() itself is not a change to save
        globals()["_last_run"] = __import__("time").time()


try:
    get_ipython().events.unregister("pre_run_cell", globals().get("_cell_hook"))
except Exception:
    pass
try:
    _cell_hook = _started_cell
    get_ipython().events.register("pre_run_cell", _cell_hook)
except NameError:  # not in IPython: nothing to compare the saved file with
    pass


def _notebook_file():
    import os

    for name in (globals().get("__vsc_ipynb_file__"), globals().get("__session__"), os.environ.get("JPY_SESSION_NAME")):
        for path in (name, name and os.path.basename(name)):
            if path and path.endswith(".ipynb") and os.path.isfile(path):
                return path
    return None


def submit(notebook=None):
    """Send this notebook, as last saved, for grading and print the verdict. Save it first (File > Save).

    `notebook`: the .ipynb file's path, when Jupyter cannot tell which file this is.
    """
    import os

    if globals().get("_keep_going"):
        return  # being graded: nothing to send
    path = notebook or _notebook_file()
    if path is None:
        return print("submit() cannot tell which file this notebook is. Save it, then run submit(\"name.ipynb\") "
                     "with its file name.")
    if globals().get("_last_run", 0) > os.path.getmtime(path) + 0.05:  # a file's time may lag the clock a tick
        return print(f"You ran a cell after {os.path.basename(path)} was last saved. Save the notebook (File > Save), "
                     "then run submit() again; nothing was sent.")
    _send(path)


def _send(path, ask=input, say=print, store_key=False, seconds=600):
    """Send the notebook at `path` to the service its metadata names, then wait for its verdict and say it.
    Returns the attempt's final JSON, or None when nothing could be graded (the reason said)."""
    import json
    import time

    with open(path, encoding="utf-8") as file:
        notebook = json.load(file)
    where = notebook.setdefault("metadata", {}).get("autograder")
    where = where if isinstance(where, dict) else {}
    if not where.get("service") or not where.get("key"):
        say("This notebook does not say where to submit it. Download it from the assignment's page of the service "
            "(it then knows), or give its address and your submit key now.")
        where = {**where, "service": where.get("service") or ask("The service's address (https://...): ").strip(),
                 "key": where.get("key") or ask("Your submit key: ").strip()}
        if store_key:
            notebook["metadata"]["autograder"] = where
            with open(path, "w", encoding="utf-8") as file:
                json.dump(notebook, file, indent=1, ensure_ascii=False)
                file.write("\n")
    service, key = where["service"].rstrip("/"), where["key"]
    try:
        state = _call(f"{service}/api/assignment", key)
        if "error" in state:
            return say(state["error"])
        say(f"{state['assignment']}: {state['policy']}.")
        if state["left"] <= 0:
            return say("No attempts are left; nothing was sent.")
        with open(path, "rb") as file:
            attempt = _call(f"{service}/api/submit", key, file.read())
        if "error" in attempt:
            return say(attempt["error"])
    except OSError as error:
        return say(f"The service at {service} cannot be reached ({getattr(error, 'reason', error)}): you may be "
                   "offline, or it is down. Nothing was sent and your notebook is unchanged; please try again later.")
    say(f"Sent: attempt {attempt['number']}. Grading...")
    deadline = time.monotonic() + seconds
    try:
        while not attempt["done"] and time.monotonic() < deadline:
            attempt = _call(attempt["status_url"] + "?wait=20", key)
            if "error" in attempt:
                return say(attempt["error"])
    except OSError:
        return say(f"Your attempt was received and will be graded; its result will be at {attempt['result_url']}")
    if not attempt["done"]:
        return say(f"Still being graded; its result will be at {attempt['result_url']}")
    _say_result(attempt, say)
    return attempt


def _call(url, key, data=None):
    """The service's JSON answer (an error is {"error": message}); OSError when it cannot be reached."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=data, headers={"Authorization": f"Bearer {key}",
                                                              "Content-Type": "application/x-ipynb+json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as error:
        try:
            return {"error": json.load(error)["error"]}
        except (ValueError, KeyError, TypeError):
            raise OSError(f"HTTP {error.code}") from None
    except ValueError:
        raise OSError("not an answer of the service") from None


def _say_result(attempt, say):
    result = attempt["result"]
    if result is None:
        return say(f"Graded; see the result at {attempt['result_url']}")
    say(f"Attempt {attempt['number']}: {result['headline']}. {result['summary']}")
    for line in (result["reason"], *result["notes"]):
        if line:
            say(line)
    for exercise in result["exercises"]:
        most = exercise["max_score"]
        points = "" if exercise["pending"] else f" ({exercise['score']:g} of {most:g} point{'s' * (most != 1)})"
        say(f"- {exercise['title']}: {exercise['status']}{points}")
        for message in exercise["messages"]:
            say(f"    {message}")
    if result["withheld"]:
        say(result["withheld"])
    say(f"The result's page: {attempt['result_url']}")
