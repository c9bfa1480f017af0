"""`autograder serve` killed with SIGKILL while one acknowledged upload is being graded and another waits:
restarted, the server grades each exactly once, and the gradebook holds each student's grade once."""
import os
import re
import sqlite3
import subprocess
import sys
import time

import nbformat
import pytest
import requests

from served import (A1, ONE_ASSIGNMENT_CONFIG, ROOT, ProcessServer, csrf_token, make_course, sample, upload,
                    wait_done)

pytestmark = pytest.mark.slow  # the service in a server process

STUDENT_UIDS = 60000   # sandbox.FIRST_UID: student code runs as this uid plus the sandbox's slot


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as file:
                    parent = int(file.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def running_student_code(pid: int) -> bool:
    """Whether a process under `pid` runs as a sandbox's student user: a notebook is being graded."""
    for child in descendants(pid):
        try:
            with open(f"/proc/{child}/status") as file:
                uid = int(re.search(r"^Uid:\s+(\d+)", file.read(), re.M).group(1))
        except (OSError, AttributeError):
            continue
        if uid >= STUDENT_UIDS:
            return True
    return False


def links(course_root, url, *students) -> dict[str, str]:
    env = {**os.environ, "AUTOGRADER_COURSE_ROOT": str(course_root), "PYTHONPATH": str(ROOT)}
    printed = subprocess.run([sys.executable, "-m", "autograder", "serve", "links", "--create", "--url", url,
                              *(f"--student={student}" for student in students)],
                             cwd=course_root, env=env, capture_output=True, text=True, check=True).stdout
    return {line.split("\t")[1]: line.split("\t")[2] for line in printed.splitlines()}


def rows(course_root, query):
    db = sqlite3.connect(course_root / "gradebook.db", timeout=30)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def test_an_acknowledged_upload_is_graded_exactly_once_across_a_sigkill(tmp_path):
    root = make_course(tmp_path / "course", ONE_ASSIGNMENT_CONFIG)
    server = ProcessServer(root, "--workers", "1")
    try:
        clients = {}
        for student, link in links(root, server.url, "slow", "waiting").items():
            clients[student] = requests.Session()
            clients[student].csrf = csrf_token(clients[student].get(link).text)
        slow = nbformat.reads(sample("ada_lovelace", A1).read_text(), 4)
        slow.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(2.5)"))
        acknowledged = {"slow": upload(clients["slow"], server.url, A1, nbformat.writes(slow).encode()),
                        "waiting": upload(clients["waiting"], server.url, A1,
                                          sample("katherine_johnson", A1).read_bytes())}
        assert all(response.status_code == 200 and "/attempts/" in response.url for response in acknowledged.values())
        deadline = time.monotonic() + 60
        while not running_student_code(server.process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running_student_code(server.process.pid), "grading never started"
        time.sleep(0.5)
    finally:
        server.kill()
    assert rows(root, "SELECT student, status FROM autograder_attempts ORDER BY student") == [
        ("slow", "queued"), ("waiting", "queued")]

    server = ProcessServer(root, "--workers", "1")
    try:
        for student, client in clients.items():  # the old sessions still hold: the secret key is the course's
            path = re.search(r"/attempts/\d+$", acknowledged[student].url).group(0)
            wait_done(client, server.url, path, timeout=90)
    finally:
        server.stop()
    assert rows(root, "SELECT student, number, status, score FROM autograder_attempts ORDER BY student") == [
        ("slow", 1, "done", 7.0), ("waiting", 1, "done", 3.0)]
    # the batch's own record stays the batch's: service attempts are recorded in autograder_attempts only
    assert rows(root, "SELECT count(*) FROM autograder_graded") == [(0,)]
    assert rows(root, "SELECT student_id, count(*) FROM submitted_assignment GROUP BY student_id "
                      "ORDER BY student_id") == [("slow", 1), ("waiting", 1)]
    for student in ("slow", "waiting"):
        assert (root / "service" / "attempts" / student / A1 / "1" / "autograded" / "results.json").is_file()
        assert (root / "autograded" / student / A1 / "results.json").is_file()
