"""What grading leaves of an nbgrader assignment's submission (autograder/grading/nbresults.py), from grades made by
hand here (no sandbox): one results.json for all its notebooks, whose maximum is the assignment's even when a notebook
was not handed in."""
import json
from pathlib import Path

import nbformat

from autograder.grading import grade
from autograder.grading.nbresults import not_graded, write_submission
from autograder.grading.nbtests import NotebookGrade

PS1 = Path(__file__).parent / "data" / "nbgrader_ps1"
SOURCE = PS1 / "source" / "ps1"


def test_a_notebook_not_handed_in_earns_0_says_so_and_keeps_the_assignments_maximum(tmp_path):
    graded = NotebookGrade("problem1.ipynb", tests=[grade.TestResult("correct_squares", 1.0, 1.0, "The test passed.")])
    missing = not_graded(SOURCE / "problem2.ipynb", "problem2.ipynb was not handed in.")
    result = write_submission(tmp_path, "ps1", "hacker", [
        (SOURCE / "problem1.ipynb", PS1 / "submitted" / "hacker" / "ps1" / "problem1.ipynb", graded),
        (SOURCE / "problem2.ipynb", tmp_path / "nowhere.ipynb", missing)])
    written = json.loads((tmp_path / "autograded" / "hacker" / "ps1" / "results.json").read_text())
    assert written == result.to_json()
    assert [(test["name"], test["score"], test["max_score"]) for test in written["tests"]] == [
        ("correct_squares", 1.0, 1.0), ("part-a", 0.0, 1.0), ("part-b", 0.0, 2.0)]
    assert (written["score"], written["max_score"]) == (1.0, 4.0)
    assert written["notes"] == ["problem2.ipynb was not handed in."]
    assert sorted(path.name for path in (tmp_path / "autograded" / "hacker" / "ps1").iterdir()) == [
        "problem1.ipynb", "results.json"]  # no copy of a notebook never handed in


def test_the_autograded_copy_has_the_test_cell_as_released_with_the_run_s_outputs(tmp_path):
    source = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("assert x > 0\n### BEGIN HIDDEN TESTS\nassert x == 41\n### END HIDDEN TESTS")])
    source.cells[0].metadata["nbgrader"] = {"grade_id": "x", "solution": True, "grade": False, "locked": False}
    source.cells[1].metadata["nbgrader"] = {"grade_id": "test_x", "solution": False, "grade": True, "points": 1,
                                            "locked": True}
    submitted = nbformat.from_dict(source)
    submitted.cells[0].source, submitted.cells[1].source = "x = 2\nprint(x)", "assert x > 0"
    for notebook, name in ((source, "source.ipynb"), (submitted, "a.ipynb")):
        nbformat.write(notebook, str(tmp_path / name))
    tested = nbformat.from_dict(source.cells[1])
    tested.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])]
    graded = NotebookGrade("a.ipynb", tests=[grade.TestResult("test_x", 0.0, 1.0, "The test failed: AssertionError.")],
                           cells={"test_x": tested}, cell_outputs={0: ("2\n", None)})
    write_submission(tmp_path, "a", "ann", [(tmp_path / "source.ipynb", tmp_path / "a.ipynb", graded)])
    copy = nbformat.read(str(tmp_path / "autograded" / "ann" / "a" / "a.ipynb"), as_version=4)
    assert [cell.source for cell in copy.cells] == ["x = 2\nprint(x)", "assert x > 0"]
    assert copy.cells[0].outputs == [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    assert [output.ename for output in copy.cells[1].outputs] == ["AssertionError"]
    assert copy.cells[1].metadata["nbgrader"]["points"] == 1
