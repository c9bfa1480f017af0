"""The submitting clients without a service: the notebook's `submit()` in a real IPython shell (a file older than
the last run of a cell is refused), and `autograder submit` offline (one message, nothing lost), and a notebook without a key: a
pasted key read or refused (Hypothesis), asked for only at a terminal, kept only once the service took it. With a real service: tests/web/test_submit_served.py."""
import base64
import json
import os
import re
import socket
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_files import ROOT

RELEASE = ROOT / "release" / "01-gradient-descent" / "gradient_descent.ipynb"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def notebook(tmp_path):
    """The release notebook as downloaded, naming a service on loopback that is down."""
    data = json.loads(RELEASE.read_text())
    data["metadata"]["autograder"] = {"service": f"http://127.0.0.1:{closed_port()}", "assignment": "x",
                                      "key": "k" * 43}
    path = tmp_path / "gradient_descent.ipynb"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def shell(notebook):
    """An IPython shell that has run the notebook's check helper cell, as Jupyter's kernel would."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # no history database in the home folder, no thread writing it
    shell = InteractiveShell(config=config)
    assert shell.run_cell((ROOT / "autograder" / "checking" / "visible_check.py").read_text()).success
    shell.user_ns["__session__"] = str(notebook)
    yield shell
    shell.cleanup()


def test_submit_in_a_kernel_refuses_a_file_saved_before_the_last_run_of_a_cell(shell, notebook, capsys):
    os.utime(notebook, (time.time() - 60, time.time() - 60))
    shell.run_cell("x = 1")
    capsys.readouterr()
    shell.run_cell("submit()")
    assert capsys.readouterr().out == ("You ran a cell after gradient_descent.ipynb was last saved. Save the notebook "
                                       "(File > Save), then run submit() again; nothing was sent.\n")


def test_submit_in_a_kernel_sends_a_file_saved_after_the_last_run_and_says_when_the_service_is_down(
        shell, notebook, capsys):
    shell.run_cell("x = 1")
    os.utime(notebook)  # saved
    shell.run_cell("submit()")
    shell.run_cell("submit()")  # running submit() itself is not a change to save
    said = capsys.readouterr().out.splitlines()
    assert len(said) == 2 and said[0] == said[1]
    assert said[0].startswith("The service at http://127.0.0.1:") and said[0].endswith(
        "you may be offline, or it is down. Nothing was sent and your notebook is unchanged; please try again later.")


def test_submit_while_being_graded_does_nothing(shell, capsys):
    shell.run_cell("_keep_going = True\nsubmit()")
    assert capsys.readouterr().out == ""


def test_autograder_submit_offline_says_so_once_and_changes_nothing(notebook, capsys):
    from autograder.cli import main

    before = notebook.read_bytes()
    assert main(["submit", str(notebook)]) == 1
    said = capsys.readouterr().out.splitlines()
    assert len(said) == 1 and "cannot be reached" in said[0] and "Nothing was sent" in said[0]
    assert notebook.read_bytes() == before


def keyless(tmp_path, **metadata):
    """The release notebook as a student may have it without a key, with `metadata` as its metadata.autograder."""
    data = json.loads(RELEASE.read_text())
    if metadata:
        data["metadata"]["autograder"] = metadata
    path = tmp_path / "gradient_descent.ipynb"
    path.write_text(json.dumps(data))
    return path


NO_KEY = ("Nothing was sent: this notebook needs a submit key. On the assignment's page, press \"Get a submit key\", "
          "then give it: submit(key=\"...\") in a cell, or autograder submit NOTEBOOK --key KEY in a terminal.")
KEY_CHARACTERS = "abcXYZ0189_-"
NOT_A_KEY = ("That is not a submit key. On the assignment's page, press \"Get a submit key\" and copy the whole key "
             "(it starts with ag1.). Nothing was sent.")


def test_autograder_submit_of_a_notebook_without_a_key_and_no_terminal_to_ask_at_refuses_and_says_how(tmp_path,
                                                                                                    capsys):
    from autograder.cli import main

    path = keyless(tmp_path)
    before = path.read_bytes()
    assert main(["submit", str(path)]) == 1  # pytest's stdin is no terminal: a script would hang on a prompt
    assert capsys.readouterr().out.splitlines() == [NO_KEY]
    assert path.read_bytes() == before


def test_autograder_submit_with_a_key_that_is_none_refuses_it_and_keeps_nothing(tmp_path, capsys):
    from autograder.cli import main

    path = keyless(tmp_path)
    before = path.read_bytes()
    for pasted in ("", "k" * 43, "ag1.!!!!.kkkkkkkkkkkkkkkkkkkk", "ag1.amF2YXNjcmlwdDphbGVydCgxKQ." + "k" * 43):
        assert main(["submit", str(path), "--key", pasted]) == 1
    assert capsys.readouterr().out.splitlines() == [NO_KEY] + [NOT_A_KEY] * 3  # "" is no key given
    assert path.read_bytes() == before


def test_autograder_submit_asks_a_terminal_for_the_key_without_echo_naming_the_page_and_keeps_nothing_offline(
        tmp_path, monkeypatch, capsys):
    from autograder.cli import main
    from autograder.web.student import pasted_key

    service = f"http://127.0.0.1:{closed_port()}"
    path = keyless(tmp_path, service=service, assignment="01-gradient-descent")  # as an attempt's notebook is
    before = path.read_bytes()
    asked = []
    monkeypatch.setattr("sys.stdin", type("Terminal", (), {"isatty": lambda self: True})())
    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or pasted_key(service, "k" * 43))
    assert main(["submit", str(path)]) == 1
    assert asked == [f"This notebook needs your submit key. On the assignment's page ({service}/assignments/"
                     "01-gradient-descent), press \"Get a submit key\", copy the key and paste it here: "]
    said = capsys.readouterr().out.splitlines()
    assert len(said) == 1 and said[0].startswith(f"The service at {service} cannot be reached")
    assert path.read_bytes() == before


def test_submit_in_a_kernel_with_a_key_that_is_none_says_so(shell, notebook, capsys):
    os.utime(notebook)
    shell.run_cell('submit(key="my password")')
    assert capsys.readouterr().out.splitlines() == [NOT_A_KEY]


@settings(max_examples=150, deadline=None)
@given(text=st.text() | st.builds("ag1.{}.{}".format, st.text(), st.text()) |
       st.builds(lambda url, key: "ag1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=") + "." + key,
                 st.text(), st.text(KEY_CHARACTERS, max_size=130)))
def test_any_pasted_text_is_a_key_with_its_service_or_a_clear_refusal_never_a_crash(text):
    from autograder.checking.visible_check import _pasted_key

    try:
        service, key = _pasted_key(text)
    except ValueError as refusal:
        assert str(refusal) == NOT_A_KEY.removesuffix(" Nothing was sent.")
        return
    assert re.fullmatch(r"https?://[\x21-\x7e]+", service) and not service.endswith("/")
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,128}", key)


@settings(max_examples=100, deadline=None)
@given(host=st.text("abz09.-", min_size=1, max_size=30), port=st.none() | st.integers(1, 65535),
       path=st.lists(st.text("aZ09._~-", max_size=8), max_size=3).map("/".join), https=st.booleans(),
       key=st.text(KEY_CHARACTERS, min_size=43, max_size=43))
def test_the_key_the_page_shows_reads_back_as_its_service_and_key(host, port, path, https, key):
    from autograder.checking.visible_check import _pasted_key
    from autograder.web.student import pasted_key

    service = f"{'https' if https else 'http'}://{host}{f':{port}' if port else ''}{'/' + path if path else ''}"
    assert _pasted_key(f"  {pasted_key(service + '/', key)}\n") == (service.rstrip("/"), key)


def test_autograder_submit_refuses_a_file_that_is_not_a_notebook(tmp_path, capsys):
    from autograder.cli import main

    path = tmp_path / "notes.ipynb"
    path.write_text("not json")
    assert main(["submit", str(path)]) == 2
    assert "is not a notebook that can be read" in capsys.readouterr().err
