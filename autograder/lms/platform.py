"""What every conversation with the LMS shares: the error that stops it, and how its answers are read.

Below lti.py (settings, keys, scores) and nrps.py (the course's members), which both use it."""
from __future__ import annotations

CONFIG_SECTION = "c.LTI"
MEMBERSHIP_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"


class LtiError(Exception):
    """A problem that stops the whole publish (configuration, key, token); its message says what to fix."""


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
