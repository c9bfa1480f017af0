"""The submit API (web/api.py) through Flask's test client on an app that grades nothing: keys, refusals, the
rate limit at its edge, and every answer JSON under any header and body (Hypothesis). The same API on a real
server, graded, is test_submit_served.py."""
import json
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.course import notebook as nb
from autograder.web.api import RateLimit
from served import A1, ONE_ASSIGNMENT_CONFIG, csrf_token, make_course


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from autograder.course.config import load_course
    from autograder.web import create_app

    served = create_app(load_course(make_course(tmp_path_factory.mktemp("api") / "course", ONE_ASSIGNMENT_CONFIG)),
                        grading=False)
    yield served
    served.extensions["autograder"].close()


def signed_in(app, student: str, days: float = 1):
    """A test client signed in as `student` with a link valid `days`."""
    from autograder.web.auth import link_token

    client = app.test_client()
    link = app.extensions["autograder"].store.add_link(student, "student", days)
    assert client.get(f"/signin/{link_token(app.secret_key, link.id)}").status_code == 302
    return client


def download(app, student: str):
    """A signed-in student's download of the release notebook: (the notebook as JSON, its submit key)."""
    answer = signed_in(app, student).get(f"/assignments/{A1}/release")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    notebook = json.loads(answer.data)
    return notebook, notebook["metadata"]["autograder"]["key"]


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_the_downloaded_notebook_carries_its_key_in_metadata_only(app):
    notebook, key = download(app, "ada")
    assert notebook["metadata"]["autograder"] == {"service": "http://localhost", "assignment": A1, "key": key}
    assert len(key) >= 40 and not any(key in json.dumps(cell) for cell in notebook["cells"])
    assert key != download(app, "ada")[1]  # each download its own key


def test_the_store_keeps_only_a_hash_of_the_key(app):
    from sqlalchemy import select

    from autograder.web.store import SUBMIT_KEYS

    _, key = download(app, "hashed")
    with app.extensions["autograder"].store.engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(select(SUBMIT_KEYS))]
    assert rows and not any(key in str(row) for row in rows)


def test_the_assignment_answer_says_the_policy_before_sending(app):
    _, key = download(app, "grace")
    answer = app.test_client().get("/api/assignment", headers=bearer(key))
    assert answer.status_code == 200
    assert answer.json["left"] == 3 and answer.json["attempts"] == 3 and answer.json["used"] == 0
    assert answer.json["policy"] == ("3 of 3 attempts left; no due date; the best attempt counts; a result shows "
                                     "every message")


def test_a_request_without_a_key_or_with_a_made_up_one_is_refused_with_a_message(app):
    client = app.test_client()
    none = client.get("/api/assignment")
    assert none.status_code == 401 and none.json["error"].startswith("This request has no submit key.")
    made_up = client.get("/api/assignment", headers=bearer("x" * 43))
    assert made_up.status_code == 403 and made_up.json["error"].startswith("This submit key is not valid")


def test_a_submitted_notebook_is_stored_without_its_key_and_answered_with_its_urls(app):
    notebook, key = download(app, "alan")
    answer = app.test_client().post("/api/submit", headers=bearer(key), data=json.dumps(notebook))
    assert answer.status_code == 202
    assert answer.json["status_url"] == f"http://localhost/api/attempts/{answer.json['attempt']}"
    assert answer.json["result_url"] == f"http://localhost/attempts/{answer.json['attempt']}"
    assert answer.json["done"] is False and answer.json["number"] == 1
    stored = next((app.extensions["autograder"].course.root / "service").rglob("alan/*/1/submitted/*.ipynb"))
    assert key not in stored.read_text()
    assert json.loads(stored.read_text())["metadata"]["autograder"] == {"service": "http://localhost",
                                                                        "assignment": A1}


def test_the_upload_rules_hold_for_the_api_too(app):
    notebook, key = download(app, "barbara")
    client = app.test_client()
    empty = client.post("/api/submit", headers=bearer(key), data=b"")
    assert empty.status_code == 400 and empty.json["error"] == ("The file is empty. Please upload your saved "
                                                                "gradient_descent.ipynb. No attempt was used.")
    assert client.post("/api/submit", headers=bearer(key), data=json.dumps(notebook)).status_code == 202
    again = client.post("/api/submit", headers=bearer(key), data=json.dumps(notebook))
    assert again.status_code == 409 and "is still being graded" in again.json["error"]
    assert client.get("/api/assignment", headers=bearer(key)).json["used"] == 1


def test_another_students_attempt_is_not_found_with_ones_own_key(app):
    notebook, key = download(app, "claude")
    attempt = app.test_client().post("/api/submit", headers=bearer(key), data=json.dumps(notebook)).json["attempt"]
    _, other = download(app, "donald")
    answer = app.test_client().get(f"/api/attempts/{attempt}", headers=bearer(other))
    assert answer.status_code == 404 and answer.json == {"error": "There is no such attempt of yours."}


def test_serve_revoke_ends_the_students_keys(app, capsys):
    from autograder.cli import main

    _, key = download(app, "emmy")
    assert app.test_client().get("/api/assignment", headers=bearer(key)).status_code == 200
    assert main(["serve", "revoke", "--user", "emmy", "--db", app.extensions["autograder"].db_url]) == 0
    assert capsys.readouterr().out.strip() == "revoked 1 link(s), ended 1 session(s), revoked 1 submit key(s)"
    answer = app.test_client().get("/api/assignment", headers=bearer(key))
    assert answer.status_code == 403 and "withdrawn" in answer.json["error"]


def test_the_rate_limit_allows_its_count_and_refuses_the_next_until_the_window_passes(app):
    _, key = download(app, "frances")
    client = app.test_client()
    app.extensions["autograder_api_rate"] = RateLimit(5, 0.3)
    try:
        assert [client.get("/api/assignment", headers=bearer(key)).status_code for _ in range(5)] == [200] * 5
        refused = client.get("/api/assignment", headers=bearer(key))
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        assert refused.json["error"].startswith("Too many requests at once.")
        time.sleep(0.35)
        assert client.get("/api/assignment", headers=bearer(key)).status_code == 200
    finally:
        app.extensions["autograder_api_rate"] = RateLimit(10 ** 6, 60)


def test_reading_a_notebook_drops_its_submit_key(tmp_path):
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": [],
                                "metadata": {"autograder": {"service": "http://s", "key": "secret-key"}}}))
    assert nb.read(path).metadata == {"autograder": {"service": "http://s"}}


header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255, blacklist_characters="\x7f"),
                      max_size=80)  # what an HTTP header can carry
headers = st.fixed_dictionaries({}, optional={
    "Authorization": header_text | header_text.map("Bearer ".__add__),
    "Content-Type": st.sampled_from(["application/json", "text/plain", "multipart/form-data", "x/\x00"]),
    "Cookie": header_text})
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                           max_leaves=12)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method_path=st.sampled_from([("GET", "/api/assignment"), ("POST", "/api/submit"), ("GET", "/api/attempts/1"),
                                    ("GET", "/api/attempts/99999999999"), ("PUT", "/api/submit"),
                                    ("GET", "/api/attempts/1?wait=x")]),
       headers=headers, use_key=st.booleans(),
       body=st.binary(max_size=500) | json_values.map(lambda value: json.dumps(value).encode()))
def test_any_request_to_the_api_gets_a_json_answer_never_a_server_error(app, keys, method_path, headers, use_key,
                                                                        body):
    method, path = method_path
    if use_key:
        headers = {**headers, **bearer(keys[0])}
    answer = app.test_client().open(path, method=method, headers=headers, data=body)
    assert answer.status_code < 500
    assert answer.is_json
    if answer.status_code >= 400:
        assert set(answer.json) == {"error"} and answer.json["error"]


@pytest.fixture(scope="module")
def keys(app):
    app.extensions["autograder_api_rate"] = RateLimit(10 ** 6, 60)  # the property runs many requests at once
    return [download(app, "hypothesis")[1]]


def test_a_notebook_page_of_another_origin_may_call_the_api_with_its_key_and_no_cookie(app):
    _, key = download(app, "john")
    client = app.test_client()
    preflight = client.options("/api/submit", headers={"Origin": "http://127.0.0.1:8888",
                                                       "Access-Control-Request-Method": "POST",
                                                       "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in preflight.headers  # a cookie is never sent, nor read
    answer = client.get("/api/assignment", headers={**bearer(key), "Origin": "http://127.0.0.1:8888"})
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "Set-Cookie" not in answer.headers


def test_the_assignment_page_says_how_to_submit_from_jupyter_and_shows_no_key(app):
    from autograder.web.auth import link_token

    client = app.test_client()
    link = app.extensions["autograder"].store.add_link("katherine", "student", 1)
    client.get(f"/signin/{link_token(app.secret_key, link.id)}")
    key = json.loads(client.get(f"/assignments/{A1}/release").data)["metadata"]["autograder"]["key"]
    page = client.get(f"/assignments/{A1}").get_data(as_text=True)
    assert "run <code>submit()</code> in a cell" in page
    assert "<code>autograder submit gradient_descent.ipynb</code>" in page
    assert key not in page


def get_a_key(client):
    """Press "Get a submit key" on the assignment's page: (the POST's answer, the key as shown there)."""
    page = client.get(f"/assignments/{A1}").get_data(as_text=True)
    answer = client.post(f"/assignments/{A1}/key", data={"csrf_token": csrf_token(page)})
    shown = re.search(r'id="submit-key" type="text" readonly size="60" value="([^"]+)"', answer.get_data(as_text=True))
    return answer, shown and shown.group(1)


def key_rows(app, student: str) -> list:
    from sqlalchemy import select

    from autograder.web.store import SUBMIT_KEYS

    with app.extensions["autograder"].store.engine.connect() as connection:
        return list(connection.execute(select(SUBMIT_KEYS).where(SUBMIT_KEYS.c.student == student)))


def test_get_a_submit_key_shows_a_new_key_once_in_its_post_answer_only(app):
    from autograder.checking.visible_check import _pasted_key

    client = signed_in(app, "lise")
    before = client.get(f"/assignments/{A1}").get_data(as_text=True)
    assert 'id="get-key-button">Get a submit key</button>' in before
    answer, shown = get_a_key(client)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    service, key = _pasted_key(shown)
    assert service == "http://localhost" and shown.startswith("ag1.")
    assert answer.get_data(as_text=True).count(key) == 1
    assert "Paste it when your notebook asks for a submit key" in answer.get_data(as_text=True)
    assert 'id="copy-key">Copy</button>' in answer.get_data(as_text=True)
    state = app.test_client().get("/api/assignment", headers=bearer(key))
    assert state.status_code == 200 and state.json["assignment"] == A1
    assert key not in json.dumps(state.json)
    pages = [client.get(path).get_data(as_text=True) for path in
             ("/", "/assignments", f"/assignments/{A1}", "/api/assignment")]
    assert not [page[:80] for page in pages if key in page]
    assert _pasted_key(get_a_key(client)[1])[1] != key  # each press a new key


def test_get_a_submit_key_needs_the_pages_csrf_token_and_a_signed_in_student(app):
    client = signed_in(app, "lise_meitner")
    refused = client.post(f"/assignments/{A1}/key", data={})
    assert refused.status_code == 400 and key_rows(app, "lise_meitner") == []
    assert app.test_client().post(f"/assignments/{A1}/key", data={}).status_code in (400, 401)
    assert client.get(f"/assignments/{A1}/key").status_code == 405  # no GET answer ever holds a new key


def test_a_student_has_at_most_the_live_keys_of_the_bound_and_the_oldest_is_refused_with_how_to_get_one(app):
    from autograder.web.store import SUBMIT_KEYS_LIVE

    store = app.extensions["autograder"].store
    keys = [store.add_submit_key("rosalind", A1) for _ in range(SUBMIT_KEYS_LIVE)]
    client = app.test_client()
    assert [client.get("/api/assignment", headers=bearer(key)).status_code for key in keys] == [200] * SUBMIT_KEYS_LIVE
    newest = store.add_submit_key("rosalind", A1)
    oldest = client.get("/api/assignment", headers=bearer(keys[0]))
    assert oldest.status_code == 403
    assert oldest.json["error"] == ("This submit key is not valid: it expired, a newer key replaced it, it was "
                                    "withdrawn, or it is not one of this service's. Get a new one with \"Get a submit "
                                    "key\" on the assignment's page (or download the notebook again) and use it "
                                    "instead.")
    assert [client.get("/api/assignment", headers=bearer(key)).status_code for key in [*keys[1:], newest]] == \
        [200] * SUBMIT_KEYS_LIVE
    assert len(key_rows(app, "rosalind")) == SUBMIT_KEYS_LIVE  # the table stays bounded


def test_a_key_ends_with_the_sign_in_link_or_after_its_lifetime_and_keys_over_are_forgotten(app):
    from datetime import timedelta

    from sqlalchemy import update

    from autograder.web.store import SUBMIT_KEY_DAYS, SUBMIT_KEYS, utcnow

    store = app.extensions["autograder"].store
    _, shown = get_a_key(signed_in(app, "chien_shiung", days=2))
    row, = key_rows(app, "chien_shiung")
    link, = _links(store, "chien_shiung")
    assert row.expires_at == link.expires_at  # the link's 2 days, not SUBMIT_KEY_DAYS
    lasting = store.add_submit_key("chien_shiung", "other")
    over = store.add_submit_key("chien_shiung", A1, not_after=utcnow())
    assert store.submit_key(over) is None and store.submit_key(lasting) is not None
    with store.engine.begin() as connection:  # a row of the table's first version: no expires_at of its own
        connection.execute(update(SUBMIT_KEYS).where(SUBMIT_KEYS.c.student == "chien_shiung").values(
            expires_at=None, created_at=utcnow() - timedelta(days=SUBMIT_KEY_DAYS, seconds=1)))
    assert store.submit_key(lasting) is None
    store.add_submit_key("someone_else", A1)
    assert key_rows(app, "chien_shiung") == []  # expired keys are not kept


def _links(store, user: str):
    from sqlalchemy import select

    from autograder.web.store import LINKS

    with store.engine.connect() as connection:
        return [store.link(row.id) for row in connection.execute(select(LINKS.c.id).where(LINKS.c.user_id == user))]


def test_a_page_of_another_site_cannot_make_a_download_and_its_key(app):
    client = signed_in(app, "grace_hopper")
    for site in ("cross-site", "same-site"):
        answer = client.get(f"/assignments/{A1}/release", headers={"Sec-Fetch-Site": site})
        assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/assignments/{A1}")
    assert key_rows(app, "grace_hopper") == []
    for site in ("same-origin", "none"):  # a click on the assignment's page; the address bar
        assert client.get(f"/assignments/{A1}/release", headers={"Sec-Fetch-Site": site}).status_code == 200
    assert len(key_rows(app, "grace_hopper")) == 2
