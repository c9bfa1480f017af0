"""Clients that send their requests very slowly (the slowloris pattern): each request is read by a thread of the
server's 128, so clients sending theirs a byte at a time held every thread and nobody else was answered. Now a
request's line and headers must arrive within HEADER_SECONDS and its body at BODY_BYTES every BODY_WINDOW seconds;
a slower one is disconnected (`autograder.web.server._Watch`). The limits at their edges with a clock of the test's
own, then a real `autograder serve` process on loopback with more trickling clients than it has threads."""
import socket
import threading
import time

import nbformat
import pytest
import requests

from autograder.web.server import BODY_BYTES, BODY_WINDOW, DEFAULT_THREADS, HEADER_SECONDS, _Watch
from served import A1, ONE_ASSIGNMENT_CONFIG, ProcessServer, make_course, sample, upload_of_size
from test_bodies import port_of, signed_in
from test_crash import links


class Socket:
    received = 0


class Reader:
    """What the watch reads of a connection's reader (`_Reader`): the bytes its socket received."""

    def __init__(self):
        self.raw = Socket()

    def received(self) -> int:
        return self.raw.received


class Connection:
    def __init__(self):
        self.rfile = Reader()


class Request:
    """What the watch reads of a cheroot request."""

    def __init__(self, length: int, sent_headers: bool = False):
        self.inheaders, self.chunked_read = {b"Content-Length": str(length).encode()}, False
        self.sent_headers, self.rfile = sent_headers, None


def test_headers_are_given_header_seconds_and_not_a_moment_more():
    watch, slow = _Watch(), Connection()
    started = time.monotonic()
    watch.headers(slow)
    assert watch.late(started + HEADER_SECONDS - 0.01) == []
    late = watch.late(started + HEADER_SECONDS + 0.01)
    assert late == [(slow, f"its request's headers took over {HEADER_SECONDS} s")]
    assert watch.late(started + 10 * HEADER_SECONDS) == []   # disconnected once, not watched any more


def test_a_body_must_bring_body_bytes_in_every_window_until_it_is_all_read():
    watcher = _Watch()
    steady, slow, done = Connection(), Connection(), Connection()
    started = time.monotonic()
    for conn in (steady, slow, done):
        watcher.body(conn, Request(10 * BODY_BYTES))
    steady.rfile.raw.received = BODY_BYTES          # exactly the bar: another window
    slow.rfile.raw.received = BODY_BYTES - 1        # a byte short: disconnected
    done.rfile.raw.received = 10 * BODY_BYTES       # all of it read: no longer watched
    too_slow = f"its request's body came in slower than {BODY_BYTES // BODY_WINDOW} bytes/s"
    assert watcher.late(started + BODY_WINDOW - 0.01) == []
    assert watcher.late(started + BODY_WINDOW + 0.01) == [(slow, too_slow)]
    steady.rfile.raw.received = 2 * BODY_BYTES - 1  # the second window a byte short
    assert watcher.late(started + 2 * BODY_WINDOW) == []
    assert watcher.late(started + 2 * BODY_WINDOW + 0.02) == [(steady, too_slow)]
    assert watcher.late(started + 100 * BODY_WINDOW) == []


def test_a_body_the_app_answers_without_reading_is_not_watched():
    watcher, refused = _Watch(), Connection()
    answered = Request(10 ** 9, sent_headers=True)   # a 413 page sent before the body was read
    watcher.body(refused, answered)
    assert watcher.late(time.monotonic() + 100 * BODY_WINDOW) == []


def trickle(sockets: list, stop: threading.Event, every: float = 2.0) -> None:
    """Send each socket a header line every `every` seconds, a request that never ends."""
    while not stop.wait(every):
        for sock in sockets:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                pass


def closed_after(sock: socket.socket, started: float, timeout: float) -> float | None:
    """Seconds from `started` until the server closed `sock` (the end of the stream or a reset), or None."""
    sock.settimeout(max(0.1, started + timeout - time.monotonic()))
    try:
        while sock.recv(4096):
            pass
    except socket.timeout:
        return None
    except OSError:
        pass
    return time.monotonic() - started


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = make_course(tmp_path_factory.mktemp("slow") / "course", ONE_ASSIGNMENT_CONFIG)
    server = ProcessServer(root, "--workers", "1")
    try:
        yield root, server
    finally:
        server.stop()


@pytest.mark.slow
def test_more_clients_trickling_headers_than_threads_do_not_shut_out_the_next(served):
    _, server = served
    port = port_of(server)
    # one whose headers take 7 s in all (under the limit: answered), then more tricklers than the server has threads
    patient = socket.create_connection(("127.0.0.1", port), timeout=30)
    patient.sendall(b"GET /signin HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    tricklers = []
    for _ in range(DEFAULT_THREADS + 12):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        tricklers.append(sock)
    started = time.monotonic()
    stop = threading.Event()
    threading.Thread(target=trickle, args=(tricklers, stop), daemon=True).start()
    try:
        time.sleep(7)
        patient.sendall(b"\r\n")
        patient.settimeout(20)
        assert patient.recv(64).startswith(b"HTTP/1.1 "), "headers sent within the limit were not answered"
        asked = time.monotonic()
        answered = requests.get(f"{server.url}/signin", timeout=40)
        waited = time.monotonic() - asked
        assert answered.status_code in (200, 404) and waited < HEADER_SECONDS + 5, waited
        closed = [closed_after(sock, started, 2 * HEADER_SECONDS + 10) for sock in tricklers]
        assert None not in closed, f"{closed.count(None)} trickling connections still open"
        # those that had a thread at once were closed at the limit, not before; the rest a limit after theirs began
        assert min(closed) >= HEADER_SECONDS - 0.5 and sorted(closed)[DEFAULT_THREADS - 20] < HEADER_SECONDS + 3, \
            sorted(closed)
    finally:
        stop.set()
        for sock in [patient, *tricklers]:
            sock.close()


@pytest.mark.slow
def test_an_upload_trickling_in_is_disconnected_and_one_at_2_5_kilobytes_a_second_is_taken(served):
    root, server = served
    clients = {student: signed_in(link) for student, link in links(root, server.url, "dribble", "modem").items()}
    notebook = nbformat.writes(nbformat.reads(sample("ada_lovelace", A1).read_text(), 4)).encode()
    port = port_of(server)

    def begun(client, prepared) -> socket.socket:
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        head = "".join(f"{name}: {value}\r\n" for name, value in prepared.headers.items())
        sock.sendall(f"POST {prepared.path_url} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n{head}\r\n"
                     .encode())
        return sock

    size = 4 * BODY_BYTES   # the notebook, padded
    dribble = upload_of_size(clients["dribble"], server.url, A1, notebook, size)
    slow = begun(clients["dribble"], dribble)
    started = time.monotonic()
    for at in range(0, size, 100):   # 100 bytes a second: a tenth of the bar
        try:
            slow.sendall(dribble.body[at:at + 100])
        except OSError:
            break
        if time.monotonic() - started > BODY_WINDOW + 3:
            break
        time.sleep(1)
    cut = closed_after(slow, started, BODY_WINDOW + 5)
    assert cut is not None and BODY_WINDOW - 0.5 <= cut <= BODY_WINDOW + 3, cut
    slow.close()

    modem = upload_of_size(clients["modem"], server.url, A1, notebook, size)
    paced = begun(clients["modem"], modem)
    started = time.monotonic()
    for at in range(0, size, 1024):   # 2.5 KB a second, 2.5 times the bar: about 16 s in all
        paced.sendall(modem.body[at:at + 1024])
        time.sleep(0.4)
    paced.settimeout(30)
    answer = paced.recv(4096)
    paced.close()
    assert answer.startswith(b"HTTP/1.1 30") and b"/attempts/" in answer, answer[:300]
    assert time.monotonic() - started > BODY_WINDOW   # it took longer than a window, so it was watched
