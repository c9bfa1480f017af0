"""`autograder serve`: run the web service; `serve links` prints sign-in links; `serve revoke` withdraws them."""
from __future__ import annotations

import logging
import os
import sys

LINK_DAYS = 120             # a term

logger = logging.getLogger(__name__)


def add_command(commands):
    from ..cli import DEFAULT_WORKERS

    serve = commands.add_parser("serve", help="run the web service students submit to (sign-in links: serve links)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: any free port)")
    serve.add_argument("--db", help="gradebook SQLAlchemy URL (default: the course's, sqlite:///gradebook.db)")
    serve.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                       help="sandboxes grading at once (default: one more than the cores)")
    serve.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="grade on this Dask cluster's workers")
    serve.add_argument("--lms-iframe", action="store_true",
                       help="the pages open inside an LMS (cookies SameSite=None; Secure: serve over HTTPS)")
    serve.add_argument("--https", action="store_true",
                       help="a proxy in front terminates HTTPS: cookies are Secure, links start with https://")
    serve.add_argument("--max-upload-mb", type=float, default=None, help="largest notebook accepted (default: 8)")
    serve.set_defaults(run=run_serve)
    verbs = serve.add_subparsers(dest="serve_command")
    links = verbs.add_parser("links", help="print a personal sign-in link for each student (and one for instructors)")
    links.add_argument("--student", action="append", help="only this student of the gradebook (repeatable)")
    links.add_argument("--create", action="store_true",
                       help="add a --student the gradebook does not have yet to it (else such a name is refused)")
    links.add_argument("--instructor", action="append", metavar="NAME",
                       help="a link for this instructor (default: one named 'instructor', unless --student is given)")
    links.add_argument("--expires", type=float, default=LINK_DAYS, metavar="DAYS",
                       help=f"days the links stay valid (default: {LINK_DAYS})")
    links.add_argument("--url", help="the service's address as students reach it (default: http://HOST:PORT)")
    links.add_argument("--db", dest="links_db", help="gradebook URL (default: the course's)")
    links.set_defaults(run=run_links)
    revoke = verbs.add_parser("revoke", help="withdraw sign-in links and end their sessions: one link id, or all "
                              "of a user's (with every session of theirs, from the LMS too, and the submit keys "
                              "of their downloaded notebooks)")
    who = revoke.add_mutually_exclusive_group(required=True)
    who.add_argument("--link", help="the link id (printed beside each link)")
    who.add_argument("--user", help="every link and every session of this student or instructor")
    revoke.add_argument("--db", dest="revoke_db", help="gradebook URL (default: the course's)")
    revoke.set_defaults(run=run_revoke)


def run_serve(args) -> int:
    from ..course.config import load_course
    from ..grading.distributed import ClusterError
    from ..grading.gradebook import GradebookError
    from ..engine.sandbox import SandboxError
    from .app import DEFAULT_MAX_UPLOAD_MB, create_app
    from ..grading.history import PolicyError
    from .server import CONNECTIONS, PortInUse, check_port, make_server, serve_until_stopped

    course = load_course()
    max_mb = args.max_upload_mb or DEFAULT_MAX_UPLOAD_MB
    try:
        check_port(args.host, args.port)
    except PortInUse as error:
        print(f"autograder serve: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"autograder serve: cannot listen on {args.host}:{args.port}: {error.strerror or error}",
              file=sys.stderr)
        return 2
    try:
        app = create_app(course, args.db, workers=args.workers, scheduler=args.scheduler,
                         lms_iframe=args.lms_iframe, max_upload_mb=max_mb)
    except (GradebookError, PolicyError, SandboxError, ClusterError) as error:
        print(f"autograder serve: {error}", file=sys.stderr)
        return 2
    if args.https:
        app.config["SESSION_COOKIE_SECURE"] = True
    _allow_open_files(CONNECTIONS + 1000)  # each connection is a file; the gradebook and sandboxes need some too
    server = make_server(app, args.host, args.port, https=args.https)
    service = app.extensions["autograder"]
    graders = f"the Dask cluster at {args.scheduler}" if args.scheduler else f"{service.grader.workers} sandboxes"

    def announce(port):
        print(f"Serving {course.course_id} on http://{args.host}:{port} ({graders}); links: autograder serve links",
              flush=True)

    try:
        serve_until_stopped(server, service, announce)
    except OSError as error:  # the port was taken between the check and the start
        service.close()
        print(f"autograder serve: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    # Everything is closed; the interpreter's own teardown of what the app imported and built takes 1-3 s more,
    # which a stop within 5 s of SIGTERM cannot afford (sandboxes die with this process: bwrap --die-with-parent).
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def run_links(args) -> int:
    from ..course.config import load_course
    from ..grading.gradebook import GradebookError
    from .app import create_app
    from .auth import link_token
    from .gradebook_view import students

    course = load_course()
    try:
        app = create_app(course, args.links_db, grading=False)
    except GradebookError as error:
        print(f"autograder serve links: {error}", file=sys.stderr)
        return 2
    service = app.extensions["autograder"]
    problem = _unknown_students(service.db_url, args.student or [], args.create)
    if problem:
        print(f"autograder serve links: {problem}", file=sys.stderr)
        service.store.close()
        return 2
    base = (args.url or f"http://{args.host}:{args.port}").rstrip("/")
    people = [(student, "student") for student in (args.student or students(service.db_url))]
    people += [(name, "instructor") for name in (args.instructor or ([] if args.student else ["instructor"]))]
    if not any(role == "student" for _, role in people) and not args.student:
        logger.warning("the gradebook has no students yet: import the roster (autograder roster import) or name "
                       "them with --student ID")
    for user_id, role in people:
        try:
            link = service.store.add_link(user_id, role, args.expires)
        except ValueError as error:
            print(f"autograder serve links: {error}", file=sys.stderr)
            return 2
        print(f"{role}\t{user_id}\t{base}/signin/{link_token(app.secret_key, link.id)}\tlink id {link.id}")
    service.store.close()
    return 0


def _unknown_students(db_url: str, asked: list[str], create: bool) -> str:
    """Why a link cannot be made ("" when it can): a --student the gradebook does not have is a typo unless
    --create says it is a new student, who is then added to the gradebook."""
    import difflib

    from ..grading.gradebook import open_gradebook
    from .gradebook_view import students

    known = students(db_url)
    unknown = [student for student in dict.fromkeys(asked) if student not in known]
    if not unknown:
        return ""
    if not create:
        close = {student: difflib.get_close_matches(student, known, n=3) for student in unknown}
        return ("; ".join(f"the gradebook has no student {student!r}"
                          + (f" (did you mean {' or '.join(map(repr, close[student]))}?)" if close[student] else "")
                          for student in unknown)
                + ". No link was made. Give --create to add a new student to the gradebook and make the link.")
    gradebook = open_gradebook(db_url)
    try:
        for student in unknown:
            gradebook.update_or_create_student(student)
    finally:
        gradebook.close()
    return ""


def run_revoke(args) -> int:
    from ..course.config import load_course
    from .store import Store

    course = load_course()
    store = Store(args.revoke_db or course.db_url)
    try:
        sessions = store.end_sessions(user_id=args.user) if args.user else 0  # from links and from the LMS
        count = store.revoke_links(link_id=args.link, user_id=args.user)  # ends the sessions of the links too
        keys = store.revoke_submit_keys(args.user) if args.user else 0  # the downloaded notebooks' submit keys
    finally:
        store.close()
    print(f"revoked {count} link(s)" + (f", ended {sessions} session(s), revoked {keys} submit key(s)"
                                        if args.user else ""))
    return 0 if count or sessions or keys else 1


def _allow_open_files(wanted: int) -> None:
    """Raise this process's soft limit on open files towards `wanted` (at most its hard limit)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard),
                                                    hard))
