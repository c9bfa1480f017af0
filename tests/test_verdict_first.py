"""The verdict first (issue 24 items 1 and 2), with real sandboxes: every score is in the gradebook, the JSON report
complete and the summary printed before any figure is drawn; a batch SIGKILLed between its scores and its figures
keeps every score, and the next batch draws the figures it left."""
import base64
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from nbgrader.api import Gradebook

from autograder.engine import sandbox
from autograder.grading.batch import grade_batch
from autograder.course.config import load_course
from autograder.grading.deferred import PENDING_TEXT, records_folder
from builders import inserted, solution, write
from course_files import copy_course

pytestmark = pytest.mark.slow  # real sandboxes, and a real batch killed

A1 = "01-gradient-descent"
NOTEBOOK = "gradient_descent.ipynb"
PLOT = ("import matplotlib.pyplot as plt\nplt.plot(gradient_descent(df, 1, 0.05, 25))\nplt.title('my path')\n"
        "plt.show()\n")


def plotting_class(tmp_path, course, students):
    root = copy_course(tmp_path / "course")
    for student in students:
        write(inserted(solution(course, A1), "check_gradient_descent", PLOT),
              root / "submitted" / student / A1 / NOTEBOOK)
    return root


def figure_outputs(root, student) -> list[dict]:
    notebook = json.loads((root / "autograded" / student / A1 / NOTEBOOK).read_text())
    return [output for cell in notebook["cells"] for output in cell.get("outputs", ())
            if output["output_type"] == "display_data"]


def scores(root) -> dict:
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return {submission.student_id: submission.score for submission in
                gradebook.find_assignment(A1).submissions}


def drawn(output) -> bool:
    return base64.b64decode(output["data"].get("image/png", "")).startswith(b"\x89PNG")


def test_every_score_is_saved_before_any_figure_is_drawn(tmp_path, course, monkeypatch):
    monkeypatch.setattr(sandbox, "RENDER_DELAY", 1.5)  # each figure's render waits first: slow on purpose
    root = plotting_class(tmp_path, course, ["ann", "bob", "cyd"])
    seen = {}

    def on_scores(summaries):
        seen.update(at=time.monotonic(), scores=scores(root), report=json.loads((root / "report.json").read_text()),
                    figures={student: figure_outputs(root, student) for student in ("ann", "bob", "cyd")},
                    records=len(list((records_folder(load_course(root)) / A1).iterdir())),
                    lines=summaries[0].lines())

    summary = grade_batch(load_course(root), A1, f"sqlite:///{root / 'gradebook.db'}", 2, root / "report.json",
                          progress=False, on_scores=on_scores)
    ended = time.monotonic()
    assert seen["scores"] == {"ann": 7.0, "bob": 7.0, "cyd": 7.0}
    assert sorted(entry["student"] for entry in seen["report"]) == ["ann", "bob", "cyd"]
    assert seen["lines"][1] == "  graded: 3   errors: 0"
    for outputs in seen["figures"].values():  # placeholders then, as formgrader would show them
        assert len(outputs) == 1 and outputs[0]["data"]["text/plain"].endswith(PENDING_TEXT)
    assert seen["records"] == 3
    assert ended - seen["at"] >= 1.5  # the figures came after, each made to take 1.5 s
    for student in ("ann", "bob", "cyd"):
        outputs = figure_outputs(root, student)
        assert len(outputs) == 1 and drawn(outputs[0]) and outputs[0]["data"]["text/plain"].startswith("<Figure")
    assert not list((records_folder(load_course(root)) / A1).iterdir())
    assert summary.drawn == 3 and summary.figures_line().startswith(f"{A1}: figures drawn for 3 notebooks, ")


def test_a_batch_killed_between_scores_and_figures_keeps_every_score_and_draws_them_next_time(tmp_path, course):
    root = plotting_class(tmp_path, course, ["ann", "bob", "cyd"])
    command = [sys.executable, "-m", "autograder", "grade", A1, "--no-progress", "--workers", "2"]
    grader = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env={**os.environ, "AUTOGRADER_RENDER_DELAY": "60"})  # figures would take minutes
    try:
        printed = []
        while not any(line.startswith("  gradebook: ") for line in printed):  # the scores are done, it says
            line = grader.stdout.readline()
            assert line, f"the grader ended before its scores were done: {printed}"
            printed.append(line)
        assert "  graded: 3   errors: 0\n" in printed
    finally:
        os.kill(grader.pid, signal.SIGKILL)
        grader.wait()
    assert scores(root) == {"ann": 7.0, "bob": 7.0, "cyd": 7.0}  # committed before the figures
    records = sorted(path.name.split(".")[0] for path in (records_folder(load_course(root)) / A1).iterdir())
    assert records == ["ann", "bob", "cyd"]
    assert all(not drawn(output) for student in records for output in figure_outputs(root, student))

    again = subprocess.run(command, cwd=root, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing new to grade: 3 already graded" in again.stdout
    assert f"{A1}: figures drawn for 3 notebooks" in again.stdout
    assert scores(root) == {"ann": 7.0, "bob": 7.0, "cyd": 7.0}
    for student in records:
        outputs = figure_outputs(root, student)
        assert len(outputs) == 1 and drawn(outputs[0])
    assert not list((records_folder(load_course(root)) / A1).iterdir())


class _Exits:
    def __reduce__(self):
        return os._exit, (3,)


class _Loops:
    def __reduce__(self):
        return exec, ("while True: pass",)


def test_a_snapshot_that_loops_or_ends_its_process_is_not_drawn_and_the_sandbox_goes_on(course):
    import dataclasses
    import pickle

    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(2, 2))
    plt.plot([0, 1])
    good = base64.b64encode(pickle.dumps(figure)).decode()
    plt.close(figure)
    hostile = {name: base64.b64encode(pickle.dumps(kind())).decode() for name, kind in
               (("exits", _Exits), ("loops", _Loops))}
    with sandbox.Sandbox(dataclasses.replace(course, cell_timeout=1)) as box:
        looped = box.render([hostile["loops"], good])  # stopped after its second of processor time
        assert looped[0] is None and base64.b64decode(looped[1]).startswith(b"\x89PNG")
        assert box.render([hostile["exits"], good]) == [None, None]  # the child is gone: nothing after it drawn
        assert base64.b64decode(box.render([good])[0]).startswith(b"\x89PNG")
