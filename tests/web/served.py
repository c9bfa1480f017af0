"""A real `autograder serve` for the tests: a throwaway course folder, the app on its server (cheroot) on a free
loopback port (in a thread of the test process, or as a subprocess that can be killed), and sign-in links."""
from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from course_files import ROOT, copy_course

A1, A2 = "01-gradient-descent", "02-slopes-and-updates"
SAMPLES = ROOT / "samples" / "submitted"
# Short limits, so that a looping notebook costs the tests seconds, and policies the tests rely on.
TEST_CONFIG = """
c.Autograder.cell_timeout = 3
c.Autograder.submission_timeout = 30
c.Autograder.policies = {
    "default": {"attempts": 3, "before_due": "full"},
    "01-gradient-descent": {"attempts": 2, "due": "2099-01-01 00:00:00 UTC"},
    "02-slopes-and-updates": {"due": "2020-01-01 00:00:00 UTC", "after_due": "full"},
    "03-backpropagation": {"attempts": 1, "before_due": "score"},
    "04-linear-regression": {"minutes_between": 30},
}
c.LateSubmissionPlugin.penalty_method = "zero"
"""

# A course of one assignment, for the tests that start servers of their own: they warm up faster.
ONE_ASSIGNMENT_CONFIG = """
c.Autograder.cell_timeout = 3
c.Autograder.submission_timeout = 30
c.Autograder.assignments = {"01-gradient-descent": "gradient_descent.ipynb"}
c.Autograder.policies = {"default": {"attempts": 3, "before_due": "full"}}
"""


def make_course(dest: Path, extra_config: str = TEST_CONFIG) -> Path:
    copy_course(dest)
    with open(dest / "course_config.py", "a") as config:
        config.write(extra_config)
    return dest


def sample(student: str, assignment: str) -> Path:
    """A bundled student's submission of `assignment` (samples/submitted)."""
    return next((SAMPLES / student / assignment).glob("*.ipynb"))


class ThreadServer:
    """The app of `create_app` on the service's server in a thread of this process: `url`, `app`, `service`, `link`."""

    def __init__(self, course_root: Path, url_scheme: str = "http", **options):
        """`url_scheme="https"`: as behind an HTTPS proxy (`autograder serve --https`), still plain HTTP here."""
        from autograder.course.config import load_course
        from autograder.web import create_app
        from autograder.web.server import bound_port, make_server

        self.course = load_course(course_root)
        self.app = create_app(self.course, **{"workers": 2, **options})
        self.service = self.app.extensions["autograder"]
        self.server = make_server(self.app, "127.0.0.1", 0, threads=32, https=url_scheme == "https")
        self.server.prepare()
        self.url = f"http://127.0.0.1:{bound_port(self.server)}"
        self.closed = False
        self.thread = threading.Thread(target=self.server.serve, daemon=True)
        self.thread.start()

    def link(self, user: str, role: str = "student", days: float = 1) -> str:
        from autograder.web.auth import link_token

        link = self.service.store.add_link(user, role, days)
        return f"{self.url}/signin/{link_token(self.app.secret_key, link.id)}"

    def session(self, user: str, role: str = "student") -> requests.Session:
        """A signed-in HTTP client, with the page's CSRF token at hand as `.csrf`."""
        client = requests.Session()
        page = client.get(self.link(user, role))
        assert page.status_code == 200, page.text
        client.csrf = csrf_token(page.text)
        return client

    def close(self):
        self.closed = True
        self.service.grader.release_waiting_pages()
        self.server.stop()
        self.service.close()


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def upload_of_size(client, url: str, assignment: str, notebook: bytes, size: int) -> requests.PreparedRequest:
    """The upload of `notebook`, padded with spaces (still valid JSON), as a request whose body is `size` bytes."""
    def prepared(padding):
        return requests.Request("POST", f"{url}/assignments/{assignment}/attempts",
                                files={"notebook": ("n.ipynb", notebook + b" " * padding)},
                                data={"csrf_token": client.csrf}).prepare()
    request = prepared(size - len(prepared(0).body))
    assert len(request.body) == size
    return request


def upload(client: requests.Session, url: str, assignment: str, data: bytes, name: str = "notebook.ipynb",
           csrf: bool = True) -> requests.Response:
    return client.post(f"{url}/assignments/{assignment}/attempts", files={"notebook": (name, data)},
                       data={"csrf_token": client.csrf} if csrf else {})


def message(html: str) -> str:
    """The text of the page's message box."""
    found = re.search(r'id="message"[^>]*>(.*?)</p>', html, re.S)
    return re.sub(r"\s+", " ", found.group(1)).strip().replace("&#39;", "'") if found else ""


def wait_done(client: requests.Session, url: str, attempt_path: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"{url}{attempt_path}/status?wait=5").json()
        if state["done"]:
            return state
    raise AssertionError(f"{attempt_path} was not graded within {timeout} s")


class ProcessServer:
    """`python -m autograder serve --port 0` on a course folder, as a process of its own (to be killed)."""

    def __init__(self, course_root: Path, *args: str, open_files: int | None = None, log: Path | None = None):
        """`open_files`: the process's limit on open files (soft and hard), as a machine with a low one has;
        `log`: a file for what the server writes to stderr (default: nowhere)."""
        env = {**os.environ, "AUTOGRADER_COURSE_ROOT": str(course_root),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen([sys.executable, "-m", "autograder", "serve", "--port", "0", *args],
                                        cwd=course_root, env=env, stdout=subprocess.PIPE,
                                        stderr=open(log, "w") if log else subprocess.DEVNULL,
                                        text=True, preexec_fn=open_files and (lambda: resource.setrlimit(
                                            resource.RLIMIT_NOFILE, (open_files, open_files))))
        line = self.process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not found:
            self.process.kill()
            raise AssertionError(f"the server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{found.group(1)}"

    def kill(self):
        self.process.kill()
        self.process.wait()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
