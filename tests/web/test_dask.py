"""`autograder serve --scheduler tcp://...`: the service grades uploads on a real Dask cluster (a scheduler and a
worker process on loopback, the course installed where the worker runs) and shows exactly what local grading gives."""
import json
import os
import re
import socket
import subprocess
import sys

import pytest
import requests

from autograder.grading.batch import SubmittedNotebook, grade_batch
from autograder.course.config import load_course
from autograder.grading.distributed import sandbox_count
from served import A1, ProcessServer, csrf_token, sample, upload, wait_done
from test_crash import links
from test_distributed import LoopbackCluster, verdicts

from course_files import copy_course

pytestmark = pytest.mark.slow  # the service on a Dask cluster

SERVICE_POLICY = '\nc.Autograder.policies = {"default": {"attempts": 3, "before_due": "full"}}\n'


class CourseCluster(LoopbackCluster):
    """LoopbackCluster whose worker has the service's own course folder installed."""

    def __init__(self, folder, course_root):
        self.course_root = course_root
        super().__init__(folder)

    def _start(self, name, args):
        env = {**os.environ, "AUTOGRADER_COURSE_ROOT": str(self.course_root)}
        with open(self.folder / f"{name}.log", "w") as log:
            return subprocess.Popen([sys.executable, "-m", *args], env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log)


@pytest.fixture(scope="module")
def course_root(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("dask-service") / "course")
    with open(root / "course_config.py", "a") as config:
        config.write(SERVICE_POLICY)
    return root


@pytest.fixture(scope="module")
def cluster(course_root, tmp_path_factory):
    started = CourseCluster(tmp_path_factory.mktemp("dask"), course_root)
    try:
        started.add_worker()
        yield started
    finally:
        started.stop()


def test_an_upload_graded_on_the_cluster_gets_the_local_grading_s_result(course_root, cluster, tmp_path):
    server = ProcessServer(course_root, "--scheduler", cluster.address)
    try:
        student = "grace"
        client = requests.Session()
        client.csrf = csrf_token(client.get(links(course_root, server.url, student)[student]).text)
        notebook = sample("katherine_johnson", A1)  # 3 of 9: messages, a figure and a written answer to show
        response = upload(client, server.url, A1, notebook.read_bytes())
        assert response.status_code == 200, response.text
        path = re.search(r"/attempts/\d+$", response.url).group(0)
        state = wait_done(client, server.url, path, timeout=40)
        page = client.get(server.url + path).text
    finally:
        server.stop()
    assert sum(cluster.client.run(sandbox_count).values()) == 1  # the worker graded it, in its one sandbox

    local = {}
    course = load_course(course_root)
    grade_batch(course, A1, None, 1, progress=False, on_result=lambda result: local.__setitem__(result.student, result),
                submissions=[SubmittedNotebook(student, notebook, None, "local", A1)])
    served = json.loads((course_root / "service" / "attempts" / student / A1 / "1" / "autograded" /
                         "results.json").read_text())
    assert (state["score"], state["max_score"]) == (local[student].score, local[student].max_score) == (3.0, 9.0)
    assert verdicts(served) == verdicts(local[student])
    assert "3 of 9 points" in page


def test_an_unreachable_scheduler_stops_the_service_with_one_clear_message(course_root):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    env = {**os.environ, "AUTOGRADER_COURSE_ROOT": str(course_root)}
    done = subprocess.run([sys.executable, "-m", "autograder", "serve", "--port", "0", "--scheduler", address],
                          cwd=course_root, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Serving" not in done.stdout
    assert done.stderr.startswith(f"autograder serve: cannot reach the Dask scheduler at {address} (")
    assert "Traceback" not in done.stderr
