"""The service over real HTTP on loopback (cheroot, real sandboxes, nbgrader's SQLite gradebook): who may
open what, sign-in links, CSRF, every kind of bad upload, the attempt rules, and what reaches the gradebook."""
import json
import re
import socket

import nbformat
import pytest
import requests

from served import A1, A2, message, sample, upload, upload_of_size, wait_done

from autograder.results.scores import score

pytestmark = pytest.mark.slow  # the service in a server process

A3, A4 = "03-backpropagation", "04-linear-regression"


def graded_attempt(server, client, assignment, notebook_bytes):
    response = upload(client, server.url, assignment, notebook_bytes)
    assert response.status_code == 200 and "/attempts/" in response.url, message(response.text)
    path = re.search(r"/attempts/\d+$", response.url).group(0)
    return path, wait_done(client, server.url, path)


def test_the_counting_attempt_is_in_nbgrader_gradebook_as_autograder_grade_writes_it(server):
    from autograder.grading.autograded import read_results
    from autograder.grading.gradebook import open_gradebook

    client = server.session("ada")
    path, state = graded_attempt(server, client, A1, sample("ada_lovelace", A1).read_bytes())
    assert (state["score"], state["max_score"]) == (7.0, 9.0)
    page = client.get(server.url + path).text
    ada_s = "7 of 7 points so far; 2 more points to be graded by your instructor"  # her written answer waits
    assert ada_s in page and "This attempt counts for your grade." in page
    gradebook = open_gradebook(server.service.db_url)
    try:
        assert gradebook.find_submission(A1, "ada").score == 7.0
    finally:
        gradebook.close()
    results = {result.student: result.score for result in read_results(server.course.root / "autograded", A1)}
    assert results["ada"] == 7.0
    listing = client.get(f"{server.url}/assignments").text
    row = re.search(rf'data-assignment="{A1}">(.*?)</tr>', listing, re.S).group(1)
    assert re.search(r'class="used">1 of 2<', row) and f'class="score">{ada_s}<' in row


def test_the_best_attempt_counts_and_a_worse_one_leaves_the_gradebook_alone(server):
    from autograder.grading.gradebook import open_gradebook

    client = server.session("grace")
    first, _ = graded_attempt(server, client, A1, sample("ada_lovelace", A1).read_bytes())
    second, state = graded_attempt(server, client, A1, sample("katherine_johnson", A1).read_bytes())
    assert state["score"] == 3.0
    assert "This attempt counts" in client.get(server.url + first).text
    assert "This attempt counts" not in client.get(server.url + second).text
    gradebook = open_gradebook(server.service.db_url)
    try:
        assert gradebook.find_submission(A1, "grace").score == 7.0
    finally:
        gradebook.close()


def test_a_student_cannot_open_another_students_attempt_or_the_instructors_pages(server):
    owner, other = server.session("alan"), server.session("barbara")
    path, _ = graded_attempt(server, owner, A1, sample("alan_turing", A1).read_bytes())
    for suffix in ("", "/status", "/notebook"):
        assert owner.get(server.url + path + suffix).status_code == 200
        refused = other.get(server.url + path + suffix)
        assert refused.status_code == 404, suffix
        assert "alan" not in refused.text and "7 of 9" not in refused.text
    assert path not in other.get(f"{server.url}/assignments/{A1}").text
    attempt_id = path.rsplit("/", 1)[1]
    for route in ("/instructor/", f"/instructor/report/{A1}", "/instructor/students/alan",
                  f"/instructor/attempts/{attempt_id}", f"/instructor/attempts/{attempt_id}/notebook",
                  f"/instructor/submissions/{A1}.zip"):
        assert other.get(server.url + route).status_code == 403, route
    for route in ("/instructor/regrade", "/instructor/extensions"):
        refused = other.post(server.url + route, data={"csrf_token": other.csrf, "attempt_id": attempt_id,
                                                       "student": "barbara", "assignment": A1, "hours": "99"})
        assert refused.status_code == 403, route
    assert server.service.store.extension("barbara", A1).total_seconds() == 0


def test_every_page_but_sign_in_needs_a_session(server):
    anonymous = requests.Session()
    for route in ("/assignments", f"/assignments/{A1}", f"/assignments/{A1}/release", "/attempts/1",
                  "/attempts/1/status", "/attempts/1/notebook", "/instructor/", f"/instructor/report/{A1}",
                  "/instructor/students/ada", "/instructor/attempts/1", f"/instructor/submissions/{A1}.zip"):
        response = anonymous.get(server.url + route, allow_redirects=False)
        assert response.status_code == 401 and "Please sign in" in response.text, route
    before = len(server.service.store.attempts())
    posted = anonymous.post(f"{server.url}/assignments/{A1}/attempts", files={"notebook": ("n.ipynb", b"{}")})
    assert posted.status_code == 400
    assert len(server.service.store.attempts()) == before


def test_forged_expired_and_revoked_links_do_not_sign_in(server):
    from autograder.web.auth import link_token

    good = server.link("claude")
    token = good.rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = requests.get(f"{server.url}/signin/{forged}")
    assert response.status_code == 403 and "not valid" in message(response.text)
    foreign_key = link_token("not the server's key", server.service.store.add_link("claude", "instructor", 1).id)
    assert requests.get(f"{server.url}/signin/{foreign_key}").status_code == 403
    expired = server.link("claude", days=-1 / 24)
    assert "has expired" in message(requests.get(expired).text)
    client = requests.Session()
    assert client.get(good).status_code == 200 and client.get(f"{server.url}/assignments").status_code == 200
    link_id = server.service.store.link(client.cookies and _link_id(server, token)).id
    assert server.service.store.revoke_links(link_id=link_id) == 1
    assert client.get(f"{server.url}/assignments").status_code == 401  # the session from it ends too
    response = requests.get(good)
    assert response.status_code == 403 and "withdrawn" in message(response.text)


def _link_id(server, token):
    with server.app.app_context():
        from autograder.web.auth import link_serializer

        return link_serializer().loads(token)


def test_the_session_cookie_is_httponly_and_samesite_lax(server):
    response = requests.get(server.link("donald"), allow_redirects=False)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_a_form_without_its_csrf_token_is_refused_and_uses_no_attempt(server):
    client = server.session("edsger")
    response = upload(client, server.url, A1, sample("edsger_dijkstra", A1).read_bytes(), csrf=False)
    assert response.status_code == 400 and "No attempt was used" in message(response.text)
    assert server.service.store.attempts("edsger") == []


@pytest.mark.parametrize("data, says", [
    (b"", "The file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not a Jupyter notebook"),
    (b'{"cells": "none"}', "not a Jupyter notebook"),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}).encode(), "has no cells"),
    (None, "notebook of 02-slopes-and-updates"),
    (nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])).encode(),
     "none of the exercises of 01-gradient-descent"),
], ids=["empty", "png", "cells-not-a-list", "no-cells", "another-assignment", "no-exercise"])  # stable names
def test_a_bad_upload_gets_a_clear_message_and_costs_no_attempt(server, data, says):
    client = server.session("frances")
    response = upload(client, server.url, A1, sample("frances_allen", A2).read_bytes() if data is None else data)
    assert response.status_code == 400
    assert says in message(response.text) and "No attempt was used." in message(response.text)
    assert server.service.store.attempts("frances") == []


def test_no_file_chosen_is_a_clear_message(server):
    client = server.session("frances")
    response = client.post(f"{server.url}/assignments/{A1}/attempts", data={"csrf_token": client.csrf})
    assert response.status_code == 400 and "choose your notebook file" in message(response.text)


def test_the_upload_limit_is_exact_and_a_huge_upload_is_refused_before_it_is_read(server):
    limit = server.app.config["AUTOGRADER_MAX_UPLOAD"]
    client = server.session("margaret")
    notebook = sample("margaret_hamilton", A4).read_bytes()

    def body_of(size):
        return upload_of_size(client, server.url, A4, notebook, size)

    over = body_of(limit + 1)
    response = client.post(over.url, data=over.body, headers={"Content-Type": over.headers["Content-Type"]})
    assert response.status_code == 413 and "No attempt was used" in message(response.text)
    assert server.service.store.attempts("margaret") == []
    at = body_of(limit)
    response = client.post(at.url, data=at.body, headers={"Content-Type": at.headers["Content-Type"]})
    assert response.status_code == 200 and "/attempts/" in response.url
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))) as raw:
        raw.sendall(f"POST /assignments/{A4}/attempts HTTP/1.1\r\nHost: x\r\nContent-Length: {200 * 1024 * 1024}\r\n"
                    "Content-Type: multipart/form-data; boundary=x\r\n\r\n".encode())
        assert raw.recv(200).startswith(b"HTTP/1.1 413")
    assert len(server.service.store.attempts("margaret")) == 1


def test_a_second_upload_while_one_is_graded_is_refused(server):
    client = server.session("john")
    notebook = nbformat.reads(sample("john_von_neumann", A1).read_text(), 4)
    notebook.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(2.5)"))
    first = upload(client, server.url, A1, nbformat.writes(notebook).encode())
    second = upload(client, server.url, A1, nbformat.writes(notebook).encode())
    # without JavaScript, the pending page refreshes itself until the result is there
    assert "Being graded" in first.text and '<meta http-equiv="refresh" content="3">' in first.text
    assert second.status_code == 409
    assert "Your attempt 1 is still being graded" in message(second.text)
    wait_done(client, server.url, re.search(r"/attempts/\d+$", first.url).group(0))
    assert [attempt.number for attempt in server.service.store.attempts("john")] == [1]


def test_attempts_run_out_and_the_student_is_told(server):
    client = server.session("emmy")
    graded_attempt(server, client, A3, sample("emmy_noether", A3).read_bytes())
    page = client.get(f"{server.url}/assignments/{A3}").text
    assert "You have used all 1 attempts" in page and 'id="upload"' not in page
    refused = upload(client, server.url, A3, sample("emmy_noether", A3).read_bytes())
    assert refused.status_code == 409 and "used all 1 attempts" in message(refused.text)
    assert len(server.service.store.attempts("emmy", A3)) == 1


def test_the_minimum_time_between_attempts_is_kept(server):
    client = server.session("katherine")
    graded_attempt(server, client, A4, sample("katherine_johnson", A4).read_bytes())
    refused = upload(client, server.url, A4, sample("katherine_johnson", A4).read_bytes())
    assert refused.status_code == 429
    assert re.search(r"You can submit again from \d\d:\d\d UTC \(30 minutes after your last attempt\)",
                     message(refused.text))
    assert len(server.service.store.attempts("katherine", A4)) == 1


def test_a_late_attempt_is_marked_and_scored_with_nbgraders_late_penalty(server):
    from autograder.grading.gradebook import open_gradebook

    client = server.session("ada")
    path, state = graded_attempt(server, client, A2, sample("ada_lovelace", A2).read_bytes())
    assert "(after the due date)" in client.get(server.url + path).text
    gradebook = open_gradebook(server.service.db_url)
    try:
        submission = gradebook.find_submission(A2, "ada")
        assert submission.total_seconds_late > 0 and submission.score == state["score"]
    finally:
        gradebook.close()


def test_a_score_only_policy_without_a_due_date_shows_no_messages_and_says_they_will_not_show(server):
    client = server.session("claude")
    path, _ = graded_attempt(server, client, A3, sample("claude_shannon", A3).read_bytes())
    page = client.get(server.url + path).text
    assert "The hidden checks&#39; messages are not shown for this assignment" in page  # A3 has no due date
    assert "after the due date" not in page and "from the due date" not in page
    assert '<ul class="messages">' not in page.split('id="exercises"')[1].split("written answer")[0]


def give_hand_grade(server, student, points):
    """As formgrader saves a manual grade: through nbgrader's API, into the service's gradebook."""
    from autograder.grading.gradebook import open_gradebook

    gradebook = open_gradebook(server.service.db_url)
    try:
        grade = gradebook.find_grade("learning_rate_too_large", "gradient_descent", A1, student)
        grade.manual_score = points
        gradebook.db.commit()
    finally:
        gradebook.close()


def lms_score(server, assignment, student):
    """What nbgrader's gradebook counts for the submission: its score less its late penalty."""
    from autograder.grading.gradebook import lms_score as counted, open_gradebook

    gradebook = open_gradebook(server.service.db_url)
    try:
        return counted(gradebook.find_submission(assignment, student))
    finally:
        gradebook.close()


def shown_scores(server, client, assignment, path):
    """The score as the assignments list, the assignment page's history and the result page each say it."""
    listing = client.get(f"{server.url}/assignments").text
    column = re.search(rf'data-assignment="{assignment}">.*?class="score">(.*?)</td>', listing, re.S).group(1)
    history = re.search(r'id="history">.*?UTC.*?<td[^>]*>(.*?)</td>',
                        client.get(f"{server.url}/assignments/{assignment}").text, re.S).group(1)
    result = re.search(r'id="score">(.*?)</p>', client.get(server.url + path).text).group(1)
    return column, history, result


def test_a_grade_given_by_hand_in_the_gradebook_shows_on_every_page_of_the_student(server):
    client = server.session("barbara")
    path, state = graded_attempt(server, client, A1, sample("barbara_liskov", A1).read_bytes())
    waiting = f"{score(state['score'])} of 7 points so far; 2 more points to be graded by your instructor"
    assert shown_scores(server, client, A1, path) == (waiting,) * 3  # not counted as 0 of 2 meanwhile
    page = client.get(server.url + path).text
    assert "to be graded by your instructor" in page.split('id="exercises"')[1].split("</table>")[0]

    give_hand_grade(server, "barbara", 1.5)
    assert shown_scores(server, client, A1, path) == (f"{score(state['score'] + 1.5)} of 9 points",) * 3
    assert lms_score(server, A1, "barbara") == state["score"] + 1.5
    assert "Written answer: graded by your instructor, 1.5 of 2 points." in client.get(server.url + path).text

    worse = nbformat.reads(sample("barbara_liskov", A1).read_text(), 4)
    for cell in worse.cells:  # one exercise undone: a lower score
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "gradient_descent_update":
            cell.source = "def gradient_descent_update(*args):\n    raise NotImplementedError()"
    second, again = graded_attempt(server, client, A1, nbformat.writes(worse).encode())
    assert again["score"] < state["score"]  # the first attempt still counts, with its hand grade
    assert shown_scores(server, client, A1, path)[0] == f"{score(state['score'] + 1.5)} of 9 points"
    page = client.get(server.url + second).text
    assert "This attempt counts" not in page
    assert f'id="score">{score(again["score"])} of 7 points so far; 2 more points for written answers (graded on the ' \
           'attempt that counts)</p>' in page
    assert "your instructor grades it on the attempt that counts, not on this one." in page


def test_a_late_attempt_shows_nbgraders_late_penalty_on_every_page_of_the_student(server):
    client = server.session("hedy")  # 02's due date has passed; the course's penalty is nbgrader's "zero"
    path, state = graded_attempt(server, client, A2, sample("ada_lovelace", A2).read_bytes())
    assert state["score"] > 0
    penalised = f"0 of {score(state['max_score'])} points ({score(state['score'])} earned, less a late-submission " \
                f"penalty of {score(state['score'])})"
    assert shown_scores(server, client, A2, path) == (penalised,) * 3
    assert lms_score(server, A2, "hedy") == 0


def test_the_instructor_downloads_the_counting_submissions_in_nbgraders_layout(server):
    import io
    import zipfile

    client = server.session("ada")
    graded_attempt(server, client, A1, sample("ada_lovelace", A1).read_bytes()) if not server.service.store.attempts(
        "ada", A1) else None
    teacher = server.session("teacher", "instructor")
    response = teacher.get(f"{server.url}/instructor/submissions/{A1}.zip")
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    counting = [a for a in server.service.store.attempts(assignment=A1) if a.counts]
    assert sorted(names) == sorted(f"submitted/{a.student}/{A1}/{name}" for a in counting
                                   for name in ("gradient_descent.ipynb", "timestamp.txt"))


def test_inside_an_lms_iframe_the_cookie_is_samesite_none_and_secure(server):
    from flask import session

    from autograder.web import create_app
    from autograder.web.auth import current_user, sign_in

    app = create_app(server.course, server.service.db_url, lms_iframe=True, grading=False)
    try:
        with app.test_request_context("/"):  # as an LTI launch view signs its user in
            sign_in("ada", "student", "lti", context="course-7")
            assert current_user().extra == {"context": "course-7"}
            response = app.make_response("signed in")
            app.session_interface.save_session(app, session, response)
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=None" in cookie and "Secure" in cookie
    finally:
        app.extensions["autograder"].store.close()


def test_the_instructor_sees_the_live_class_report_and_the_class(server):
    client = server.session("ada")
    if not server.service.store.attempts("ada", A1):
        graded_attempt(server, client, A1, sample("ada_lovelace", A1).read_bytes())
    teacher = server.session("teacher", "instructor")
    report = teacher.get(f"{server.url}/instructor/report/{A1}").text
    counting = [a for a in server.service.store.attempts(assignment=A1) if a.counts]
    assert f"Counting attempts of {len(counting)} students" in report
    assert 'id="live" checked> Refresh this report every 10 seconds' in report and "<svg" in report
    overview = teacher.get(f"{server.url}/instructor/").text
    assert all(f'href="/instructor/students/{a.student}"' in overview for a in counting)


def test_the_instructor_regrades_one_attempt_and_a_whole_assignment(server):
    client = server.session("regraded")
    path, state = graded_attempt(server, client, A4, sample("ada_lovelace", A4).read_bytes())
    attempt_id = int(path.rsplit("/", 1)[1])
    before = server.service.store.attempt(attempt_id).finished_at
    teacher = server.session("teacher", "instructor")
    response = teacher.post(f"{server.url}/instructor/regrade", data={"csrf_token": teacher.csrf,
                                                                      "attempt_id": attempt_id})
    assert response.status_code == 200 and response.url.endswith(f"/instructor/attempts/{attempt_id}")
    assert wait_done(teacher, server.url, f"/instructor/attempts/{attempt_id}")["score"] == state["score"]
    again = server.service.store.attempt(attempt_id)
    assert again.finished_at > before and again.counts

    everyone = server.service.store.attempts(assignment=A4)
    teacher.post(f"{server.url}/instructor/regrade", data={"csrf_token": teacher.csrf, "assignment": A4})
    for attempt in everyone:
        wait_done(teacher, server.url, f"/instructor/attempts/{attempt.id}")
    after = {a.id: a for a in server.service.store.attempts(assignment=A4)}
    assert all(after[a.id].finished_at > a.finished_at and after[a.id].score == a.score for a in everyone)


def test_a_regrade_asked_for_while_the_attempt_is_graded_runs_once_after_it(server):
    import time

    from autograder.web.grading import submitted_notebook

    client = server.session("ida")
    slow = nbformat.reads(sample("katherine_johnson", A1).read_text(), 4)  # 3 of 9 points
    slow.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(2.5)"))
    response = upload(client, server.url, A1, nbformat.writes(slow).encode())
    attempt_id = int(response.url.rsplit("/", 1)[1])
    finished = []
    store_finish = server.service.store.finish  # counted as it records each grading of this attempt

    def counting_finish(attempt, *args):
        finished.extend([attempt.id] if attempt.id == attempt_id else [])
        return store_finish(attempt, *args)

    server.service.store.finish = counting_finish
    try:
        deadline = time.monotonic() + 30
        while not any(getattr(worker, "current", None) and worker.current.key == attempt_id
                      for worker in server.service.grader.pool):
            assert time.monotonic() < deadline, "the attempt never started grading"
            time.sleep(0.02)
        time.sleep(0.5)  # well into its 2.5 s cell: the running grading has read the notebook
        # what the regrade must see: the notebook as it is now, not as the running grading read it
        submitted_notebook(server.course, server.service.store.attempt(attempt_id)).write_bytes(
            sample("ada_lovelace", A1).read_bytes())
        teacher = server.session("teacher", "instructor")
        for _ in range(2):  # a double click while it is graded
            asked = teacher.post(f"{server.url}/instructor/regrade", data={"csrf_token": teacher.csrf,
                                                                           "attempt_id": attempt_id})
            assert asked.status_code == 200
        assert server.service.store.attempt(attempt_id).finished_at is None  # still the first grading
        while len(finished) < 2 or not server.service.store.attempt(attempt_id).done:
            assert time.monotonic() < deadline + 30, f"graded {len(finished)} time(s) only"
            time.sleep(0.05)
        time.sleep(1.0)  # nothing more comes
        assert finished == [attempt_id, attempt_id]
    finally:
        server.service.store.finish = store_finish
    attempt = server.service.store.attempt(attempt_id)
    assert (attempt.status, attempt.score) == ("done", 7.0)
    assert attempt_id not in server.service.grader._queued
