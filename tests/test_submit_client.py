"""The submitting clients without a service: the notebook's `submit()` in a real IPython shell (a file older than
the last run of a cell is refused), and `autograder submit` offline (one message, nothing lost) and asking once
for a key it then keeps in the notebook's metadata. With a real service: tests/web/test_submit_served.py."""
import json
import os
import socket
import time

import pytest

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
    assert shell.run_cell((ROOT / "autograder" / "visible_check.py").read_text()).success
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


def test_autograder_submit_asks_once_for_the_key_and_keeps_it_in_the_metadata(tmp_path, monkeypatch, capsys):
    from autograder.cli import main

    path = tmp_path / "gradient_descent.ipynb"
    path.write_text(RELEASE.read_text())
    service = f"http://127.0.0.1:{closed_port()}"
    answers = iter([service, "pasted-key-0123456789"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    assert main(["submit", str(path)]) == 1
    kept = json.loads(path.read_text())
    assert kept["metadata"]["autograder"] == {"service": service, "key": "pasted-key-0123456789"}
    assert kept["cells"] == json.loads(RELEASE.read_text())["cells"]
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail(f"asked again: {prompt}"))
    assert main(["submit", str(path)]) == 1
    assert capsys.readouterr().out.count("does not say where to submit it") == 1


def test_autograder_submit_refuses_a_file_that_is_not_a_notebook(tmp_path, capsys):
    from autograder.cli import main

    path = tmp_path / "notes.ipynb"
    path.write_text("not json")
    assert main(["submit", str(path)]) == 2
    assert "is not a notebook that can be read" in capsys.readouterr().err
