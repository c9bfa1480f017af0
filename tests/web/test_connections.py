"""Many signed-in browsers at once: each keeps its connection open between requests, and a class of 250 must not
make the 101st student wait (waitress accepts 100 connections unless told otherwise, and closes an idle one after
2 minutes)."""
import socket
import time

import pytest
import requests

from served import ONE_ASSIGNMENT_CONFIG, ProcessServer, make_course

pytestmark = pytest.mark.slow  # the service in a server process

OPEN = 250


def kept_open(port: int) -> socket.socket:
    """A connection that stays open and idle, as a browser's does between two pages."""
    return socket.create_connection(("127.0.0.1", port), timeout=20)


def test_a_class_of_browsers_keeping_connections_open_does_not_shut_out_the_next(tmp_path):
    from autograder.web.cli import CONNECTIONS

    assert CONNECTIONS > OPEN
    server = ProcessServer(make_course(tmp_path / "course", ONE_ASSIGNMENT_CONFIG), "--workers", "1")
    port = int(server.url.rsplit(":", 1)[1])
    connections = []
    try:
        first = requests.get(f"{server.url}/", timeout=20)  # no session: the page that says how to sign in
        assert first.status_code == 200 and "sign-in link" in first.text
        for _ in range(OPEN):
            connections.append(kept_open(port))
        started = time.monotonic()
        answer = requests.get(f"{server.url}/", timeout=20)
        assert (answer.status_code, answer.text) == (first.status_code, first.text)
        assert time.monotonic() - started < 5
    finally:
        for connection in connections:
            connection.close()
        server.stop()
