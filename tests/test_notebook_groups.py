"""An assignment of several notebooks (an nbgrader course's, issue 28) is shown notebook by notebook on every page
that shows a result (view.build, result_view.html): a heading per notebook with its points, then its test cells; a
notebook not handed in is said to be missing once, its cells not listed. An assignment of one notebook (the course's
own, or an nbgrader assignment of one) has no notebook headings: its pages look as they did."""
import html as markup
import json
import re
from datetime import datetime, timezone
from pathlib import Path

from autograder.grading.nbresults import not_graded, submission_result
from autograder.grading.nbtests import NotebookGrade
from autograder.present.feedback import render_feedback
from autograder.present.view import NOT_HANDED_IN, build
from autograder.results.model import SubmissionResult
from autograder.results.model import TestResult as CellResult
from autograder.results.wording import not_handed_in

from test_pages import result as own_result

WRITTEN = datetime(2026, 12, 6, tzinfo=timezone.utc)
PS1 = Path(__file__).parent / "data" / "nbgrader_ps1" / "source" / "ps1"


def problem1() -> NotebookGrade:
    """problem1.ipynb of ps1 as grading leaves it: its four test cells and three cells graded by hand."""
    return NotebookGrade("problem1.ipynb", [
        CellResult("correct_squares", 0.0, 1.0, "The test failed: AssertionError: the third square"),
        CellResult("squares_invalid_input", 1.0, 1.0, "The test passed."),
        CellResult("correct_sum_of_squares", 0.5, 0.5, "The test passed."),
        CellResult("sum_of_squares_uses_squares", 0.5, 0.5, "The test passed."),
        CellResult("sum_of_squares_equation", 0.0, 1.0, "To be graded by your instructor.", manual=True, pending=True),
        CellResult("sum_of_squares_application", 2.0, 2.0, "Written answer: graded.", manual=True),
        CellResult("cell-938593c4a215c6cc", 0.0, 4.0, "To be graded by your instructor.", manual=True,
                   pending=True)])


def text_of(page: str) -> str:
    return markup.unescape(re.sub(r"<[^>]+>", "", page)).replace("\xa0", " ")


def test_each_notebook_has_a_heading_with_its_points_and_they_sum_to_the_total():
    problem2 = not_graded(PS1 / "problem2.ipynb", not_handed_in("problem2.ipynb"), missing=True)
    graded = submission_result("ada", "ps1", [problem1(), problem2])
    assert graded.missing == ["problem2.ipynb"]
    view = build(graded)
    assert [(notebook.name, notebook.score, notebook.max_score, notebook.missing) for notebook in view.notebooks] == [
        ("problem1.ipynb", 4.0, 10.0, False), ("problem2.ipynb", 0.0, 3.0, True)]
    assert sum(notebook.score for notebook in view.notebooks) == graded.score == 4.0
    assert sum(notebook.max_score for notebook in view.notebooks) == graded.max_score == 13.0
    assert view.notebooks[0].headline == "4 of 5 points so far; 5 more points to be graded by your instructor"
    assert [exercise.anchor for exercise in view.notebooks[0].exercises] == [test.name for test in problem1().tests]
    assert view.notes == ()  # the notebook's heading says it is missing: not the notes too
    assert view.summary == "3 of 4 exercises work."
    everything = submission_result("ada", "ps1", [NotebookGrade("problem1.ipynb", [
        CellResult("correct_squares", 1.0, 1.0, "The test passed.")]), problem2])
    assert build(everything).summary == "Every exercise handed in works: well done."

    page = render_feedback(graded, written=WRITTEN)
    text = text_of(page)
    assert "problem1.ipynb: 4 of 5 points so far; 5 more points to be graded by your instructor" in text
    assert f"problem2.ipynb: 0 of 3 points {NOT_HANDED_IN}" in " ".join(text.split())
    assert text.count("not handed in") == 1 and "While your notebook ran" not in text
    assert 'id="part-a"' not in page and 'href="#part-a"' not in page  # a missing notebook's cells are not listed
    assert page.count("<h2>") == 2 and page.count("<h3>") == 7  # a heading per notebook, then its cells under it
    assert "<h3>correct_squares: 0 of 1 point</h3>" in page
    assert text.count("the third square") == 1
    # read back from results.json (feedback, the service's stored attempt): the same page
    again = SubmissionResult.from_json(json.loads(json.dumps(graded.to_json())))
    assert again.missing == ["problem2.ipynb"]
    assert render_feedback(again, written=WRITTEN) == page


def test_a_notebook_that_could_not_be_read_is_graded_as_0_and_says_why_once():
    why = "problem2.ipynb could not be read: open it in Jupyter, save it and hand it in again."
    graded = submission_result("ada", "ps1", [problem1(), not_graded(PS1 / "problem2.ipynb", why)])
    view = build(graded)
    assert not any(notebook.missing for notebook in view.notebooks) and view.notes == (why,)
    assert text_of(render_feedback(graded)).count("could not be read") == 1


def test_an_assignment_of_one_notebook_has_no_notebook_headings():
    own = own_result()
    assert build(own).notebooks == ()
    page = render_feedback(own)
    assert 'class="notebook"' not in page and "<h3>" not in page and page.count("<tbody>") == 1
    assert "<h2>get_slope: 0 of 2 points</h2>" in page
    single = submission_result("ada", "ps1", [problem1()])  # an nbgrader assignment of one notebook
    assert build(single).notebooks == () and 'class="notebook"' not in render_feedback(single)
