"""`autograder serve` in an nbgrader course folder as it is (issue 28): nbgrader's user-guide ps1, with a hidden test
added to one test cell, is offered to students; their uploads of both notebooks at once are graded by the notebooks'
own test cells with the scores `nbgrader autograde` gives on every cell, the result page never shows a hidden
test, and a student who bends the builtins gains nothing and is flagged on the instructor's page of the attempt.
An LTI platform on loopback (tests/lms/lti_platform.py) launches a student, whose score reaches its line item, and
an instructor's Deep Linking creates the column with the sum of the cells' points."""
import html
import json
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest
import requests

from headless_chromium import chromium, layout
from nbgrader.api import Gradebook
from served import ThreadServer, csrf_token, wait_done
from test_lti_launch import launch_form
from test_nbgrader_course import PS1, autograde, nbgrader_cells

from autograder.lms.settings import create_key_pair, public_jwk
from lti_platform import INSTRUCTOR, LtiPlatform  # noqa: E402 (test_lti_launch put tests/lms on the path)

pytestmark = pytest.mark.slow  # nbgrader autograde, a server and its sandboxes, a browser

STUDENTS, NOTEBOOKS = ("bitdiddle", "hacker"), ("problem1", "problem2")
HIDDEN_LINE = "assert squares(3) == [1, 4, 9], 'the third square'"
BENDER = "import builtins\nbuiltins.abs = lambda value: 0"   # what nbgrader would run unnoticed


def with_hidden_test(root: Path) -> None:
    """ps1's correct_squares with a hidden test, as an instructor writes one (the user guide's ps1 has none)."""
    path = root / "source" / "ps1" / "problem1.ipynb"
    notebook = nbformat.read(str(path), as_version=4)
    cell = next(cell for cell in notebook.cells
                if cell.metadata.get("nbgrader", {}).get("grade_id") == "correct_squares")
    cell.source += f"\n### BEGIN HIDDEN TESTS\n{HIDDEN_LINE}\n### END HIDDEN TESTS"
    nbformat.write(notebook, str(path))


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """An LTI platform with a ps1 column on the link rl-ps1 (the tool's key beside it), and c.LTI lines for it."""
    key_path = tmp_path_factory.mktemp("lti") / "tool.pem"
    started = LtiPlatform(public_jwk(create_key_pair(key_path))).start()
    started.add_member("u-ada", "Ada Lovelace", email="ada@uni.edu")
    settings = {"issuer": started.issuer, "client_id": started.client_id, "deployment_id": started.deployment_id,
                "token_url": started.token_url, "private_key": str(key_path), "auth_url": started.auth_url,
                "platform_jwks_url": started.jwks_url, "retry_delay": 0.01, "timeout": 5, "contexts": ["context-1"]}
    started.ps1_lineitem = started.add_lineitem("ps1", 13, resource_link="rl-ps1")
    started.config_lines = "".join(f"c.LTI.{name} = {value!r}\n" for name, value in settings.items())
    yield started
    started.stop()


@pytest.fixture(scope="module")
def ps1(tmp_path_factory, platform):
    """nbgrader's scores for bitdiddle and hacker on the course (autograded by nbgrader in a copy), and the
    course served from a folder of its own, registered with the LTI platform: (nbgrader's cells, server)."""
    graded, served = tmp_path_factory.mktemp("nbgrader"), tmp_path_factory.mktemp("served")
    for root in (graded, served):
        shutil.copytree(PS1 / "source", root / "source")
        with_hidden_test(root)
        (root / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'ps1course'\n")
    shutil.copytree(PS1 / "submitted", graded / "submitted")
    autograde(graded, "ps1")
    with open(served / "nbgrader_config.py", "a") as config:  # an nbgrader course keeps c.LTI in its own config
        config.write(platform.config_lines)
    with Gradebook(f"sqlite:///{served / 'gradebook.db'}") as gradebook:  # the LMS's ada, known by email
        gradebook.update_or_create_student("ada", email="ada@uni.edu", first_name="Ada", last_name="Lovelace")
    gate = served / "release-gate"
    with open(served / "nbgrader_config.py", "a") as config:  # nbgrader's release waits until the test opens it
        config.write(RELEASE_GATE.format(gate=str(gate)))
    server = ThreadServer(served, workers=1)
    try:
        server.while_preparing = asked_while_preparing(server)
        gate.touch()
        server.app.extensions["autograder_lti"]["publisher"].interval = 0.2
        platform.register_tool(server.url + "/lti/login", server.url + "/lti/launch")
        deadline = time.monotonic() + 60  # the service records the assignment (nbgrader's release) as it starts
        while not (served / "release" / "ps1" / "problem2.ipynb").is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        yield nbgrader_cells(graded, "ps1", STUDENTS, NOTEBOOKS), server
    finally:
        server.close()


# `nbgrader generate_assignment` (the service runs it as it starts) waits for the gate file: the test asks its pages
# while the release is being made, as a student would in the seconds after a start
RELEASE_GATE = """
import os as _os, sys as _sys, time as _time
_deadline = _time.monotonic() + 120
while "generate_assignment" in _sys.argv and not _os.path.exists({gate!r}) and _time.monotonic() < _deadline:
    _time.sleep(0.05)
"""


def asked_while_preparing(server) -> dict:
    """The service's answers, while ps1's release is being made, to what needs the release and what does not."""
    assert "ps1" in server.service.grader.preparing and not (server.course.root / "release" / "ps1").exists()
    student = server.session("bitdiddle")
    key = server.service.store.add_submit_key("bitdiddle", "ps1", None)  # as a release downloaded before would hold
    answers = {
        "page": student.get(f"{server.url}/assignments/ps1"),
        "release": student.get(f"{server.url}/assignments/ps1/release"),
        "upload": student.post(f"{server.url}/assignments/ps1/attempts", data={"csrf_token": student.csrf},
                               files=[("notebook", (name, data)) for name, data in submitted("bitdiddle").items()]),
        "key": student.post(f"{server.url}/assignments/ps1/key", data={"csrf_token": student.csrf}),
        "api": requests.post(f"{server.url}/api/submit", headers={"Authorization": f"Bearer {key}"},
                             data=submitted("bitdiddle")["problem1.ipynb"]),
        "unknown": student.get(f"{server.url}/assignments/ps9"),
        "home": student.get(f"{server.url}/"),
    }
    assert "ps1" in server.service.grader.preparing  # all of it asked before the release was made
    return answers


def submit(server, student: str, notebooks: dict[str, bytes]) -> str:
    """Upload `notebooks` (file name -> bytes) as one attempt; the attempt page's path, once graded."""
    client = server.session(student)
    page = client.get(f"{server.url}/assignments/ps1")
    assert page.status_code == 200 and 'name="notebook" multiple' in page.text
    answer = client.post(f"{server.url}/assignments/ps1/attempts", data={"csrf_token": csrf_token(page.text)},
                         files=[("notebook", (name, data)) for name, data in notebooks.items()],
                         allow_redirects=False)
    assert answer.status_code == 303, answer.text
    path = answer.headers["Location"].removeprefix(server.url)
    wait_done(client, server.url, path, timeout=120)
    return path


def submitted(student: str) -> dict[str, bytes]:
    return {f"{name}.ipynb": (PS1 / "submitted" / student / "ps1" / f"{name}.ipynb").read_bytes()
            for name in NOTEBOOKS}


@pytest.fixture(scope="module")
def attempts(ps1):
    _, server = ps1
    return {student: submit(server, student, submitted(student)) for student in STUDENTS}


def test_served_scores_equal_nbgraders_on_every_cell(ps1, attempts):
    theirs, server = ps1
    ours = nbgrader_cells(server.course.root, "ps1", STUDENTS, NOTEBOOKS)  # the counting attempts, in the gradebook
    assert ours == theirs
    for student, path in attempts.items():
        result = json.loads((server.course.root / "autograded" / student / "ps1" / "results.json").read_text())
        automatic = sum(score or 0 for (who, _, _), score in theirs.items() if who == student)
        assert result["score"] == pytest.approx(automatic) and result["max_score"] == 13  # the sum of every cell's
        assert not result.get("flags")


def test_result_page_names_each_test_cell_and_its_error_but_no_hidden_test(ps1, attempts):
    theirs, server = ps1
    page = html.unescape(server.session("bitdiddle").get(f"{server.url}{attempts['bitdiddle']}").text)
    assert "correct_squares" in page and "squares_invalid_input" in page and "AssertionError" in page
    assert "squares(3)" not in page and "the third square" not in page and "HIDDEN" not in page
    text = re.sub(r"<[^>]+>", " ", page)
    automatic = sum(score or 0 for (who, _, _), score in theirs.items() if who == "bitdiddle")
    assert re.search(rf"\b{automatic:g} of \d+ points so far; \d+ more points to be graded by your instructor", text)


def test_an_upload_of_one_notebook_keeps_the_other_from_the_latest_attempt(ps1, attempts):
    theirs, server = ps1
    path = submit(server, "hacker", {"problem1.ipynb": submitted("hacker")["problem1.ipynb"]})
    folder = server.course.root / "service" / "attempts" / "hacker" / "ps1" / "2" / "submitted"
    assert sorted(p.name for p in folder.glob("*.ipynb")) == ["problem1.ipynb", "problem2.ipynb"]
    state = server.session("hacker").get(f"{server.url}{path}/status").json()
    assert state["score"] == pytest.approx(sum(score or 0 for (who, _, _), score in theirs.items() if who == "hacker"))


def bent(student: str) -> dict[str, bytes]:
    """`student`'s notebooks, problem1 with a last cell that replaces a builtin the tests could rely on."""
    notebook = nbformat.reads(submitted(student)["problem1.ipynb"].decode(), as_version=4)
    notebook.cells.append(nbformat.from_dict({"cell_type": "code", "execution_count": None, "metadata": {},
                                              "outputs": [], "source": BENDER}))  # nbformat 4.0: cells have no id
    return {"problem1.ipynb": nbformat.writes(notebook).encode(), "problem2.ipynb": submitted(student)["problem2.ipynb"]}


def test_bending_the_builtins_earns_nothing_and_the_instructor_sees_the_flag(ps1, attempts):
    theirs, server = ps1
    path = submit(server, "bender", bent("bitdiddle"))
    state = server.session("bender").get(f"{server.url}{path}/status").json()
    assert state["score"] == pytest.approx(sum(score or 0 for (who, _, _), score in theirs.items()
                                               if who == "bitdiddle"))
    student_page = html.unescape(server.session("bender").get(f"{server.url}{path}").text)
    instructor_page = html.unescape(server.session("teacher", "instructor").get(
        f"{server.url}/instructor{path}").text)
    assert "Needs attention" not in student_page
    assert "Needs attention" in instructor_page and "builtins.abs" in instructor_page


def test_a_batch_graded_bender_is_flagged_on_the_instructors_page_of_the_submission(ps1, tmp_path):
    """`autograder grade ps1` beside the running service: the flags of its result reach the instructor's page."""
    import os
    import subprocess
    import sys

    _, server = ps1
    root = server.course.root
    folder = root / "submitted" / "batchbender" / "ps1"
    folder.mkdir(parents=True)
    for name, data in bent("bitdiddle").items():
        (folder / name).write_bytes(data)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    env.pop("AUTOGRADER_COURSE_ROOT", None)
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", "ps1", "--no-progress", "--workers", "1"],
                          cwd=root, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "needs attention:\n    batchbender: problem1.ipynb: changed what the tests rely on" in done.stdout
    page = html.unescape(server.session("teacher", "instructor").get(
        f"{server.url}/instructor/students/batchbender/ps1/batch").text)
    assert "Needs attention" in page and "builtins.abs" in page


def test_the_instructors_pages_of_the_assignment_answer(ps1, attempts):
    import io
    import zipfile

    _, server = ps1
    teacher = server.session("teacher", "instructor")
    for path in ("/instructor/", "/instructor/students/hacker", "/instructor/report/ps1", attempts["hacker"]):
        assert teacher.get(f"{server.url}{path.replace('/attempts/', '/instructor/attempts/', 1)}").status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(teacher.get(f"{server.url}/instructor/submissions/ps1.zip").content))
    assert {"submitted/hacker/ps1/problem1.ipynb", "submitted/hacker/ps1/problem2.ipynb"} <= set(archive.namelist())
    student = server.session("hacker")
    assert zipfile.ZipFile(io.BytesIO(student.get(f"{server.url}/assignments/ps1/release").content)).namelist() == [
        "ps1/jupyter.png", "ps1/problem1.ipynb", "ps1/problem2.ipynb"]


def test_a_notebook_of_the_release_submits_itself_with_the_others_of_the_latest_attempt(ps1, attempts):
    """JupyterLab's Submit button (the API) sends one notebook, with the key its release zip gave it."""
    import io
    import zipfile

    theirs, server = ps1
    download = server.session("hacker").get(f"{server.url}/assignments/ps1/release")
    release = zipfile.ZipFile(io.BytesIO(download.content))
    key = json.loads(release.read("ps1/problem2.ipynb"))["metadata"]["autograder"]["key"]
    assert json.loads(release.read("ps1/problem1.ipynb"))["metadata"]["autograder"]["key"] == key
    answer = requests.post(f"{server.url}/api/submit", headers={"Authorization": f"Bearer {key}"},
                           data=submitted("hacker")["problem2.ipynb"])
    assert answer.status_code == 202, answer.text
    path = f"/attempts/{answer.json()['attempt']}"
    state = wait_done(server.session("hacker"), server.url, path, timeout=120)
    assert state["score"] == pytest.approx(sum(score or 0 for (who, _, _), score in theirs.items() if who == "hacker"))


def test_a_student_launched_from_the_lms_uploads_and_the_score_arrives_in_its_column(ps1, platform):
    theirs, server = ps1
    client = requests.Session()
    url, form = launch_form(platform, client, user="u-ada", link="rl-ps1", title="Problem set 1: ps1",
                            email="ada@uni.edu", name="Ada Lovelace")
    landed = client.post(url, data=form)
    assert landed.status_code == 200 and landed.url.endswith("/assignments/ps1"), landed.url
    answer = client.post(f"{server.url}/assignments/ps1/attempts", data={"csrf_token": csrf_token(landed.text)},
                         files=[("notebook", (name, data)) for name, data in submitted("hacker").items()],
                         allow_redirects=False)
    assert answer.status_code == 303, answer.text
    deadline = time.monotonic() + 90
    while (platform.ps1_lineitem, "u-ada") not in platform.scores and time.monotonic() < deadline:
        time.sleep(0.2)
    score = platform.scores[(platform.ps1_lineitem, "u-ada")]
    hacker = sum(score or 0 for (who, _, _), score in theirs.items() if who == "hacker")
    assert (score["scoreGiven"], score["scoreMaximum"], score["gradingProgress"]) == (
        pytest.approx(hacker), 13, "FullyGraded")   # written answers' points wait for formgrader, as nbgrader's do


def test_lti_publish_from_the_command_line_sends_the_gradebooks_score(ps1, platform, monkeypatch, capsys):
    """`autograder lti publish ps1` (an assignment graded by its notebooks' test cells) sends the gradebook's score of
    the launched student to the link's column, as for the course's own assignments."""
    from autograder.cli import main

    theirs, server = ps1
    client = requests.Session()
    url, form = launch_form(platform, client, user="u-ada", link="rl-ps1", title="Problem set 1: ps1",
                            email="ada@uni.edu", name="Ada Lovelace")
    landed = client.post(url, data=form)
    assert landed.status_code == 200, landed.text[:300]
    answer = client.post(f"{server.url}/assignments/ps1/attempts", data={"csrf_token": csrf_token(landed.text)},
                         files=[("notebook", (name, data)) for name, data in submitted("hacker").items()],
                         allow_redirects=False)
    wait_done(client, server.url, answer.headers["Location"].removeprefix(server.url), timeout=120)
    deadline = time.monotonic() + 90  # the service's own publication first, so that it cannot be the one we see
    while (platform.ps1_lineitem, "u-ada") not in platform.scores and time.monotonic() < deadline:
        time.sleep(0.2)
    platform.scores.clear()
    monkeypatch.setenv("AUTOGRADER_COURSE_ROOT", str(server.course.root))
    main(["lti", "publish", "ps1"])  # exit 1 when, as here, other students of the gradebook have no LTI user id
    assert "ps1: published 1 of " in capsys.readouterr().out
    hacker = sum(score or 0 for (who, _, _), score in theirs.items() if who == "hacker")
    assert platform.scores[(platform.ps1_lineitem, "u-ada")]["scoreGiven"] == pytest.approx(hacker)


def test_deep_linking_offers_the_assignment_with_the_sum_of_its_cells_points(ps1, platform):
    _, server = ps1
    client = requests.Session()
    url, form = launch_form(platform, client, user="u-teach", role=INSTRUCTOR, deep_link=True, email="t@uni.edu")
    pick = client.post(url, data=form)
    assert pick.status_code == 200 and 'value="ps1"' in pick.text, pick.text[-2000:]
    fields = dict(re.findall(r'name="(csrf_token|launch_id)" value="([^"]+)"', pick.text))
    back = client.post(f"{server.url}/lti/deep-link", data={**fields, "assignment": "ps1"})
    assert back.status_code == 200, back.text
    action = re.search(r'action="([^"]+)"', back.text).group(1)
    token = re.search(r'name="JWT" value="([^"]+)"', back.text).group(1)
    assert requests.post(html.unescape(action), data={"JWT": token}).status_code == 200
    items = platform.deep_link_responses[-1]["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert [item["custom"] for item in items] == [{"assignment": "ps1"}]
    assert items[0]["lineItem"]["scoreMaximum"] == 13


@pytest.fixture(scope="module")
def halfway(ps1):
    """The attempt page of a student whose first upload is problem1.ipynb alone (problem2 never handed in)."""
    _, server = ps1
    return submit(server, "halfway", {"problem1.ipynb": submitted("hacker")["problem1.ipynb"]})


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).replace("\xa0", " ").split())


def test_result_page_groups_the_test_cells_by_notebook_with_points_summing_to_the_total(ps1, attempts):
    theirs, server = ps1
    client = server.session("bitdiddle")
    page = client.get(f"{server.url}{attempts['bitdiddle']}").text
    text = text_of(page)
    headings = re.findall(r"<h2>(problem\d\.ipynb): ([\d.]+) of ([\d.]+) points?\b", html.unescape(page))
    assert [name for name, _, _ in headings] == ["problem1.ipynb", "problem2.ipynb"]
    automatic = sum(score or 0 for (who, _, _), score in theirs.items() if who == "bitdiddle")
    assert sum(float(score) for _, score, _ in headings) == pytest.approx(automatic)
    assert client.get(f"{server.url}{attempts['bitdiddle']}/status").json()["score"] == pytest.approx(automatic)
    for notebook in NOTEBOOKS:  # each notebook's cells under its heading, as the gradebook has them
        section = page.split(f'id="notebook-{notebook}"')[1].split('<section class="notebook"')[0]
        assert sorted(re.findall(r'<section class="exercise" id="([^"]+)"', section)) == sorted(
            name for (who, book, name) in theirs if who == "bitdiddle" and book == notebook)
    assert page.count("<h3>") == sum(who == "bitdiddle" for who, _, _ in theirs)
    assert "not handed in" not in text and "squares(3)" not in page and "HIDDEN" not in page


def test_a_notebook_never_handed_in_is_said_to_be_missing_once(ps1, halfway):
    _, server = ps1
    for client, path in ((server.session("halfway"), halfway),
                         (server.session("teacher", "instructor"), f"/instructor{halfway}")):
        page = client.get(f"{server.url}{path}").text
        text = text_of(page)
        assert "problem2.ipynb: 0 of 3 points This notebook was not handed in, so none of its cells could be " \
               "graded." in text
        assert text.count("not handed in") == 1 and 'id="part-a"' not in page and 'id="part-b"' not in page
        assert re.search(r"problem1\.ipynb: [\d.]+ of [\d.]+ points", text)


def test_result_page_reads_on_a_phone_and_a_desktop(ps1, attempts, halfway, tmp_path):
    _, server = ps1
    for width in (360, 1280):
        for student, path in (("bitdiddle", attempts["bitdiddle"]), ("halfway", halfway)):
            with chromium(width, 900 if width > 400 else 740) as driver:
                driver.get(server.link(student))
                found = layout(driver, f"{server.url}{path}")
                driver.save_screenshot(str(tmp_path / f"ps1-result-{student}-{width}.png"))
                assert found["wide"] == [] and found["scrollWidth"] <= found["width"], found
                driver.execute_script("document.getElementById('notebook-problem2').scrollIntoView()")
                driver.save_screenshot(str(tmp_path / f"ps1-result-{student}-{width}-problem2.png"))
    print(f"screenshots in {tmp_path}")


def test_pages_that_need_the_release_are_503_while_it_is_made_and_the_others_answer(ps1):
    """While `autograder serve` makes the release as it starts (nbgrader generate_assignment, held by the gate in
    the course's nbgrader_config.py), what needs it answers "being prepared, try again" (not a 404); once made, it
    answers."""
    _, server = ps1
    answers = server.while_preparing
    for name in ("page", "release", "upload", "key"):
        answer = answers[name]
        assert (answer.status_code, answer.headers.get("Retry-After")) == (503, "5"), (name, answer.text[-500:])
        assert answer.headers["Content-Type"].startswith("text/html") and "<h1>Almost ready</h1>" in answer.text
        assert "ps1 is being prepared: the service has just started and is getting its notebooks ready, which " \
               "takes a few seconds. Please try again in a moment." in text_of(answer.text)
        assert ("no attempt was used" in answer.text) == (name == "upload")
        assert ('<meta http-equiv="refresh" content="5">' in answer.text) == (name in ("page", "release"))
    api = answers["api"]
    assert (api.status_code, api.headers.get("Retry-After")) == (503, "5")
    assert api.json()["error"].startswith("ps1 is being prepared") and "no attempt was used" in api.json()["error"]
    assert answers["unknown"].status_code == 404 and answers["home"].status_code == 200
    assert not server.service.grader.preparing  # made: the same page answers
    assert server.session("bitdiddle").get(f"{server.url}/assignments/ps1").status_code == 200
