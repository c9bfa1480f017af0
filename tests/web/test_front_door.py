"""Sessions that end, and requests at the service's limits, over real HTTP on loopback: the app of `create_app`
on the service's server (cheroot) in a thread, with its real store, built without sandboxes (an accepted upload waits in the queue).

A session is a row in the service's database: sign-out, `serve revoke` and its expiry end it for every copy of
its cookie. Notebooks nested deeper than notebook.MAX_DEPTH and attempt ids out of any column's range are
refused with the service's own pages."""
from __future__ import annotations

import json
from datetime import timedelta
from html import unescape

import pytest
import requests

from served import A1, A2, ThreadServer, make_course, message, sample, upload

from autograder.course import notebook as nb


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    served = ThreadServer(make_course(tmp_path_factory.mktemp("front-door") / "course"), grading=False)
    yield served
    served.close()


def copy_of(client: requests.Session) -> requests.Session:
    """Another browser holding the same cookie (copied from a shared computer, say)."""
    copy = requests.Session()
    copy.cookies.update(client.cookies)
    copy.csrf = client.csrf
    return copy


def signed_out(response: requests.Response) -> bool:
    return response.status_code == 401 and "Please sign in with your personal link first." in message(response.text)


def test_a_cookie_copied_before_sign_out_neither_reads_nor_submits_after_it(server):
    client = server.session("ada")
    copy = copy_of(client)
    before = upload(copy, server.url, A1, sample("ada_lovelace", A1).read_bytes())
    assert before.status_code == 200 and before.history[0].status_code == 303  # the copy works until sign-out
    attempt_page = before.url
    signed = client.post(f"{server.url}/signout", data={"csrf_token": client.csrf})
    assert signed.status_code == 200 and message(signed.text) == "You are signed out."
    for reader in (copy, client):
        assert signed_out(reader.get(f"{server.url}/assignments"))
        assert signed_out(reader.get(attempt_page))
        assert signed_out(reader.get(attempt_page + "/status"))
    refused = upload(copy, server.url, A2, sample("ada_lovelace", A2).read_bytes())
    assert signed_out(refused)
    assert [(attempt.assignment, attempt.number) for attempt in server.service.store.attempts("ada")] == [(A1, 1)]


def test_signing_in_again_ends_the_session_the_browser_had(server):
    first = server.session("grace")
    copy = copy_of(first)
    assert first.get(server.link("grace")).status_code == 200
    assert first.get(f"{server.url}/assignments").status_code == 200
    assert signed_out(copy.get(f"{server.url}/assignments"))


def test_the_database_holds_no_session_id_a_cookie_carries(server):
    from sqlalchemy import select

    from autograder.web.store import SESSIONS

    client = server.session("barbara")
    with server.app.app_context():
        cookie = server.app.session_interface.get_signing_serializer(server.app).loads(client.cookies["session"])
    with server.service.store.engine.connect() as connection:
        rows = connection.execute(select(SESSIONS).where(SESSIONS.c.user_id == "barbara")).all()
    assert len(rows) == 1 and rows[0].ended_at is None
    assert cookie["sid"] not in json.dumps([list(map(str, row)) for row in rows])


def lti_session(server, user: str) -> requests.Session:
    """A browser signed in as an LTI launch signs in: the session row `sign_in` makes, in the cookie it sets."""
    session_id = server.service.store.start_session(user, "student", "lti", {"assignment": A1}, timedelta(days=14))
    client = requests.Session()
    with server.app.app_context():
        client.cookies.set("session", server.app.session_interface.get_signing_serializer(server.app)
                           .dumps({"sid": session_id}))
    return client


def test_serve_revoke_of_a_user_ends_each_of_their_sessions_from_links_and_the_lms(server, capsys):
    from autograder.cli import main

    by_link, by_lms, other = server.session("alan"), lti_session(server, "alan"), server.session("claude")
    for client in (by_link, by_lms, other):
        assert client.get(f"{server.url}/assignments").status_code == 200
    assert main(["serve", "revoke", "--user", "alan", "--db", server.service.db_url]) == 0
    assert capsys.readouterr().out.strip() == "revoked 1 link(s), ended 2 session(s), revoked 0 submit key(s)"
    assert signed_out(by_link.get(f"{server.url}/assignments"))
    assert signed_out(by_lms.get(f"{server.url}/assignments"))
    assert other.get(f"{server.url}/assignments").status_code == 200


def test_serve_revoke_of_a_link_ends_the_sessions_signed_in_with_it_only(server, capsys):
    from autograder.cli import main

    link = server.link("edsger")
    by_link, again, by_lms = requests.Session(), requests.Session(), lti_session(server, "edsger")
    assert by_link.get(link).status_code == 200 and again.get(link).status_code == 200
    link_id = _link_id(server, link)
    assert main(["serve", "revoke", "--link", link_id, "--db", server.service.db_url]) == 0
    assert capsys.readouterr().out.strip() == "revoked 1 link(s)"
    assert signed_out(by_link.get(f"{server.url}/assignments"))
    assert signed_out(again.get(f"{server.url}/assignments"))
    assert by_lms.get(f"{server.url}/assignments").status_code == 200


def _link_id(server, link: str) -> str:
    from autograder.web.auth import link_serializer

    with server.app.app_context():
        return link_serializer().loads(link.rsplit("/", 1)[1])


class Clock:
    """The store's clock (store.utcnow), set by the test: the server runs in this process."""

    def __init__(self, monkeypatch):
        from autograder.web import store

        self.now = store.utcnow()
        monkeypatch.setattr(store, "utcnow", lambda: self.now)


def test_a_session_ends_at_its_expiry_not_a_moment_later(server, monkeypatch):
    clock = Clock(monkeypatch)
    signed_in_at = clock.now
    client = requests.Session()
    assert client.get(server.link("frances", days=30)).status_code == 200
    lifetime = server.app.permanent_session_lifetime
    assert lifetime == timedelta(days=14)
    clock.now = signed_in_at + lifetime - timedelta(microseconds=1)
    assert client.get(f"{server.url}/assignments").status_code == 200
    clock.now = signed_in_at + lifetime
    assert signed_out(client.get(f"{server.url}/assignments"))
    clock.now = signed_in_at  # the session stays ended
    assert signed_out(client.get(f"{server.url}/assignments"))


def test_a_session_from_a_link_ends_when_the_link_expires(server, monkeypatch):
    clock = Clock(monkeypatch)
    client = requests.Session()
    assert client.get(server.link("john", days=2)).status_code == 200
    link_expires = clock.now + timedelta(days=2)
    clock.now = link_expires - timedelta(microseconds=1)
    assert client.get(f"{server.url}/assignments").status_code == 200
    clock.now = link_expires
    assert signed_out(client.get(f"{server.url}/assignments"))


def nested_notebook(levels: int) -> bytes:
    """A release notebook whose first cell's metadata holds lists nested so the whole file is `levels` deep:
    the notebook (1), its cells (2), the cell (3), its metadata (4), then lists."""
    notebook = json.loads(sample("katherine_johnson", A2).read_text())
    marker = "NESTED-HERE"
    notebook["cells"][0]["metadata"]["deep"] = marker
    return json.dumps(notebook).replace(f'"{marker}"', "[" * (levels - 4) + "]" * (levels - 4)).encode()


def test_an_upload_nested_one_level_past_the_limit_is_refused_with_the_limit_and_costs_no_attempt(server):
    client = server.session("katherine")
    refused = upload(client, server.url, A2, nested_notebook(nb.MAX_DEPTH + 1))
    assert refused.status_code == 400
    assert unescape(message(refused.text)) == (
        f"This file is not a Jupyter notebook that can be read (it is nested more than {nb.MAX_DEPTH} levels deep). "
        f"Please upload {server.course.notebook(A2)} as Jupyter saves it (File > Save, then choose the .ipynb file). "
        "No attempt was used.")
    for levels in (800, 100_000):  # the issue's: 800 reached past the parser, 100,000 stopped in it
        assert nb.MAX_DEPTH < levels and upload(client, server.url, A2, nested_notebook(levels)).status_code == 400
    assert server.service.store.attempts("katherine") == []
    accepted = upload(client, server.url, A2, nested_notebook(nb.MAX_DEPTH))
    assert accepted.history[0].status_code == 303 and "/attempts/" in accepted.url
    assert len(server.service.store.attempts("katherine")) == 1


@pytest.mark.parametrize("attempt_id", [str(2 ** 31), str(2 ** 63), str(2 ** 64), "9" * 5000],
                         ids=["2**31", "2**63", "2**64", "5000-digits"])
def test_attempt_ids_out_of_range_are_not_found(server, attempt_id):
    student, instructor = server.session("margaret"), server.session("prof", "instructor")
    for client, prefix in ((student, ""), (instructor, "/instructor")):
        for suffix in ("", "/status", "/notebook"):
            response = client.get(f"{server.url}{prefix}/attempts/{attempt_id}{suffix}")
            assert response.status_code == 404 and message(response.text).startswith("There is no such page.")
    regrade = instructor.post(f"{server.url}/instructor/regrade", data={"csrf_token": instructor.csrf,
                                                                        "attempt_id": attempt_id})
    assert regrade.status_code == 404 and message(regrade.text).startswith("There is no such page.")


def test_a_student_id_no_student_can_have_is_not_found_on_the_instructors_pages(server):
    """A NUL in a query is an error on PostgreSQL (the 503 page there): no id with one reaches the database."""
    instructor = server.session("prof", "instructor")
    for student in ("a%00b", "a%20b", ".hidden", "x" * 129):
        response = instructor.get(f"{server.url}/instructor/students/{student}")
        assert response.status_code == 404 and message(response.text).startswith("There is no such page.")
    for route, form in (("extensions", {"student": "a\x00b", "assignment": A1, "hours": "5"}),
                        ("regrade", {"student": "a\x00b", "assignment": A1})):
        response = instructor.post(f"{server.url}/instructor/{route}", data={"csrf_token": instructor.csrf, **form})
        assert response.status_code == 404, route
    assert server.service.store.extension("a\x00b", A1) == timedelta(0)
