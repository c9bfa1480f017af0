"""Figures drawn after the verdict (issue 24 item 1), the fast parts: no sandbox, the sandbox's own module in this
process. A displayed figure is kept as a snapshot, drawn later as it was displayed; the worker sets snapshots aside
in a record; the sink puts the drawn PNGs in place of the autograded notebook's placeholders."""
import base64
import json
import pickle
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from autograder.engine import sandboxed  # noqa: E402
from autograder.grading import deferred  # noqa: E402
from autograder.results.model import SubmissionResult  # noqa: E402
from autograder.grading.pipeline import Job  # noqa: E402

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"x" * 40).decode()


@pytest.fixture
def shell():
    """The sandbox's shell, deferring figures as a child of the zygote does for the batch and the service."""
    from matplotlib.figure import Figure

    shell = sandboxed.new_shell()
    shell.display_formatter.formatters["image/png"].for_type(Figure, sandboxed.figure_snapshot)
    sandboxed.KeptDisplays.limit, sandboxed.KeptDisplays.total = 2 * 1024 * 1024, 0
    sandboxed.KeptDisplays.snapshots = []
    sandboxed.KeptDisplays.take()
    yield shell
    sandboxed.KeptDisplays.limit = 0
    type(shell).clear_instance()


def displayed(shell, figure) -> dict:
    data, _ = shell.display_formatter.format(figure)
    shell.display_pub.publish(data)
    return sandboxed.KeptDisplays.take()[-1]


def losses_figure():
    figure = plt.figure(figsize=(4, 3))
    plt.semilogy(np.arange(1, 31), 36 * 0.5 ** np.arange(30), "o-")
    plt.title("as displayed")
    return figure


def test_a_displayed_figure_is_kept_as_it_was_displayed_and_drawn_later(shell):
    figure = losses_figure()
    expected = sandboxed.figure_png(losses_figure())
    kept = displayed(shell, figure)
    assert set(kept) == {"figure", "text/plain"} and kept["text/plain"].startswith("<Figure size")
    figure.axes[0].set_title("changed by a later cell")  # and closed: the snapshot is what was displayed
    figure.axes[0].plot([1, 30], [1e-8, 10])
    plt.close("all")
    drawn = sandboxed.figure_png(pickle.loads(base64.b64decode(kept["figure"])))
    assert drawn == expected != sandboxed.figure_png(figure)


def test_a_figure_another_process_could_not_load_is_drawn_at_once(shell):
    import __main__

    def tick(value, position):
        return f"{value:.0f}!"

    tick.__module__, tick.__qualname__ = "__main__", "deferred_test_tick"
    __main__.deferred_test_tick = tick  # the notebook's own function: pickled by name, unknown to a render child
    try:
        for formatter in (FuncFormatter(tick), FuncFormatter(lambda value, position: "x")):  # a lambda: no pickle
            figure = losses_figure()
            figure.axes[0].xaxis.set_major_formatter(formatter)
            kept = displayed(shell, figure)
            assert set(kept) == {"image/png", "text/plain"}
            assert base64.b64decode(kept["image/png"]).startswith(b"\x89PNG")
    finally:
        del __main__.deferred_test_tick
        plt.close("all")


def test_snapshots_are_bounded_in_number_then_drawn_at_once(shell):
    kinds = []
    for _ in range(sandboxed.MAX_SNAPSHOTS + 1):
        figure = plt.figure(figsize=(1, 1))
        plt.plot([0, 1])
        kinds.append("figure" if "figure" in displayed(shell, figure) else "image/png")
        plt.close(figure)
    assert kinds == ["figure"] * sandboxed.MAX_SNAPSHOTS + ["image/png"]


def result_with(displays: dict) -> SubmissionResult:
    return SubmissionResult("ann", "01", 7.0, 7.0, "graded", cell_displays=dict(displays))


def test_snapshots_are_set_aside_in_a_record_and_numbered_placeholders_take_their_place(tmp_path):
    course = SimpleNamespace(root=tmp_path)
    result = result_with({3: ({"figure": "AAA", "text/plain": "<Figure 1>"}, {"image/png": PNG, "text/plain": "i"}),
                          5: ({"figure": "BBB", "text/plain": "<Figure 2>"},), 6: ()})
    pending = deferred.set_aside(course, Job("a.b/../c", None, None, assignment="01"), result)
    token = pending.token
    assert result.cell_displays == {
        3: ({"pending": f"{token}:0", "text/plain": "<Figure 1>"}, {"image/png": PNG, "text/plain": "i"}),
        5: ({"pending": f"{token}:1", "text/plain": "<Figure 2>"},), 6: ()}
    assert pending.load() == ["AAA", "BBB"]
    assert pending.path.parent == tmp_path / ".autograder-cache" / "figures" / "01"  # one file, named safely
    assert [found.job.student for found in deferred.pending_records(course, ["01"])] == ["a.b/../c"]
    # graded again: the new record replaces the old one, whose placeholders are gone with it
    again = deferred.set_aside(course, Job("a.b/../c", None, None, assignment="01"),
                               result_with({1: ({"figure": "CCC", "text/plain": "<Figure 3>"},)}))
    assert pending.load() is None and again.load() == ["CCC"]
    # another student whose name starts the same keeps theirs
    other = deferred.set_aside(course, Job("a", None, None, assignment="01"),
                               result_with({1: ({"figure": "DDD", "text/plain": "<Figure 4>"},)}))
    assert other.load() == ["DDD"] and again.load() == ["CCC"]
    assert deferred.set_aside(course, Job("bob", None, None, assignment="01"), result_with({2: ()})) is None


def notebook_with(tmp_path, outputs) -> Path:
    path = tmp_path / "graded.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "outputs": outputs, "source": ""}],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_drawn_figures_replace_their_placeholders_and_nothing_else(tmp_path):
    pending = deferred.Pending(Job("ann", None, None, assignment="01"), tmp_path / "ann.0123456789abcdef.json")
    stale = {"pending": "fedcba9876543210:0", "text/plain": "<old>"}
    outputs = [deferred.placeholder({"pending": f"{pending.token}:{n}", "text/plain": f"<Figure {n}>"})
               for n in range(3)] + [deferred.placeholder(stale), {"output_type": "stream", "name": "stdout",
                                                                    "text": "hi\n"}]
    assert outputs[0]["data"]["text/plain"] == f"<Figure 0>\n{deferred.PENDING_TEXT}"
    path = notebook_with(tmp_path, outputs)
    assert deferred.fill(path, deferred.Drawn(pending, (PNG, None, PNG)), max_chars=len(PNG)) == 3
    filled = json.loads(path.read_text())["cells"][0]["outputs"]
    assert filled[0] == {"output_type": "display_data", "metadata": {},
                         "data": {"image/png": PNG, "text/plain": "<Figure 0>"}}
    assert filled[1]["data"] == {"text/plain": f"<Figure 1>\n{deferred.FAILED_TEXT}"}  # could not be drawn
    assert filled[2]["data"] == {"text/plain": f"<Figure 2>\n{deferred.FAILED_TEXT}"}  # past the notebook's cap
    assert filled[3:] == outputs[3:]  # another grading's placeholder, and the rest, as they were
    assert deferred.fill(path, deferred.Drawn(pending, (PNG, PNG, PNG)), max_chars=10 ** 6) == 0


def test_figures_not_drawn_on_purpose_say_so(tmp_path):
    pending = deferred.Pending(Job("ann", None, None, assignment="01", key=4), tmp_path / "4.0123456789abcdef.json")
    path = notebook_with(tmp_path, [deferred.placeholder({"pending": f"{pending.token}:0", "text/plain": "<F>"})])
    deferred.fill(path, deferred.Drawn(pending, None), max_chars=10 ** 6)
    assert json.loads(path.read_text())["cells"][0]["outputs"][0]["data"] == {
        "text/plain": f"<F>\n{deferred.NOT_DRAWN_TEXT}"}
    assert deferred.fill(tmp_path / "missing.ipynb", deferred.Drawn(pending, None), 10) == 0


def test_figures_that_cannot_be_set_aside_are_left_out_and_the_verdict_stands(tmp_path):
    (tmp_path / ".autograder-cache").write_text("a file where the folder would go")
    result = result_with({3: ({"figure": "AAA", "text/plain": "<F>"}, {"image/png": PNG, "text/plain": "i"})})
    assert deferred.set_aside(SimpleNamespace(root=tmp_path), Job("ann", None, None, assignment="01"), result) is None
    assert result.cell_displays == {3: ({"image/png": PNG, "text/plain": "i"},)} and result.score == 7.0
