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
