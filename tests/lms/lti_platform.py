"""A real LTI 1.3 platform on 127.0.0.1 for the tests of `autograder lti publish`.

The access token endpoint is lti1p3platform's (`LTI1P3PlatformConfAbstract.get_access_token`: required
parameters, grant type, the client assertion's RS256 signature checked against the tool's registered JWKS by
kid), plus what that package leaves out of the IMS Security Framework: the assertion type, iss = sub =
client_id, aud = the token URL, exp and iat, and a jti never seen before. Access tokens are signed by the
platform's key and checked with lti1p3platform's `validate_token`.

lti1p3platform's AGS service validates no score, so the score and line item endpoints are here, checking
what AGS 2.0 requires: a bearer token this platform issued (not revoked) with the right scope, the media
type, the Score's fields and values, and a timestamp later than the last one of that line item and user
(else 409). The platform keeps the latest score per (line item, user) and every accepted post.

The result service (`<line item>/results`, AGS 2.0: one Result per user, `?user_id=` filter, resultScore on the
line item's scale) and the context membership service (NRPS 2.0, `limit` pages linked by `Link: rel="next"`)
answer from what the platform holds; the resource link membership service (`?rlid=`) lists the members of
one link (as Moodle's, for an activity restricted to some groups). Like Moodle (mod/lti/service/gradebookservices .../scores.php),
`moodle_like = True` throws scoreGiven away unless gradingProgress is FullyGraded, and refuses a score for a user
who is not a member (when `members` is set) with HTTP 400.
"""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
LINEITEM_READ_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RESULT_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
MEMBERSHIP_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
RESULT_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"
MEMBERSHIP_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
ACTIVITY = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}
# the platform's courses, all on one tool registration (as Moodle's site-level tools): number -> (id, label, title)
CONTEXTS = {1: ("context-1", "NN101", "Neural nets"), 2: ("context-2", "NN102", "Another course")}


def pem_pair() -> tuple[str, str]:
    """A fresh RSA key pair as (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


class _PlatformConfig(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs):
        self.registration_params = kwargs

    def get_registration_by_params(self, **kwargs):
        params = self.registration_params
        registration = (Registration().set_iss(params["issuer"]).set_client_id(params["client_id"])
                        .set_deployment_id(params["deployment_id"]).set_tool_key_set(params["tool_jwks"])
                        .set_platform_private_key(params["private_pem"]).set_platform_public_key(params["public_pem"]))
        if params.get("tool_login"):
            registration.set_oidc_login_url(params["tool_login"]).set_launch_url(params["tool_launch"])
            registration.set_deeplink_launch_url(params["tool_launch"])
        return registration


class _Login(OIDCLoginAbstract):
    """lti1p3platform's OIDC login initiation: the browser is sent to the tool's login URL."""

    def set_lti_message_hint(self, **kwargs):
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url):
        return url


class _Launch(LTIAdvantageMessageLaunchAbstract):
    """lti1p3platform's launch: the id_token, signed by the platform's key, in a form posted to the tool."""

    def render_launch_form(self, launch_data, **kwargs):
        return launch_data


class _Refused(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class LtiPlatform:
    """The platform, serving on 127.0.0.1 from `start()` to `stop()`.

    Test knobs: `fail[user_id] = n` answers that user's next n score posts with 503 (use a large n for
    always); `delay[user_id] = seconds` holds that user's next score response (after recording it);
    `revoke_after = n` revokes every issued token after n more accepted scores; `disable_after = n` refuses
    every token, old or new, after n more accepted scores (as when an administrator turns the tool's AGS off);
    `malformed[user_id] = n` answers that user's next n score posts with a status line HTTP cannot parse;
    `members`: the context's members (NRPS), None for a platform without the service; `page_size` members a
    page; `link_members[resource link id]`: the user ids of the members of that link (NRPS `?rlid=`);
    `moodle_like`: scores kept only when FullyGraded, scores for non-members refused; `grant`: the scopes
    a token is granted, None for every one asked for.
    """

    issuer = "https://lms.test"
    client_id = "autograder-tool"
    deployment_id = "deployment-1"

    def __init__(self, tool_jwk: dict, deployment_id: str | None = None):
        private_pem, public_pem = pem_pair()
        self.config = _PlatformConfig(issuer=self.issuer, client_id=self.client_id,
                                      deployment_id=deployment_id or self.deployment_id,
                                      tool_jwks={"keys": [tool_jwk]}, private_pem=private_pem, public_pem=public_pem)
        self.config.get_registration()
        self.hints: dict[str, dict] = {}        # lti_message_hint -> the launch it stands for
        self.launches: list[dict] = []          # the claims of every id_token issued
        self.jwks_requests = 0
        self.deep_link_responses: list[dict] = []
        self.activities: list[str] = []         # the launch (login initiation) URL of each activity page
        self.lock = threading.Lock()
        self.tokens: set[str] = set()          # issued and not revoked
        self.token_requests: list[int] = []    # HTTP status of each token request
        self.seen_jti: set[str] = set()
        self.lineitems: dict[str, dict] = {}   # id (URL) -> line item
        self.scores: dict[tuple[str, str], dict] = {}   # (line item URL, user id) -> latest accepted Score
        self.accepted: list[tuple[str, dict]] = []      # (line item URL, Score) of every accepted post
        self.score_posts: list[tuple[str, int]] = []    # (user id, status) of every score post
        self.fail: dict[str, int] = {}
        self.delay: dict[str, float] = {}
        self.revoke_after: int | None = None
        self.disable_after: int | None = None
        self.malformed: dict[str, int] = {}
        self.members: list[dict] | None = None
        self.link_members: dict[str, set[str]] = {}     # resource link id -> user ids of the members who reach it
        self.membership_queries: list[dict] = []        # the query of every memberships request
        self.page_size = 0
        self.moodle_like = False
        self.grant: set[str] | None = None
        self.requests: list[tuple[str, str]] = []       # (method, path) of every request
        self.server = None

    # ------------------------------------------------------------------ lifecycle and addresses
    def start(self) -> LtiPlatform:
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                platform._handle(self, "GET")

            def do_POST(self):
                platform._handle(self, "POST")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def token_url(self) -> str:
        return self.base + "/token"

    @property
    def lineitems_url(self) -> str:
        return self.base + "/context/1/lineitems"

    def context_url(self, context: int = 1) -> str:
        """Where a context's services are (AGS line items, NRPS memberships); only context 1's answer."""
        return f"{self.base}/context/{context}"

    def add_lineitem(self, label: str, score_maximum: float, resource_id: str = "", resource_link: str = "") -> str:
        """A line item the platform already has (as when the instructor places the tool); returns its URL."""
        with self.lock:
            url = f"{self.lineitems_url}/{len(self.lineitems) + 1}"
            self.lineitems[url] = {"id": url, "label": label, "scoreMaximum": score_maximum,
                                   **({"resourceId": resource_id} if resource_id else {}),
                                   **({"resourceLinkId": resource_link} if resource_link else {})}
        return url

    @property
    def memberships_url(self) -> str:
        return self.base + "/context/1/memberships"

    def add_member(self, user_id: str, name: str, email: str = "", sourcedid: str = "", username: str = "",
                   roles: tuple = (LEARNER,), status: str = "Active") -> dict:
        given, _, family = name.partition(" ")
        member = {"user_id": user_id, "status": status, "roles": list(roles), "name": name,
                  "given_name": given, "family_name": family,
                  **({"email": email} if email else {}), **({"lis_person_sourcedid": sourcedid} if sourcedid else {}),
                  **({"ext_user_username": username} if username else {})}
        with self.lock:
            self.members = (self.members or []) + [member]
        return member

    # ------------------------------------------------------------------ launches (LTI 1.3 core, Deep Linking)
    def register_tool(self, login_url: str, launch_url: str):
        self.config.registration_params |= {"tool_login": login_url, "tool_launch": launch_url}
        self.config._registration = None
        self.config.get_registration()

    def rotate_key(self):
        """A new platform key pair (a new kid); the old one is no longer in the keyset."""
        private_pem, public_pem = pem_pair()
        self.config.registration_params |= {"private_pem": private_pem, "public_pem": public_pem}
        self.config._registration = None
        self.config.get_registration()

    @property
    def auth_url(self) -> str:
        return self.base + "/auth"

    @property
    def jwks_url(self) -> str:
        return self.base + "/jwks"

    def launch_url(self, user: str, role: str = LEARNER, link: str = "rl-1", title: str = "", custom=None,
                   deep_link: bool = False, email: str = "", name: str = "", context: int = 1) -> str:
        """The address that starts a launch (as the LMS's activity link): it leads to the tool's login. `context`:
        the course the activity is in (CONTEXTS), all on the same tool registration."""
        hint = f"hint-{len(self.hints) + 1}"
        self.hints[hint] = {"user": user, "role": role, "link": link, "title": title, "custom": custom or {},
                            "deep_link": deep_link, "email": email, "name": name, "context": context}
        login = _Login(SimpleNamespace(get_data={}, form_data={}), self.config)
        login.set_lti_message_hint(hint=hint)
        if deep_link:
            login.set_deeplinking_launch_url()
        return login.prepare_preflight_url(user)

    def activity_url(self, host: str = "localhost", **launch) -> str:
        """The LMS's page of an activity, with the launch in an iframe, as Moodle's "embed" and Canvas show tools.
        It is served at http://localhost (the tool at 127.0.0.1 is another site: its cookies there are third-party),
        or at `host` (127.0.0.1: the tool's own site)."""
        with self.lock:
            self.activities.append(self.launch_url(**launch))
            number = len(self.activities)
        return f"http://{host}:{self.server.server_address[1]}/activity/{number}"

    def id_token_for(self, query: dict) -> dict:
        """The tool's authentication request answered: {"state", "id_token", "launch_url"}."""
        hint = self.hints.get(query.get("lti_message_hint", ""))
        if hint is None or query.get("login_hint") != hint["user"]:
            raise _Refused(400, "unknown lti_message_hint or login_hint")
        if query.get("response_type") != "id_token" or query.get("scope") != "openid":
            raise _Refused(400, "response_type must be id_token and scope openid")
        if query.get("redirect_uri") != self.config.registration_params.get("tool_launch"):
            raise _Refused(400, "redirect_uri is not the tool's registered launch URL")
        launch = _Launch(SimpleNamespace(get_data=query, form_data={}), self.config)
        launch.set_user_data(hint["user"], [hint["role"]], full_name=hint["name"] or None,
                             email_address=hint["email"] or None)
        context_id, label, title = CONTEXTS[hint["context"]]
        launch.set_launch_context_claim(context_id, context_title=title, context_label=label)
        if hint["deep_link"]:
            launch.set_dl(self.base + "/deep-link-return", title="Add an activity")
        else:
            launch.set_resource_link_claim(hint["link"], title=hint["title"])
            lineitem = next((url for url, item in self.lineitems.items() if item.get("resourceLinkId") == hint["link"]),
                            None) if hint["context"] == 1 else f"{self.context_url(hint['context'])}/lineitems/1"
            launch.set_ags(self.context_url(hint["context"]) + "/lineitems", lineitem)
        if hint["custom"]:
            launch.set_custom_parameters_claim(hint["custom"])
        launch.set_nrps(self.context_url(hint["context"]) + "/memberships")
        form = launch.lti_launch()
        self.launches.append(jwt.decode(form["id_token"], options={"verify_signature": False}))
        return form

    def revoke_tokens(self):
        with self.lock:
            self.tokens.clear()

    # ------------------------------------------------------------------ HTTP
    def _handle(self, handler: BaseHTTPRequestHandler, method: str):
        url = urlsplit(handler.path)
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        extra_headers = {}
        with self.lock:
            self.requests.append((method, url.path))
        try:
            if method == "POST" and url.path == "/token":
                status, result, media = 200, self._token(handler, body), "application/json"
            elif url.path == urlsplit(self.lineitems_url).path:
                status, result, media = self._lineitems(handler, method, body, parse_qs(url.query))
            elif method == "POST" and url.path.endswith("/scores"):
                lineitem = self.base + url.path[:-len("/scores")]
                if self._malformed(body):
                    handler.wfile.write(b"HTTP/1.1 4OO Bad Request\r\n\r\n")  # as a platform gone wrong
                    handler.close_connection = True
                    return
                status, result, media = self._score(handler, lineitem, body)
            elif method == "GET" and url.path == "/auth":
                form = self.id_token_for({k: v[0] for k, v in parse_qs(url.query).items()})
                fields = "".join(f'<input type="hidden" name="{name}" value="{form[name]}">'
                                 for name in ("id_token", "state"))
                status, media = 200, "text/html"
                result = (f'<html><body><form id="launch" method="post" action="{form["launch_url"]}">{fields}'
                          '</form><script>document.getElementById("launch").submit()</script></body></html>')
            elif method == "GET" and url.path.startswith("/activity/"):
                login = escape(self.activities[int(url.path.split("/")[-1]) - 1])
                status, media = 200, "text/html"
                result = (f'<html><body><h1>Week 1</h1><iframe id="tool" src="{login}" width="800" height="600">'
                          '</iframe></body></html>')
            elif method == "GET" and url.path == "/jwks":
                with self.lock:
                    self.jwks_requests += 1
                status, result, media = 200, {"keys": self.config.get_registration().get_jwks()}, "application/json"
            elif method == "POST" and url.path == "/deep-link-return":
                token = parse_qs(body.decode()).get("JWT", [""])[0]
                self.deep_link_responses.append(jwt.decode(token, options={"verify_signature": False}))
                status, result, media = 200, "<html><body><p id='done'>Activity added</p></body></html>", "text/html"
            elif method == "GET" and url.path.endswith("/results"):
                status, result, media = self._results(handler, self.base + url.path[:-len("/results")],
                                                      parse_qs(url.query))
            elif method == "GET" and url.path == urlsplit(self.memberships_url).path and self.members is not None:
                status, result, media, extra_headers = self._memberships(handler, parse_qs(url.query))
            elif method == "GET" and self.base + url.path in self.lineitems:
                self._authorize(handler, [LINEITEM_SCOPE, LINEITEM_READ_SCOPE])
                status, result, media = 200, self.lineitems[self.base + url.path], LINEITEM_TYPE
            else:
                raise _Refused(404, "no such resource")
        except _Refused as refused:
            status, result, media = refused.status, {"error": refused.message}, "application/json"
            extra_headers = refused.headers
        payload = (b"" if result is None else result.encode() if media == "text/html" else json.dumps(result).encode())
        try:
            handler.send_response(status)
            for name, value in extra_headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Type", media)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the tool gave up waiting: as a real server, go on
            pass

    def _malformed(self, body: bytes) -> bool:
        try:
            user = json.loads(body).get("userId")
        except (ValueError, AttributeError):
            return False
        with self.lock:
            left = self.malformed.get(user, 0)
            self.malformed[user] = max(0, left - 1)
            if left:
                self.score_posts.append((user, 0))
        return bool(left)

    def _results(self, handler, lineitem: str, query):
        """AGS Results of a line item: resultScore on the line item's scale, as Moodle and Canvas give it."""
        self._authorize(handler, [RESULT_SCOPE])
        if lineitem not in self.lineitems:
            raise _Refused(404, "no such line item")
        wanted = query.get("user_id", [None])[0]
        maximum = self.lineitems[lineitem]["scoreMaximum"]
        with self.lock:
            held = [(user, score) for (item, user), score in self.scores.items()
                    if item == lineitem and wanted in (None, user)]
        results = []
        for user, score in held:
            result = {"id": f"{lineitem}/results/{user}", "userId": user, "scoreOf": lineitem,
                      "timestamp": score["timestamp"]}
            if score.get("scoreGiven") is not None:
                result |= {"resultScore": score["scoreGiven"] * maximum / score["scoreMaximum"],
                           "resultMaximum": maximum}
            results.append(result)
        return 200, results, RESULT_TYPE

    def _memberships(self, handler, query):
        """NRPS 2.0 membership of the context, or with `rlid` of one resource link (the members who reach it)."""
        self._authorize(handler, [MEMBERSHIP_SCOPE])
        start = int(query.get("from", ["0"])[0])
        link = query.get("rlid", [None])[0]
        with self.lock:
            self.membership_queries.append({name: values[-1] for name, values in query.items()})
            members = list(self.members)
            if link is not None:
                if link not in self.link_members:
                    raise _Refused(404, f"no resource link {link!r} in this context")
                members = [member for member in members if member["user_id"] in self.link_members[link]]
        size = self.page_size or len(members) or 1
        page, headers = members[start:start + size], {}
        if start + size < len(members):
            same_link = f"&rlid={link}" if link is not None else ""
            headers["Link"] = f'<{self.memberships_url}?limit={size}&from={start + size}{same_link}>; rel="next"'
        body = {"id": self.memberships_url, "context": {"id": "context-1", "label": "NN101", "title": "Neural nets"},
                "members": page}
        return 200, body, MEMBERSHIP_TYPE, headers

    def _token(self, handler, body: bytes) -> dict:
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        try:
            if handler.headers.get("Content-Type", "").split(";")[0] != "application/x-www-form-urlencoded":
                raise _Refused(400, "invalid_request: the token request must be a form")
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise _Refused(400, "invalid_request: client_assertion_type")
            try:
                issued = self.config.get_access_token(form)  # lti1p3platform: claims present, grant, signature
            except Exception as error:  # noqa: BLE001 (whatever lti1p3platform refuses with is a refusal)
                raise _Refused(401, f"invalid_client: {type(error).__name__}: {error}") from None
            claims = jwt.decode(form["client_assertion"], options={"verify_signature": False})
            if not (claims.get("iss") == claims.get("sub") == self.client_id):
                raise _Refused(401, "invalid_client: iss and sub must be the client_id")
            if claims.get("aud") != self.token_url and self.token_url not in (claims.get("aud") or []):
                raise _Refused(401, "invalid_client: aud must be the token URL")
            now, iat, exp = time.time(), claims.get("iat"), claims.get("exp")
            if not (_number(iat) and _number(exp) and iat <= now + 5 and now < exp):
                raise _Refused(401, "invalid_client: iat must be now and exp in the future")
            with self.lock:
                if not claims.get("jti") or claims["jti"] in self.seen_jti:
                    raise _Refused(401, "invalid_client: jti missing or replayed")
                self.seen_jti.add(claims["jti"])
                self.tokens.add(issued["access_token"])
                self.token_requests.append(200)
            if self.grant is not None:
                issued = dict(issued, scope=" ".join(s for s in form.get("scope", "").split() if s in self.grant))
            return dict(issued)
        except _Refused as refused:
            with self.lock:
                self.token_requests.append(refused.status)
            raise

    def _authorize(self, handler, scopes: list[str]):
        auth = handler.headers.get("Authorization", "").split()
        if len(auth) != 2 or auth[0].lower() != "bearer":
            raise _Refused(401, "missing bearer token", {"WWW-Authenticate": "Bearer"})
        with self.lock:
            known = auth[1] in self.tokens and self.disable_after != 0
        try:
            valid = known and self.config.validate_token(auth[1], scopes)
        except Exception:  # noqa: BLE001 (an undecodable or expired token is an invalid one)
            valid = False
        if not valid:
            raise _Refused(401, "invalid or expired token", {"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def _lineitems(self, handler, method, body, query):
        if method == "GET":
            self._authorize(handler, [LINEITEM_SCOPE, LINEITEM_READ_SCOPE])
            wanted = query.get("resource_id", [None])[0]
            with self.lock:
                items = [item for item in self.lineitems.values() if wanted in (None, item.get("resourceId"))]
            return 200, items, CONTAINER_TYPE
        self._authorize(handler, [LINEITEM_SCOPE])
        if handler.headers.get("Content-Type") != LINEITEM_TYPE:
            raise _Refused(415, f"a line item must be {LINEITEM_TYPE}")
        item = json.loads(body)
        if not item.get("label") or not _number(item.get("scoreMaximum")) or item["scoreMaximum"] <= 0:
            raise _Refused(400, "a line item needs a label and a positive scoreMaximum")
        url = self.add_lineitem(item["label"], item["scoreMaximum"], item.get("resourceId", ""))
        return 201, self.lineitems[url], LINEITEM_TYPE

    def _score(self, handler, lineitem: str, body: bytes):
        try:
            score = json.loads(body)
        except ValueError:
            score = {}
        user = score.get("userId") if isinstance(score, dict) else None
        status = 500
        try:
            status, result, media = self._accept_score(handler, lineitem, score, user)
        except _Refused as refused:
            status = refused.status
            raise
        finally:
            with self.lock:
                self.score_posts.append((user, status))
        time.sleep(self.delay.pop(user, 0))
        return status, result, media

    def _accept_score(self, handler, lineitem: str, score, user):
        self._authorize(handler, [SCORE_SCOPE])
        if lineitem not in self.lineitems:
            raise _Refused(404, "no such line item")
        if handler.headers.get("Content-Type") != SCORE_TYPE:
            raise _Refused(415, f"a score must be {SCORE_TYPE}")
        with self.lock:
            failing = self.fail.get(user, 0)
            self.fail[user] = max(0, failing - 1)
        if failing:
            raise _Refused(503, "service unavailable")
        _validate_score(score)
        if self.moodle_like:
            if self.members is not None and user not in {m["user_id"] for m in self.members}:
                raise _Refused(400, "")  # Moodle: throw new \Exception(null, 400) for an unknown user
            if score["gradingProgress"] != "FullyGraded":
                score = {**score, "scoreGiven": None}
        stamp = datetime.fromisoformat(score["timestamp"])
        with self.lock:
            previous = self.scores.get((lineitem, user))
            if previous and datetime.fromisoformat(previous["timestamp"]) >= stamp:
                raise _Refused(409, "a score with a later timestamp is on record")
            self.scores[(lineitem, user)] = score
            self.accepted.append((lineitem, score))
            if self.revoke_after is not None:
                self.revoke_after -= 1
                if self.revoke_after <= 0:
                    self.tokens.clear()
                    self.revoke_after = None
            if self.disable_after:
                self.disable_after -= 1
        return 200, None, "application/json"


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _validate_score(score):
    """Refuse (400) a Score that AGS 2.0 does not allow."""
    if not isinstance(score, dict):
        raise _Refused(400, "a score must be a JSON object")
    problems = []
    if not isinstance(score.get("userId"), str) or not score["userId"]:
        problems.append("userId")
    if score.get("activityProgress") not in ACTIVITY:
        problems.append("activityProgress")
    if score.get("gradingProgress") not in GRADING:
        problems.append("gradingProgress")
    if "scoreGiven" in score:
        if not _number(score["scoreGiven"]) or score["scoreGiven"] < 0:
            problems.append("scoreGiven")
        if not _number(score.get("scoreMaximum")) or score["scoreMaximum"] <= 0:
            problems.append("scoreMaximum")
    if "comment" in score and not isinstance(score["comment"], str):
        problems.append("comment")
    try:
        if datetime.fromisoformat(score["timestamp"]).tzinfo is None:
            problems.append("timestamp without a time zone")
    except (KeyError, TypeError, ValueError):
        problems.append("timestamp")
    if problems:
        raise _Refused(400, f"invalid score: {', '.join(problems)}")
