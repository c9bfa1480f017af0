"""The source notebooks: they run in a real Jupyter kernel, their checks pass, and every worked value
their teaching text states comes out of the instructor's solutions."""
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from autograder.course import notebook as nb
from autograder.checking.checks import load_checks
from course_files import ASSIGNMENTS, ROOT
from notebook_runner import run_notebook


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebook_runs_in_jupyter_and_every_check_passes(course, assignment):
    path = course.source_notebook(assignment)
    notebook = nbformat.read(str(path), as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [out for cell in notebook.cells for out in cell.get("outputs", []) if out.output_type == "error"]
    assert errors == []
    check_cells = [cell for cell in notebook.cells if nb.is_autograder_test(cell)]
    assert sorted(nb.hidden_call(cell.source).exercise for cell in check_cells) == sorted(load_checks(assignment))
    for cell in check_cells:
        text = "".join(out.get("text", "") for out in cell.outputs)
        assert "\N{CHECK MARK}" in text and "hidden checks passed" in text, (nb.grade_id(cell), text)
    plots = [out for cell in notebook.cells for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
    assert plots, "every notebook shows at least one plot"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_check_helper_cell_is_the_visible_check_module(course, assignment):
    notebook = nbformat.read(str(course.source_notebook(assignment)), as_version=4)
    helper = [cell for cell in notebook.cells if nb.grade_id(cell) == "check_helpers"]
    visible_check = ROOT / "autograder" / "checking" / "visible_check.py"
    assert [cell.source.strip() for cell in helper] == [visible_check.read_text().strip()]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebook_is_valid_with_cleared_outputs(course, assignment):
    notebook = nbformat.read(str(course.source_notebook(assignment)), as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)


@pytest.fixture(scope="module")
def solved(course):
    return {assignment: run_notebook(course.source_notebook(assignment)) for assignment in ASSIGNMENTS}


def test_gradient_descent_worked_values(solved):
    ns = solved["01-gradient-descent"]
    assert ns["f"](5) == 4 and ns["df"](5) == 4 and ns["df"](3) == 0
    path = ns["gradient_descent"](ns["df"], 1, 0.05, 25)
    assert isinstance(path, np.ndarray) and path.shape == (26,)
    assert path[-1] == 2.8564204024616293
    assert ns["max_stable_learning_rate"] == 1.0
    integers = np.array([1, 2, 3])
    stepped = ns["gradient_descent_update"](integers, np.array([1, 1, 1]), 0.5)
    assert stepped.tolist() == [0.5, 1.5, 2.5] and integers.tolist() == [1, 2, 3]


def test_slopes_and_updates_worked_values(solved):
    ns = solved["02-slopes-and-updates"]
    assert ns["error"] == 7
    assert np.asarray(ns["slope"]).tolist() == [14, 28, 42]
    assert np.allclose(ns["weights_updated"], [-0.14, 1.72, 0.58])
    assert np.isclose(ns["error_updated"], 5.04)
    final_weights, losses = ns["train"](np.array([1, 2, 3]), 0, np.array([0, 2, 1]), 0.01, 20)
    assert len(losses) == 20 and np.isclose(losses[0], 25.4016)
    assert np.isclose(ns["losses"][0], 25.4016)


def test_backpropagation_worked_values(solved):
    ns = solved["03-backpropagation"]
    weights = {"hidden": np.array([[2, 1], [1, 2]]), "output": np.array([1, 1])}
    hidden_in, hidden_out, output = ns["forward"](np.array([0, 3]), weights)
    assert hidden_in.tolist() == [3, 6] and output == 9
    gradients = ns["backprop"](np.array([0, 3]), 3, weights)
    assert np.allclose(gradients["output"], [36, 72])
    assert np.allclose(gradients["hidden"], [[0, 36], [0, 36]])
    assert ns["relu_slope"](np.array([-2.0, 3.0])).tolist() == [0, 1]


def test_linear_regression_worked_values(solved):
    ns = solved["04-linear-regression"]
    x = np.arange(10)
    assert np.allclose((ns["weight"], ns["bias"]), np.polyfit(x, np.sin(x), 1), atol=1e-3)
    assert np.allclose(np.polyfit(x, np.sin(x), 1), (0.01223633, 0.14045745), atol=1e-8)
    assert ns["sse"](np.array([0, 1]), np.array([1, 1]), 1.0, 0.0) == 1.0
    assert np.allclose(ns["sse_gradient"](np.array([0, 1]), np.array([1, 1]), 1.0, 0.0), (0.0, -2.0))
