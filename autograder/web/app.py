"""The web application: `create_app` builds the Flask application on a course folder: the service tables
(store.py) beside the gradebook, a pool of warm sandboxes (grading.py), the pages of students (student.py)
and instructors (instructor.py) as Jinja2 templates, and the session contract of auth.py an LMS launch uses.
"""
from __future__ import annotations

import logging
import os
import secrets
import threading
from datetime import timedelta
from pathlib import Path

import flask
from flask import Flask, abort, current_app, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import IntegerConverter

from ..results import scores
from .auth import SessionInterface, csrf, current_user

logger = logging.getLogger(__name__)
DEFAULT_MAX_UPLOAD_MB = 8       # a notebook with its outputs; the release notebooks are under 100 kB
SESSION_DAYS = 14
# the parts (fields and files) of one form Werkzeug reads: ours have at most four fields, and an upload holds one
# file per notebook of an assignment (nbgrader's have a few); Werkzeug's own 1,000 was answered "too large"
MAX_FORM_PARTS = 100
FORM_BYTES = 500_000   # a URL-encoded form (never a file): parsed whole, so bounded apart (8 MB took 1 s and 325 MB)


class Request(flask.Request):
    """Flask's request, whose multipart form may hold a field as long as the body may be (a form has at most
    MAX_FORM_PARTS parts), so that the 413 of a multipart body within the limit is one of too many parts; a
    URL-encoded form is read only up to FORM_BYTES (Werkzeug 3.1.9 stopped bounding it by max_form_memory_size)."""

    @property
    def max_form_memory_size(self) -> int | None:
        if self.mimetype == "multipart/form-data":
            return current_app.config["AUTOGRADER_MAX_UPLOAD"]
        return super().max_form_memory_size

    @property
    def max_content_length(self) -> int | None:
        if self.mimetype == "application/x-www-form-urlencoded":
            return min(FORM_BYTES, super().max_content_length or FORM_BYTES)
        return super().max_content_length


class RowId(IntegerConverter):
    """`<int:...>` in the service's routes is a row id: ASCII digits, at most the largest id a column holds
    (store.MAX_ID); anything else is "not found" (int() of 5,000 digits raises, and the databases refuse
    numbers past their columns' range)."""
    regex = r"[0-9]{1,10}"

    def __init__(self, map, *args, **kwargs):
        from .store import MAX_ID

        super().__init__(map, *args, **{"max": MAX_ID, **kwargs})


class Service:
    """What the views share: the course, its gradebook URL, the service tables and the grader."""

    def __init__(self, course, db_url: str, store, grader):
        self.db_url, self.store, self.grader = db_url, store, grader
        self._course, self._seen = course, _course_state(course.root)
        self._reading = threading.Lock()

    @property
    def course(self):
        """The course as course_config.py and release/ say now: read again when either changed since (a few
        `stat` calls a request), so that an assignment added (`autograder new`) or released (`autograder
        release`) while the service runs appears without a restart."""
        seen = _course_state(self._course.root)
        if seen != self._seen:
            with self._reading:
                if seen != self._seen:
                    self._reload(seen)
        return self._course

    @property
    def assignments(self) -> list[str]:
        """Every assignment the service offers: the course's own, then an nbgrader course's graded by their
        notebooks' own test cells (nbtests.py)."""
        course = self.course
        return [*course.assignments, *(name for name in self.grader.specs if name not in course.assignments)]

    def _reload(self, seen) -> None:
        from ..course.config import read_course
        from .policies import check_policies

        try:
            course = read_course(self._course.root)  # not the cached one: the file changed
            check_policies(course)
        except Exception as error:  # e.g. a file saved half-way through an edit: keep the course as it was
            logger.warning("course_config.py changed but cannot be used (%s); the service keeps the course as it "
                           "was until it is fixed", error)
            self._seen = seen
            return
        self.grader.refresh(course)
        self._course, self._seen = course, seen
        logger.info("course re-read: assignments %s", ", ".join(self.grader.specs))

    def close(self) -> None:
        self.grader.close()
        self.store.close()


def _course_state(root: Path) -> tuple:
    """What says the course changed: the modification times of course_config.py (an nbgrader course's
    nbgrader_config.py), release/ and its folders."""
    from ..course.config import config_file

    def stamp(path: Path):
        try:
            return path.stat().st_mtime_ns
        except OSError:
            return None

    release = Path(root) / "release"
    try:
        folders = sorted(entry.path for entry in os.scandir(release) if entry.is_dir())
    except OSError:
        folders = []
    return (stamp(Path(root) / config_file(root)), stamp(release),
            *((folder, stamp(Path(folder))) for folder in folders))


def create_app(course=None, db_url: str | None = None, *, secret_key: str | None = None, workers: int = 2,
               scheduler: str | None = None, lms_iframe: bool = False,
               max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB, grading: bool = True) -> Flask:
    """The web application on `course` (default: the course found from here) and gradebook `db_url` (default:
    the course's). `grading=False` builds it without starting sandboxes (for `serve links`)."""
    from ..course.config import load_course
    from ..grading.gradebook import check_url
    from .grading import GradingService
    from .policies import check_policies
    from .store import Store

    course = course or load_course()
    db_url = db_url or course.db_url
    check_url(db_url)
    check_policies(course)
    app = Flask(__name__)
    app.request_class = Request
    app.url_map.converters["int"] = RowId
    app.jinja_env.filters["score"] = scores.score  # at most two decimals, as every text shows a score
    app.secret_key = secret_key or secret_key_of(course)
    app.config.update(
        AUTOGRADER_MAX_UPLOAD=int(max_upload_mb * 1024 * 1024),
        # Werkzeug's guard on a stream refuses a body that reaches its maximum: one byte more lets a body of
        # exactly the limit through; `_refuse_large_bodies` holds the limit itself
        MAX_CONTENT_LENGTH=int(max_upload_mb * 1024 * 1024) + 1,
        MAX_FORM_PARTS=MAX_FORM_PARTS,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        AUTOGRADER_LMS_IFRAME=lms_iframe,
        PERMANENT_SESSION_LIFETIME=timedelta(days=SESSION_DAYS),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which expires (auth.py)
    )
    app.session_interface = SessionInterface()
    csrf.init_app(app)
    store = Store(db_url)
    service = Service(course, db_url, store, GradingService(course, db_url, store, workers, scheduler))
    app.extensions["autograder"] = service

    from . import instructor, student

    app.register_blueprint(student.blueprint)
    app.register_blueprint(instructor.blueprint)
    from .lti import init_lti

    init_lti(app)
    from .api import init_api

    init_api(app)
    _error_pages(app)
    app.before_request(_refuse_large_bodies)
    app.context_processor(lambda: {"user": _user_for_page(), "course_id": service.course.course_id})
    _share_result_templates(app)
    if grading:
        service.grader.start()
    return app


def secret_key_of(course) -> str:
    """The key that signs sessions and sign-in links: `<course>/service/secret_key`, made on first use."""
    path = Path(course.root) / "service" / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, key.encode())
    except BaseException:
        os.close(descriptor)
        path.unlink(missing_ok=True)
        raise
    os.close(descriptor)
    return key


def _share_result_templates(app: Flask) -> None:
    """A result page draws its result with the feedback page's macros (result_view.html) and filters."""
    from jinja2 import ChoiceLoader, FileSystemLoader

    from ..present import pages

    # the service's own templates first: the package's base.html is the offline pages'
    app.jinja_env.loader = ChoiceLoader([app.jinja_env.loader, FileSystemLoader(str(pages.TEMPLATES))])
    shared = pages.environment()
    shared_filters = ("segments", "count", "points", "g", "breakable")
    app.jinja_env.filters.update({name: shared.filters[name] for name in shared_filters})
    app.jinja_env.globals["draw"] = pages.svg


def _user_for_page():
    """The signed-in user for the page's header; None when the database is away (the 503 page still renders)."""
    try:
        return current_user()
    except SQLAlchemyError:
        return None


def _refuse_large_bodies():
    if (request.content_length or 0) > current_app.config["AUTOGRADER_MAX_UPLOAD"]:
        abort(413)


def _error_pages(app: Flask) -> None:
    """Every refusal and failure answered with the service's own page (never Werkzeug's bare one)."""
    from werkzeug.exceptions import HTTPException

    from ..grading.gradebook import GradebookError
    from .student import RETRY_PREPARING, BeingPrepared, preparing_message

    def page(status, title, message, headers=(), refresh=None):
        if request.path.startswith("/api/"):  # the API answers JSON, even for its errors (api.py)
            from .api import error

            response = error(f"{title}. {message}", status)
        else:
            response = make_response(render_template("error.html", title=title, message=message, refresh=refresh),
                                     status)
        response.headers.extend(headers)
        return response

    messages = {
        400: ("Please try again", "The request was not complete or not understood. Go back, reload the page and "
              "send it again. No attempt was used."),
        403: ("Not yours", "This page belongs to someone else's account. You can open only your own assignments "
              "and results."),
        404: ("Not found", "There is no such page. The link may be mistyped, or the attempt belongs to someone "
              "else."),
        405: ("Not available this way", "This address cannot be used this way. Please use the links and buttons of the "
              "service's pages."),
        413: ("File too large", (
            f"The file is larger than {app.config['AUTOGRADER_MAX_UPLOAD'] / 1024 / 1024:g} MB, the most this "
            "service accepts. Clear the notebook's outputs (Kernel > Restart & Clear Output), save it and upload "
            "it again. No attempt was used.")),
        500: ("Something went wrong", "The service could not answer this request; your instructor can find "
              "the details in its log. Nothing you already submitted is lost. Please try again later."),
    }

    too_many_parts = ("Too many files", (
        f"This upload has more than {MAX_FORM_PARTS - 1} files, more than the service reads at once. Please choose "
        "only the assignment's notebooks and submit them again. No attempt was used."))
    form_too_large = ("Form too large", (
        f"The form sent is larger than the service reads (its fields, apart from files, at most "
        f"{FORM_BYTES // 1000} kB). Go back, reload the page and send it again. No attempt was used."))

    def refused(error: HTTPException):
        title, message = messages.get(error.code, (error.name, "The service cannot answer this request. Please "
                                                                "use the links and buttons of its pages."))
        if error.code == 413 and (request.content_length or 0) and \
                request.content_length <= app.config["AUTOGRADER_MAX_UPLOAD"]:  # Werkzeug's form parser's
            title, message = too_many_parts if request.mimetype == "multipart/form-data" else form_too_large
        # keep what the status needs (Allow of a 405, Content-Range of a 416), not Werkzeug's content type
        headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
        return page(error.code or 500, title, message, headers)

    app.register_error_handler(HTTPException, refused)

    def preparing(error: BeingPrepared):
        # a page asked for (GET) reloads itself when the release should be ready; a form sent is not sent again
        return page(503, "Almost ready", preparing_message(error.assignment, request.endpoint == "student.upload"),
                    [("Retry-After", str(RETRY_PREPARING))], RETRY_PREPARING if request.method == "GET" else None)

    app.register_error_handler(BeingPrepared, preparing)
    app.register_error_handler(CSRFError, lambda _: page(400, "Please try again", (
        "The form was too old or did not come from this site. Go back, reload the page and send it again. "
        "No attempt was used.")))
    for error in (SQLAlchemyError, GradebookError):
        app.register_error_handler(error, lambda _: page(503, "Service briefly unavailable", (
            "The grade database cannot be reached at the moment. Nothing you already submitted is lost. "
            "Please try again in a few minutes.")))
