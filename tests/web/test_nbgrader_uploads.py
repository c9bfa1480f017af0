"""Uploads of several notebooks at once to an nbgrader assignment (nbgrader's ps1: problem1.ipynb, problem2.ipynb),
built by Hypothesis from every kind of file name, size and content a stranger can send. The app runs in this
process with Flask's test client and without sandboxes (nothing here is graded): the service's own form parsing,
checks and storage, and the filesystem after each upload."""
import itertools
import json
import re
import shutil
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from served import ThreadServer, message
from test_nbgrader_course import PS1

from autograder.web.app import MAX_FORM_PARTS
from autograder.web.auth import link_token

NOTEBOOKS = ("problem1.ipynb", "problem2.ipynb")
LIMIT_MB = 1 / 16   # the upload limit of this app: 64 kB, so that a body just over it costs the test nothing
LIMIT = 65536
OUTSIDE = ("../../outside.ipynb", "/tmp/autograder-outside.ipynb", "..", "../", "/", "./problem1.ipynb",
           "sub/../../problem2.ipynb", "C:\\Users\\x\\problem1.ipynb", "..\\..\\outside.ipynb")
NAMES = (*NOTEBOOKS, "jupyter.png", "notebook", "PROBLEM1.IPYNB", "Problem2.ipynb", "problem1.ipynb ",
         "problem1.ipynb.", "problem2.ipynb...", " problem2.ipynb", "problem1", "problem2.json", "x" * 300 + ".ipynb",
         "problème 1 📓.ipynb", "問題1.ipynb", "\u202eknypi.1melborp", "a\tb.ipynb", "%2e%2e%2fproblem1.ipynb",
         "problem1.ipynb\\", "\\", "a\\\\", 'say "hi".ipynb', "line\nbreak.ipynb",
         *OUTSIDE)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=20)
students = itertools.count()


def ps1_course(root: Path) -> Path:
    shutil.copytree(PS1 / "source", root / "source")
    shutil.copytree(PS1 / "source", root / "release")
    (root / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'ps1course'\n"
                                             "c.Autograder.policies = {'default': {'attempts': 100}}\n")
    return root


@pytest.fixture(scope="module")
def ps1(tmp_path_factory):
    """ps1 served as it is (nbgrader_config.py and source/), its release copied as nbgrader would write it, the app
    without sandboxes; the course folder lies in a folder of its own, to see that nothing is written beside it."""
    from autograder.course.config import load_course
    from autograder.web import create_app

    root = ps1_course(tmp_path_factory.mktemp("around") / "course")
    app = create_app(load_course(root), grading=False, max_upload_mb=LIMIT_MB)
    assert app.config["AUTOGRADER_MAX_UPLOAD"] == LIMIT
    yield app
    app.extensions["autograder"].close()


def marked(name: str, mark: str) -> bytes:
    """bitdiddle's notebook `name` with a markdown cell holding `mark`: which upload a stored notebook came from."""
    notebook = json.loads((PS1 / "submitted" / "bitdiddle" / "ps1" / name).read_text())
    notebook["cells"].append({"cell_type": "markdown", "metadata": {}, "source": mark})
    return json.dumps(notebook).encode()


CONTENTS = {  # kind -> what the upload's file holds, from a mark that tells two uploads apart
    "problem1": lambda mark, *_: marked("problem1.ipynb", mark),
    "problem2": lambda mark, *_: marked("problem2.ipynb", mark),
    "empty": lambda mark, *_: b"",
    "blank": lambda mark, *_: b" \n\t ",
    "broken json": lambda mark, *_: marked("problem1.ipynb", mark)[:-40],
    "no graded cells": lambda mark, *_: json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": mark}]}).encode(),
    "other json": lambda mark, value, blob: json.dumps(value).encode(),
    "binary": lambda mark, value, blob: blob,
}


def client_of(app, student: str):
    client = app.test_client()
    link = app.extensions["autograder"].store.add_link(student, "student", 1)
    page = client.get(f"/signin/{link_token(app.secret_key, link.id)}", follow_redirects=True)
    assert page.status_code == 200
    client.student = student
    client.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client


def form(client, files: list[tuple[str, bytes]]) -> requests.PreparedRequest:
    """The upload form with `files`, as a browser sends it."""
    return requests.Request("POST", "http://localhost/", data={"csrf_token": client.csrf},
                            files=[("notebook", (name, data)) for name, data in files] or None).prepare()


def padded(client, files: list[tuple[str, bytes]], size: int) -> list[tuple[str, bytes]]:
    """`files`, the last one padded with spaces (the same JSON, if it is JSON) to make the form `size` bytes."""
    name, data = files[-1]
    files = [*files[:-1], (name, data + b" " * (size - len(form(client, files).body)))]
    assert len(form(client, files).body) == size
    return files


def post(client, files):
    request = form(client, files)
    return client.post("/assignments/ps1/attempts", data=request.body, content_type=request.headers["Content-Type"])


def previous(app, client, student: str, kinds: tuple[str, ...]) -> dict[str, bytes]:
    """An attempt of `student` holding the notebooks `kinds`, uploaded through the form and marked graded (as the
    grader would): the latest attempt an upload takes its missing notebooks from. Its notebooks by file name."""
    store = app.extensions["autograder"].store
    sent = {f"{kind}.ipynb": marked(f"{kind}.ipynb", f"previous {student} {kind}") for kind in kinds}
    answer = post(client, list(sent.items()))
    assert answer.status_code == 303, message(answer.text)
    attempt = store.attempt(int(answer.headers["Location"].rsplit("/", 1)[1]))
    store.finish(attempt, "graded", 0.0, 13.0, attempt.id)
    return sent


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if not path.is_dir()}


def unreadable(name: str) -> bool:
    """Whether Werkzeug reads no file name from the part a browser sends for a file named `name` (the name's
    closing quote escaped by a backslash): the part is a form field, not a file."""
    return (len(name) - len(name.rstrip("\\"))) % 2 == 1


def expected_refusal(files: list[tuple[str, bytes, str]]) -> str | None:
    """What the service says of these files (name, bytes, kind), within the size limit: a pattern of the message,
    or None when every file is a notebook of ps1, each once. The first file refused is the one named."""
    if any(data and unreadable(name) for name, data, _ in files):
        return "The service could not read the name of a file you chose "
    chosen = [(name, data, kind) for name, data, kind in files if name and not unreadable(name)]
    if not chosen:
        return "Please choose your notebook file first, then press Submit.$"
    if len(chosen) > len(NOTEBOOKS):
        return f"You chose {len(chosen)} files, but ps1 has 2 notebooks "
    seen = set()
    for name, data, kind in chosen:
        if not data.strip():
            return "The file .* is empty. "
        if kind == "no graded cells":
            return "The file .* is none of the notebooks of ps1 "
        if kind not in ("problem1", "problem2"):
            return "The file .* is not a Jupyter notebook that can be read. "
        if kind in seen:
            return f"Two of the files are {kind}.ipynb. "
        seen.add(kind)
    return None


upload_files = st.lists(st.tuples(st.sampled_from(NAMES) | st.text(max_size=40), st.sampled_from(sorted(CONTENTS)),
                                  json_values, st.binary(max_size=300)), max_size=len(NOTEBOOKS) + 3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(files=upload_files, before=st.sampled_from([(), ("problem1", "problem2"), ("problem1",), ("problem2",)]),
       size=st.sampled_from([None, None, LIMIT, LIMIT + 1]))
def test_an_upload_of_several_files_is_stored_exactly_or_refused_with_a_message_at_no_cost(ps1, files, before, size):
    student = f"s{next(students)}"
    client = client_of(ps1, student)
    earlier = previous(ps1, client, student, before) if before else {}
    store = ps1.extensions["autograder"].store
    root = Path(ps1.extensions["autograder"].course.root)
    own = root / "service" / "attempts" / student
    around = files_under(root.parent) - files_under(own)
    sent = [(name, CONTENTS[kind](f"{student} file {index}", value, blob), kind)
            for index, (name, kind, value, blob) in enumerate(files)]
    if size is not None:
        sent = sent or [("padding.ipynb", b"", "empty")]
        sent = [(name, data, kind) for (name, data), (_, _, kind) in
                zip(padded(client, [(name, data) for name, data, _ in sent], size), sent)]
    attempts = len(store.attempts(student, "ps1"))

    answer = post(client, [(name, data) for name, data, _ in sent])

    assert answer.status_code in (303, 400, 413), answer.text
    assert "Traceback" not in answer.text
    assert files_under(root.parent) - files_under(own) - around <= {root / "gradebook.db-journal"}
    assert not Path("/tmp/autograder-outside.ipynb").exists() and not (root.parent / "outside.ipynb").exists()
    assert not list((root / "service" / "incoming").glob("*"))  # the checks' scratch files are gone
    if size == LIMIT + 1:
        assert answer.status_code == 413 and "larger than 0.0625 MB" in message(answer.text)
        assert len(store.attempts(student, "ps1")) == attempts
        return
    refusal = expected_refusal(sent)
    if refusal is not None:
        assert answer.status_code == 400
        said = message(answer.text)
        assert re.match(refusal, said, re.S) and (said.endswith(" No attempt was used.") or "choose your" in said)
        assert len(store.attempts(student, "ps1")) == attempts
        return
    assert answer.status_code == 303, message(answer.text)
    assert len(store.attempts(student, "ps1")) == attempts + 1
    stored = own / "ps1" / str(attempts + 1) / "submitted"
    uploaded = {f"{kind}.ipynb": data for name, data, kind in sent if name and not unreadable(name)}
    assert {path.name: path.read_bytes() for path in stored.glob("*.ipynb")} == earlier | uploaded
    assert sorted(path.name for path in stored.iterdir()) == sorted({*earlier, *uploaded, "timestamp.txt"})


@pytest.fixture
def client(ps1):
    return client_of(ps1, f"s{next(students)}")


def test_an_upload_of_as_many_files_as_the_assignment_has_notebooks_is_taken(ps1, client):
    answer = post(client, [(name, marked(name, "both")) for name in NOTEBOOKS])
    assert answer.status_code == 303


def test_an_upload_of_one_file_more_than_the_assignment_has_notebooks_is_refused_before_reading_them(ps1, client):
    files = [(name, marked(name, "both")) for name in NOTEBOOKS] + [("jupyter.png", b"\x89PNG\r\n")]
    answer = post(client, files)
    assert answer.status_code == 400
    assert message(answer.text) == ("You chose 3 files, but ps1 has 2 notebooks (problem1.ipynb, problem2.ipynb). "
                                    "Please choose each of them once: a notebook you leave out is taken from your "
                                    "latest attempt. No attempt was used.")


def test_an_upload_of_as_many_files_as_a_form_may_hold_gets_the_assignments_answer(ps1, client):
    answer = post(client, [(f"n{index}.ipynb", b"{}") for index in range(MAX_FORM_PARTS - 1)])  # and the token
    assert answer.status_code == 400
    assert message(answer.text).startswith(f"You chose {MAX_FORM_PARTS - 1} files, but ps1 has 2 notebooks")


def test_an_upload_of_more_files_than_a_form_may_hold_is_told_so_not_that_it_is_too_large(ps1, client):
    answer = post(client, [(f"n{index}.ipynb", b"{}") for index in range(MAX_FORM_PARTS)])
    assert answer.status_code == 413
    assert message(answer.text) == (f"This upload has more than {MAX_FORM_PARTS - 1} files, more than the service "
                                    "reads at once. Please choose only the assignment's notebooks and submit them "
                                    "again. No attempt was used.")
    assert ps1.extensions["autograder"].store.attempts(client.student, "ps1") == []


def test_a_file_whose_name_cannot_be_read_is_refused_not_mistaken_for_no_file(ps1, client):
    answer = post(client, [("problem1.ipynb\\", marked("problem1.ipynb", "backslash"))])
    assert answer.status_code == 400
    assert message(answer.text) == ("The service could not read the name of a file you chose (a name ending in a "
                                    "backslash \\ does that). Please give it the notebook's own name "
                                    "(problem1.ipynb, problem2.ipynb) and submit again. No attempt was used.")


def test_a_file_whose_name_cannot_be_read_beside_one_that_can_is_not_left_out_unnoticed(ps1, client):
    answer = post(client, [("problem1.ipynb", marked("problem1.ipynb", "read")),
                           ("problem2.ipynb\\", marked("problem2.ipynb", "backslash"))])
    assert answer.status_code == 400
    assert message(answer.text).startswith("The service could not read the name of a file you chose")
    assert ps1.extensions["autograder"].store.attempts(client.student, "ps1") == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(CONTENTS)), value=json_values, blob=st.binary(max_size=300),
       before=st.sampled_from([(), ("problem1", "problem2"), ("problem1",), ("problem2",)]),
       size=st.sampled_from([None, LIMIT, LIMIT + 1]))
def test_a_notebook_sent_to_the_api_is_stored_with_the_others_or_refused_in_json_at_no_cost(ps1, kind, value, blob,
                                                                                             before, size):
    student = f"s{next(students)}"
    earlier = previous(ps1, client_of(ps1, student), student, before) if before else {}
    store = ps1.extensions["autograder"].store
    data = CONTENTS[kind](f"{student} api", value, blob)
    data += b" " * (size - len(data)) if size else b""
    attempts = len(store.attempts(student, "ps1"))

    answer = ps1.test_client().post("/api/submit", data=data, content_type="application/x-ipynb+json",
                                    headers={"Authorization": f"Bearer {store.add_submit_key(student, 'ps1')}"})

    assert answer.mimetype == "application/json" and answer.status_code in (202, 400, 413), answer.text
    refusal = "File too large. The file is larger than 0.0625 MB" if size == LIMIT + 1 else \
        expected_refusal([("notebook", data, kind)])
    if refusal is not None:
        assert answer.status_code != 202 and re.match(refusal, answer.json["error"], re.S), answer.json
        assert answer.json["error"].endswith(" No attempt was used.")
        assert len(store.attempts(student, "ps1")) == attempts
        return
    assert answer.status_code == 202, answer.json
    assert len(store.attempts(student, "ps1")) == attempts + 1
    stored = Path(ps1.extensions["autograder"].course.root) / "service" / "attempts" / student / "ps1" / \
        str(attempts + 1) / "submitted"
    assert {path.name: path.read_bytes() for path in stored.glob("*.ipynb")} == earlier | {f"{kind}.ipynb": data}


@pytest.mark.slow  # a server and a browser
def test_a_browser_sends_a_name_ending_in_a_backslash_as_it_is_and_is_told_to_rename_the_file(tmp_path):
    from selenium.webdriver.common.by import By

    from headless_chromium import chromium

    server = ThreadServer(ps1_course(tmp_path / "course"), grading=False)
    chosen = [tmp_path / "problem1.ipynb\\", tmp_path / "problem2.ipynb"]
    for path, name in zip(chosen, NOTEBOOKS):
        path.write_bytes(marked(name, "chosen in the browser"))
    try:
        with chromium() as driver:
            driver.get(server.link("ada"))
            driver.get(f"{server.url}/assignments/ps1")
            driver.find_element(By.ID, "notebook").send_keys("\n".join(map(str, chosen)))
            driver.find_element(By.ID, "notebook").submit()
            said = message(driver.page_source)
    finally:
        server.close()
    assert said.startswith("The service could not read the name of a file you chose (a name ending in a backslash")
    assert server.service.store.attempts("ada", "ps1") == []


def test_a_url_encoded_form_over_500_kb_within_the_upload_limit_is_refused_unread_and_not_called_a_file(tmp_path):
    from autograder.course.config import load_course
    from autograder.web import create_app

    app = create_app(load_course(ps1_course(tmp_path / "course")), grading=False)  # 8 MB, over Werkzeug's 500 kB
    try:
        client = client_of(app, "ada")
        answer = client.post("/assignments/ps1/attempts", data=f"csrf_token={client.csrf}&notebook={'x' * 600_000}",
                             content_type="application/x-www-form-urlencoded")
    finally:
        app.extensions["autograder"].close()
    assert answer.status_code == 413
    assert message(answer.text) == ("The form sent is larger than the service reads (its fields, apart from files, "
                                    "at most 500 kB). Go back, reload the page and send it again. No attempt was used.")


def test_a_url_encoded_form_is_read_up_to_form_bytes_and_refused_one_byte_over(tmp_path):
    # Werkzeug 3.1.9 parses a URL-encoded body whole, whatever max_form_memory_size says: the app bounds it itself
    from autograder.course.config import load_course
    from autograder.web import create_app
    from autograder.web.app import FORM_BYTES

    app = create_app(load_course(ps1_course(tmp_path / "course")), grading=False)
    try:
        client = client_of(app, "ada")
        answers = {}
        for size in (FORM_BYTES, FORM_BYTES + 1):
            head = f"csrf_token={client.csrf}&padding="
            answers[size] = client.post("/assignments/ps1/attempts", data=head + "x" * (size - len(head)),
                                        content_type="application/x-www-form-urlencoded")
    finally:
        app.extensions["autograder"].close()
    assert answers[FORM_BYTES].status_code == 400   # read: no notebook chosen
    assert message(answers[FORM_BYTES].text).startswith("Please choose your notebook file first")
    assert answers[FORM_BYTES + 1].status_code == 413
    assert message(answers[FORM_BYTES + 1].text).startswith("The form sent is larger than the service reads")
