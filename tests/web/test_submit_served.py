"""Submitting from a terminal through a real server on loopback, graded in real sandboxes: `autograder submit`
end to end, and the submit key searched for everywhere the service writes or answers afterwards."""
import json
import logging
import os
import re
import subprocess
import sys

import pytest

from course_files import ROOT
from served import A1, sample

pytestmark = pytest.mark.slow


def test_autograder_submit_grades_once_and_the_key_leaks_nowhere(server, tmp_path, caplog):
    from nbgrader.api import Gradebook

    caplog.set_level(logging.DEBUG)
    student = "submit_ada"
    client = server.session(student)
    downloaded = client.get(f"{server.url}/assignments/{A1}/release").json()
    key = downloaded["metadata"]["autograder"]["key"]
    assert downloaded["metadata"]["autograder"]["service"] == server.url
    worked = json.loads(sample("ada_lovelace", A1).read_text())  # a solution, filled in
    worked["metadata"]["autograder"] = downloaded["metadata"]["autograder"]
    path = tmp_path / "gradient_descent.ipynb"
    path.write_text(json.dumps(worked))

    run = subprocess.run([sys.executable, "-m", "autograder", "submit", str(path)], cwd=tmp_path, text=True,
                         capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout + run.stderr
    attempts = server.service.store.attempts(student, A1)
    assert len(attempts) == 1 and attempts[0].done and attempts[0].counts
    said = run.stdout.splitlines()
    assert said[0] == (f"{A1}: 2 of 2 attempts left; due 2099-01-01 00:00 UTC; the best attempt counts; a result "
                       "shows every message.")
    assert said[1] == "Sent: attempt 1. Grading..."
    page_url = f"{server.url}/attempts/{attempts[0].id}"
    assert said[-1] == f"The result's page: {page_url}"

    api = {"Authorization": f"Bearer {key}"}
    answer = client.get(f"{server.url}/api/attempts/{attempts[0].id}", headers=api).json()
    page = client.get(page_url).text
    headline = answer["result"]["headline"]
    assert said[2].startswith(f"Attempt 1: {headline}. ") and headline in page  # the page's result view
    gradebook = Gradebook(server.service.db_url)
    try:
        assert [s.student_id for s in gradebook.find_assignment(A1).submissions].count(student) == 1
    finally:
        gradebook.close()

    answers = [run.stdout, run.stderr, caplog.text, page, json.dumps(answer),
               client.get(f"{server.url}/assignments/{A1}").text, client.get(f"{server.url}/assignments").text,
               json.dumps(client.get(f"{server.url}/api/assignment", headers=api).json()),
               client.get(f"{page_url}/notebook").text]
    assert not [text[:80] for text in answers if key in text]
    written = [file for file in server.course.root.rglob("*") if file.is_file() and key.encode() in file.read_bytes()]
    assert written == []  # autograded copies, results, submitted notebooks, the gradebook and its WAL, logs
    assert re.search(r"attempt 1 of submit_ada for 01-gradient-descent submitted through the API", caplog.text)


def submit_run(path, *options):
    return subprocess.run([sys.executable, "-m", "autograder", "submit", str(path), *options], cwd=path.parent,
                          text=True, capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_a_key_from_get_a_submit_key_is_kept_by_the_notebook_and_shown_in_its_post_answer_only(server, tmp_path,
                                                                                               caplog):
    from autograder.checking.visible_check import _pasted_key

    caplog.set_level(logging.DEBUG)
    student = "submit_lise"
    client = server.session(student)
    posted = client.post(f"{server.url}/assignments/{A1}/key", data={"csrf_token": client.csrf})
    assert posted.status_code == 200 and posted.headers["Cache-Control"] == "no-store"
    shown = re.search(r'id="submit-key" type="text" readonly size="60" value="([^"]+)"', posted.text).group(1)
    service, key = _pasted_key(shown)
    assert service == server.url
    path = tmp_path / "gradient_descent.ipynb"
    path.write_text(sample("ada_lovelace", A1).read_text())  # a solution, in a notebook without a key

    run = submit_run(path, "--key", shown)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[0] == ("Your key is now kept in this notebook's metadata: you will not be asked "
                                          "again (if Jupyter says the file changed on disk, reload it).")
    assert json.loads(path.read_text())["metadata"]["autograder"] == {"service": server.url, "assignment": A1,
                                                                      "key": key}
    attempt, = server.service.store.attempts(student, A1)
    assert attempt.done and attempt.counts

    teacher = server.session("submit_teacher", "instructor")
    api = {"Authorization": f"Bearer {key}"}
    pages = [client.get(f"{server.url}{route}").content for route in (
        "/", "/assignments", f"/assignments/{A1}", f"/attempts/{attempt.id}", f"/attempts/{attempt.id}/notebook")]
    pages += [client.get(f"{server.url}{route}", headers=api).content for route in (
        "/api/assignment", f"/api/attempts/{attempt.id}")]
    pages += [teacher.get(f"{server.url}/instructor{route}").content for route in (
        "/", f"/students/{student}", f"/attempts/{attempt.id}", f"/attempts/{attempt.id}/notebook", f"/report/{A1}",
        f"/submissions/{A1}.zip")]
    assert all(page for page in pages)
    assert [page[:80] for page in pages + [run.stdout.encode(), run.stderr.encode(), caplog.text.encode()]
            if key.encode() in page] == []
    written = [file for file in server.course.root.rglob("*") if file.is_file() and key.encode() in file.read_bytes()]
    assert written == []  # autograded copies, results, submitted notebooks, the gradebook and its WAL, logs

    # `serve revoke` ends it: the kept key is refused with what to do, and nothing changes
    server.service.store.revoke_submit_keys(student)
    before = path.read_bytes()
    refused = submit_run(path)
    assert refused.returncode == 1 and refused.stdout.splitlines() == [
        "This submit key is not valid: it expired, a newer key replaced it, it was withdrawn, or it is not one of "
        "this service's. Get a new one with \"Get a submit key\" on the assignment's page (or download the notebook "
        "again) and use it instead."]
    assert path.read_bytes() == before and len(server.service.store.attempts(student, A1)) == 1


def test_a_kept_key_that_was_revoked_asks_at_a_terminal_for_a_new_one_and_keeps_that(server, tmp_path, monkeypatch,
                                                                                      capsys):
    from autograder.cli import main
    from autograder.checking.visible_check import _pasted_key

    student = "submit_rosalind"
    client = server.session(student)
    downloaded = client.get(f"{server.url}/assignments/{A1}/release").json()
    worked = json.loads(sample("ada_lovelace", A1).read_text())
    worked["metadata"]["autograder"] = downloaded["metadata"]["autograder"]
    path = tmp_path / "gradient_descent.ipynb"
    path.write_text(json.dumps(worked))
    server.service.store.revoke_submit_keys(student)
    shown = re.search(r'value="(ag1\.[^"]+)"', client.post(f"{server.url}/assignments/{A1}/key",
                                                          data={"csrf_token": client.csrf}).text).group(1)
    asked = []
    monkeypatch.setattr("sys.stdin", type("Terminal", (), {"isatty": lambda self: True})())
    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or shown)
    assert main(["submit", str(path)]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[0].startswith("This submit key is not valid") and len(asked) == 1
    assert said[1].startswith("Your key is now kept in this notebook's metadata")
    assert json.loads(path.read_text())["metadata"]["autograder"]["key"] == _pasted_key(shown)[1]
    assert len(server.service.store.attempts(student, A1)) == 1
