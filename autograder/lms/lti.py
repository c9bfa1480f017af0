"""`autograder lti publish ASSIGNMENT`: every student's score from the gradebook to the LMS, by LTI 1.3
Assignment and Grade Services (AGS 2.0); `autograder lti keys`: the tool's RSA key pair.

How a publish goes:
1. the tool asks the platform's token URL for an access token (OAuth 2 client credentials, the client
   authenticated by an RS256 JWT signed with the tool's private key, RFC 7523);
2. the assignment's line item (the LMS grade column) is the one of its LMS link, as launches of the link from the
   LMS course this grader serves told it (lms/links.py; a line item of another course is refused), else the one `c.LTI.lineitems` names, else the line item of the context's `c.LTI.lineitems_url`
   whose resourceId is the assignment (created if missing);
3. with `c.LTI.memberships_url` set, the course's members are fetched (Names and Role Provisioning Services) and a
   student whose `lms_user_id` is not a member, or is a member known by another email / ID number / login, is
   refused before anything is posted;
4. one Score is POSTed per student with a submission, to `<line item>/scores`, addressed by the student's
   `lms_user_id` in nbgrader's gradebook; a written answer still to be graded by hand is sent as
   `c.LTI.pending_manual` says ("FullyGraded" with the autograded points so far, or "PendingManual");
5. each score is read back from the line item's result service (`<line item>/results?user_id=...`): a student
   counts as published only when the LMS holds the score sent (Moodle, for one, drops the score of a
   PendingManual post and keeps "-").

Every publish re-posts every score with a fresh timestamp. AGS platforms keep the latest score per line item
and user, so a second publish leaves the platform with exactly the same scores (no local state to drift).
A 409 means the platform holds a score with a later timestamp than this machine's clock (another publisher,
or a clock that is behind): the student is reported as skipped, the gradebook still holds the score.
Any student whose score did not reach the platform makes the exit status 1.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..scores import fraction
from .platform import CONFIG_SECTION, LtiError, describe, json_body

logger = logging.getLogger(__name__)

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
LINEITEM_READ_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
RESULT_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
MEMBERSHIP_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
RESULT_CONTAINER_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"
PROGRESS_CHOICES = ("FullyGraded", "PendingManual")
# what to do on the platform when it does not grant a scope the tool asked for (lineitem.readonly is optional)
SCOPE_NEEDS = {
    SCORE_SCOPE: "enable Assignment and Grade Services (scores) for this tool on the platform",
    LINEITEM_SCOPE: "let the tool manage grade columns (Moodle: 'Use this service for grade sync and column "
                    "management'), or name each assignment's column in c.LTI.lineitems",
    RESULT_SCOPE: "let the tool read results (Moodle: IMS LTI Assignment and Grade Services 'for grade sync and "
                  "column management'), or set c.LTI.verify = False to count a score accepted as published",
    MEMBERSHIP_SCOPE: "enable Names and Role Provisioning Services for this tool (Moodle: 'IMS LTI Names and Role "
                      "Provisioning': Use this service to retrieve members' information as per privacy settings)",
}
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEM_CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
DEFAULT_PRIVATE_KEY = "~/.config/autograder/lti-private-key.pem"


# ----------------------------------------------------------------------------------------------------------
# Settings and the tool's key
# ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LtiSettings:
    """The platform registration of `c.LTI` in course_config.py."""
    config_file: Path
    issuer: str = ""
    client_id: str = ""
    deployment_id: str = ""
    token_url: str = ""
    token_audience: str = ""             # the `aud` of the client assertion; default: the token URL
    private_key: str = DEFAULT_PRIVATE_KEY
    key_id: str = ""                     # default: the key's RFC 7638 thumbprint
    lineitems: dict = field(default_factory=dict)  # assignment -> line item URL
    lineitems_url: str = ""
    timeout: float = 30.0                # seconds for one HTTP request
    retries: int = 3                     # further attempts after a 5xx, 429 or a timeout
    retry_delay: float = 1.0             # seconds before the first retry; doubles each time
    give_up_after: int = 3               # students in a row the platform failed: the rest are not sent
    pending_manual: str = "FullyGraded"  # how a score with a written answer still to be graded by hand is sent
    verify: bool = True                  # read every score back from the result service
    memberships_url: str = ""            # NRPS context memberships URL (the LMS's tool page, or a launch)
    roster_match: str = "email"          # how an LMS member is matched to nbgrader's student: email, id_number, login
    tool_url: str = ""                   # the web service's public address, for `autograder lti config`
    auth_url: str = ""                   # the platform's OIDC authorization URL (launches)
    platform_jwks_url: str = ""          # the platform's public keyset URL (launches)
    contexts: list = field(default_factory=list)  # the LMS courses served: context ids, or dicts (lms/links.py)

    @property
    def private_key_path(self) -> Path:
        path = Path(self.private_key).expanduser()
        return path if path.is_absolute() else self.config_file.parent / path

    def require(self, *names: str) -> None:
        missing = [name for name in names if not getattr(self, name)]
        if missing:
            raise LtiError(f"{self.config_file}: set {', '.join(f'{CONFIG_SECTION}.{n}' for n in missing)} "
                           "(from the LMS's registration of this tool) before publishing.")


def load_settings(course_root: Path) -> LtiSettings:
    """The `c.LTI` section of the course's course_config.py; unknown names are refused, naming the file."""
    from traitlets.config.loader import PyFileConfigLoader

    from ..config import config_file as named

    config_file = Path(course_root) / named(course_root)  # an nbgrader course as it is: its nbgrader_config.py
    section = dict(PyFileConfigLoader(config_file.name, path=str(course_root)).load_config().LTI.items())
    known = set(LtiSettings.__dataclass_fields__) - {"config_file"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise LtiError(f"{config_file}: unknown setting(s) {', '.join(f'{CONFIG_SECTION}.{n}' for n in unknown)}; "
                       f"known: {', '.join(sorted(known))}.")
    settings = LtiSettings(config_file=config_file, **section)
    if settings.pending_manual not in PROGRESS_CHOICES:
        raise LtiError(f"{config_file}: {CONFIG_SECTION}.pending_manual is {settings.pending_manual!r}; "
                       f"choose {' or '.join(map(repr, PROGRESS_CHOICES))}.")
    for entry in settings.contexts if isinstance(settings.contexts, (list, tuple)) else [None]:
        if not (isinstance(entry, (str, int)) and str(entry)
                or isinstance(entry, dict) and entry.get("context_id") not in (None, "")
                and set(entry) <= {"issuer", "client_id", "deployment_id", "context_id"}):
            raise LtiError(f"{config_file}: {CONFIG_SECTION}.contexts must be a list of the served LMS courses' "
                           "context ids (e.g. [\"42\"]), or of dicts with context_id and optionally issuer, client_id, "
                           f"deployment_id; {entry!r} is neither.")
    from .nrps import MATCHES

    if settings.roster_match not in MATCHES:
        raise LtiError(f"{config_file}: {CONFIG_SECTION}.roster_match is {settings.roster_match!r}; "
                       f"choose one of {', '.join(map(repr, MATCHES))}.")
    return settings


def with_link(settings: LtiSettings, assignment: str, link: dict) -> LtiSettings:
    """`settings` for `assignment` with what launches from the bound LMS course told about its link
    (lms/links.py `served_link`): the link's line item before c.LTI.lineitems, the course's line items and
    memberships URLs before c.LTI's. LtiError (nothing is sent) when a line item or memberships URL, recorded or
    set in c.LTI, is not the bound course's: scores and rosters go to and come from that course only."""
    from dataclasses import replace

    from .links import same_service, within

    context = link.get("context")
    lineitem = link.get("lineitem") or settings.lineitems.get(assignment)
    source = "recorded from a launch" if link.get("lineitem") else f"{CONFIG_SECTION}.lineitems[{assignment!r}]"
    where = f"{context.name}, the LMS course this grader serves" if context else ""
    if context and context.lineitems:
        if lineitem and not within(lineitem, context.lineitems):
            raise LtiError(f"The line item {lineitem} ({source}) is not one of {where} (its line items are under "
                           f"{context.lineitems}); nothing was sent. Correct {CONFIG_SECTION}.lineitems, or open the "
                           "assignment's activity once from that course.")
        if settings.lineitems_url and not same_service(settings.lineitems_url, context.lineitems):
            raise LtiError(f"{CONFIG_SECTION}.lineitems_url {settings.lineitems_url} is not the line items of {where} "
                           f"({context.lineitems}); nothing was sent. Correct or remove it.")
    if context and context.memberships and settings.memberships_url \
            and not same_service(settings.memberships_url, context.memberships):
        raise LtiError(f"{CONFIG_SECTION}.memberships_url {settings.memberships_url} is not the roster of {where} "
                       f"({context.memberships}); nothing was sent. Correct or remove it.")
    return replace(settings, lineitems={**settings.lineitems, **({assignment: lineitem} if lineitem else {})},
                   lineitems_url=link.get("lineitems") or settings.lineitems_url,
                   memberships_url=link.get("memberships") or settings.memberships_url)


def read_private_key(path: Path):
    """The tool's RSA private key from a PEM file; LtiError naming the file when it is missing or not one."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LtiError(f"The tool's private key {path} does not exist. Create a key pair with "
                       f"`autograder lti keys`, or set {CONFIG_SECTION}.private_key to the key's file.") from None
    except OSError as error:
        raise LtiError(f"The tool's private key {path} cannot be read: {error.strerror}.") from None
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise LtiError(f"{path} is not an unencrypted PEM private key ({error}).") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise LtiError(f"{path} holds a {type(key).__name__}; LTI 1.3 needs an RSA key (RS256).")
    return key


def public_jwk(private_key, key_id: str = "") -> dict:
    """The public half as a JWK for the platform: kty, n, e, kid (default: RFC 7638 thumbprint), alg, use."""
    from jwt.algorithms import RSAAlgorithm

    jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    canonical = json.dumps({name: jwk[name] for name in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    return {"kty": "RSA", "n": jwk["n"], "e": jwk["e"], "kid": key_id or thumbprint, "alg": "RS256", "use": "sig"}


def create_key_pair(path: Path):
    """Write a new 2048-bit RSA private key to `path` (mode 0600, never over an existing file); returns it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never over an existing key
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return key


# ----------------------------------------------------------------------------------------------------------
# Scores, from nbgrader's gradebook
# ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StudentScore:
    """One student's submission of the assignment, as the gradebook has it now."""
    student: str
    user_id: str | None          # nbgrader's lms_user_id: the LTI user id on the platform
    score: float
    max_score: float
    pending_manual: float        # points of answers still to be graded by hand
    parts: tuple                 # (exercise name, score, max score) per graded cell; score None: not graded yet
    remarks: tuple = ()          # (cell name, the grader's comment) for each hand-graded cell with a comment
    email: str | None = None     # the gradebook's, to check the LMS member of `user_id` is this student
    hand_graded: bool = False    # some answer has a hand grade already

    def grading_progress(self, pending_as: str = "FullyGraded") -> str:
        """AGS gradingProgress: FullyGraded, or `pending_as` while a written answer waits for a hand grade."""
        return pending_as if self.pending_manual else "FullyGraded"

    def comment(self) -> str:
        """A short note for the student: the points, what the score counts while a written answer waits for its
        hand grade (it is not a 0), each exercise, and the grader's comments."""
        from ..view import headline

        parts = ", ".join(f"{name}: to be graded by your instructor" if score is None else
                          f"{name} {fraction(score, top)}" for name, score, top in self.parts)
        text = f"{headline(self.score, self.max_score, self.pending_manual)}. {parts}"
        return text + ("." if self.remarks else "") + "".join(f" Comment on {name}: {remark}"
                                                               for name, remark in self.remarks)


def gradebook_scores(db_url: str, assignment: str, names: dict[str, str]) -> tuple[list[StudentScore], list[str]]:
    """Every submission of `assignment` in the gradebook (sorted by student), and the students without one.

    `names` maps a grade cell's id to the exercise name shown in the comment. Missing gradebook or
    assignment raise LtiError.
    """
    from ..gradebook import lms_score, open_gradebook  # first: it makes nbgrader's import fast
    from nbgrader.api import MissingEntry  # noqa: I001

    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).is_file():
        raise LtiError(f"There is no gradebook at {db_url[len('sqlite:///'):]}: grade the assignment first "
                       f"(`autograder grade {assignment}`) or name the gradebook with --db.")
    with open_gradebook(db_url) as gradebook:
        try:
            gradebook.find_assignment(assignment)
        except MissingEntry:
            raise LtiError(f"The gradebook {db_url} has no assignment {assignment!r}: "
                           f"grade it first (`autograder grade {assignment}`).") from None
        scores = []
        for submission in gradebook.assignment_submissions(assignment):
            grades = [grade for notebook in submission.notebooks for grade in notebook.grades]
            # not graded yet: no hand grade and no autograde (nbgrader counts it as 0; the student is told it waits)
            waiting = {grade.id for grade in grades if grade.manual_score is None and grade.auto_score is None}
            scores.append(StudentScore(
                student=submission.student.id, user_id=submission.student.lms_user_id or None,
                email=submission.student.email or None,
                score=lms_score(submission), max_score=float(submission.max_score),
                pending_manual=sum(float(grade.max_score) for grade in grades if grade.id in waiting),
                parts=tuple((names.get(grade.name, grade.name), None if grade.id in waiting else float(grade.score),
                             float(grade.max_score)) for grade in grades),
                remarks=tuple((names.get(comment.name, comment.name), comment.manual_comment.strip())
                              for notebook in submission.notebooks for comment in notebook.comments
                              if (comment.manual_comment or "").strip()),
                hand_graded=any(grade.manual_score is not None for grade in grades)))
        submitted = {score.student for score in scores}
        absent = sorted(student.id for student in gradebook.students if student.id not in submitted)
    return sorted(scores, key=lambda score: score.student), absent


# ----------------------------------------------------------------------------------------------------------
# The platform: access token, line item, scores
# ----------------------------------------------------------------------------------------------------------

class TokenRefused(LtiError):
    """The platform refuses the tool's access token even when freshly issued."""


class Unreachable(LtiError):
    """Every attempt of one request ended in a connection error or a timeout."""


class MalformedAnswer(Unreachable):
    """The platform's answer had a status line HTTP cannot parse (Moodle's, for a user id that is none of its)."""


class PlatformClient:
    """HTTP to one LTI platform with an access token: 5xx, 429 and timeouts are retried with backoff;
    a 401 gets a new token once."""

    def __init__(self, settings: LtiSettings, private_key, scopes: tuple[str, ...]):
        import requests

        self.settings, self.private_key, self.scopes = settings, private_key, scopes
        self.key_id = public_jwk(private_key, settings.key_id)["kid"]
        self.session = requests.Session()
        self._token, self._token_expires = None, 0.0

    def close(self):
        self.session.close()

    def token(self) -> str:
        """A valid access token, requested anew when there is none or it is about to expire."""
        if self._token is None or time.monotonic() > self._token_expires:
            self._token = self._request_token()
        return self._token

    def _client_assertion(self) -> str:
        import jwt

        now = int(time.time())
        claims = {"iss": self.settings.client_id, "sub": self.settings.client_id,
                  "aud": self.settings.token_audience or self.settings.token_url,
                  "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
        if self.settings.deployment_id:
            claims[DEPLOYMENT_CLAIM] = self.settings.deployment_id
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.key_id})

    def _request_token(self) -> str:
        url = self.settings.token_url
        response = self._send("POST", url, data=lambda: {
            "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self._client_assertion(), "scope": " ".join(self.scopes)})
        if response.status_code != 200:
            raise LtiError(f"The platform refused the access token request at {url}: {describe(response)}. "
                           f"Check {CONFIG_SECTION}.client_id ({self.settings.client_id!r}) and that the platform "
                           f"has the public key of {self.settings.private_key_path} (kid {self.key_id!r}).")
        try:
            body = response.json()
            token, lifetime = body["access_token"], float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise LtiError(f"The token endpoint {url} answered without an access token: "
                           f"{response.text[:200]!r}") from None
        granted = body.get("scope")
        missing = [scope for scope in self.scopes if scope in SCOPE_NEEDS and scope not in str(granted).split()]
        if granted is not None and missing:
            raise LtiError(f"The platform granted the scopes {granted!r}, without {' '.join(missing)}: "
                           + "; ".join(SCOPE_NEEDS[scope] for scope in missing) + ".")
        self._token_expires = time.monotonic() + max(0.0, lifetime - 60)
        return token

    def request(self, method: str, url: str, **kwargs):
        """An authorized request; a 401 gets a new token once, and TokenRefused if that is refused too."""
        response = self._send(method, url, authorized=True, **kwargs)
        if response.status_code == 401:
            self._token = None
            response = self._send(method, url, authorized=True, **kwargs)
            if response.status_code == 401:
                raise TokenRefused(f"The platform refuses the tool's access token at {url}, even a new one "
                                   f"({describe(response)}).")
        return response

    def _send(self, method, url, *, authorized=False, headers=None, params=None, json=None, data=None):
        """The response, after retrying 5xx, 429, connection errors and timeouts (Unreachable when all
        failed); `json` and `data` may be callables, called afresh for every attempt (a retried score
        gets a new timestamp)."""
        import requests

        attempts = 1 + max(0, self.settings.retries)
        for attempt in range(attempts):
            delay = self.settings.retry_delay * 2 ** attempt
            send_headers = dict(headers or {})
            if authorized:
                send_headers["Authorization"] = f"Bearer {self.token()}"
            body = json() if callable(json) else json
            payload = _dumps(body) if body is not None else (data() if callable(data) else data)
            try:
                response = self.session.request(method, url, headers=send_headers, params=params, data=payload,
                                                timeout=self.settings.timeout)
            except (requests.ConnectionError, requests.Timeout) as error:
                status_line = _malformed_status_line(error)
                if status_line is not None:  # a broken answer, not a passing outage: asking again gives the same
                    raise MalformedAnswer(f"{method} {url}: the platform answered with a malformed HTTP status line "
                                      f"{status_line!r} (not retried)") from None
                if attempt + 1 == attempts:
                    raise Unreachable(f"{method} {url} failed {attempts} times; last: {_short(error)}") from None
                time.sleep(delay)
                continue
            if (response.status_code >= 500 or response.status_code == 429) and attempt + 1 < attempts:
                time.sleep(_retry_after(response, delay))
                continue
            return response


def _malformed_status_line(error: BaseException) -> str | None:
    """The status line when `error` comes from an HTTP answer whose status line could not be parsed, else None."""
    from http.client import BadStatusLine

    seen, pending = set(), [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, BadStatusLine):
            return str(current.line if hasattr(current, "line") else current).strip()[:100]
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [link for link in (current.__cause__, current.__context__) if link is not None]
    return None


def _dumps(body) -> bytes:
    return json.dumps(body).encode()


def _retry_after(response, default: float) -> float:
    """The platform's Retry-After in seconds when it gives one (at most a minute), else `default`."""
    try:
        return min(60.0, max(default, float(response.headers.get("Retry-After", ""))))
    except ValueError:
        return default


def _short(error: Exception) -> str:
    return f"{type(error).__name__}: {str(error)[:200]}"


def service_url(lineitem_url: str, service: str) -> str:
    """A line item's score or result service: `/scores` or `/results` appended to its path (query kept), per AGS."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + service))


def find_or_create_lineitem(client: PlatformClient, container_url: str, assignment: str, max_score: float) -> str:
    """The URL of the context's line item whose resourceId is `assignment`; created when there is none."""
    url, params = container_url, {"resource_id": assignment}
    while url:
        response = client.request("GET", url, headers={"Accept": LINEITEM_CONTAINER_TYPE}, params=params)
        if response.status_code != 200:
            raise LtiError(f"Cannot list the line items at {url}: {describe(response)}.")
        for item in json_body(response, list):
            if isinstance(item, dict) and item.get("resourceId") == assignment and item.get("id"):
                return item["id"]
        url, params = response.links.get("next", {}).get("url"), None
    created = {"label": assignment, "scoreMaximum": max_score, "resourceId": assignment}
    response = client.request("POST", container_url, json=created,
                              headers={"Content-Type": LINEITEM_TYPE, "Accept": LINEITEM_TYPE})
    if response.status_code not in (200, 201):
        raise LtiError(f"Cannot create the line item {assignment!r} at {container_url}: {describe(response)}.")
    created = json_body(response, dict)
    if not created.get("id"):
        raise LtiError(f"The platform created the line item {assignment!r} at {container_url} without an id.")
    return created["id"]


# ----------------------------------------------------------------------------------------------------------
# Publishing
# ----------------------------------------------------------------------------------------------------------

@dataclass
class PublishReport:
    assignment: str
    lineitem: str = ""
    pending_as: str = "FullyGraded"
    published: list[StudentScore] = field(default_factory=list)    # the LMS holds the score sent (read back)
    dropped: list[tuple[StudentScore, str]] = field(default_factory=list)  # accepted, but the LMS holds another
    unverified: list[tuple[str, str]] = field(default_factory=list)  # accepted; reading it back failed
    failed: list[tuple[str, str]] = field(default_factory=list)    # (student, why): the platform failed, or not sent
    refused: list[tuple[str, str]] = field(default_factory=list)   # (student, why): refused by this tool or the LMS
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (student, why): the platform has a newer score
    absent: list[str] = field(default_factory=list)                # in the gradebook, no submission: nothing sent
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.refused or self.skipped or self.dropped or self.unverified)

    def lines(self) -> list[str]:
        total = sum(map(len, (self.published, self.dropped, self.unverified, self.failed, self.refused,
                              self.skipped)))
        lines = [f"{self.assignment}: published {len(self.published)} of {total} students' scores"
                 + (f" to {self.lineitem}" if self.lineitem else "")]
        lines += self.notes
        if self.dropped:
            lines.append(f"DROPPED by the LMS ({len(self.dropped)}): it accepted the score, but holds another:")
            lines += [f"  {score.student}: {why}" for score, why in self.dropped]
            pending = [score for score, _ in self.dropped if score.grading_progress(self.pending_as) != "FullyGraded"]
            if pending and len(pending) == len(self.dropped):
                lines.append(f"The LMS dropped every score sent as {self.pending_as} ({len(pending)}): set "
                             f"{CONFIG_SECTION}.pending_manual = 'FullyGraded' to send the autograded points so far, "
                             "and publish again.")
        if self.unverified:
            lines.append(f"SENT, NOT CONFIRMED ({len(self.unverified)}): the LMS accepted the score, but reading "
                         "it back failed; publish again:")
            lines += [f"  {student}: {why}" for student, why in self.unverified]
        if self.failed:
            lines.append(f"NOT published ({len(self.failed)}), the gradebook still has them; fix and publish again:")
            lines += [f"  {student}: {why}" for student, why in self.failed]
        if self.refused:
            lines.append(f"REFUSED ({len(self.refused)}), nothing of theirs is on the LMS; fix what is said and "
                         "publish again:")
            lines += [f"  {student}: {why}" for student, why in self.refused]
        if self.skipped:
            lines.append(f"SKIPPED ({len(self.skipped)}): the platform holds a newer score; nothing was lost:")
            lines += [f"  {student}: {why}" for student, why in self.skipped]
        if self.absent:
            lines.append(f"no submission, nothing sent ({len(self.absent)}): {', '.join(self.absent)}")
        return lines


class _Clock:
    """ISO 8601 UTC timestamps with microseconds, strictly increasing even within one clock tick."""

    def __init__(self):
        self.last = datetime.min.replace(tzinfo=timezone.utc)

    def now(self) -> str:
        self.last = max(datetime.now(timezone.utc), self.last + timedelta(microseconds=1))
        return self.last.isoformat(timespec="microseconds")


def publish_scopes(settings: LtiSettings, assignment: str) -> tuple[str, ...]:
    """The scopes a publish of `assignment` asks the platform for."""
    scopes = [SCORE_SCOPE]
    if not settings.lineitems.get(assignment):
        scopes.append(LINEITEM_SCOPE)
    if settings.verify:
        scopes += [RESULT_SCOPE, LINEITEM_READ_SCOPE]
    if settings.memberships_url:
        scopes.append(MEMBERSHIP_SCOPE)
    return tuple(dict.fromkeys(scopes))


def publish(settings: LtiSettings, assignment: str, scores: list[StudentScore], absent: list[str]) -> PublishReport:
    """Post every score to the assignment's line item and read it back; every student ends in exactly one list.

    Raises LtiError before anything is posted when the key, the token, the line item or the roster is not to
    be had.
    """
    from .nrps import fetch_members, refusal

    settings.require("client_id", "token_url")
    lineitem = settings.lineitems.get(assignment)
    if not lineitem and not settings.lineitems_url:
        raise LtiError(f"{settings.config_file}: no line item for {assignment!r}. Set "
                       f"{CONFIG_SECTION}.lineitems[{assignment!r}] to its line item URL, or "
                       f"{CONFIG_SECTION}.lineitems_url to the course's line items URL.")
    report = PublishReport(assignment, absent=list(absent), pending_as=settings.pending_manual)
    key = read_private_key(settings.private_key_path)
    if not scores:
        return report
    client = PlatformClient(settings, key, publish_scopes(settings, assignment))
    try:
        client.token()
        members = None
        if settings.memberships_url:
            members = {member["user_id"]: member for member in fetch_members(client, settings.memberships_url)}
        else:
            report.notes.append(f"(membership not checked: set {CONFIG_SECTION}.memberships_url to the LMS's "
                                "Names and Role Provisioning Services URL)")
        sendable = []
        for score in scores:
            why = refusal(score, members, settings.roster_match)
            if why:
                report.refused.append((score.student, why))
            else:
                sendable.append(score)
        if not sendable:  # a grade column is made only for scores that will be in it
            return report
        if not lineitem:
            top = max((score.max_score for score in scores), default=0.0)
            lineitem = find_or_create_lineitem(client, settings.lineitems_url, assignment, top)
        report.lineitem = lineitem
        item_maximum = _lineitem_maximum(client, lineitem) if settings.verify else None
        url, clock, stopped, failing_in_a_row = service_url(lineitem, "scores"), _Clock(), None, 0
        for score in sendable:
            if stopped:
                report.failed.append((score.student, f"not sent: {stopped}"))
                continue
            try:
                outcome = _post_score(client, url, score, clock, settings.pending_manual)
            except LtiError as error:  # the token is gone for good: the rest would fail the same way
                stopped = str(error)
                report.failed.append((score.student, stopped))
                continue
            if outcome is None:
                failing_in_a_row = 0
                if not settings.verify:
                    report.published.append(score)
                    continue
                try:
                    _read_back(client, lineitem, score, item_maximum, settings.pending_manual, report)
                except LtiError as error:
                    stopped = str(error)
                    report.unverified.append((score.student, stopped))
                continue
            kind, why, platform_failed = outcome
            getattr(report, kind).append((score.student, why))
            failing_in_a_row = failing_in_a_row + 1 if platform_failed else 0
            if failing_in_a_row >= max(1, settings.give_up_after):
                stopped = (f"the platform failed for {failing_in_a_row} students in a row "
                           f"({CONFIG_SECTION}.give_up_after); publish again when it works")
    finally:
        client.close()
    return report


def _post_score(client: PlatformClient, url: str, score: StudentScore, clock: _Clock, pending_as: str):
    """POST one Score: None when the platform accepted it, else (report list, why, whether the platform failed).

    LtiError when the tool has no usable token."""
    def body():
        return {"userId": score.user_id, "scoreGiven": score.score, "scoreMaximum": score.max_score,
                "comment": score.comment(), "timestamp": clock.now(),
                "activityProgress": "Completed", "gradingProgress": score.grading_progress(pending_as)}
    try:
        response = client.request("POST", url, json=body, headers={"Content-Type": SCORE_TYPE})
    except MalformedAnswer as error:  # Moodle's answer to a user id that is no Moodle user id
        return "failed", f"{error}; is {score.user_id!r} the LMS's user id? (`autograder lti roster`)", True
    except Unreachable as error:
        return "failed", str(error), True
    if response.status_code in (200, 201, 202, 204):
        return None
    if response.status_code == 409:
        why = (f"{describe(response)} (its timestamp is later than this machine's clock: another publisher, "
               "or a clock running behind)")
        return "skipped", why, False
    retried = response.status_code >= 500 or response.status_code == 429
    if not retried:
        return "refused", f"the LMS refused the score: {describe(response)}", False
    return "failed", f"{describe(response)} after {1 + client.settings.retries} attempts", True


def _lineitem_maximum(client: PlatformClient, lineitem: str) -> float | None:
    """The line item's scoreMaximum (the scale of its results), or None when the platform does not say."""
    try:
        response = client.request("GET", lineitem, headers={"Accept": LINEITEM_TYPE})
    except Unreachable:
        return None
    if response.status_code != 200:
        return None
    try:
        maximum = response.json().get("scoreMaximum")
    except (ValueError, AttributeError):
        return None
    return float(maximum) if isinstance(maximum, (int, float)) and maximum > 0 else None


def _read_back(client: PlatformClient, lineitem: str, score: StudentScore, item_maximum: float | None,
               pending_as: str, report: PublishReport) -> None:
    """Put `score` into report.published when the line item's result for its user is the score sent."""
    url = service_url(lineitem, "results")
    try:
        response = client.request("GET", url, params={"user_id": score.user_id},
                                  headers={"Accept": RESULT_CONTAINER_TYPE})
    except Unreachable as error:
        report.unverified.append((score.student, str(error)))
        return
    if response.status_code != 200:
        report.unverified.append((score.student, f"GET {url}: {describe(response)}"))
        return
    try:
        results = [r for r in response.json() if isinstance(r, dict) and str(r.get("userId")) == score.user_id]
    except (ValueError, TypeError):
        report.unverified.append((score.student, f"GET {url} did not answer with a JSON list"))
        return
    progress = score.grading_progress(pending_as)
    readings = held_fractions(results[0] if results else None, item_maximum, zero_if_empty=progress == "FullyGraded")
    sent = f"sent {fraction(score.score, score.max_score)} as {progress}"
    if not readings:
        report.dropped.append((score, f"{sent}; the LMS holds no score for {score.user_id}"))
    elif any(abs(held - score.score / score.max_score) <= 1e-5 for held in readings):
        report.published.append(score)
    else:
        report.dropped.append((score, f"{sent}; the LMS holds {fraction(readings[-1] * score.max_score, score.max_score)}"))


def held_fractions(result: dict | None, item_maximum: float | None, zero_if_empty: bool = False) -> list[float]:
    """The fraction of the maximum an AGS Result holds, read each way it can be read; [] when it holds none.

    AGS puts resultScore on the scale of resultMaximum; Moodle puts it on the line item's scale and fills
    resultMaximum with the maximum sent, so both readings are given (the line item's last).
    Moodle lists a score of 0 without resultScore: `zero_if_empty` reads such a result as 0.
    """
    if result is None:
        return []
    given = result.get("resultScore")
    if given is None and zero_if_empty:
        return [0.0]
    if not isinstance(given, (int, float)) or isinstance(given, bool):
        return []
    maximum = result.get("resultMaximum", 1)
    readings = [given / maximum] if isinstance(maximum, (int, float)) and maximum > 0 else []
    return readings + ([given / item_maximum] if item_maximum else [])


# ----------------------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------------------

def add_command(commands) -> None:
    lti = commands.add_parser("lti", help="LTI 1.3: publish scores to the LMS (Assignment and Grade Services)")
    verbs = lti.add_subparsers(dest="lti_command", required=True)
    pub = verbs.add_parser("publish", help="post every student's score of ASSIGNMENT to its LMS line item")
    pub.add_argument("assignment", metavar="ASSIGNMENT")
    pub.add_argument("--db", help="gradebook SQLAlchemy URL (default: the course's, sqlite:///gradebook.db)")
    pub.add_argument("--dry-run", action="store_true", help="show what would be sent; contact nobody")
    pub.set_defaults(run=run_publish)
    keys = verbs.add_parser("keys", help="create the tool's RSA key pair (or show the public key of an existing "
                                         "one) to register on the platform")
    keys.add_argument("--private-key", type=Path, metavar="PATH",
                      help=f"where the private key is kept (default: {CONFIG_SECTION}.private_key, "
                           f"else {DEFAULT_PRIVATE_KEY})")
    keys.set_defaults(run=run_keys)
    roster = verbs.add_parser("roster", help="record each student's LMS user id from the members on the LMS of "
                                             "ASSIGNMENT's link, or of the whole course (Names and Role "
                                             "Provisioning Services)")
    whose = roster.add_mutually_exclusive_group()
    whose.add_argument("assignment", metavar="ASSIGNMENT", nargs="?",
                       help="the members of this assignment's link on the LMS (known from a launch of it)")
    whose.add_argument("--context", action="store_true", help="every member of the course (the default)")
    roster.add_argument("--url", help="the context memberships URL (default: the one launches told, else "
                                      f"{CONFIG_SECTION}.memberships_url)")
    roster.add_argument("--db", help="gradebook SQLAlchemy URL (default: the course's)")
    roster.add_argument("--dry-run", action="store_true", help="show what would be recorded; write nothing")
    roster.set_defaults(run=run_roster)
    contexts = verbs.add_parser("contexts", help="the LMS courses (LTI contexts) this grader serves and those that "
                                                 "tried to launch it; approve or withdraw one by its ID")
    contexts.add_argument("action", nargs="?", choices=("list", "approve", "withdraw"), default="list")
    contexts.add_argument("id", nargs="?", type=int, metavar="ID")
    contexts.add_argument("--db", help="gradebook SQLAlchemy URL (default: the course's)")
    contexts.set_defaults(run=run_contexts)
    config = verbs.add_parser("config", help="print every value the LMS administrator pastes to register the tool, "
                                             "and Canvas's JSON configuration")
    config.add_argument("--url", help=f"the service's public address (default: {CONFIG_SECTION}.tool_url)")
    config.add_argument("--title", default="Autograder", help="the tool's name in the LMS")
    config.set_defaults(run=run_config)


def _course():
    from ..config import find_root, load_course

    return load_course(find_root())


def run_contexts(args) -> int:
    """`autograder lti contexts [approve|withdraw ID]`."""
    from sqlalchemy import create_engine

    from .links import contexts, create_tables, describe, set_approved

    course = _course()
    try:
        settings = load_settings(course.root)
    except LtiError as error:
        logger.error("autograder lti contexts: %s", error)
        return 1
    engine = create_engine(args.db or course.db_url)
    try:
        create_tables(engine)
        if args.action != "list":
            if args.id is None:
                logger.error("autograder lti contexts %s: give the ID that `autograder lti contexts` lists",
                             args.action)
                return 2
            chosen = next((c for c in contexts(engine, settings) if c.id == args.id), None)
            if chosen is None:
                logger.error("autograder lti contexts: no LMS course with ID %s has launched this grader; "
                             "`autograder lti contexts` lists those that did.", args.id)
                return 1
            set_approved(engine, args.id, datetime.now(timezone.utc).replace(tzinfo=None)  # naive UTC, as nbgrader's
                         if args.action == "approve" else None)
            if args.action == "approve":
                print(f"Approved {chosen.name}: launches from it now open this course's grader (its teachers as "
                      f"instructors, its students as students), and its links and grade columns are used.")
            elif chosen.configured:
                print(f"{chosen.name} is bound in course_config.py: remove it from {CONFIG_SECTION}.contexts to "
                      "stop serving it.")
            else:
                print(f"Withdrawn: launches from {chosen.name} are refused from now on.")
        found = contexts(engine, settings)
    finally:
        engine.dispose()
    print(f"LMS courses of this grader ({course.course_id}); launches from a course not served are refused. "
          "Approve one with `autograder lti contexts approve ID`:" if found else
          "No LMS course has launched this grader yet, and course_config.py binds none: a launch from the LMS is "
          "refused and then listed here, to approve with `autograder lti contexts approve ID`.")
    for context in found:
        print(describe(context))
    return 0


def run_roster(args) -> int:
    from .nrps import fetch_members, is_active, is_learner, record_roster, roster_url

    course = _course()
    try:
        settings = load_settings(course.root)
        url, whose = roster_url(args, course, settings)
        settings.require("client_id", "token_url")
        client = PlatformClient(settings, read_private_key(settings.private_key_path), (MEMBERSHIP_SCOPE,))
        try:
            members = fetch_members(client, url)
        finally:
            client.close()
        report = record_roster(args.db or course.db_url, members, settings.roster_match, dry_run=args.dry_run)
    except LtiError as error:
        logger.error("autograder lti roster: %s", error)
        return 1
    learners = sum(is_active(m) and is_learner(m) for m in members)
    print(f"The LMS lists {len(members)} members of {whose}, {learners} of them students (matched by "
          f"{settings.roster_match}){' (dry run: nothing written)' if args.dry_run else ''}:")
    print(f"  LMS user id recorded for {len(report.recorded)}, already right for {len(report.unchanged)}, "
          f"{len(report.added)} added to the gradebook")
    for student, user_id in report.recorded:
        print(f"  {student} -> {user_id}")
    for student, user_id in report.taken_from:
        print(f"  {student} no longer has LMS user id {user_id}: the LMS gives it to another student")
    if report.unmatched:
        print(f"  NOT matched ({len(report.unmatched)}): " + "; ".join(report.unmatched))
    if report.not_in_lms:
        print(f"  in the gradebook, not a student of {whose} on the LMS ({len(report.not_in_lms)}): "
              + ", ".join(report.not_in_lms))
    return 1 if report.unmatched else 0


def exercise_names(course, assignment: str) -> dict[str, str]:
    """grade cell id -> the name a student's comment gives it."""
    from ..grade import assignment_spec

    if assignment not in course.assignments:  # an nbgrader course's, graded by its notebooks' own test cells
        from ..nbtests import nbgrader_spec

        return {cell.grade_id: "written answer" if cell.by_hand else cell.grade_id
                for cell in nbgrader_spec(course, assignment).cells}
    spec = assignment_spec(course, assignment)
    return {exercise.grade_id: exercise.name for exercise in spec.exercises} | \
        {grade_id: "written answer" for grade_id in spec.manual}


def run_publish(args) -> int:
    course = _course()
    from .links import LinkError, served_link_at

    db_url = args.db or course.db_url
    try:
        settings = load_settings(course.root)
        try:
            link = served_link_at(db_url, settings, args.assignment)
        except LinkError as error:
            raise LtiError(str(error)) from None
        settings = with_link(settings, args.assignment, link)
        names = exercise_names(course, args.assignment)
        scores, absent = gradebook_scores(db_url, args.assignment, names)
        if args.dry_run:
            found = f"the line item whose resourceId is {args.assignment!r} ({CONFIG_SECTION}.lineitems_url)"
            print(f"To {settings.lineitems.get(args.assignment) or found}:")
            for score in scores:
                print(f"{score.student} -> {score.user_id or '(no LTI user id)'}: {fraction(score.score, score.max_score)} "
                      f"{score.grading_progress(settings.pending_manual)}: {score.comment()}")
            print(f"(dry run: nothing sent; {len(absent)} without a submission)")
            return 0
        report = publish(settings, args.assignment, scores, absent)
    except LtiError as error:
        logger.error("autograder lti publish: %s", error)
        return 1
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


def run_keys(args) -> int:
    from cryptography.hazmat.primitives import serialization

    try:
        settings = load_settings(_course().root)
        path = args.private_key or settings.private_key_path
        key, verb = (read_private_key(path), "existing") if path.exists() else (create_key_pair(path), "new")
    except LtiError as error:
        logger.error("autograder lti keys: %s", error)
        return 1
    except OSError as error:
        logger.error("autograder lti keys: cannot write %s: %s", error.filename, error.strerror)
        return 1
    jwk = public_jwk(key, settings.key_id if path == settings.private_key_path else "")
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    print(f"The {verb} private key: {path} (keep it secret and out of version control).")
    print("Register this public key with the LMS (Moodle: the PEM, as 'RSA key'; Canvas: the JWK; either can "
          "instead fetch the keyset URL that `autograder lti config` prints), then set in course_config.py:")
    print(f"  {CONFIG_SECTION}.private_key = {str(path)!r}")
    print(f"  {CONFIG_SECTION}.key_id = {jwk['kid']!r}")
    print("\nPublic key (JWK):")
    print(json.dumps(jwk))
    print("\nPublic key (PEM):")
    print(pem, end="")
    return 0


TOOL_PATHS = {"login": "/lti/login", "launch": "/lti/launch", "jwks": "/lti/jwks.json"}
TOOL_SCOPES = (LINEITEM_SCOPE, LINEITEM_READ_SCOPE, RESULT_SCOPE, SCORE_SCOPE, MEMBERSHIP_SCOPE)


def tool_urls(base: str) -> dict[str, str]:
    """The service's LTI endpoints under its public address `base`."""
    return {name: base.rstrip("/") + path for name, path in TOOL_PATHS.items()}


def canvas_configuration(base: str, title: str, jwk: dict) -> dict:
    """Canvas's "Enter JSON" developer key configuration: launch, deep linking from the assignment and module
    pickers, the AGS and NRPS scopes, the public key as JWK and the keyset URL."""
    urls = tool_urls(base)
    picker = {"message_type": "LtiDeepLinkingRequest", "target_link_uri": urls["launch"]}
    return {
        "title": title, "description": "Auto-graded Jupyter notebooks", "oidc_initiation_url": urls["login"],
        "target_link_uri": urls["launch"], "scopes": list(TOOL_SCOPES), "public_jwk_url": urls["jwks"],
        "extensions": [{"platform": "canvas.instructure.com", "privacy_level": "public", "settings": {
            "placements": [{"placement": "assignment_selection", **picker}, {"placement": "link_selection", **picker},
                           {"placement": "course_navigation", "message_type": "LtiResourceLinkRequest",
                            "target_link_uri": urls["launch"], "default": "disabled"}]}}],
        "custom_fields": {"assignment": "$Canvas.assignment.title"},
    }


def run_config(args) -> int:
    from cryptography.hazmat.primitives import serialization

    try:
        settings = load_settings(_course().root)
        base = args.url or settings.tool_url
        if not base:
            raise LtiError(f"{settings.config_file}: set {CONFIG_SECTION}.tool_url to the service's public address "
                           "(as students reach `autograder serve`, e.g. https://grader.example.edu), or give --url.")
        key = read_private_key(settings.private_key_path)
    except LtiError as error:
        logger.error("autograder lti config: %s", error)
        return 1
    jwk, urls = public_jwk(key, settings.key_id), tool_urls(base)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    print(f"""Register the tool with these values (the private key stays in {settings.private_key_path}).

Initiate login URL (OpenID Connect login):  {urls['login']}
Tool / target link URL:                    {urls['launch']}
Redirection URI(s):                        {urls['launch']}
Deep linking / content selection URL:      {urls['launch']}
Public keyset (JWKS) URL:                  {urls['jwks']}
Key id (kid):                              {jwk['kid']}
Scopes:                                    {' '.join(TOOL_SCOPES)}

Public key (PEM; Moodle: Public key type "RSA key", or "Keyset URL" with the JWKS URL above):
{pem}
Public key (JWK; Canvas: Public Key, or Public JWK URL with the JWKS URL above):
{json.dumps(jwk)}

Canvas (Developer Keys > + LTI Key > Method: Paste JSON):
{json.dumps(canvas_configuration(base, args.title, jwk), indent=2)}

Then copy from the LMS into course_config.py: {CONFIG_SECTION}.issuer, client_id, deployment_id, token_url,
and the platform's keyset URL as {CONFIG_SECTION}.platform_jwks_url, the authorization (OIDC auth) URL as
{CONFIG_SECTION}.auth_url, the course's line items URL as lineitems_url, and its memberships URL as memberships_url.
Launches are served only from the LMS courses named in {CONFIG_SECTION}.contexts (their context ids; Moodle: the course
id), or approved after their first launch with `autograder lti contexts approve ID`.""")
    return 0
