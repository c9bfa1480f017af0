"""`autograder lti`: publish scores (ags.py), record the roster (nrps.py), list and approve the LMS courses served
(links.py), create the tool's key pair and print what the LMS administrator registers (settings.py)."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

from ..results.scores import fraction
from .ags import exercise_names, gradebook_scores, publish
from .platform import LINEITEM_READ_SCOPE, LINEITEM_SCOPE, MEMBERSHIP_SCOPE, RESULT_SCOPE, SCORE_SCOPE, PlatformClient
from .settings import (CONFIG_SECTION, DEFAULT_PRIVATE_KEY, LtiError, create_key_pair, load_settings, public_jwk,
                       read_private_key, with_link)

logger = logging.getLogger(__name__)


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
    from ..course.config import find_root, load_course

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
                print(f"{score.student} -> {score.user_id or '(no LTI user id)'}: "
                      f"{fraction(score.score, score.max_score)} {score.grading_progress(settings.pending_manual)}: "
                      f"{score.comment()}")
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
