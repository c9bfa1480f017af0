"""The HTTP server under the Flask app: cheroot (CherryPy's WSGI server), set up so that no request can hold it.

A request reaches the app as soon as its headers are read, its body still unread: the app refuses a body over the
upload limit with its own page before reading it, and cheroot closes the connection after any 413, so the rest of
the body is never read (docs/limits.md: why cheroot and not waitress, which reads every body before the app runs).
A request is read by a thread of its own, so a client that sends it very slowly is disconnected (`_Watch`): its
line and headers must arrive within HEADER_SECONDS, its body at BODY_BYTES every BODY_WINDOW seconds or faster.
"""
from __future__ import annotations

import _pyio
import contextlib
import errno
import logging
import select
import selectors
import signal
import socket
import sys
import threading
import time

from cheroot.makefile import MakeFile, StreamReader
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
HEADER_SECONDS = 10         # a request's line and headers must all arrive within this of their first byte
BODY_WINDOW = 10            # a body still arriving must bring BODY_BYTES in every window of this many seconds:
BODY_BYTES = 10 * 1024      # 1 KB/s (a phone on a poor network sends 50 KB/s); slower holds a thread for nothing
WATCH_SECONDS = 0.5         # how often the requests being read are looked at


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


class _Received(socket.SocketIO):
    """A connection's socket, counting the bytes received: a body read in one call (`read(65536)`) shows no progress
    until the call returns, the socket's count does."""

    received = 0

    def readinto(self, buffer):
        count = super().readinto(buffer)
        if count:
            self.received += count
        return count


class _Reader(StreamReader):
    """cheroot's reader of a connection's socket (pure-Python `_pyio`, as cheroot's own), over `_Received`."""

    def __init__(self, sock, mode="rb", bufsize=_pyio.DEFAULT_BUFFER_SIZE):
        _pyio.BufferedReader.__init__(self, _Received(sock, mode), bufsize)
        self.bytes_read = 0

    def received(self) -> int:
        """The bytes of the connection's requests received and not read from the buffer yet."""
        return self.raw.received - (len(self._read_buf) - self._read_pos)


class _Watch:
    """The requests being read, each with its deadline. A thread reads each request, so 128 clients sending theirs a
    byte at a time would hold every thread (the slowloris pattern): a request whose headers are not all in after
    HEADER_SECONDS, or whose body brought less than BODY_BYTES in the last BODY_WINDOW seconds, is disconnected. A
    body is watched until all of it has arrived or the answer has begun (the app may refuse it unread)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._reading: dict = {}   # connection -> [request or None (headers), deadline, received then, body end]
        self._stopped = threading.Event()

    def headers(self, conn) -> None:
        with self._lock:
            self._reading[conn] = [None, time.monotonic() + HEADER_SECONDS, 0, 0]

    def body(self, conn, request) -> None:
        if not hasattr(conn.rfile, "received"):   # not a `_Reader`: nothing to tell progress by
            return self.done(conn)
        start = conn.rfile.received()   # the body starts here: what is buffered is the body's
        length = None if request.chunked_read else int(request.inheaders.get(b"Content-Length") or 0)
        with self._lock:
            self._reading[conn] = [request, time.monotonic() + BODY_WINDOW, conn.rfile.raw.received,
                                   None if length is None else start + length]

    def done(self, conn) -> None:
        with self._lock:
            self._reading.pop(conn, None)

    def start(self) -> None:
        threading.Thread(target=self._run, name="slow-requests", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(WATCH_SECONDS):
            try:
                for conn, what in self.late():
                    logger.info("closed a connection from %s: %s", _peer(conn), what)
                    with contextlib.suppress(OSError):
                        conn.socket.shutdown(socket.SHUT_RDWR)   # the thread reading it sees the end of the stream
            except Exception:   # the watch must go on whatever one connection does
                logger.exception("looking at the requests being read failed")

    def late(self, now: float | None = None) -> list[tuple]:
        """The connections whose request came in too slowly (no longer watched), and why."""
        now = time.monotonic() if now is None else now
        late = []
        with self._lock:
            for conn, state in list(self._reading.items()):
                request, deadline, before, end = state
                if request is not None:
                    received = conn.rfile.raw.received
                    if request.sent_headers or (isinstance(request.rfile, ChunkedRFile) and request.rfile.closed
                                                if end is None else received >= end):
                        del self._reading[conn]   # all of the body is in, or the answer has begun
                        continue
                if now < deadline:
                    continue
                if request is not None and received - before >= BODY_BYTES:
                    state[1:3] = now + BODY_WINDOW, received
                    continue
                del self._reading[conn]
                late.append((conn, f"its request's headers took over {HEADER_SECONDS} s" if request is None else
                             f"its request's body came in slower than {BODY_BYTES // BODY_WINDOW} bytes/s"))
        return late


def _peer(conn) -> str:
    try:
        return "%s:%s" % conn.socket.getpeername()[:2]
    except OSError:
        return "a client gone"


class _Request(HTTPRequest):
    def parse_request(self):
        super().parse_request()
        if self.ready:
            self.server.watch.body(self.conn, self)

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

    def __init__(self, server, sock, makefile=MakeFile):
        super().__init__(server, sock, makefile)
        if makefile is MakeFile:   # a plain socket (HTTPS is a proxy's): count what arrives
            self.rfile = _Reader(sock, "rb", self.rbufsize)

    def communicate(self):
        self.server.watch.headers(self)
        try:
            return super().communicate()
        finally:
            self.server.watch.done(self)


class _Server(Server):
    ConnectionClass = _Connection

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.watch = _Watch()

    def prepare(self):
        super().prepare()
        self.watch.start()

    def stop(self):
        self.watch.stop()
        super().stop()

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
