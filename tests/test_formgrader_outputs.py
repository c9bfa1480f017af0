"""The autograded notebook formgrader shows: every cell's output, figures included and bounded in size, and check
cells that count their own checks."""
import base64
import json
import subprocess
import sys

import pytest

from autograder.engine.sandbox import MAX_DISPLAY_CHARS
from builders import inserted, solution, write
from course_files import copy_course

pytestmark = pytest.mark.slow  # autograder grade, then nbgrader

A1 = "01-gradient-descent"
PLOT = ("import matplotlib.pyplot as plt\nprint('my experiment')\nplt.plot(gradient_descent(df, 1, 0.05, 25))\n"
        "plt.title('my path')\nplt.show()\n")
# four PNG images of 700 kB (about 0.93 MB of base64 each): two fit under the 2 MB cap
BIG = ("import os\nfrom IPython.display import Image, display\nfor _ in range(4):\n"
       "    display(Image(data=b'\\x89PNG\\r\\n\\x1a\\n' + os.urandom(700_000)))\n")


@pytest.fixture(scope="module")
def autograded(tmp_path_factory, course):
    root = copy_course(tmp_path_factory.mktemp("formgrader") / "course")
    answered = solution(course, A1)
    for student, notebook in {"ann": inserted(answered, "check_gradient_descent", PLOT),
                              "bob": inserted(answered, "check_gradient_descent", BIG)}.items():
        write(notebook, root / "submitted" / student / A1 / "gradient_descent.ipynb")
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", A1, "--workers", "2", "--no-progress"],
                          cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return {student: json.loads((root / "autograded" / student / A1 / "gradient_descent.ipynb").read_text())
            for student in ("ann", "bob")}


def _added_cell(notebook):
    return next(cell for cell in notebook["cells"] if cell["cell_type"] == "code" and (
        "my experiment" in "".join(cell["source"]) or "os.urandom" in "".join(cell["source"])))


def test_a_students_figure_and_print_are_kept_in_the_autograded_notebook(autograded):
    outputs = _added_cell(autograded["ann"])["outputs"]
    assert outputs[0] == {"output_type": "stream", "name": "stdout", "text": "my experiment\n"}
    figure = outputs[1]
    assert figure["output_type"] == "display_data" and figure["data"]["text/plain"].startswith("<Figure size")
    png = base64.b64decode(figure["data"]["image/png"])
    assert png.startswith(b"\x89PNG") and 2_000 < len(png) < 100_000  # rendered small (60 dpi)


def test_figures_past_the_cap_are_replaced_by_a_line_saying_so(autograded):
    outputs = _added_cell(autograded["bob"])["outputs"]
    kept = [output for output in outputs if output["output_type"] == "display_data"]
    total = sum(len(output["data"]["image/png"]) for notebook_cell in autograded["bob"]["cells"]
                for output in notebook_cell.get("outputs", []) if output["output_type"] == "display_data")
    assert outputs[0]["text"].count("[a figure is not kept: this notebook's figures passed 2 MB]") == 2
    assert len(kept) == 2 and MAX_DISPLAY_CHARS * 0.8 < total <= MAX_DISPLAY_CHARS


def test_a_check_cell_shows_its_own_checks_and_counts_them(autograded):
    cell = next(cell for cell in autograded["ann"]["cells"]
                if cell["metadata"].get("nbgrader", {}).get("grade_id") == "check_gradient_descent_update")
    text = "".join(output["text"] for output in cell["outputs"])
    assert text.count("as expected.") == 3
    assert text.endswith("\N{CHECK MARK} The 3 checks of this cell and 3 hidden checks passed: 2 of 2 points.\n")


def test_a_course_can_turn_figures_off(tmp_path, course):
    root = copy_course(tmp_path / "course")
    with open(root / "course_config.py", "a") as config:
        config.write("\nc.Autograder.keep_figures = False\n")
    write(inserted(solution(course, A1), "check_gradient_descent", PLOT),
          root / "submitted" / "ann" / A1 / "gradient_descent.ipynb")
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", A1, "--workers", "1", "--no-progress"],
                          cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    notebook = json.loads((root / "autograded" / "ann" / A1 / "gradient_descent.ipynb").read_text())
    outputs = _added_cell(notebook)["outputs"]
    assert [output["output_type"] for output in outputs] == ["stream"]
    assert outputs[0]["text"].startswith("my experiment\n<Figure size")
