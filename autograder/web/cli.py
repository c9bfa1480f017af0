"""`autograder serve`: run the web service; `serve links` prints sign-in links; `serve revoke` withdraws them."""
from __future__ import annotations

import logging
import signal
import sys
import threading

DEFAULT_THREADS = 128       # waitress threads: result pages wait for their result in one (long-poll) request
CONNECTIONS = 2000          # open connections: each signed-in browser keeps one; waitress's 100 made the 101st wait 2 min
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
    links.add_argument("--student", action="append", help="only this student (repeatable)")
    links.add_argument("--instructor", action="append", metavar="NAME",
                       help="a link for this instructor (default: one named 'instructor', unless --student is given)")
    links.add_argument("--expires", type=float, default=LINK_DAYS, metavar="DAYS",
                       help=f"days the links stay valid (default: {LINK_DAYS})")
    links.add_argument("--url", help="the service's address as students reach it (default: http://HOST:PORT)")
    links.add_argument("--db", dest="links_db", help="gradebook URL (default: the course's)")
    links.set_defaults(run=run_links)
    revoke = verbs.add_parser("revoke", help="withdraw sign-in links: one link id, or all of a user's")
    who = revoke.add_mutually_exclusive_group(required=True)
    who.add_argument("--link", help="the link id (printed beside each link)")
    who.add_argument("--user", help="every link of this student or instructor")
    revoke.add_argument("--db", dest="revoke_db", help="gradebook URL (default: the course's)")
    revoke.set_defaults(run=run_revoke)


def run_serve(args) -> int:
    from waitress.server import create_server

    from ..config import load_course
    from ..distributed import ClusterError
    from ..gradebook import GradebookError
    from ..sandbox import SandboxError
    from .app import DEFAULT_MAX_UPLOAD_MB, create_app
    from .policies import PolicyError

    course = load_course()
    max_mb = args.max_upload_mb or DEFAULT_MAX_UPLOAD_MB
    try:
        app = create_app(course, args.db, workers=args.workers, scheduler=args.scheduler,
                         lms_iframe=args.lms_iframe, max_upload_mb=max_mb)
    except (GradebookError, PolicyError, SandboxError, ClusterError) as error:
        print(f"autograder serve: {error}", file=sys.stderr)
        return 2
    if args.https:
        app.config["SESSION_COOKIE_SECURE"] = True
    # waitress refuses far larger bodies itself (413) before buffering them; the app answers the rest with a page
    _allow_open_files(CONNECTIONS + 1000)  # each connection is a file; the gradebook and sandboxes need some too
    server = create_server(app, host=args.host, port=args.port, threads=DEFAULT_THREADS,
                           connection_limit=CONNECTIONS,
                           max_request_body_size=int(4 * max_mb * 1024 * 1024) + 65536,
                           url_scheme="https" if args.https else "http", ident="autograder")
    graders = f"the Dask cluster at {args.scheduler}" if args.scheduler else \
        f"{app.extensions['autograder'].grader.workers} sandboxes"
    print(f"Serving {course.course_id} on http://{args.host}:{server.effective_port} "
          f"({graders}); links: autograder serve links", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: (stop.set(), server.close()))
    try:
        server.run()
    except (KeyboardInterrupt, OSError):
        if not stop.is_set() and not isinstance(sys.exc_info()[1], KeyboardInterrupt):
            raise
    finally:
        app.extensions["autograder"].close()
    return 0


def run_links(args) -> int:
    from ..config import load_course
    from ..gradebook import GradebookError
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


def run_revoke(args) -> int:
    from ..config import load_course
    from .store import Store

    course = load_course()
    store = Store(args.revoke_db or course.db_url)
    try:
        count = store.revoke_links(link_id=args.link, user_id=args.user)
    finally:
        store.close()
    print(f"revoked {count} link(s)")
    return 0 if count else 1


def _allow_open_files(wanted: int) -> None:
    """Raise this process's soft limit on open files towards `wanted` (at most its hard limit)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard),
                                                    hard))
