"""Submitting from where a student works (JupyterLab, a kernel's `submit()`, `autograder submit`): a JSON API
authorised by the submit key a downloaded notebook carries in its metadata (student.release).

The key travels in a header (`Authorization: Bearer KEY`), never in a cookie or a URL: a page of another site
cannot send it without knowing it, so the API needs no CSRF token (and answers any origin: JupyterLab's page
calls it), and access logs never hold it. A key is its student's for one
assignment of this service (store.SUBMIT_KEYS keeps only its hash); `serve revoke --user` ends it. Every
answer is JSON; a refusal is `{"error": message}` with its status, the message written for the student.

- GET  /api/assignment             the policy, attempts used and left, before sending
- POST /api/submit                 body: the notebook (.ipynb JSON); 202 with the attempt and its URLs
- GET  /api/attempts/<id>[?wait=S] the attempt; once graded, the result view of the service's page
"""
from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import asdict

from flask import Blueprint, current_app, jsonify, request, url_for

from .store import utcnow

logger = logging.getLogger(__name__)
blueprint = Blueprint("api", __name__, url_prefix="/api")
KEY = re.compile(r"Bearer ([A-Za-z0-9_-]{16,128})")
RATE = (30, 60.0)      # requests of one key (or, with no valid key, of one address) in so many seconds


class RateLimit:
    """At most `count` requests per identity in any `seconds`: a sliding window, in this process."""

    def __init__(self, count: int, seconds: float):
        self.count, self.seconds = count, seconds
        self._seen: defaultdict = defaultdict(deque)
        self._lock = threading.Lock()

    def wait(self, identity: str) -> float:
        """0 if this request of `identity` is allowed (and counted), else the seconds until one is."""
        now = time.monotonic()
        with self._lock:
            seen = self._seen[identity]
            while seen and seen[0] <= now - self.seconds:
                seen.popleft()
            if len(seen) >= self.count:
                return seen[0] + self.seconds - now
            seen.append(now)
            if len(self._seen) > 10000:  # forget identities whose windows are over
                for quiet in [name for name, times in self._seen.items() if not times]:
                    del self._seen[quiet]
            return 0.0


def error(message: str, status: int, **headers):
    response = jsonify(error=message)
    response.status_code = status
    response.headers.update(headers)
    return response


class Refused(Exception):
    """A request the API answers with `error(message, status, **headers)`."""

    def __init__(self, message: str, status: int, **headers):
        super().__init__(message)
        self.answer = (message, status, headers)


@blueprint.errorhandler(Refused)
def _refused(refused: Refused):
    message, status, headers = refused.answer
    return error(message, status, **headers)


def _service():
    return current_app.extensions["autograder"]


def _owner():
    """The key's SubmitKey (student, assignment); Refused when the header holds no key in force."""
    limit = current_app.extensions["autograder_api_rate"]
    found = KEY.fullmatch(request.headers.get("Authorization", "").strip())
    token = found.group(1) if found else None
    identity = "key " + hashlib.sha256(token.encode()).hexdigest() if token else "address " + str(request.remote_addr)
    wait = limit.wait(identity)
    if wait:
        seconds = int(wait) + 1
        raise Refused(f"Too many requests at once. Please wait {seconds} seconds and try again; nothing was sent "
                      "for grading.", 429, **{"Retry-After": str(seconds)})
    if token is None:
        raise Refused("This request has no submit key. Get one with \"Get a submit key\" on the assignment's page "
                      "(or download the notebook again: it carries one).", 401, **{"WWW-Authenticate": "Bearer"})
    owner = _service().store.submit_key(token)
    if owner is None:
        if limit.wait("address " + str(request.remote_addr)):  # guessing keys costs the address its requests
            raise Refused("Too many requests at once. Please wait a minute and try again.", 429,
                          **{"Retry-After": "60"})
        raise Refused("This submit key is not valid: it expired, a newer key replaced it, it was withdrawn, or it is "
                      "not one of this service's. Get a new one with \"Get a submit key\" on the assignment's page "
                      "(or download the notebook again) and use it instead.", 403)
    from .student import RETRY_PREPARING, preparing_message, released

    if not released(owner.assignment):  # the course is read again when course_config.py or release/ changed
        if owner.assignment in _service().grader.preparing:
            raise Refused(preparing_message(owner.assignment, request.method == "POST"), 503,
                          **{"Retry-After": str(RETRY_PREPARING)})
        raise Refused(f"{owner.assignment} is no longer an assignment of this course.", 404)
    return owner


@blueprint.get("/assignment")
def assignment():
    owner = _owner()
    from .student import assignment_state

    return jsonify(assignment_json(assignment_state(owner.student, owner.assignment)))


@blueprint.post("/submit")
def submit():
    owner = _owner()
    from .student import NotTaken, take_attempt

    try:
        attempt = take_attempt(owner.student, owner.assignment, request.get_data(cache=False))
    except NotTaken as refused:
        return error(refused.message, refused.status)
    logger.info("attempt %s of %s for %s submitted through the API", attempt.number, owner.student,
                owner.assignment)
    return jsonify(attempt_json(attempt)), 202


@blueprint.get("/attempts/<int:attempt_id>")
def attempt(attempt_id):
    owner = _owner()
    from .student import waited

    found = _service().store.attempt(attempt_id)
    if found is None or found.student != owner.student:
        return error("There is no such attempt of yours.", 404)
    return jsonify(attempt_json(waited(found)))


def attempt_json(found) -> dict:
    from .student import attempt_view

    view = attempt_view(found, instructor=False) if found.done else None
    return {"attempt": found.id, "number": found.number, "assignment": found.assignment, "done": found.done,
            "status_url": url_for("api.attempt", attempt_id=found.id, _external=True),
            "result_url": url_for("student.attempt", attempt_id=found.id, _external=True),
            "result": view_json(view) if view is not None else None}


def view_json(view) -> dict:
    """A ResultView (view.build: the result page's) as JSON; a figure by its title (the page draws it)."""
    shown = asdict(view)
    for exercise, drawn in zip(shown["exercises"], view.exercises):
        exercise["figures"] = [figure.title for figure in drawn.figures]
        exercise["messages"] = [message.sentence() for message in drawn.messages]
    return shown


def assignment_json(state: dict) -> dict:
    rule = state["policy"]
    return {"assignment": state["assignment"], "notebook": state["notebook"], "attempts": rule.attempts,
            "used": state["used"], "left": state["left"], "counting": rule.counting,
            "due": _time(state["due"]), "minutes_between": rule.minutes_between, "next_at": _time(state["next_at"]),
            "grading": state["grading"].id if state["grading"] else None, "shown": state["visibility"],
            "policy": policy_sentence(state),
            "page": url_for("student.assignment", assignment=state["assignment"], _external=True)}


def policy_sentence(state: dict) -> str:
    """What a student should know before sending, in one line: e.g. "1 of 2 attempts left; due 2099-01-01
    00:00 UTC; the best attempt counts; a result shows the worked example's messages until the due date"."""
    rule = state["policy"]
    parts = [f"{state['left']} of {rule.attempts} attempts left"]
    parts.append(f"due {state['due']:%Y-%m-%d %H:%M} UTC" if state["due"] else "no due date")
    if state["due"] and state["due"] < utcnow():
        parts[-1] += " (past: an attempt now is late)"
    parts.append(f"the {rule.counting} attempt counts")
    if rule.minutes_between:
        parts.append(f"at least {rule.minutes_between:g} minutes between attempts")
    shows = {"score": "the score only", "worked example": "the messages about the notebook's worked example",
             "full": "every message"}
    parts.append(f"a result shows {shows[state['visibility']]}")
    return "; ".join(parts)


def _time(value) -> str | None:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if value is not None else None


@blueprint.after_request
def _any_origin(response):
    """Let a notebook's page (JupyterLab's origin, not this service's) call the API: no cookie is ever read, the
    key a caller sends is the whole authority, so allowing every origin gives no other site anything."""
    response.headers.update({"Access-Control-Allow-Origin": "*", "Access-Control-Max-Age": "600",
                             "Access-Control-Allow-Headers": "Authorization, Content-Type",
                             "Access-Control-Allow-Methods": "GET, POST"})
    return response


def init_api(app) -> None:
    """Register the API on `app`: its key is its authority, so it is exempt from the pages' CSRF tokens."""
    from .auth import csrf

    app.extensions["autograder_api_rate"] = RateLimit(*app.config.get("AUTOGRADER_API_RATE", RATE))
    csrf.exempt(blueprint)
    app.register_blueprint(blueprint)
