"""One gradebook, one truth, over the sample class: `autograder grade` and a running `autograder serve` write
attempts of one history. ada's 01 is batch-graded 7 of 7, then she uploads a worse notebook (5) through the
service: under "best" the gradebook keeps 7. kay's 02 (counting "last") is batch-graded 9, her later upload of 7
takes its place, and a batch regrade of her older submission does not undo that. The service lists the
batch-graded work, the instructor's overview counts both, and an assignment made with `autograder new` and
`autograder release` while the service runs appears without a restart."""
import html
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import requests
from nbgrader.api import Gradebook

from served import A1, A2, ROOT, ProcessServer, csrf_token, make_course, sample, upload, wait_done

pytestmark = pytest.mark.slow

A5 = "05-momentum"
CONFIG = """
c.Autograder.cell_timeout = 3
c.Autograder.submission_timeout = 30
c.Autograder.policies = {"default": {"attempts": 3, "before_due": "full"},
                         "02-slopes-and-updates": {"counting": "last"}}
"""
BATCH = {("ada", A1): "ada_lovelace", ("kay", A2): "katherine_johnson"}   # 7 of 7 and 9 of 9


def run(root, *command):
    env = {**os.environ, "AUTOGRADER_COURSE_ROOT": str(root),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "autograder", *command], cwd=root, env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, f"{command}:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done.stdout


def gradebook_score(root, assignment, student) -> float:
    """What nbgrader's gradebook (and so formgrader) holds as the student's score."""
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return gradebook.find_submission(assignment, student).score


def text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The course after `autograder grade --all` of ada's 01 and kay's 02, a service running on it, and the
    signed-in clients of ada, kay and an instructor."""
    root = make_course(tmp_path_factory.mktemp("one_history") / "course", CONFIG)
    for (student, assignment), who in BATCH.items():
        shutil.copytree(sample(who, assignment).parent, root / "submitted" / student / assignment)
    run(root, "grade", "--all", "--no-progress")
    server = ProcessServer(root, "--workers", "1")
    printed = run(root, "serve", "links", "--url", server.url, "--student", "ada", "--student", "kay",
                  "--instructor", "prof")
    clients = {}
    for line in printed.splitlines():
        _, user, link, _ = line.split("\t")
        clients[user] = requests.Session()
        page = clients[user].get(link)
        assert page.status_code == 200, page.text
        clients[user].csrf = csrf_token(page.text)
    yield root, server, clients
    server.stop()


def submit(server, client, assignment, notebook) -> float:
    response = upload(client, server.url, assignment, notebook.read_bytes())
    assert response.status_code == 200 and "/attempts/" in response.url, response.text[-2000:]
    return wait_done(client, server.url, re.search(r"/attempts/\d+$", response.url).group(0), timeout=120)["score"]


def test_the_service_lists_batch_graded_work_with_its_result(course):
    root, server, clients = course
    assert gradebook_score(root, A1, "ada") == 7
    listed = clients["ada"].get(f"{server.url}/assignments").text
    row = text(re.search(rf'<tr data-assignment="{A1}">.*?</tr>', listed, re.S).group(0))
    assert "7 of 7" in row and "not submitted" not in row
    page = text(clients["ada"].get(f"{server.url}/assignments/{A1}").text)
    assert "graded by your instructor's batch run" in page and "2026-10-09 12:07:00 UTC" in page
    result = clients["ada"].get(f"{server.url}/assignments/{A1}/batch")
    assert result.status_code == 200
    assert "7 of 7" in text(result.text) and "This attempt counts for your grade." in result.text
    assert clients["kay"].get(f"{server.url}/assignments/{A1}/batch").status_code == 404   # kay has none of 01


def test_under_best_a_later_worse_upload_does_not_replace_the_batch_grade(course):
    root, server, clients = course
    assert submit(server, clients["ada"], A1, sample("emmy_noether", A1)) == 5
    assert gradebook_score(root, A1, "ada") == 7
    page = text(clients["ada"].get(f"{server.url}/assignments/{A1}").text)
    assert "the best attempt counts" in page
    assert re.search(r"graded by your instructor's batch run .*? 7 of 7 points so far; [^★]*★ counts", page), page
    assert re.search(r"attempt 1 [^★]*? 5 of 7 points so far; [^★]* no\s*$", page), page
    assert '"score": 7' in (root / "autograded" / "ada" / A1 / "results.json").read_text()


def test_under_last_the_later_upload_counts_and_a_batch_regrade_does_not_undo_it(course):
    root, server, clients = course
    assert gradebook_score(root, A2, "kay") == 9
    assert submit(server, clients["kay"], A2, sample("ada_lovelace", A2)) == 7
    assert gradebook_score(root, A2, "kay") == 7
    run(root, "grade", A2, "--regrade", "--no-progress")   # her batch submission was handed in before the upload
    assert gradebook_score(root, A2, "kay") == 7
    page = text(clients["kay"].get(f"{server.url}/assignments/{A2}").text)
    assert re.search(r"graded by your instructor's batch run .*? 9 of 9 points no", page), page
    assert re.search(r"attempt 1 .*? 7 of 9 points ★ counts", page), page


def test_the_overview_counts_batch_and_service_attempts(course):
    root, server, clients = course
    if gradebook_score(root, A2, "kay") != 7:
        pytest.fail("runs after the uploads of the tests above")
    overview = clients["prof"].get(f"{server.url}/instructor/").text
    rows = {text(row).split()[0]: text(row).split() for row in re.findall(r"<tr>(.*?)</tr>", overview, re.S)[1:]}
    # assignment, due, attempts, students, being graded, mean (counting)
    assert rows[A1][2:6] == ["2", "1", "0", "7.00"]
    assert rows[A2][2:6] == ["2", "1", "0", "7.00"]
    student = text(clients["prof"].get(f"{server.url}/instructor/students/ada").text)
    assert "counting: the batch run's grade, 7 of 7" in student


def test_an_assignment_made_and_released_while_the_service_runs_appears_without_restart(course):
    root, server, clients = course
    assert A5 not in clients["ada"].get(f"{server.url}/assignments").text
    run(root, "new", A5)
    assert A5 not in clients["ada"].get(f"{server.url}/assignments").text   # not released yet
    assert A5 in clients["prof"].get(f"{server.url}/instructor/").text
    run(root, "release", A5)
    started = time.monotonic()
    assert A5 in clients["ada"].get(f"{server.url}/assignments").text
    assert time.monotonic() - started < 5
    notebook = clients["ada"].get(f"{server.url}/assignments/{A5}/release")
    assert notebook.status_code == 200 and b'"cells"' in notebook.content
    assert submit(server, clients["ada"], A5, root / "release" / A5 / "momentum.ipynb") == 0
