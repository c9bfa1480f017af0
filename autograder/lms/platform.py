"""HTTP to the LMS with the tool's access token, and LTI's vocabulary (scopes, media types).

Above settings.py; below nrps.py (the course's members) and ags.py (scores), which both talk to the platform
through PlatformClient and read its answers with `describe` and `json_body`."""
from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

from .settings import CONFIG_SECTION, LtiError, LtiSettings, public_jwk

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
LINEITEM_READ_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
RESULT_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
MEMBERSHIP_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
RESULT_CONTAINER_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"
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
MEMBERSHIP_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"


def describe(response) -> str:
    """An HTTP answer in one line for a message: status, reason and the start of its body."""
    text = " ".join(response.text.split())[:200]
    return f"HTTP {response.status_code} {response.reason}" + (f": {text}" if text else "")


def json_body(response, kind: type):
    """The response's JSON body, which must be a `kind`; LtiError naming the URL otherwise."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, kind):
        raise LtiError(f"{response.request.method} {response.url} did not answer with a JSON {kind.__name__}: "
                       f"{response.text[:200]!r}")
    return body


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

