"""`autograder lti publish ASSIGNMENT`: every student's score from the gradebook to the LMS, by LTI 1.3
Assignment and Grade Services (AGS 2.0); `autograder lti keys`: the tool's RSA key pair.

How a publish goes:
1. the tool asks the platform's token URL for an access token (OAuth 2 client credentials, the client
   authenticated by an RS256 JWT signed with the tool's private key, RFC 7523);
2. the assignment's line item (the LMS grade column) is the one `c.LTI.lineitems` names, else the line
   item of the context's `c.LTI.lineitems_url` whose resourceId is the assignment (created if missing);
3. one Score is POSTed per student with a submission, to `<line item>/scores`, addressed by the student's
   `lms_user_id` in nbgrader's gradebook.

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
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEM_CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
DEFAULT_PRIVATE_KEY = "~/.config/autograder/lti-private-key.pem"
CONFIG_SECTION = "c.LTI"


class LtiError(Exception):
    """A problem that stops the whole publish (configuration, key, token); its message says what to fix."""


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

    from ..config import CONFIG_FILE

    config_file = Path(course_root) / CONFIG_FILE
    section = dict(PyFileConfigLoader(CONFIG_FILE, path=str(course_root)).load_config().LTI.items())
    known = set(LtiSettings.__dataclass_fields__) - {"config_file"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise LtiError(f"{config_file}: unknown setting(s) {', '.join(f'{CONFIG_SECTION}.{n}' for n in unknown)}; "
                       f"known: {', '.join(sorted(known))}.")
    return LtiSettings(config_file=config_file, **section)


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
    parts: tuple                 # (exercise name, score, max score) per graded cell
    remarks: tuple = ()          # (cell name, the grader's comment) for each hand-graded cell with a comment

    @property
    def grading_progress(self) -> str:
        return "PendingManual" if self.pending_manual else "FullyGraded"

    def comment(self) -> str:
        """A short note for the student: the points, what is still to be graded, and each exercise."""
        text = f"{self.score:g} of {self.max_score:g} points"
        if self.pending_manual:
            text += f"; {self.pending_manual:g} {_points(self.pending_manual)} still to be graded by hand"
        text += ". " + ", ".join(f"{name} {score:g}/{top:g}" for name, score, top in self.parts)
        return text + "".join(f" Comment on {name}: {remark}" for name, remark in self.remarks)


def _points(amount: float) -> str:
    return "point is" if amount == 1 else "points are"


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
            scores.append(StudentScore(
                student=submission.student.id, user_id=submission.student.lms_user_id or None,
                score=lms_score(submission), max_score=float(submission.max_score),
                pending_manual=sum(float(grade.max_score) for grade in grades if grade.needs_manual_grade),
                parts=tuple((names.get(grade.name, grade.name), float(grade.score), float(grade.max_score))
                            for grade in grades),
                remarks=tuple((names.get(comment.name, comment.name), comment.manual_comment.strip())
                              for notebook in submission.notebooks for comment in notebook.comments
                              if (comment.manual_comment or "").strip())))
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
            raise LtiError(f"The platform refused the access token request at {url}: {_describe(response)}. "
                           f"Check {CONFIG_SECTION}.client_id ({self.settings.client_id!r}) and that the platform "
                           f"has the public key of {self.settings.private_key_path} (kid {self.key_id!r}).")
        try:
            body = response.json()
            token, lifetime = body["access_token"], float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise LtiError(f"The token endpoint {url} answered without an access token: "
                           f"{response.text[:200]!r}") from None
        granted = body.get("scope")
        if granted is not None and SCORE_SCOPE not in str(granted).split():
            raise LtiError(f"The platform granted the scopes {granted!r}, without {SCORE_SCOPE}: "
                           "enable Assignment and Grade Services (scores) for this tool on the platform.")
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
                                   f"({_describe(response)}).")
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
                if attempt + 1 == attempts:
                    raise Unreachable(f"{method} {url} failed {attempts} times; last: {_short(error)}") from None
                time.sleep(delay)
                continue
            if (response.status_code >= 500 or response.status_code == 429) and attempt + 1 < attempts:
                time.sleep(_retry_after(response, delay))
                continue
            return response


def _dumps(body) -> bytes:
    return json.dumps(body).encode()


def _retry_after(response, default: float) -> float:
    """The platform's Retry-After in seconds when it gives one (at most a minute), else `default`."""
    try:
        return min(60.0, max(default, float(response.headers.get("Retry-After", ""))))
    except ValueError:
        return default


def _describe(response) -> str:
    text = " ".join(response.text.split())[:200]
    return f"HTTP {response.status_code} {response.reason}" + (f": {text}" if text else "")


def _short(error: Exception) -> str:
    return f"{type(error).__name__}: {str(error)[:200]}"


def scores_url(lineitem_url: str) -> str:
    """The line item's score service: its URL with `/scores` appended to the path (query kept), per AGS."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def find_or_create_lineitem(client: PlatformClient, container_url: str, assignment: str, max_score: float) -> str:
    """The URL of the context's line item whose resourceId is `assignment`; created when there is none."""
    url, params = container_url, {"resource_id": assignment}
    while url:
        response = client.request("GET", url, headers={"Accept": LINEITEM_CONTAINER_TYPE}, params=params)
        if response.status_code != 200:
            raise LtiError(f"Cannot list the line items at {url}: {_describe(response)}.")
        for item in _json(response, list):
            if isinstance(item, dict) and item.get("resourceId") == assignment and item.get("id"):
                return item["id"]
        url, params = response.links.get("next", {}).get("url"), None
    created = {"label": assignment, "scoreMaximum": max_score, "resourceId": assignment}
    response = client.request("POST", container_url, json=created,
                              headers={"Content-Type": LINEITEM_TYPE, "Accept": LINEITEM_TYPE})
    if response.status_code not in (200, 201):
        raise LtiError(f"Cannot create the line item {assignment!r} at {container_url}: {_describe(response)}.")
    created = _json(response, dict)
    if not created.get("id"):
        raise LtiError(f"The platform created the line item {assignment!r} at {container_url} without an id.")
    return created["id"]


def _json(response, kind: type):
    """The response's JSON body, which must be a `kind`; LtiError naming the URL otherwise."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, kind):
        raise LtiError(f"{response.request.method} {response.url} did not answer with a JSON {kind.__name__}: "
                       f"{response.text[:200]!r}")
    return body


# ----------------------------------------------------------------------------------------------------------
# Publishing
# ----------------------------------------------------------------------------------------------------------

@dataclass
class PublishReport:
    assignment: str
    lineitem: str = ""
    published: list[StudentScore] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)    # (student, why), score not on the platform
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (student, why): the platform has a newer score
    absent: list[str] = field(default_factory=list)                # in the gradebook, no submission: nothing sent

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped

    def lines(self) -> list[str]:
        total = len(self.published) + len(self.failed) + len(self.skipped)
        lines = [f"{self.assignment}: published {len(self.published)} of {total} students' scores"
                 + (f" to {self.lineitem}" if self.lineitem else "")]
        if self.failed:
            lines.append(f"NOT published ({len(self.failed)}), the gradebook still has them; fix and publish again:")
            lines += [f"  {student}: {why}" for student, why in self.failed]
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


def publish(settings: LtiSettings, assignment: str, scores: list[StudentScore], absent: list[str]) -> PublishReport:
    """Post every score to the assignment's line item; every student ends in exactly one list of the report.

    Raises LtiError before anything is posted when the key, the token or the line item is not to be had.
    """
    settings.require("client_id", "token_url")
    lineitem = settings.lineitems.get(assignment)
    if not lineitem and not settings.lineitems_url:
        raise LtiError(f"{settings.config_file}: no line item for {assignment!r}. Set "
                       f"{CONFIG_SECTION}.lineitems[{assignment!r}] to its line item URL, or "
                       f"{CONFIG_SECTION}.lineitems_url to the course's line items URL.")
    report = PublishReport(assignment, absent=list(absent))
    key = read_private_key(settings.private_key_path)
    if not scores:
        return report
    client = PlatformClient(settings, key, (SCORE_SCOPE,) if lineitem else (SCORE_SCOPE, LINEITEM_SCOPE))
    try:
        client.token()
        if not lineitem:
            top = max((score.max_score for score in scores), default=0.0)
            lineitem = find_or_create_lineitem(client, settings.lineitems_url, assignment, top)
        report.lineitem = lineitem
        url, clock, stopped = scores_url(lineitem), _Clock(), None
        for score in scores:
            if score.user_id is None:
                why = ("no LTI user id in the gradebook (nbgrader's lms_user_id: "
                       f"`nbgrader db student add {score.student} --lms-user-id=ID`)")
                report.failed.append((score.student, why))
            elif stopped:
                report.failed.append((score.student, f"not sent: {stopped}"))
            else:
                try:
                    _post_score(client, url, score, clock, report)
                except LtiError as error:  # the token is gone for good: the rest would fail the same way
                    stopped = str(error)
                    report.failed.append((score.student, stopped))
    finally:
        client.close()
    return report


def _post_score(client: PlatformClient, url: str, score: StudentScore, clock: _Clock, report: PublishReport):
    """POST one Score; the outcome goes into `report`. LtiError when the tool has no usable token."""
    def body():
        return {"userId": score.user_id, "scoreGiven": score.score, "scoreMaximum": score.max_score,
                "comment": score.comment(), "timestamp": clock.now(),
                "activityProgress": "Completed", "gradingProgress": score.grading_progress}
    try:
        response = client.request("POST", url, json=body, headers={"Content-Type": SCORE_TYPE})
    except Unreachable as error:
        report.failed.append((score.student, str(error)))
        return
    if response.status_code in (200, 201, 202, 204):
        report.published.append(score)
    elif response.status_code == 409:
        why = (f"{_describe(response)} (its timestamp is later than this machine's clock: another publisher, "
               "or a clock running behind)")
        report.skipped.append((score.student, why))
    else:
        retried = response.status_code >= 500 or response.status_code == 429
        tries = f" after {1 + client.settings.retries} attempts" if retried else ""
        report.failed.append((score.student, f"{_describe(response)}{tries}"))


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


def _course():
    from ..config import find_root, load_course

    return load_course(find_root())


def run_publish(args) -> int:
    from ..grade import assignment_spec

    course = _course()
    try:
        settings = load_settings(course.root)
        names = {exercise.grade_id: exercise.name for exercise in assignment_spec(course, args.assignment).exercises}
        names |= {grade_id: "written answer" for grade_id in assignment_spec(course, args.assignment).manual}
        scores, absent = gradebook_scores(args.db or course.db_url, args.assignment, names)
        if args.dry_run:
            for score in scores:
                print(f"{score.student} -> {score.user_id or '(no LTI user id)'}: {score.score:g}/{score.max_score:g} "
                      f"{score.grading_progress}: {score.comment()}")
            print(f"(dry run: nothing sent; {len(absent)} without a submission)")
            return 0
        report = publish(settings, args.assignment, scores, absent)
    except LtiError as error:
        print(f"autograder lti publish: {error}", file=sys.stderr)
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
        print(f"autograder lti keys: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"autograder lti keys: cannot write {error.filename}: {error.strerror}", file=sys.stderr)
        return 1
    jwk = public_jwk(key, settings.key_id if path == settings.private_key_path else "")
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    print(f"The {verb} private key: {path} (keep it secret and out of version control).")
    print("Register this public key with the LMS (as a JWK, or as PEM), then set in course_config.py:")
    print(f"  {CONFIG_SECTION}.private_key = {str(path)!r}")
    print(f"  {CONFIG_SECTION}.key_id = {jwk['kid']!r}")
    print("\nPublic key (JWK):")
    print(json.dumps(jwk))
    print("\nPublic key (PEM):")
    print(pem, end="")
    return 0
