"""Every route of the service (enumerated from app.url_map), driven by Hypothesis with what anyone can send:
each path parameter, query string, form field, uploaded file, header, cookie and body, signed in as nobody, a
student, another student and an instructor. No request may crash the service: the status is below 500, nothing
is logged as an error, and every refusal (4xx) is the service's own page.

The app is the real one of `create_app` on a real store in a throwaway course, through Flask's test client. The
fast test builds it without sandboxes (`grading=False`: an accepted upload waits in the pool's queue); the slow
one drives the app of a real server of its own, whose pool of sandboxes grades what is accepted."""
from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from served import A1, A2, TEST_CONFIG, ThreadServer, make_course, sample

IDENTITIES = ("nobody", "ada", "grace", "prof")       # grace is the other student; prof the instructor
SERVICE_PAGE = '<span class="course">'               # base.html's header: the page is the service's own
HUGE = str(2 ** 64)
FIELDS = ("csrf_token", "student", "assignment", "hours", "attempt_id", "launch_id", "id_token", "state", "iss",
          "login_hint", "target_link_uri", "lti_message_hint", "client_id", "lti_deployment_id")
QUERIES = ("wait", "iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id", "state", "next")
HEADERS = ("Range", "If-Range", "If-Modified-Since", "If-None-Match", "Accept", "Accept-Encoding", "Origin",
           "Referer", "Host", "X-Forwarded-For", "X-Forwarded-Proto", "Transfer-Encoding", "Authorization")
CONTENT_TYPES = ("multipart/form-data; boundary=x", "multipart/form-data", "application/x-www-form-urlencoded",
                 "application/json", "text/plain", "application/octet-stream", "multipart/mixed; boundary=")


@dataclass(frozen=True)
class Probe:
    """One request: who sends it, and everything in it."""
    identity: str
    method: str
    path: str
    query: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    form: dict = field(default_factory=dict)
    notebook: bytes | None = None       # an uploaded file in the form's "notebook" field
    body: bytes | None = None           # a raw body instead of a form
    content_type: str | None = None
    cookie: str = "own"                 # "own" (the identity's), "none", "garbage:<text>" or "sid:<json>"
    csrf: bool = True                   # the form carries the identity's CSRF token


def _notebooks() -> st.SearchStrategy[bytes]:
    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                               lambda inner: st.lists(inner, max_size=3)
                               | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=10)
    depth = st.integers(1, 2000)
    return st.one_of(
        st.just(sample("ada_lovelace", A1).read_bytes()),
        st.just(sample("ada_lovelace", A2).read_bytes()),
        st.binary(max_size=300),
        json_values.map(lambda value: json.dumps(value).encode()),
        depth.map(lambda n: _nested_notebook("[" * n + "]" * n)),
        depth.map(lambda n: _nested_notebook('{"a":' * n + "1" + "}" * n)),
    )


def _nested_notebook(metadata: str) -> bytes:
    return ('{"nbformat": 4, "nbformat_minor": 5, "cells": [], "metadata": {"deep": %s}}' % metadata).encode()


_texts = st.one_of(st.text(max_size=40), st.sampled_from([
    "", "0", "-1", "1", "2", "nan", "inf", "-inf", "1e309", HUGE, "9" * 40, "\u00b2", "\u0663", " 1", "1_0",
    "ada", "grace", "prof", A1, A2, "../../etc/passwd", "%00", "\x00", "..", "/"]))
_header_texts = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40) | st.sampled_from(
    ["bytes=0-10", "bytes=99999999-", "bytes=5-1", "bytes=-0", "bytes=0-0,1-1,2-2", "chunked", "localhost",
     "Thu, 01 Jan 1970 00:00:00 GMT", "*", "https", "Basic Og=="])


def _path_value(converter, known_ids: list[int]):
    from werkzeug.routing import IntegerConverter

    if isinstance(converter, IntegerConverter):
        numbers = st.sampled_from(known_ids) | st.integers(0, 2 ** 70) | st.sampled_from([2 ** 31 - 1, 2 ** 31, 2 ** 63])
        return numbers.map(str) | st.sampled_from(["\u0663", "1.5", "-1", "00001", "9" * 5000])
    return st.sampled_from([A1, A2, "ada", "grace", "prof", "service.css", "..", "%2e%2e", "a/../../b"]) | \
        st.text(min_size=1, max_size=30)


@st.composite
def probes(draw, rules, known_ids):
    rule = draw(st.sampled_from(rules))
    path = rule.rule
    for name, converter in rule._converters.items():
        value = draw(_path_value(converter, known_ids))
        safe = "/" if type(converter).__name__ == "PathConverter" else ""
        path = re.sub(rf"<(?:[^:>]+:)?{name}>", quote(value, safe=safe).replace("\\", "\\\\"), path)
    own = st.sampled_from(sorted(rule.methods - {"HEAD", "OPTIONS"}))
    method = draw(st.one_of(own, own, own, st.sampled_from(["HEAD", "OPTIONS", "PUT", "DELETE"])))
    raw = draw(st.booleans()) if method in ("POST", "PUT") else False
    return Probe(
        identity=draw(st.sampled_from(IDENTITIES)), method=method, path=path,
        query=draw(st.dictionaries(st.sampled_from(QUERIES) | st.text(max_size=5), _texts, max_size=3)),
        headers=draw(st.dictionaries(st.sampled_from(HEADERS), _header_texts, max_size=2)),
        form={} if raw else draw(st.dictionaries(st.sampled_from(FIELDS), _texts, max_size=4)),
        notebook=None if raw else draw(st.none() | _notebooks()),
        body=draw(st.binary(max_size=300)) if raw else None,
        content_type=draw(st.sampled_from(CONTENT_TYPES)) if raw else None,
        cookie=draw(st.one_of(st.just("own"), st.just("own"), st.just("own"), st.just("none"),
                              st.text(max_size=40).map(lambda t: "garbage:" + t),
                              st.sampled_from(['"x"', "5", "null", "[]", '{"a": 1}', '"' + "0" * 43 + '"'])
                              .map(lambda s: "sid:" + s))),
        csrf=draw(st.booleans()))


class ErrorRecords(logging.Handler):
    """Every record at ERROR or above, or with a traceback, anywhere in the service."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)


@pytest.fixture(scope="module")
def errors():
    handler = ErrorRecords()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def signed_in(app, identity: str):
    """A test client of `identity` and its CSRF token (None for nobody)."""
    from autograder.web.auth import link_token

    client = app.test_client()
    if identity == "nobody":
        return client, None
    role = "instructor" if identity == "prof" else "student"
    link = app.extensions["autograder"].store.add_link(identity, role, 1)
    assert client.get(f"/signin/{link_token(app.secret_key, link.id)}").status_code == 302
    page = client.get("/no-such-page").get_data(as_text=True)  # its header's sign-out form has the token
    return client, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def send(app, probe: Probe):
    client, token = signed_in(app, probe.identity)
    if probe.cookie == "none":
        client.delete_cookie("session")
    elif probe.cookie.startswith("garbage:"):
        client.set_cookie("session", probe.cookie.removeprefix("garbage:"))
    elif probe.cookie.startswith("sid:"):  # signed with the app's key: only the session id inside is made up
        signer = app.session_interface.get_signing_serializer(app)
        client.set_cookie("session", signer.dumps({"sid": json.loads(probe.cookie.removeprefix("sid:"))}))
    options = {"query_string": probe.query, "headers": probe.headers}
    if probe.body is not None:
        options.update(data=probe.body, content_type=probe.content_type)
    elif probe.method in ("POST", "PUT") or probe.form or probe.notebook is not None:
        data = dict(probe.form)
        if probe.csrf and token:
            data["csrf_token"] = token
        if probe.notebook is not None:
            data["notebook"] = (io.BytesIO(probe.notebook), "notebook.ipynb")
        options["data"] = data
    return client.open(probe.path, method=probe.method, **options)


def check(app, errors, probe: Probe):
    errors.records.clear()
    response = send(app, probe)
    event(f"{probe.method} {response.status_code}")  # pytest --hypothesis-show-statistics: what was reached
    logged = [f"{record.name}: {record.getMessage()}" for record in errors.records]
    assert response.status_code < 500, (probe, response.get_data(as_text=True)[-500:], logged)
    assert logged == [], probe
    if response.status_code >= 400 and probe.method != "HEAD":
        if probe.path.startswith("/api/"):  # the submit API's refusals are JSON: {"error": message}
            assert response.is_json and set(response.json) == {"error"}, (probe, response.get_data(as_text=True))
        else:
            assert SERVICE_PAGE in response.get_data(as_text=True), (probe, response.get_data(as_text=True)[:500])


def upload_two_attempts(app) -> None:
    """ada's attempt 1 and grace's attempt 2 of A1, the ids the fuzzing knows."""
    for number, name in enumerate(("ada", "grace"), 1):
        client, token = signed_in(app, name)
        uploaded = client.post(f"/assignments/{A1}/attempts", data={
            "csrf_token": token, "notebook": (io.BytesIO(sample("ada_lovelace", A1).read_bytes()), "n.ipynb")})
        assert uploaded.headers["Location"].endswith(f"/attempts/{number}")


def lti_config(folder) -> str:
    """A registration with an LMS that is not there: launches get as far as their checks take them."""
    from autograder.lms.settings import create_key_pair

    create_key_pair(folder / "tool.pem")
    dead = "http://127.0.0.1:9"  # the discard port: nothing listens
    settings = {"issuer": "https://lms.test", "client_id": "tool-1", "deployment_id": "deployment-1",
                "token_url": f"{dead}/token", "private_key": str(folder / "tool.pem"), "auth_url": f"{dead}/auth",
                "platform_jwks_url": f"{dead}/jwks", "timeout": 1}
    return "".join(f"\nc.LTI.{name} = {value!r}" for name, value in settings.items()) + "\n"


@pytest.fixture(scope="module")
def fast_app(tmp_path_factory):
    """The app on a course of its own, registered with an LMS, without sandboxes; ada and grace have uploaded
    (attempts 1 and 2)."""
    from autograder.course.config import load_course
    from autograder.web import create_app
    from autograder.web import student

    patch = pytest.MonkeyPatch()
    patch.setattr(student, "LONG_POLL_SECONDS", 0.05)  # an attempt here is never graded: do not wait for it
    folder = tmp_path_factory.mktemp("routes")
    app = create_app(load_course(make_course(folder / "course", TEST_CONFIG + lti_config(folder))), grading=False)
    upload_two_attempts(app)
    ROUTES.update(_rules(app))
    assert sorted(ROUTES) == route_rules()
    yield app
    app.extensions["autograder"].close()
    patch.undo()


def route_rules() -> list[str]:
    """The rules of the app's url_map, known before an app is built (for pytest's parameters): the blueprints
    create_app registers and Flask's static route. The fast app's fixture checks the real app routes the same."""
    from flask import Flask

    from autograder.web import api, instructor, lti, student

    app = Flask("autograder.web.app")
    for blueprint in (student.blueprint, instructor.blueprint, lti.blueprint, api.blueprint):
        app.register_blueprint(blueprint)
    return sorted(rule.rule for rule in app.url_map.iter_rules())


ROUTES: dict = {}   # rule -> the real app's Rule, filled by the app fixtures before any example is drawn


def _rules(app) -> dict:
    return {rule.rule: rule for rule in app.url_map.iter_rules()}


REGRESSIONS = [  # what the fuzzing found, and the reports
    Probe("ada", "GET", f"/attempts/{HUGE}"),
    Probe("ada", "GET", f"/attempts/{HUGE}/status"),
    Probe("ada", "GET", f"/attempts/{HUGE}/notebook"),
    Probe("prof", "GET", f"/instructor/attempts/{2 ** 63}"),
    Probe("prof", "GET", f"/instructor/attempts/{2 ** 31}/status"),
    Probe("prof", "POST", "/instructor/regrade", form={"attempt_id": str(2 ** 31)}),
    Probe("prof", "POST", "/instructor/regrade", form={"attempt_id": HUGE}),
    Probe("prof", "POST", "/instructor/regrade", form={"attempt_id": "\u00b2"}),
    Probe("prof", "POST", "/instructor/regrade", form={"attempt_id": "9" * 5000}),
    Probe("ada", "GET", "/attempts/" + "9" * 5000),
    Probe("ada", "GET", "/attempts/1/status", query={"wait": "nan"}),
    Probe("ada", "POST", f"/assignments/{A2}/attempts", notebook=_nested_notebook("[" * 700 + "]" * 700)),
    Probe("ada", "POST", f"/assignments/{A2}/attempts", notebook=_nested_notebook('{"a":' * 600 + "1" + "}" * 600)),
    Probe("ada", "PUT", "/assignments"),
    Probe("nobody", "GET", "/static/..%2f..%2fapp.py"),
    Probe("ada", "GET", "/attempts/1/notebook", headers={"Range": "bytes=99999999-"}),
]


def with_regressions(test):
    for probe in REGRESSIONS:
        test = example(probe=probe)(test)
    return test


# drawn once the app is built (its fixture fills ROUTES): the routes are the real app's url_map
any_probe = st.deferred(lambda: probes(list(ROUTES.values()), [1, 2, 3]))


@pytest.mark.parametrize("route", route_rules())
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_request_to_this_route_crashes_the_service(fast_app, errors, route, data):
    check(fast_app, errors, data.draw(probes([ROUTES[route]], [1, 2, 3]), label="probe"))


@with_regressions
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(probe=any_probe)
def test_no_request_to_any_route_crashes_the_service(fast_app, errors, probe):
    check(fast_app, errors, probe)


@pytest.fixture(scope="module")
def pool_app(tmp_path_factory):
    """The app of a server of its own (what the fuzzing does touches no other test's students) with a real pool
    of sandboxes, which grades every upload accepted."""
    from autograder.web import student

    patch = pytest.MonkeyPatch()
    patch.setattr(student, "LONG_POLL_SECONDS", 0.05)
    folder = tmp_path_factory.mktemp("routes-graded")
    server = ThreadServer(make_course(folder / "course", TEST_CONFIG + lti_config(folder)), workers=1)
    upload_two_attempts(server.app)
    for attempt_id in (1, 2):  # graded: their result pages are fuzzed too
        assert server.service.grader.wait_graded(attempt_id, lambda: server.service.store.attempt(attempt_id), 60).done
    ROUTES.update(_rules(server.app))
    yield server.app
    server.close()
    patch.undo()


@pytest.mark.slow
@with_regressions
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(probe=any_probe)
def test_no_request_crashes_the_service_while_its_pool_grades(pool_app, errors, probe):
    check(pool_app, errors, probe)


def page_title(response) -> str:
    return re.search(r"<h1>(.*?)</h1>", response.get_data(as_text=True)).group(1)


def test_refusals_are_the_services_pages_with_what_their_status_needs(fast_app):
    client = fast_app.test_client()
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and page_title(missing) == "Not found"
    wrong_method = client.put("/assignments")
    assert wrong_method.status_code == 405 and page_title(wrong_method) == "Not available this way"
    assert set(wrong_method.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    notebook = io.BytesIO(b" " * (fast_app.config["AUTOGRADER_MAX_UPLOAD"] + 1))
    too_large = client.post(f"/assignments/{A1}/attempts", data={"notebook": (notebook, "n.ipynb")})
    assert too_large.status_code == 413 and page_title(too_large) == "File too large"
    assert "No attempt was used." in too_large.get_data(as_text=True)
    for response in (missing, wrong_method, too_large):
        assert SERVICE_PAGE in response.get_data(as_text=True) and response.mimetype == "text/html"


def test_an_unexpected_error_is_the_services_page_and_its_traceback_is_logged(tmp_path, errors):
    from autograder.course.config import load_course
    from autograder.web import create_app

    app = create_app(load_course(make_course(tmp_path / "course")), grading=False)
    try:
        app.add_url_rule("/broken", "broken", lambda: 1 / 0)  # a defect in some view
        errors.records.clear()
        response = app.test_client().get("/broken")
    finally:
        app.extensions["autograder"].close()
    assert response.status_code == 500 and page_title(response) == "Something went wrong"
    assert SERVICE_PAGE in response.get_data(as_text=True) and "ZeroDivisionError" not in response.get_data(as_text=True)
    assert [record.exc_info[0] for record in errors.records] == [ZeroDivisionError]  # for the instructor to find
