"""Hostile notebooks of tests/adversarial/ submitted through the web grade exactly as the same files do in a
batch (`grade_batch`), on the same course and limits."""
import re
import sys
from pathlib import Path

import nbformat
import pytest

from served import upload, wait_done

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "adversarial"))
from catalogue import BY_STUDENT, Targets  # noqa: E402

pytestmark = pytest.mark.slow  # the service: a server process and sandboxes

# hostile cells and tampered metadata that need no listener of the adversarial suite's own
CHOSEN = ("raise_system_exit", "os_exit", "system_exit_in_graded_function", "os_exit_in_graded_function",
          "forged_sandbox_error", "forged_protocol", "raised_points", "swapped_grade_ids", "edited_locked_cells",
          "tampered_checksums", "deleted_cells", "duplicated_cells", "check_cell_as_markdown")


@pytest.fixture(scope="module")
def hostile_files(server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    course = server.course
    targets = Targets(course_root=course.root, hidden_checks=folder / "unused", victim_answers=folder / "unused",
                      source_secret=folder / "unused", outside=folder, port=9, abstract_socket="unused",
                      grader_pid=1)
    files = {}
    for name in CHOSEN:
        hostile = BY_STUDENT[name]
        path = folder / name / course.notebook(hostile.assignment)
        path.parent.mkdir()
        nbformat.write(hostile.build(course, targets), str(path))
        files[name] = (hostile.assignment, path)
    return files


def verdict(result):
    return result.status, result.score, [(test.name, test.score) for test in result.tests]


def test_hostile_notebooks_grade_through_the_web_as_in_a_batch(server, hostile_files):
    from autograder.grading.batch import SubmittedNotebook, grade_batch
    from autograder.web.grading import stored_result

    uploaded = {}
    for name, (assignment, path) in hostile_files.items():
        client = server.session(f"web_{name}")
        response = upload(client, server.url, assignment, path.read_bytes())
        assert response.status_code == 200, (name, response.status_code)
        uploaded[name] = (client, re.search(r"/attempts/\d+$", response.url).group(0))
    batch = {}
    for assignment in sorted({assignment for assignment, _ in hostile_files.values()}):
        jobs = [SubmittedNotebook(f"web_{name}", path, None) for name, (a, path) in hostile_files.items()
                if a == assignment]
        grade_batch(server.course, assignment, None, 2, submissions=jobs, progress=False,
                    on_result=lambda result: batch.__setitem__(result.student.removeprefix("web_"), result))
    for name, (client, path) in uploaded.items():
        wait_done(client, server.url, path, timeout=120)
        attempt = server.service.store.attempt(int(path.rsplit("/", 1)[1]))
        assert verdict(stored_result(server.course, attempt)) == verdict(batch[name]), name
