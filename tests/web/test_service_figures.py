"""The service's figures after the verdict (issue 24 item 1): an attempt's result is recorded first; the attempt
that counts then has its figures drawn into its own autograded copy and the course's, and an attempt that does not
count is not drawn (its placeholder says so)."""
import base64
import json
import time

import pytest

from autograder.grading.deferred import NOT_DRAWN_TEXT, records_folder
from builders import inserted, replaced, solution
from served import A1, ONE_ASSIGNMENT_CONFIG, ThreadServer, make_course, upload, wait_done

pytestmark = pytest.mark.slow  # a real server and sandboxes

PLOT = ("import matplotlib.pyplot as plt\nplt.plot(gradient_descent(df, 1, 0.05, 25))\nplt.title('my path')\n"
        "plt.show()\n")
NOTEBOOK = "gradient_descent.ipynb"


def figure_output(path):
    notebook = json.loads(path.read_text())
    [output] = [output for cell in notebook["cells"] for output in cell.get("outputs", ())
                if output["output_type"] == "display_data"]
    return output


def drawn(output) -> bool:
    return base64.b64decode(output["data"].get("image/png", "")).startswith(b"\x89PNG")


def eventually(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.2)


def test_only_the_counting_attempt_has_its_figures_drawn(tmp_path, course):
    import nbformat

    root = make_course(tmp_path / "course", ONE_ASSIGNMENT_CONFIG)
    best = inserted(solution(course, A1), "check_gradient_descent", PLOT)
    worse = replaced(best, "max_stable_learning_rate", "max_stable_learning_rate = 5.0")
    server = ThreadServer(root)
    try:
        client = server.session("ada")
        attempts = root / "service" / "attempts" / "ada" / A1
        first = upload(client, server.url, A1, nbformat.writes(best).encode())
        assert wait_done(client, server.url, first.url.removeprefix(server.url))["score"] == 7.0
        eventually(lambda: drawn(figure_output(attempts / "1" / "autograded" / NOTEBOOK)))
        eventually(lambda: drawn(figure_output(root / "autograded" / "ada" / A1 / NOTEBOOK)))

        second = upload(client, server.url, A1, nbformat.writes(worse).encode())
        assert wait_done(client, server.url, second.url.removeprefix(server.url))["score"] < 7.0
        own = attempts / "2" / "autograded" / NOTEBOOK
        eventually(lambda: figure_output(own)["data"]["text/plain"].endswith(NOT_DRAWN_TEXT))
        assert drawn(figure_output(root / "autograded" / "ada" / A1 / NOTEBOOK))  # the counting one's, still
        eventually(lambda: not list((records_folder(server.course) / "attempts").iterdir()))
    finally:
        server.close()
