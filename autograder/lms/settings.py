"""The tool's registration on the LMS, `c.LTI` in course_config.py, and the tool's RSA key pair.

Below everything else of lms/ that talks LTI: platform.py (HTTP with a token), nrps.py (members), ags.py (scores)
and lti_cli.py (`autograder lti`) all read their settings and raise their errors from here."""
from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

CONFIG_SECTION = "c.LTI"
DEFAULT_PRIVATE_KEY = "~/.config/autograder/lti-private-key.pem"
PROGRESS_CHOICES = ("FullyGraded", "PendingManual")
# c.LTI.roster_match -> (the NRPS member field, how an instructor calls it)
MATCHES = {"email": ("email", "email address"), "id_number": ("lis_person_sourcedid", "ID number"),
           "login": ("ext_user_username", "login")}


class LtiError(Exception):
    """A problem that stops the whole publish (configuration, key, token); its message says what to fix."""


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

    from ..course.config import CONFIG_FILE

    config_file = Path(course_root) / CONFIG_FILE
    section = dict(PyFileConfigLoader(CONFIG_FILE, path=str(course_root)).load_config().LTI.items())
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
