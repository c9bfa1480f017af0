"""LTI 1.3 launches into the service: OIDC login initiation, the launch (a student to their assignment page, an
instructor to the class), Deep Linking (an instructor picks an assignment in the LMS's activity picker), and the
tool's public keyset. The protocol is pylti1p3's (id_token signature against the platform's keyset, iss, aud,
exp, deployment id, message validators, the deep linking response JWT); this module adds what it leaves open:

- nonce and state are single-use: login stores them server-side (`autograder_lti_cache`, shared by every worker
  and surviving a restart) and the launch consumes them, so a replayed id_token is refused;
- the platform's keyset is cached, and a token signed with a kid it does not hold refetches it once (rotation);
- who the launcher is: the student whose `lms_user_id` is the token's `sub`, else the one `c.LTI.roster_match`
  finds from the token's email / ID number / username (their `lms_user_id` is then recorded);
- which assignment: the link's custom parameter `assignment` (Deep Linking sets it), else the assignment whose
  name the resource link's title holds;
- which LMS course: only a course (LTI context) the grader serves opens it (c.LTI.contexts, or approved with
  `autograder lti contexts approve ID`); any other gets a refusal page, and its launch is only noted (lms/links.py);
- from a served course, the link's resource link id and AGS line item and the context's NRPS URL are kept
  (lms/links.py), keyed by context and resource link, for publishing and the link's roster.

Inside the LMS's iframe a browser that blocks third-party cookies cannot keep the state cookie: pylti1p3's
cookie check page then offers to open the tool in a new window, where the launch completes.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from datetime import timedelta

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, delete, insert, select, update

from ..results import scores
from .auth import csrf, current_user, sign_in
from .store import utcnow

logger = logging.getLogger(__name__)
blueprint = Blueprint("lti", __name__, url_prefix="/lti")
METADATA = MetaData()
CACHE = Table(
    "autograder_lti_cache", METADATA,            # pylti1p3's launch data, nonces and states, server-side
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)
# pylti1p3's page inside the LMS's frame when the browser keeps no cookie there (third-party cookies blocked)
COOKIE_CHECK_TEXTS = {
    "main_msg": "Your browser does not let the grader remember you inside the LMS's page (it blocks third-party "
                "cookies), so the assignment cannot open here.",
    "click_msg": "Open the assignment in a new window",
    "loading_msg": "Opening the assignment...",
}
# pylti1p3's cookie check over HTTP tests a plain cookie, which a browser never keeps inside another site's frame
PYLTI_COOKIE_TEST = """var cookie = "lti1p3_test_cookie=1; path=/";
            if (siteProtocol === 'https') {
                cookie = cookie + '; SameSite=None; secure';
            }"""
COOKIE_TEST = """var cookie = "lti1p3_test_cookie=1; path=/";
            if (siteProtocol === 'https') {
                cookie = cookie + '; SameSite=None; secure';
            } else {
                document.cookie = cookie + '; SameSite=None; Secure';
            }"""
STATE_LIFETIME = 600        # seconds between login initiation and launch
KEYSET_LIFETIME = 3600      # seconds a platform's keyset is used before it is fetched again
ROLE_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/roles"
CUSTOM_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/custom"
LINK_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/resource_link"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
LIS_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/lis"
CONTEXT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/context"


class LaunchRefused(Exception):
    """A launch that cannot go on; its message is shown to the person."""


# ---------------------------------------------------------------------------------------------------------
# Server-side storage for pylti1p3 (a cache with single-use reads for nonce and state)
# ---------------------------------------------------------------------------------------------------------

class DatabaseCache:
    """The get/set/delete of a Flask-Caching cache, in the service's database; `pop` reads a key once."""

    def __init__(self, engine):
        self.engine = engine

    def get(self, key: str):
        if "\x00" in key:  # no key we set holds one, and PostgreSQL refuses it in a query (the 503 page)
            return None
        with self.engine.connect() as connection:
            row = connection.execute(select(CACHE.c.value, CACHE.c.expires_at).where(CACHE.c.key == key)).first()
        return json.loads(row.value) if row and row.expires_at > utcnow() else None

    def set(self, key: str, value, timeout: int | None = None) -> None:
        expires = utcnow() + timedelta(seconds=timeout or 86400)
        with self.engine.begin() as connection:
            connection.execute(delete(CACHE).where((CACHE.c.key == key) | (CACHE.c.expires_at < utcnow())))
            connection.execute(insert(CACHE).values(key=key, value=json.dumps(value), expires_at=expires))

    def delete(self, key: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(CACHE).where(CACHE.c.key == key))

    def pop(self, key: str) -> bool:
        """True once for a key that is set and not expired: the delete decides, so two launches cannot both win."""
        if "\x00" in key:
            return False
        with self.engine.begin() as connection:
            gone = connection.execute(delete(CACHE).where((CACHE.c.key == key) & (CACHE.c.expires_at > utcnow())))
        return gone.rowcount == 1


_keysets: dict[str, tuple[float, dict]] = {}
_keysets_lock = threading.Lock()


def _launch_classes():
    """pylti1p3's Flask classes, with single-use nonce and state and a keyset refetched for an unknown kid."""
    from pylti1p3.contrib.flask import FlaskMessageLaunch, FlaskOIDCLogin
    from pylti1p3.exception import LtiException

    class Launch(FlaskMessageLaunch):
        def validate_nonce(self):
            nonce = self._get_jwt_body().get("nonce")
            if not nonce or not _cache().pop(f"nonce:{nonce}"):
                raise LtiException("The launch's nonce is unknown, expired or used already (a replayed launch)")
            return self

        def validate_state(self):
            super().validate_state()  # the state cookie set at login (pylti1p3)
            if not _cache().pop(f"state:{self._get_request_param('state')}"):
                raise LtiException("The launch's state is unknown, expired or used already (a replayed launch)")
            return self

        def get_public_key(self):
            url = self._registration.get_key_set_url()
            with _keysets_lock:
                fetched, keyset = _keysets.get(url, (0.0, None))
            if keyset and time.monotonic() - fetched < KEYSET_LIFETIME:
                self._registration.set_key_set(keyset)
                try:
                    return super().get_public_key()
                except LtiException:  # a kid the cached keyset lacks: the platform rotated its keys
                    pass
            keyset = self.fetch_public_key(url)
            with _keysets_lock:
                _keysets[url] = (time.monotonic(), keyset)
            self._registration.set_key_set(keyset)
            return super().get_public_key()

    class Login(FlaskOIDCLogin):
        def get_cookies_allowed_js_check(self):
            # over HTTP the check tries the cookies the login sets (StateCookies), not a plain one alone
            page = super().get_cookies_allowed_js_check()
            return page.replace(PYLTI_COOKIE_TEST, COOKIE_TEST) if PYLTI_COOKIE_TEST in page else page

        def get_redirect(self, url):
            state = self._get_uri_param(url, "state")
            nonce = self._get_uri_param(url, "nonce")
            _cache().set(f"state:{state}", True, STATE_LIFETIME)
            _cache().set(f"nonce:{nonce}", True, STATE_LIFETIME)
            return super().get_redirect(url)

        @staticmethod
        def _get_uri_param(url, name):
            from urllib.parse import parse_qs, urlsplit

            return parse_qs(urlsplit(url).query).get(name, [""])[0]

    return Launch, Login


def _state_cookies(request):
    """pylti1p3's login cookies (state, session id). Over HTTPS they are SameSite=None; Secure (pylti1p3's). Over HTTP
    each is set twice, SameSite=None; Secure then plain, with one value: a browser keeps the first from a loopback
    address only (a secure context without TLS), and then inside another site's frame too; the plain one it keeps in
    pages of its own site only (an HTTP client without SameSite keeps the last). The launch reads whichever was kept,
    and the cookie check tests the same two (Chromium 156: SameSite=None without Secure is never kept)."""
    from pylti1p3.contrib.flask import FlaskCookieService

    class StateCookies(FlaskCookieService):
        def update_response(self, response):
            if not self._request.is_secure():
                for key, data in self._cookie_data_to_set.items():
                    response.set_cookie(key=key, value=data["value"], max_age=data["exp"], path="/", httponly=True,
                                        secure=True, samesite="None")
            super().update_response(response)

    return StateCookies(request)


def _cache() -> DatabaseCache:
    return current_app.extensions["autograder_lti"]["cache"]


def _tool_conf():
    """pylti1p3's registration of this tool on the platform, from c.LTI."""
    from cryptography.hazmat.primitives import serialization
    from pylti1p3.tool_config import ToolConfDict

    from ..lms.settings import load_settings, read_private_key

    settings = load_settings(service().course.root)
    missing = [name for name in ("issuer", "client_id", "deployment_id", "auth_url", "platform_jwks_url")
               if not getattr(settings, name)]
    if missing:
        raise LaunchRefused("This course's grader is not registered with the LMS yet (c.LTI "
                            f"{', '.join(missing)} unset). Please tell your instructor.")
    key = read_private_key(settings.private_key_path)  # LtiError: the views show a page, the log the cause
    conf = ToolConfDict({settings.issuer: [{
        "default": True, "client_id": settings.client_id, "auth_login_url": settings.auth_url,
        "auth_token_url": settings.token_url, "key_set_url": settings.platform_jwks_url, "key_set": None,
        "deployment_ids": [settings.deployment_id]}]})
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    conf.set_private_key(settings.issuer, private_pem, client_id=settings.client_id)
    conf.set_public_key(settings.issuer, public_pem, client_id=settings.client_id)
    return conf, settings, key


def service():
    return current_app.extensions["autograder"]


def _pylti_request():
    from pylti1p3.contrib.flask import FlaskRequest

    return FlaskRequest(request_is_secure=request.is_secure)


def _storage():
    from pylti1p3.contrib.flask import FlaskCacheDataStorage

    return FlaskCacheDataStorage(_cache())


# ---------------------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------------------

@blueprint.route("/login", methods=["GET", "POST"])
def login():
    """OIDC login initiation: back to the platform's authorization URL with a fresh state and nonce."""
    from pylti1p3.exception import OIDCException

    from ..lms.settings import LtiError

    try:
        conf, settings, _ = _tool_conf()
        _not_our_registration(settings, request.values.get("iss"), request.values.get("client_id"))
        _, Login = _launch_classes()
        target = request.values.get("target_link_uri") or url_for("lti.launch", _external=True)
        pylti_request = _pylti_request()
        oidc = Login(pylti_request, conf, cookie_service=_state_cookies(pylti_request), launch_data_storage=_storage())
        return oidc.enable_check_cookies(**COOKIE_CHECK_TEXTS).redirect(target)
    except LtiError as error:
        return _misconfigured(error)
    except (LaunchRefused, OIDCException) as error:
        return _refused(str(error), 400)


@blueprint.post("/launch")
def launch():
    """The id_token from the platform: validated, the person signed in, sent to their page."""
    from pylti1p3.exception import LtiException

    from ..lms.settings import LtiError

    try:
        conf, settings, _ = _tool_conf()
        _not_our_registration(settings, *_unverified_sender(request.form.get("id_token", "")))
        Launch, _ = _launch_classes()
        message = Launch(_pylti_request(), conf, launch_data_storage=_storage())
        claims = message.get_launch_data()  # every check runs here; LtiException names the failed one
    except LtiError as error:
        return _misconfigured(error)
    except LaunchRefused as error:
        return _refused(str(error), 403)
    except LtiException as error:
        return _refused("The LMS's launch could not be accepted: " + str(error) + ". Please open the activity "
                        "again from the LMS.", 403)
    context, foreign = _served_context(settings, claims)
    if foreign is not None:
        return foreign
    _remember_services(claims, context)
    try:
        teaches = (message.check_teacher_access() or message.check_teaching_assistant_access()
                   or message.check_designer_access())
        if message.is_deep_link_launch():
            if not teaches:
                raise LaunchRefused("Only an instructor can add assignments to the course.")
            sign_in(_instructor_id(claims), "instructor", "lti", launch=message.get_launch_id())
            return render_template("lti/pick.html", assignments=service().course.assignments,
                                   launch_id=message.get_launch_id())
        assignment = _assignment_of(claims)
        if teaches:
            sign_in(_instructor_id(claims), "instructor", "lti")
            _refresh_roster(settings, claims)
            return redirect(url_for("instructor.overview"), code=303)
        if not message.check_student_access():
            raise LaunchRefused("The grader opens for the course's students and instructors only; your role in "
                                "this course is neither.")
        student = _student_of(claims, settings.roster_match)
        sign_in(student, "student", "lti", assignment=assignment)
    except LaunchRefused as error:
        return _refused(str(error), 403)
    return redirect(url_for("student.assignment", assignment=assignment) if assignment
                    else url_for("student.assignments"), code=303)


@blueprint.post("/deep-link")
def deep_link():
    """The instructor's pick from the activity picker, back to the LMS as a Deep Linking response."""
    from pylti1p3.deep_link_resource import DeepLinkResource
    from pylti1p3.lineitem import LineItem

    user = current_user()
    launch_id = request.form.get("launch_id", "")
    if user is None or not user.is_instructor or user.extra.get("launch") != launch_id:
        abort(403)
    assignment = request.form.get("assignment", "")
    course = service().course
    if assignment not in course.assignments:
        abort(400)
    conf, _, _ = _tool_conf()
    Launch, _ = _launch_classes()
    message = Launch.from_cache(launch_id, _pylti_request(), conf, launch_data_storage=_storage())
    points = _max_score(assignment)
    resource = (DeepLinkResource().set_url(url_for("lti.launch", _external=True)).set_title(assignment)
                .set_custom_params({"assignment": assignment}))
    if points:
        resource.set_lineitem(LineItem().set_score_maximum(points).set_label(assignment).set_resource_id(assignment))
    return message.get_deep_link().output_response_form([resource])


@blueprint.get("/jwks.json")
def jwks():
    """The tool's public keyset, for the platform to check the tool's signatures (and keyset URL registration)."""
    from ..lms.settings import LtiError, load_settings, public_jwk, read_private_key

    settings = load_settings(service().course.root)
    try:
        key = read_private_key(settings.private_key_path)
    except LtiError:
        abort(404)  # no key yet: no keyset to publish
    keys = [public_jwk(key, settings.key_id)]
    if settings.key_id:  # pylti1p3 signs deep linking responses with the key's thumbprint as kid
        keys.append(public_jwk(key))
    return jsonify({"keys": keys})


# ---------------------------------------------------------------------------------------------------------
# Who and what a launch is about
# ---------------------------------------------------------------------------------------------------------

def _refused(message: str, status: int):
    return render_template("lti/refused.html", message=message), status


def _unverified_sender(id_token: str) -> tuple[str | None, str | None]:
    """The issuer and client id an id_token claims, before its signature is checked (only to tell a token meant for
    another registration apart: pylti1p3 has no error of its own for it); (None, None) when it cannot be read."""
    import jwt

    try:
        claims = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None, None  # pylti1p3 refuses it with its own reason
    audience = claims.get("aud")
    audience = audience[0] if isinstance(audience, list) and audience else audience  # as pylti1p3 reads it
    return claims.get("iss"), audience


def _not_our_registration(settings, issuer, client_id) -> None:
    """LaunchRefused when a login or launch is for another issuer or client id than c.LTI's registration."""
    for given, ours, what in ((issuer, settings.issuer, "issuer"), (client_id, settings.client_id, "client id")):
        if given is not None and given != ours:
            logger.warning("LTI %s refused: %s %r is not this tool's registration (%r)", request.path, what,
                           given, ours)
            raise LaunchRefused("This grader is registered with another LMS (or under another tool registration) "
                                "than the one this launch came from, so it cannot open here. Please tell your "
                                "instructor which LMS course you opened it from.")


def _served_context(settings, claims: dict):
    """(the launch's context id in the contexts table, None) when it comes from an LMS course this grader serves,
    else (None, the refusal page with HTTP 403). Every launch is noted for the instructor's `autograder lti
    contexts`; of a refused one nothing else is recorded, and nobody is signed in."""
    from ..lms.links import bound_contexts, is_served, launch_context, note_launch

    engine = service().store.engine
    key = launch_context(claims)
    context = claims.get(CONTEXT_CLAIM) if isinstance(claims.get(CONTEXT_CLAIM), dict) else {}
    noted = note_launch(engine, key, context.get("label"), context.get("title"), utcnow()) if key else None
    served = bound_contexts(engine, settings)
    if is_served(key, served):
        return noted, None
    logger.warning("LTI launch refused: %s (recorded as %s) is not an LMS course this grader serves", key, noted)
    launched = (f"{context.get('label')} ({context.get('title')})" if context.get("label") and context.get("title")
                else context.get("label") or context.get("title") or "an LMS course")
    return None, (render_template("lti/foreign.html", served=[c.name for c in served], launched=launched,
                                  noted=noted, context_id=key.context_id if key else None), 403)


def _misconfigured(error: Exception):
    """The course's c.LTI is wrong: the details go to the log, the person gets what they can do."""
    print(f"autograder serve: LTI launch: {error}", flush=True)
    return _refused("This course's grader is not set up correctly for launches from the LMS. Please tell your "
                    "instructor; nothing of yours was changed.", 503)


def _assignment_of(claims: dict) -> str | None:
    course = service().course
    custom = (claims.get(CUSTOM_CLAIM) or {}).get("assignment")
    if custom in course.assignments:
        return custom
    title = str((claims.get(LINK_CLAIM) or {}).get("title") or "")
    named = [name for name in course.assignments if name in title]
    return max(named, key=len) if named else None


def _student_of(claims: dict, match: str) -> str:
    """The gradebook student this launch is: by `sub` as lms_user_id, else by `match` (recorded then)."""
    from ..grading.gradebook import open_gradebook
    from nbgrader.api import Student  # noqa: I001
    from ..lms.nrps import member_key, student_key

    sub = str(claims.get("sub") or "")
    member = {"email": claims.get("email"),
              "lis_person_sourcedid": (claims.get(LIS_CLAIM) or {}).get("person_sourcedid"),
              "ext_user_username": claims.get("preferred_username")}
    key = member_key(member, match)
    with open_gradebook(service().db_url) as gradebook:
        students = gradebook.db.query(Student).all()
        chosen = next((s for s in students if sub and s.lms_user_id == sub), None)
        if chosen is None and key:
            chosen = next((s for s in students if student_key(s.id, s.email, match) == key), None)
            if chosen is not None and chosen.lms_user_id and chosen.lms_user_id != sub:
                chosen = None  # that student launched with another LMS account: not this person
            if chosen is not None:
                chosen.lms_user_id = sub
                gradebook.db.commit()
        if chosen is None:
            raise LaunchRefused("You are not on this course's class list in the grader yet, so your work cannot be "
                                "graded here. Please tell your instructor, who can add you with "
                                "`autograder lti roster`.")
        return chosen.id


def _refresh_roster(settings, claims: dict) -> None:
    """An instructor's launch brings the roster from the LMS (NRPS) up to date, in the background."""
    url = (claims.get(NRPS_CLAIM) or {}).get("context_memberships_url")
    if not url or not settings.client_id or not settings.token_url:
        return
    db_url, match = service().db_url, settings.roster_match

    def refresh():
        from ..lms.nrps import fetch_members, record_roster
        from ..lms.platform import MEMBERSHIP_SCOPE, PlatformClient
        from ..lms.settings import LtiError, read_private_key

        try:
            client = PlatformClient(settings, read_private_key(settings.private_key_path), (MEMBERSHIP_SCOPE,))
            try:
                record_roster(db_url, fetch_members(client, url), match)
            finally:
                client.close()
        except LtiError as error:
            print(f"autograder serve: the roster from the LMS was not updated: {error}", flush=True)

    threading.Thread(target=refresh, name="lti-roster", daemon=True).start()


def _instructor_id(claims: dict) -> str:
    name = str(claims.get("preferred_username") or (claims.get("email") or "").split("@")[0] or "")
    name = re.sub(r"[^A-Za-z0-9_.@+-]", "-", name).lstrip(".")[:120]
    return name or "instructor-" + re.sub(r"[^A-Za-z0-9]", "", str(claims.get("sub")))[:100]


def _max_score(assignment: str) -> float | None:
    from ..grading.grade import assignment_spec

    try:
        return float(assignment_spec(service().course, assignment).max_score)
    except Exception:  # noqa: BLE001 (a column without a maximum is still a column)
        return None


def _remember_services(claims: dict, context: int) -> None:
    """Keep, for the served context of the launch, its resource link's assignment and line item and the context's
    line items and memberships URLs."""
    from ..lms.links import record_link

    ags, nrps = claims.get(AGS_CLAIM) or {}, claims.get(NRPS_CLAIM) or {}
    assignment, link = _assignment_of(claims), (claims.get(LINK_CLAIM) or {}).get("id")
    if not assignment or not isinstance(link, str) or not link:
        return
    record_link(service().store.engine, context, link, assignment, utcnow(), lineitem=ags.get("lineitem"),
                lineitems=ags.get("lineitems"), memberships=nrps.get("context_memberships_url"))


def init_lti(app) -> None:
    """Register the LTI endpoints on the service (`create_app` calls it); with c.LTI registered, scores are
    published after grading by a thread started on the first request (not by `serve links`)."""
    from ..lms.settings import LtiError, load_settings

    from ..lms.links import create_tables

    engine = app.extensions["autograder"].store.engine
    METADATA.create_all(engine)
    create_tables(engine)
    try:
        settings = load_settings(app.extensions["autograder"].course.root)
    except LtiError:
        settings = None
    publisher = None
    if settings is not None and settings.client_id and settings.token_url:
        publisher = ScorePublisher(app, interval=app.config.get("AUTOGRADER_LTI_PUBLISH_INTERVAL", 5.0),
                                   first_retry=app.config.get("AUTOGRADER_LTI_FIRST_RETRY", 30.0))
    app.extensions["autograder_lti"] = {"cache": DatabaseCache(engine), "publisher": publisher}
    csrf.exempt(login)
    csrf.exempt(launch)  # the platform's form post, checked by id_token, state and nonce instead
    app.register_blueprint(blueprint)
    if publisher is not None:
        started, close = threading.Lock(), app.extensions["autograder"].close
        app.extensions["autograder"].close = lambda: (publisher.stop(), close())  # before the database goes

        @app.before_request
        def _start_publisher():
            if not publisher.thread.is_alive() and not publisher.stop_event.is_set() and started.acquire(False):
                publisher.start()


# ---------------------------------------------------------------------------------------------------------
# Scores to the LMS after grading, retried until they land (the state is in the database: a restart goes on)
# ---------------------------------------------------------------------------------------------------------

PUBLISHED = Table(
    "autograder_lti_published", METADATA,
    Column("student", String(128), primary_key=True),
    Column("assignment", String(128), primary_key=True),
    Column("attempt_id", Integer, nullable=False),        # the counting attempt last published (or tried)
    Column("finished_at", DateTime, nullable=False),      # its grading time: a regrade publishes again
    Column("state", String(16), nullable=False),          # "published", "retry", "refused" or "dropped"
    Column("tries", Integer, nullable=False),
    Column("next_try_at", DateTime, nullable=False),     # published: when it was read back from the LMS
    Column("message", Text),
)


class ScorePublisher:
    """Publishes each student's counting attempt to the LMS by AGS once it is graded; a failure is tried again
    after 30 s, 1 min, 2 min ... (at most an hour apart) until the LMS holds the score."""

    def __init__(self, app, interval: float = 5.0, first_retry: float = 30.0):
        self.app, self.interval, self.first_retry = app, interval, first_retry
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="lti-publisher", daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)

    def _run(self):
        while not self.stop_event.wait(self.interval):
            with self.app.app_context():
                try:
                    self.publish_due()
                except Exception as error:  # noqa: BLE001 (the loop must outlive a bad moment of the database)
                    print(f"autograder serve: publishing to the LMS: {type(error).__name__}: {error}", flush=True)

    def publish_due(self) -> int:
        """Publish every counting attempt not yet on the LMS whose next try is due; returns how many were tried."""
        svc = self.app.extensions["autograder"]
        engine, now, tried = svc.store.engine, utcnow(), 0
        with engine.connect() as connection:
            held = {(row.student, row.assignment): row for row in connection.execute(select(PUBLISHED))}
        for attempt in svc.store.attempts(status="done"):
            if not attempt.counts or attempt.finished_at is None:
                continue
            row = held.get((attempt.student, attempt.assignment))
            same = row is not None and row.attempt_id == attempt.id and row.finished_at == attempt.finished_at
            if same and (row.state == "published" or row.next_try_at > now):
                continue
            tries = row.tries if same else 0
            state, message = self._publish_one(attempt)
            wait = 0 if state == "published" else min(3600.0, self.first_retry * 2 ** tries)
            values = {"attempt_id": attempt.id, "finished_at": attempt.finished_at, "state": state,
                      "tries": tries + 1, "next_try_at": utcnow() + timedelta(seconds=wait), "message": message}
            with engine.begin() as connection:
                key = (PUBLISHED.c.student == attempt.student) & (PUBLISHED.c.assignment == attempt.assignment)
                if row is None:
                    connection.execute(insert(PUBLISHED).values(student=attempt.student,
                                                                assignment=attempt.assignment, **values))
                else:
                    connection.execute(update(PUBLISHED).where(key).values(**values))
            tried += 1
        return tried

    def _publish_one(self, attempt) -> tuple[str, str]:
        """(state, what the LMS did with this student's score, in one sentence) after publishing it."""
        from ..lms.ags import exercise_names, gradebook_scores, publish
        from ..lms.links import LinkError, served_link
        from ..lms.settings import LtiError, load_settings, with_link

        svc = self.app.extensions["autograder"]
        try:
            settings = load_settings(svc.course.root)
            try:
                link = served_link(svc.store.engine, settings, attempt.assignment)
            except LinkError as error:
                return "refused", str(error)
            settings = with_link(settings, attempt.assignment, link)
            scores, _ = gradebook_scores(svc.db_url, attempt.assignment, exercise_names(svc.course, attempt.assignment))
            mine = [score for score in scores if score.student == attempt.student]
            report = publish(settings, attempt.assignment, mine, [])
        except LtiError as error:
            return "retry", str(error)
        return publication_state(report)


def publication_state(report) -> tuple[str, str]:
    """One student's PublishReport as (PUBLISHED.state, its reason): published, dropped (the LMS took the score and
    keeps another), refused (by this tool or the LMS: fix, then it goes again) or retry (the LMS failed)."""
    if report.published:
        score = report.published[0]
        return "published", f"the LMS holds {scores.points(score.score, score.max_score)} ({report.lineitem})"
    if report.dropped:
        return "dropped", report.dropped[0][1]
    if report.refused:
        return "refused", report.refused[0][1]
    for kind in (report.failed, report.unverified, report.skipped):
        if kind:
            return "retry", kind[0][1]
    return "retry", "the gradebook holds no score of this attempt yet"


def publication(engine, student: str, assignment: str) -> dict | None:
    """The last publication of a student's assignment to the LMS: state, tries, message."""
    with engine.connect() as connection:
        row = connection.execute(select(PUBLISHED).where((PUBLISHED.c.student == student)
                                                         & (PUBLISHED.c.assignment == assignment))).first()
    return dict(row._mapping) if row else None


def lms_publications(app, counting: list) -> dict[tuple[str, str], dict] | None:
    """(student, assignment) -> what became of each counting attempt's score in the LMS: the last publication's
    state, message, tries and next_try_at, or state "waiting" while it is not tried yet; None when the service
    publishes nothing (c.LTI not registered)."""
    if app.extensions["autograder_lti"]["publisher"] is None:
        return None
    wanted = {(attempt.student, attempt.assignment) for attempt in counting}
    with app.extensions["autograder"].store.engine.connect() as connection:
        rows = {(row.student, row.assignment): row for row in connection.execute(
            select(PUBLISHED).where(PUBLISHED.c.student.in_({student for student, _ in wanted})))}
    found = {}
    for attempt in counting:
        key = (attempt.student, attempt.assignment)
        row = rows.get(key)
        if row is None or row.attempt_id != attempt.id or row.finished_at != attempt.finished_at:
            found[key] = {"state": "waiting", "attempt": attempt.number}
        else:
            found[key] = dict(row._mapping) | {"attempt": attempt.number}
    return found
