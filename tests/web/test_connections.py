"""Many signed-in browsers at once: each keeps its connection open between requests, and a class of 250 must not
make the next student wait (waitress accepted 100 connections unless told otherwise; cheroot gave each new
connection a thread of its 128 until its first request), nor must 1100 connections."""
import os
import resource
import socket
import time

import pytest
import requests

from served import ONE_ASSIGNMENT_CONFIG, ProcessServer, make_course

pytestmark = pytest.mark.slow
OPEN = 250
MANY = 1100   # connections: past select()'s 1024 descriptors
FEW_FILES = 400   # a server's limit on open files, for the test that runs out of them


def kept_open(port: int) -> socket.socket:
    """A connection that stays open and idle, as a browser's does between two pages."""
    return socket.create_connection(("127.0.0.1", port), timeout=20)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server = ProcessServer(make_course(tmp_path_factory.mktemp("connections") / "course", ONE_ASSIGNMENT_CONFIG),
                           "--workers", "1")
    yield server
    server.stop()


def test_a_class_of_browsers_keeping_connections_open_does_not_shut_out_the_next(served):
    from autograder.web.server import CONNECTIONS

    assert CONNECTIONS > OPEN
    port = int(served.url.rsplit(":", 1)[1])
    connections = []
    try:
        first = requests.get(f"{served.url}/", timeout=20)  # no session: the page that says how to sign in
        assert first.status_code == 200 and "sign-in link" in first.text
        for _ in range(OPEN):
            connections.append(kept_open(port))
        started = time.monotonic()
        answer = requests.get(f"{served.url}/", timeout=20)
        assert (answer.status_code, answer.text) == (first.status_code, first.text)
        assert time.monotonic() - started < 5
    finally:
        for connection in connections:
            connection.close()


def test_connections_past_descriptor_1023_are_served(served):
    """select() cannot watch a descriptor over 1023: a server watching its connections with it drops them there."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, MANY + 200), hard))
    port = int(served.url.rsplit(":", 1)[1])
    connections = []
    try:
        for _ in range(MANY):
            connections.append(kept_open(port))
        for connection in connections[-50:]:  # the newest: their descriptors in the server are the highest
            connection.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for connection in connections[-50:]:
            assert connection.recv(100).startswith(b"HTTP/1.1 200 ")
        assert requests.get(f"{served.url}/", timeout=20).status_code == 200
    finally:
        for connection in connections:
            connection.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_running_out_of_open_files_neither_spins_the_server_nor_stops_it(tmp_path):
    """Past its limit on open files, cheroot retried accept() at once, forever: a busy loop and a flood of log."""
    log = tmp_path / "stderr.txt"
    server = ProcessServer(make_course(tmp_path / "course", ONE_ASSIGNMENT_CONFIG), "--workers", "1",
                           open_files=FEW_FILES, log=log)
    connections = []
    try:
        port = int(server.url.rsplit(":", 1)[1])
        before = cpu_seconds(server.process.pid)
        for _ in range(FEW_FILES + 200):  # the last ones wait in the listen queue
            connections.append(kept_open(port))
        time.sleep(2)
        assert cpu_seconds(server.process.pid) - before < 0.5
        assert len(log.read_text().splitlines()) < 20  # a warning every PAUSE_SECONDS at most, no tracebacks
        for connection in connections[:300]:
            connection.close()
        assert requests.get(f"{server.url}/", timeout=10).status_code == 200
    finally:
        for connection in connections:
            connection.close()
        server.stop()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
