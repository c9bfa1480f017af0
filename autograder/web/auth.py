"""Who is signed in: sessions kept server-side (`autograder_sessions`, store.py), personal sign-in links, and
the contract other ways of signing in (LTI 1.3 launch) plug into.

A session is a row in the service's database; the browser's cookie (Flask's, signed with the secret key) holds
only its random id (and flask-wtf's CSRF token). Signing out, `serve revoke` and the row's expiry end it for
every copy of the cookie: a cookie copied before sign-out signs no one in afterwards.

SESSION CONTRACT (stable: the LTI launch builds on it)

- `autograder.web.create_app(course, db_url=None, *, secret_key=None, lms_iframe=False, ...)` (web/app.py)
  returns the Flask app; register a blueprint with `app.register_blueprint(bp)` after it returns (the names
  "student" and "instructor" are taken). The secret key is `secret_key`, else the one in
  `<course>/service/secret_key` (created on first start, mode 0600, ignored by git).
- `current_app.extensions["autograder"]`: the `Service` (course, db_url, store, grader) views share.
- After signing someone in, redirect to `url_for("student.home")` ("/"): it sends a student to their
  assignments and an instructor to the class page.
- `sign_in(user_id, role, via, **extra)`: start a session for `user_id` (an nbgrader student id, or an
  instructor's name) with `role` "student" or "instructor", signed in `via` "link" or "lti"; `extra` holds
  JSON-serialisable details the caller wants back (LTI: the launch's claims it needs later; a sign-in link:
  `link=<link id>`, whose revocation ends the session). Call it inside a request; redirect afterwards. Raises
  ValueError for a role, via or user id it refuses (ids: letters, digits and `_.@+-`, not starting with a dot,
  at most 128 characters: they name folders).
- `current_user()`: the signed-in `User(user_id, role, via, extra)`, or None when the cookie names no session
  that is still open. A session lasts PERMANENT_SESSION_LIFETIME (14 days) from sign-in, and no longer than
  the sign-in link it came from; sign-out, `serve revoke` (`Store.revoke_links`, `Store.end_sessions`) end it.
- `sign_out()`: end the session, in the database: every copy of its cookie is signed out.
- `@student_required` / `@instructor_required`: views for that role only; no session: the sign-in page
  (status 401); the other role: 403.
- `csrf` (flask_wtf.csrf.CSRFProtect): every POST form carries `{{ csrf_token() }}`; a POST that comes from
  the LMS itself (the LTI launch) is exempted with `csrf.exempt(view)`.
- Cookies: HttpOnly always; Secure when the request came over HTTPS (or SESSION_COOKIE_SECURE is set);
  SameSite=None and Secure when `lms_iframe=True` (app.config["AUTOGRADER_LMS_IFRAME"]), else SameSite=Lax.

Sign-in links (`autograder serve links`): the URL holds a token signed with the secret key (itsdangerous),
naming a row of `autograder_links`; the row says whose it is, when it expires and whether it was revoked.
A token is refused when its signature is wrong, it is older than its row's expiry, or the row is revoked.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import wraps

from flask import abort, current_app, g, has_request_context, render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from itsdangerous import BadSignature, URLSafeTimedSerializer

ROLES = ("student", "instructor")
VIAS = ("link", "lti")
USER_ID = re.compile(r"[A-Za-z0-9_@+\-][A-Za-z0-9_.@+\-]{0,127}")
LINK_SALT = "autograder sign-in link"

csrf = CSRFProtect()


@dataclass(frozen=True)
class User:
    user_id: str
    role: str
    via: str
    extra: dict = field(default_factory=dict)

    @property
    def is_instructor(self) -> bool:
        return self.role == "instructor"


def sign_in(user_id: str, role: str, via: str, **extra) -> User:
    """Start a session for `user_id` (see the contract above)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    if via not in VIAS:
        raise ValueError(f"via must be one of {VIAS}, not {via!r}")
    if not isinstance(user_id, str) or not USER_ID.fullmatch(user_id):
        raise ValueError(f"user id {user_id!r} is not usable: letters, digits and _.@+- only, at most 128")
    sign_out()  # a new session, never one planted before sign-in
    link = extra.get("link") if via == "link" else None
    session["sid"] = _store().start_session(user_id, role, via, extra, current_app.permanent_session_lifetime,
                                            link_id=link)
    session.permanent = True
    g.autograder_user = User(user_id, role, via, extra)
    return g.autograder_user


def sign_out() -> None:
    sid = session.get("sid")
    if isinstance(sid, str):
        _store().end_sessions(session_id=sid)
    session.clear()
    g.autograder_user = None


def current_user() -> User | None:
    """The signed-in user of this request, read from the database once per request."""
    if "autograder_user" not in g:
        sid = session.get("sid")
        found = _store().session(sid) if isinstance(sid, str) else None
        if found is None and "sid" in session:
            session.pop("sid")  # ended or expired: the cookie is signed out too (its CSRF token stays)
        g.autograder_user = User(found.user_id, found.role, found.via, found.extra) if found else None
    return g.autograder_user


def _store():
    return current_app.extensions["autograder"].store


def _required(role: str):
    def decorator(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            user = current_user()
            if user is None:
                return render_template("signin.html", reason="Please sign in with your personal link first."), 401
            if user.role != role:
                abort(403)
            return view(*args, **kwargs)
        return guarded
    return decorator


student_required = _required("student")
instructor_required = _required("instructor")


def link_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=LINK_SALT)


def link_token(secret_key: str, link_id: str) -> str:
    return URLSafeTimedSerializer(secret_key, salt=LINK_SALT).dumps(link_id)


def user_for_token(token: str):
    """The Link a token names, if its signature holds, it has not expired and it is not revoked; else
    (None, why) with a reason a person can act on."""
    from .store import utcnow

    try:
        link_id, signed_at = link_serializer().loads(token, return_timestamp=True)
    except BadSignature:
        return None, "This sign-in link is not valid: it may have been copied incompletely."
    link = current_app.extensions["autograder"].store.link(link_id) if isinstance(link_id, str) else None
    if link is None:
        return None, "This sign-in link is not valid."
    if link.revoked_at is not None:
        return None, "This sign-in link was withdrawn by your instructor. Please ask them for a new one."
    if link.expires_at <= utcnow():
        return None, "This sign-in link has expired. Please ask your instructor for a new one."
    return link, ""


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie (the session's id and the CSRF token), Secure whenever the request came over HTTPS
    or an LMS iframe needs it."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or app.config.get("AUTOGRADER_LMS_IFRAME")
                    or (has_request_context() and request.is_secure))

    def get_cookie_samesite(self, app) -> str:
        return "None" if app.config.get("AUTOGRADER_LMS_IFRAME") else app.config["SESSION_COOKIE_SAMESITE"] or "Lax"
