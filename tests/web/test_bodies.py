"""Request bodies that could hold the server (issue 21): a 200 MB upload, with or without a length, is answered with
the service's own page before its body is read, costs the server process under a second of processor time whether
the client reads the answer or not, and does not keep SIGTERM from stopping the server. Real `autograder serve`
processes on loopback; the 200 MB bodies are generated while they are sent."""
import os
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import nbformat
import pytest
import requests

from autograder.web.app import DEFAULT_MAX_UPLOAD_MB
from served import A1, ONE_ASSIGNMENT_CONFIG, ROOT, ProcessServer, csrf_token, make_course, sample, upload, \
    upload_of_size
from test_crash import links, running_student_code

pytestmark = pytest.mark.slow

MB = 1024 * 1024
LIMIT = int(DEFAULT_MAX_UPLOAD_MB * MB)   # the servers here run with the default limit
HUGE = 200 * MB
BLOCK = b"x" * (64 * 1024)


STUDENTS = [f"{role}-{chunk}" for role in ("reader", "sender") for chunk in (None, len(BLOCK), 1)] + \
    ["edge-content-length", "edge-chunked"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A server process, and a signed-in client for each of STUDENTS (their links made in one command)."""
    root = make_course(tmp_path_factory.mktemp("bodies") / "course", ONE_ASSIGNMENT_CONFIG)
    server = ProcessServer(root, "--workers", "1")
    try:
        clients = {student: signed_in(link) for student, link in links(root, server.url, *STUDENTS).items()}
        yield root, server, clients
    finally:
        server.stop()


def signed_in(link: str) -> requests.Session:
    client = requests.Session()
    page = client.get(link)
    client.csrf = csrf_token(page.text)
    return client


def cpu_seconds(pid: int) -> float:
    """Processor time (user + system) of process `pid`, all its threads, not its children."""
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rows(course_root, query, *parameters):
    db = sqlite3.connect(course_root / "gradebook.db", timeout=30)
    try:
        return db.execute(query, parameters).fetchall()
    finally:
        db.close()


def port_of(server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def start_upload(server, client, length: int | None) -> socket.socket:
    """A connection that has sent the headers of an upload: `length` bytes announced, or chunked when None."""
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    connection = socket.create_connection(("127.0.0.1", port_of(server)), timeout=30)
    connection.sendall(f"POST /assignments/{A1}/attempts HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
                       f"Content-Type: multipart/form-data; boundary=b\r\n{framing}\r\n\r\n".encode())
    return connection


def send_body(connection: socket.socket, size: int, chunk: int | None, until_answered: bool) -> int:
    """Send `size` bytes of body, as is or in chunks of `chunk` bytes (stopping early, with `until_answered`, once
    an answer can be read); the bytes of body sent before the server closed the connection, or all of them."""
    if chunk is None:
        block, carried = BLOCK, len(BLOCK)
    else:
        one = b"%x\r\n%s\r\n" % (chunk, b"x" * chunk)
        block, carried = one * max(1, len(BLOCK) // len(one)), chunk * max(1, len(BLOCK) // len(one))
    sent = 0
    try:
        while sent < size:
            if until_answered and select.select([connection], [], [], 0)[0]:
                break
            connection.sendall(block)
            sent += carried
        if chunk is not None and sent >= size:
            connection.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def read_until_closed(connection: socket.socket) -> bytes:
    answer = b""
    while data := connection.recv(65536):  # a socket timeout fails the test: the server must close
        answer += data
    return answer


FRAMINGS = pytest.mark.parametrize("chunk", [None, len(BLOCK), 1], ids=["content-length", "chunked", "1-byte-chunks"])


@FRAMINGS
def test_a_200_mb_upload_gets_the_service_page_before_its_body_is_read_and_the_connection_closes(served, chunk):
    root, server, clients = served
    student = f"reader-{chunk}"
    client = clients[student]
    with start_upload(server, client, HUGE if chunk is None else None) as connection:
        sent = send_body(connection, HUGE, chunk, until_answered=True)
        answer = read_until_closed(connection)
    head, _, page = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"Connection: close" in head
    page = page.decode()
    assert "<title>File too large" in page and f"larger than {DEFAULT_MAX_UPLOAD_MB:g} MB" in page
    assert "No attempt was used" in page
    assert 'href="/"' in page and "Back to your page" in page
    assert sent < 3 * LIMIT  # answered at once (chunked: after at most the limit), not after 200 MB
    assert rows(root, "SELECT count(*) FROM autograder_attempts WHERE student = ?", student) == [(0,)]


@FRAMINGS
def test_a_client_sending_200_mb_without_reading_costs_the_server_under_a_second(served, chunk):
    _, server, clients = served
    client = clients[f"sender-{chunk}"]
    before = cpu_seconds(server.process.pid)
    started = time.monotonic()
    with start_upload(server, client, HUGE if chunk is None else None) as connection:
        sent = send_body(connection, HUGE, chunk, until_answered=False)
    time.sleep(0.5)  # whatever the server still does with it
    assert cpu_seconds(server.process.pid) - before < 1.0
    assert sent < HUGE  # the server closed the connection rather than read the body
    assert time.monotonic() - started < 10
    assert requests.get(f"{server.url}/", timeout=10).status_code == 200


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_the_limit_is_exact_a_body_of_the_limit_passes_one_byte_more_does_not(served, chunked):
    root, server, clients = served
    student = f"edge-{'chunked' if chunked else 'content-length'}"
    client = clients[student]
    notebook = sample("ada_lovelace", A1).read_bytes()

    def post(size):
        request = upload_of_size(client, server.url, A1, notebook, size)
        body = request.body
        data = (body[start:start + MB] for start in range(0, size, MB)) if chunked else body
        return client.post(request.url, data=data, headers={"Content-Type": request.headers["Content-Type"]},
                           allow_redirects=False, timeout=60)

    over = post(LIMIT + 1)
    assert over.status_code == 413 and "No attempt was used" in over.text
    at = post(LIMIT)
    assert at.status_code == 303 and "/attempts/" in at.headers["Location"]
    assert rows(root, "SELECT count(*) FROM autograder_attempts WHERE student = ?", student) == [(1,)]


def test_sigterm_stops_the_server_within_5_s_while_grading_runs_and_uploads_are_in_flight(tmp_path):
    root = make_course(tmp_path / "course", ONE_ASSIGNMENT_CONFIG)
    server = ProcessServer(root, "--workers", "1")
    try:
        client = signed_in(links(root, server.url, "slow")["slow"])
        slow = nbformat.reads(sample("ada_lovelace", A1).read_text(), 4)
        for _ in range(4):  # ten seconds of grading, each cell within the course's cell timeout
            slow.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(2.5)"))
        acknowledged = upload(client, server.url, A1, nbformat.writes(slow).encode())
        assert acknowledged.status_code == 200 and "/attempts/" in acknowledged.url
        deadline = time.monotonic() + 60
        while not running_student_code(server.process.pid):
            assert time.monotonic() < deadline, "the upload was not being graded within 60 s"
            time.sleep(0.2)
        waiting = threading.Thread(target=lambda: requests.get(f"{acknowledged.url}/status?wait=20",
                                                               cookies=client.cookies, timeout=30), daemon=True)
        waiting.start()  # a result page waiting for its result holds a server thread
        trickling = start_upload(server, client, MB)  # an upload under the limit, arriving slowly: holds another
        trickling.sendall(b"--b\r\n")
        huge = start_upload(server, client, HUGE)
        sender = threading.Thread(target=send_body, args=(huge, HUGE, None, False), daemon=True)
        sender.start()
        time.sleep(0.5)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=30)
        stopped = time.monotonic() - started
        trickling.close()
        huge.close()
    finally:
        server.kill()
    assert (code, stopped < 5) == (0, True), f"stopped in {stopped:.1f} s"
    assert rows(root, "SELECT student, status FROM autograder_attempts") == [("slow", "queued")]  # graded next start


def test_a_busy_port_is_one_clear_line_and_exit_code_2(served):
    root, _, _ = served
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "AUTOGRADER_COURSE_ROOT": str(root), "PYTHONPATH": str(ROOT)}
        finished = subprocess.run([sys.executable, "-m", "autograder", "serve", "--port", str(port)], cwd=root,
                                  env=env, capture_output=True, text=True, timeout=60)
    assert (finished.returncode, finished.stderr, finished.stdout) == (
        2, f"autograder serve: port {port} on 127.0.0.1 is in use; choose another with --port\n", "")
