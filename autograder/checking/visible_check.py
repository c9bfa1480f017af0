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


def submit(notebook=None, key=None):
    """Send this notebook, as last saved, for grading and print the verdict. Save it first (File > Save).

    `notebook`: the .ipynb file's path, when Jupyter cannot tell which file this is.
    `key`: a submit key from the assignment's page ("Get a submit key"), for a notebook that asks for one.
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
    _send(path, key, ask=__import__("getpass").getpass)


def _pasted_key(text):
    """(the service's URL, the key) of a key as the assignment's page shows it: "ag1.<URL, base64url>.<key>";
    ValueError, saying what to paste, for anything else."""
    import base64
    import re

    found = re.fullmatch(r"ag1\.([A-Za-z0-9_-]{4,400})\.([A-Za-z0-9_-]{16,128})", str(text).strip())
    try:
        service = base64.urlsafe_b64decode(found.group(1) + "=" * (-len(found.group(1)) % 4)).decode()
    except (AttributeError, ValueError):  # no match; not base64 or not UTF-8
        service = ""
    url = r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?"
    if not re.fullmatch(url, service):
        raise ValueError("That is not a submit key. On the assignment's page, press \"Get a submit key\" and copy "
                         "the whole key (it starts with ag1.).")
    return service.rstrip("/"), found.group(2)


def _send(path, key=None, ask=None, say=print, seconds=600):
    """Send the notebook at `path` to the service its metadata names, then wait for its verdict and say it.
    `key`: a pasted key (_pasted_key) to use and keep in the metadata; a notebook without a key in force asks for
    one with `ask(prompt)` (None: it cannot ask). Returns the attempt's final JSON, or None when nothing could be
    graded (the reason said)."""
    import json
    import time

    with open(path, encoding="utf-8") as file:
        notebook = json.load(file)
    where = notebook.setdefault("metadata", {}).get("autograder")
    where = where if isinstance(where, dict) else {}
    service, state = str(where.get("service") or "").rstrip("/"), None
    try:
        if key is None and service and where.get("key"):
            key, state = where["key"], _call(f"{service}/api/assignment", where["key"])
            if "error" in state:
                say(state["error"])
                if state["status"] != 403 or ask is None:
                    return None
                key = None  # expired, replaced or withdrawn: ask for a new one
        if key is None or state is None:
            key = key or _ask_key(ask, service, where.get("assignment"))
            if not key:
                return say("Nothing was sent: this notebook needs a submit key. On the assignment's page, press "
                           "\"Get a submit key\", then give it: submit(key=\"...\") in a cell, or autograder submit "
                           "NOTEBOOK --key KEY in a terminal.")
            try:
                service, key = _pasted_key(key)
            except ValueError as error:
                return say(f"{error} Nothing was sent.")
            state = _call(f"{service}/api/assignment", key)
            if "error" in state:
                return say(f"{state['error']} Nothing was sent or kept.")
            notebook["metadata"]["autograder"] = {**where, "service": service, "assignment": state["assignment"],
                                                  "key": key}
            with open(path, "w", encoding="utf-8") as file:
                json.dump(notebook, file, indent=1, ensure_ascii=False)
                file.write("\n")
            say("Your key is now kept in this notebook's metadata: you will not be asked again (if Jupyter says "
                "the file changed on disk, reload it).")
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


def _ask_key(ask, service, assignment):
    """The key the student pastes when asked (None: `ask` is None, or the front end cannot ask)."""
    page = f" ({service}/assignments/{assignment})" if service and assignment else ""
    try:
        return ask and ask(f"This notebook needs your submit key. On the assignment's page{page}, press \"Get a "
                           "submit key\", copy the key and paste it here: ")
    except Exception:  # e.g. a kernel run without a front end: it has no stdin
        return None


def _call(url, key, data=None):
    """The service's JSON answer (a refusal is {"error": message, "status": HTTP status}); OSError when it cannot
    be reached."""
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
            return {"error": json.load(error)["error"], "status": error.code}
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
