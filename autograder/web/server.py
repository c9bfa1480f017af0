"""The HTTP server under the Flask app: cheroot (CherryPy's WSGI server), set up so that no request can hold it.

A request reaches the app as soon as its headers are read, its body still unread: the app refuses a body over the
upload limit with its own page before reading it, and cheroot closes the connection after any 413, so the rest of
the body is never read (docs/limits.md: why cheroot and not waitress, which reads every body before the app runs).
"""
from __future__ import annotations

import contextlib
import errno
import logging
import select
import selectors
import signal
import socket
import sys
import threading

from cheroot.server import ChunkedRFile, HTTPConnection, HTTPRequest
from cheroot.wsgi import Server
from werkzeug.exceptions import RequestEntityTooLarge

logger = logging.getLogger(__name__)

DEFAULT_THREADS = 128       # result pages wait for their result in one (long-poll) request, each holding a thread
CONNECTIONS = 2000          # open connections: each signed-in browser keeps one between its pages
IDLE_SECONDS = 30           # an idle connection is closed after this (a browser opens another unnoticed)
HEADER_BYTES = 256 * 1024   # the request line and headers; cheroot's default is no limit
STOP_SECONDS = 1.5          # on SIGTERM, requests under way get this long, then their sockets are shut for reading
MAX_CHUNKS = 16384          # a chunked body in more pieces is refused: 1-byte chunks cost 2.2 s an upload to parse
PAUSE_SECONDS = 0.5         # out of file descriptors, the server stops accepting for this long
CLOSE_SECONDS = 1           # then the sandboxes and the saver get this long (a killed server regrades, see grading.py)


class PortInUse(Exception):
    """Another process listens on the address the service was asked to listen on."""


class _Chunks(ChunkedRFile):
    """A chunked request body that is refused (the app's 413 page) past MAX_CHUNKS chunks; its size is bounded by
    the app (Werkzeug reads at most MAX_CONTENT_LENGTH of it)."""

    chunks = 0

    def _fetch(self):
        self.chunks += 1
        if self.chunks > MAX_CHUNKS:
            raise RequestEntityTooLarge()
        super()._fetch()


class _Request(HTTPRequest):
    def respond(self):
        if not self.chunked_read:
            return super().respond()
        self.rfile = _Chunks(self.conn.rfile, self.server.max_request_body_size)  # as cheroot's, with the bound
        self.server.gateway(self).respond()
        self.ready and self.ensure_headers_sent()
        if self.chunked_write:
            self.conn.wfile.write(b"0\r\n\r\n")


class _Connection(HTTPConnection):
    RequestHandlerClass = _Request


class _Server(Server):
    ConnectionClass = _Connection

    def process_conn(self, conn):
        # cheroot gives a new connection a thread at once, which waits there for the first request: a class of
        # browsers that connect and stay quiet would hold every thread. A quiet new one waits in the selector.
        if conn.requests_seen == 0 and not conn.rfile.has_data() and not _readable(conn.socket):
            self._connections.put(conn)
        else:
            super().process_conn(conn)

    def error_log(self, msg="", level=logging.INFO, traceback=False):
        error = sys.exc_info()[1]
        if isinstance(error, OSError) and error.errno in (errno.EMFILE, errno.ENFILE):
            self._pause_accepting()  # else cheroot retries the accept at once, forever: a busy loop
            return
        logger.log(level, "%s", msg, exc_info=traceback)

    _paused = False

    def _pause_accepting(self):
        """Out of file descriptors: leave new connections in the listen queue for PAUSE_SECONDS."""
        if not self.ready or self._paused:
            return
        logger.warning("out of open files (%s connections at once?): new connections wait %s s",
                       len(self._connections._selector), PAUSE_SECONDS)
        self._paused = True
        self._connections._selector.unregister(self.socket.fileno())
        resume = threading.Timer(PAUSE_SECONDS, self._resume_accepting)
        resume.daemon = True
        resume.start()

    def _resume_accepting(self):
        with contextlib.suppress(KeyError, ValueError, OSError):  # the server stopped meanwhile
            if self.ready:
                self._connections._selector.register(self.socket.fileno(), selectors.EVENT_READ, data=self)
        self._paused = False


def _readable(sock) -> bool:
    poll = select.poll()  # not select.select: a server with 2000 connections has descriptors over 1023
    poll.register(sock, select.POLLIN)
    return bool(poll.poll(0))


def check_port(host: str, port: int) -> None:
    """Raise PortInUse if `host`:`port` is taken (before the sandboxes start for nothing); OSError if it cannot be
    bound for another reason."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUse(f"port {port} on {host} is in use; choose another with --port") from None
            raise


def make_server(app, host: str, port: int, threads: int = DEFAULT_THREADS, https: bool = False) -> Server:
    """The server for `app` on `host`:`port` (0: any free port, `bound_port` after `prepare()`). `https`: a proxy in
    front terminates HTTPS, so the app builds https:// links."""
    server = _Server((host, port), _https(app) if https else app, numthreads=threads, max=threads,
                     request_queue_size=1024, timeout=IDLE_SECONDS, shutdown_timeout=STOP_SECONDS,
                     server_name="autograder")
    server.keep_alive_conn_limit = CONNECTIONS  # cheroot's default of 10 closes the 11th browser's after each page
    server.max_request_header_size = HEADER_BYTES
    return server


def bound_port(server: Server) -> int:
    return server.bind_addr[1]


def serve_until_stopped(server: Server, service, announce) -> None:
    """Listen, call `announce(port)`, serve until SIGTERM or Ctrl-C, then stop within about 3 s: pages waiting for
    a result are answered, the sandboxes wind down while requests under way get STOP_SECONDS, then the sandboxes
    get CLOSE_SECONDS more."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.prepare()
    announce(bound_port(server))
    serving = threading.Thread(target=server.serve, name="http-server", daemon=True)
    serving.start()
    try:
        while not stop.wait(0.5) and serving.is_alive():
            pass
    except KeyboardInterrupt:
        pass
    finally:
        service.grader.release_waiting_pages()
        closing = threading.Thread(target=service.grader.close, name="close-graders", daemon=True)
        closing.start()
        server.stop()
        closing.join(CLOSE_SECONDS)
        if closing.is_alive():
            logger.warning("the sandboxes did not close within %s s; an attempt being graded is graded again at "
                           "the next start", STOP_SECONDS + CLOSE_SECONDS)
        service.store.close()


def _https(app):
    def behind_https_proxy(environ, start_response):
        environ["wsgi.url_scheme"] = "https"
        return app(environ, start_response)

    return behind_https_proxy
