"""After `autograder grade ps1` on nbgrader's user-guide course as it is (issue 28): the feedback pages, the class
report and the exports work for it as for our own assignments, and the autograded notebooks serve formgrader and
`nbgrader generate_feedback`. One hidden test is added to a copy of ps1 so that its absence can be checked, and a
third student, mallory, hands in hacker's notebooks with one cell that replaces a builtin the tests rely on, and a
fourth, copycat, hands in hacker's notebooks as they are."""
import csv
import html as markup
import json
import re
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

pytestmark = pytest.mark.slow  # runs the sandbox, nbgrader and a browser

PS1 = Path(__file__).parent / "data" / "nbgrader_ps1"
HIDDEN = "assert squares(12)[-1] == 144"
BENDER = "import builtins\nbuiltins.abs = lambda value: 0"
STUDENTS = ("bitdiddle", "copycat", "hacker", "mallory")


def autograder(root: Path, *args) -> str:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    env.pop("AUTOGRADER_COURSE_ROOT", None)
    done = subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=root, capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def ps1(tmp_path_factory):
    """ps1 graded, bitdiddle's answer part-a graded by hand (1 of 1 point), feedback and report written:
    (course root, `autograder report`'s output)."""
    root = tmp_path_factory.mktemp("ps1")
    shutil.copytree(PS1 / "source", root / "source")
    shutil.copytree(PS1 / "submitted", root / "submitted")
    (root / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'ps1course'\n")
    source = root / "source" / "ps1" / "problem1.ipynb"
    notebook = nbformat.read(str(source), as_version=4)
    test = next(cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade_id") ==
                "correct_squares")
    test.source += f"\n### BEGIN HIDDEN TESTS\n{HIDDEN}\n### END HIDDEN TESTS"
    nbformat.write(notebook, str(source))
    shutil.copytree(root / "submitted" / "hacker", root / "submitted" / "mallory")
    shutil.copytree(root / "submitted" / "hacker", root / "submitted" / "copycat")
    submitted = root / "submitted" / "mallory" / "ps1" / "problem1.ipynb"
    notebook = nbformat.read(str(submitted), as_version=4)
    bender = nbformat.v4.new_code_cell(BENDER)
    del bender["id"]  # ps1's notebooks are nbformat 4.1, without cell ids
    notebook.cells.insert(3, bender)
    nbformat.write(notebook, str(submitted))

    autograder(root, "grade", "ps1")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:  # what formgrader does
        grade = gradebook.find_grade("part-a", "problem2", "ps1", "bitdiddle")
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        gradebook.db.commit()
    autograder(root, "feedback", "ps1")
    return root, autograder(root, "report", "ps1")


def text_of(page: str) -> str:
    """A page's text as a reader sees it: no tags, entities read, no-break spaces as spaces."""
    return markup.unescape(re.sub(r"<[^>]+>", "", page)).replace("\xa0", " ")


def results(root: Path, student: str) -> dict:
    return json.loads((root / "autograded" / student / "ps1" / "results.json").read_text())


def gradebook_totals(root: Path) -> dict[str, float]:
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return {who: gradebook.find_submission("ps1", who).score for who in STUDENTS}


def test_feedback_names_each_test_cell_with_its_points_and_error_and_no_hidden_test(ps1):
    root, _ = ps1
    page = (root / "autograder_feedback" / "bitdiddle" / "ps1" / "feedback.html").read_text()
    html = text_of(page)
    tests = results(root, "bitdiddle")["tests"]
    for test in tests:
        assert test["name"] in html
    for test in (test for test in tests if not test.get("manual")):
        assert f"{test['score']:g} / {test['max_score']:g}" in html
    assert "correct_squares: 0 of 1 point" in html
    assert "The test failed: AssertionError (one of its assertions does not hold for your code)." in html
    assert "squares(12)" not in page and "HIDDEN" not in page
    assert "written answer (part-a): 1 of 1 point" in html and "graded by your instructor, 1 of 1 point" in html
    assert "written answer (part-b): to be graded by your instructor" in html
    assert "2.5 of 6 points so far; 7 more points to be graded by your instructor" in html
    # a heading per notebook, its points summing to the total (the hand grade of part-a in problem2's)
    headings = re.findall(r"<h2>(problem\d\.ipynb): ([\d.]+) of ([\d.]+) points?", page)
    assert [name for name, _, _ in headings] == ["problem1.ipynb", "problem2.ipynb"]
    assert sum(float(score) for _, score, _ in headings) == results(root, "bitdiddle")["score"] + 1 == 2.5
    assert "problem2.ipynb: 1 of 1 point so far; 2 more points to be graded by your instructor" in html
    assert page.index("<h2>problem2.ipynb") < page.index("<h3>written answer (part-a)") and "not handed in" not in html


def test_autograded_notebooks_keep_the_hidden_test_out_and_serve_nbgrader_generate_feedback(ps1):
    root, _ = ps1
    for student in STUDENTS:
        for name in ("problem1.ipynb", "problem2.ipynb"):
            text = (root / "autograded" / student / "ps1" / name).read_text()
            nbformat.validate(nbformat.reads(text, as_version=4))
            assert "squares(12)" not in text
    graded = nbformat.read(str(root / "autograded" / "bitdiddle" / "ps1" / "problem1.ipynb"), as_version=4)
    test = next(cell for cell in graded.cells
                if cell.metadata.get("nbgrader", {}).get("grade_id") == "correct_squares")
    assert [output.output_type for output in test.outputs] == ["error"]
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", "ps1", "--student", "bitdiddle"],
                          cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "AssertionError" in (root / "feedback" / "bitdiddle" / "ps1" / "problem1.html").read_text()


def test_report_lists_the_student_who_bent_a_builtin_under_needs_attention(ps1):
    root, report = ps1
    attention = report.split("  needs attention:\n")[1].split("  suspiciously alike")[0].splitlines()
    assert [line.split(":")[0].strip() for line in attention if line.startswith("    ")] == ["mallory"]
    assert "changed what the tests rely on" in attention[0] and "abs" in attention[0]
    html = (root / "reports" / "ps1.html").read_text()
    attention = html.split("Students who need attention")[1].split("Suspiciously alike")[0]
    assert attention.count("<h3>") == 1 and "mallory</a></h3>" in attention
    # the builtin was put back before the tests: mallory keeps what hacker's code earns, no more
    assert results(root, "mallory")["score"] == results(root, "hacker")["score"]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:  # flagged for formgrader, both notebooks
        assert [notebook.flagged for notebook in gradebook.find_submission("ps1", "mallory").notebooks] == [True, True]
        assert not any(notebook.flagged for notebook in gradebook.find_submission("ps1", "hacker").notebooks)


def test_report_finds_the_copied_notebooks_alike(ps1):
    _, report = ps1
    pairs = report.split("suspiciously alike solution code")[1].splitlines()[1:]
    assert re.match(r"    copycat and hacker: 100% alike", pairs[0]), pairs


def test_exports_carry_each_students_total_equal_to_the_gradebooks(ps1):
    root, _ = ps1
    autograder(root, "export", "--format", "plain", "--to", root / "grades.csv")
    with open(root / "grades.csv", newline="") as file:
        rows = {row["student"]: (float(row["ps1"]), float(row["total"])) for row in csv.DictReader(file)}
    totals = gradebook_totals(root)
    assert rows == {who: (totals[who], totals[who]) for who in STUDENTS}
    assert totals["bitdiddle"] == results(root, "bitdiddle")["score"] + 1  # the hand grade counts


@pytest.mark.parametrize("width", (360, 1280))
def test_the_feedback_page_and_the_report_fit_a_phone_and_a_desktop(ps1, width, tmp_path):
    from headless_chromium import chromium, layout

    root, _ = ps1
    with chromium(width, 900) as browser:
        for name, page in (("feedback", root / "autograder_feedback" / "bitdiddle" / "ps1" / "feedback.html"),
                           ("report", root / "reports" / "ps1.html")):
            seen = layout(browser, page.as_uri())
            assert seen["width"] == width and seen["scrollWidth"] <= width and seen["wide"] == [], seen
            assert len(seen["figures"]) == (name == "report")  # the score histogram, whole
            assert all(left >= 0 and right <= width and box_width > 200 for left, right, box_width, *_ in
                       seen["figures"])
            browser.save_screenshot(str(tmp_path / f"{name}-{width}.png"))
            if name == "feedback":
                browser.execute_script("document.getElementById('notebook-problem2').scrollIntoView()")
                browser.save_screenshot(str(tmp_path / f"{name}-{width}-problem2.png"))
    print(f"screenshots in {tmp_path}")
