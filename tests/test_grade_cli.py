"""`autograder grade` on nbgrader's layout: the gradebook, the JSON report, regrading, and nbgrader's own
tools working on the result."""
import json
import os
import re
import subprocess
import sys

import pytest
from nbgrader.api import Gradebook

from builders import inserted, release, replaced, solution, write
from course_files import copy_course

pytestmark = pytest.mark.slow  # autograder grade in sandboxes

A1 = "01-gradient-descent"


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def graded(tmp_path_factory, course):
    """A course with four 01 submissions, graded once by `autograder grade`."""
    root = copy_course(tmp_path_factory.mktemp("grade") / "course")
    answered = solution(course, A1)
    submissions = {
        "ann": answered,
        "bob": replaced(answered, "df", "def df(x):\n    return x - 3\n"),
        "cy": release(course, A1),
        "dee": inserted(answered, "gradient_descent", "import os\nos._exit(3)\n"),
    }
    for student, notebook in submissions.items():
        write(notebook, root / "submitted" / student / A1 / "gradient_descent.ipynb")
    (root / "submitted" / "ann" / A1 / "timestamp.txt").write_text("2026-11-20 17:05:00.000000 UTC")
    done = run("autograder", "grade", A1, "--json", "report.json", "--workers", "2", cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    return root, done


def test_summary_shows_counts_scores_and_slowest(graded):
    _, done = graded
    assert "01-gradient-descent: 4 submissions in" in done.stdout
    assert "graded: 4   errors: 0" in done.stdout
    assert "score: mean 5.00, median 6.50 (out of 7 autograded; 2 by hand)" in done.stdout
    assert done.stdout.startswith("Starting 2 sandboxes (a first start on this machine can take some 20 s), then "
                                  "grading ...\n")  # was: silent until the first result
    total = float(re.search(r"4 submissions in ([\d.]+) s", done.stdout).group(1))
    slowest = re.search(r"slowest, each within those ([\d.]+) s: (.*)", done.stdout)
    assert float(slowest.group(1)) == total
    assert all(float(seconds) <= total for seconds in re.findall(r" ([\d.]+) s", slowest.group(2)))


def test_json_report_has_one_entry_per_submission(graded):
    root, _ = graded
    report = {entry["student"]: entry for entry in json.loads((root / "report.json").read_text())}
    assert {student: entry["score"] for student, entry in report.items()} == {"ann": 7, "bob": 6, "cy": 0, "dee": 7}
    assert any("ended the Python process" in note for note in report["dee"]["notes"])
    ann = report["ann"]
    assert (ann["assignment"], ann["max_score"], ann["status"]) == (A1, 9, "graded")
    assert [test["name"] for test in ann["tests"]] == ["check_df", "check_gradient_descent_update",
                                                       "check_gradient_descent", "check_max_stable_learning_rate",
                                                       "learning_rate_too_large"]
    bob_df = report["bob"]["tests"][0]
    assert (bob_df["score"], bob_df["max_score"]) == (0, 1)
    assert "It looks like you dropped the factor 2" in bob_df["output"]


def test_gradebook_holds_every_score_and_flags_the_written_answer(graded):
    root, _ = graded
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        assert sorted(student.id for student in gradebook.students) == ["ann", "bob", "cy", "dee"]
        scores = {s: gradebook.find_submission_notebook("gradient_descent", A1, s).score for s in ("ann", "bob", "cy")}
        assert scores == {"ann": 7, "bob": 6, "cy": 0}
        answer = gradebook.find_grade("learning_rate_too_large", "gradient_descent", A1, "ann")
        assert answer.auto_score is None and answer.needs_manual_grade
        untouched = gradebook.find_grade("learning_rate_too_large", "gradient_descent", A1, "cy")
        assert untouched.auto_score == 0 and not untouched.needs_manual_grade
        assert str(gradebook.find_submission(A1, "ann").timestamp) == "2026-11-20 17:05:00"


def test_regrading_replaces_and_keeps_manual_grades(graded, tmp_path):
    root, _ = graded
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        gradebook.find_grade("learning_rate_too_large", "gradient_descent", A1, "ann").manual_score = 2
        gradebook.db.commit()
    done = run("autograder", "grade", A1, "--no-progress", cwd=root)
    assert done.returncode == 0, done.stderr
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        assert len(gradebook.assignment_submissions(A1)) == 4
        assert gradebook.find_submission_notebook("gradient_descent", A1, "ann").score == 9
        assert len(gradebook.find_submission_notebook("gradient_descent", A1, "ann").grades) == 5


def test_nbgrader_export_reads_our_gradebook(graded):
    root, _ = graded
    done = run("nbgrader", "export", "--to", "grades.csv", cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = (root / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("assignment,duedate,timestamp,student_id")
    assert any(row.startswith(f"{A1},") and ",bob," in row and ",6.0," in row for row in rows[1:])


def test_nbgrader_generate_feedback_works_on_our_results(graded):
    root, _ = graded
    done = run("nbgrader", "generate_feedback", A1, "--force", cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    html = (root / "feedback" / "bob" / A1 / "gradient_descent.html").read_text()
    assert "It looks like you dropped the factor 2" in html
    assert "BEGIN HIDDEN TESTS" not in html


def test_one_notebook_is_graded_and_printed(course, tmp_path):
    path = write(replaced(solution(course, A1), "df", "def df(x):\n    return x - 3\n"), tmp_path / "mine.ipynb")
    done = run("autograder", "grade", A1, str(path), cwd=course.root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("mine / 01-gradient-descent: 6 of 9 points")
    assert "check_df: 0/1" in done.stdout and "It looks like you dropped the factor 2" in done.stdout


def test_without_bubblewrap_grading_works_and_warns(course):
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", A1, str(course.source_notebook(A1))],
                          cwd=course.root, capture_output=True, text=True,
                          env={**os.environ, "AUTOGRADER_ISOLATION": "processes"})
    assert done.returncode == 0, done.stderr
    assert "WARNING autograder.engine.sandbox: isolation is reduced" in done.stderr
    assert "7 of 9 points" in done.stdout


def test_unknown_assignment_is_refused(course):
    done = run("autograder", "grade", "05-transformers", cwd=course.root)
    assert done.returncode == 2 and "Unknown assignment '05-transformers'" in done.stderr


def test_late_submissions_get_nbgrader_s_configured_penalty(course, tmp_path):
    """As `nbgrader autograde` (AssignLatePenalties): with penalty_method "zero", a notebook submitted after the
    due date loses its whole score, one submitted on time keeps it, and exports give the LMS what is left."""
    root = copy_course(tmp_path / "course")
    with open(root / "course_config.py", "a") as config:
        config.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    done = run("nbgrader", "db", "assignment", "add", A1, "--duedate=2026-11-20 17:00:00 UTC", cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    for student, stamp in (("early", "2026-11-20 16:59:00"), ("late", "2026-11-20 17:05:00")):
        write(solution(course, A1), root / "submitted" / student / A1 / "gradient_descent.ipynb")
        (root / "submitted" / student / A1 / "timestamp.txt").write_text(f"{stamp}.000000 UTC")
    done = run("autograder", "grade", A1, "--no-progress", cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        early = gradebook.find_submission_notebook("gradient_descent", A1, "early")
        late = gradebook.find_submission_notebook("gradient_descent", A1, "late")
        assert (early.score, early.late_submission_penalty) == (7, None)
        assert (late.score, late.late_submission_penalty) == (7, 7)
    done = run("autograder", "export", "--format", "plain", cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    others = "," * (len(course.assignments) - 1)  # the columns of the assignments not graded here
    assert (root / "grades.csv").read_text().splitlines()[1:] == [f"early,7{others},7", f"late,0{others},0"]


def test_all_grades_every_assignment_in_one_run(course, tmp_path):
    root = copy_course(tmp_path / "course")
    A2 = "02-slopes-and-updates"
    write(solution(course, A1), root / "submitted" / "ann" / A1 / "gradient_descent.ipynb")
    write(release(course, A2), root / "submitted" / "ann" / A2 / course.notebook(A2))
    write(solution(course, A2), root / "submitted" / "bob" / A2 / course.notebook(A2))
    done = run("autograder", "grade", "--all", "--json", "all.json", "--no-progress", cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "01-gradient-descent: 1 submissions" in done.stdout and "02-slopes-and-updates: 2 submissions" in done.stdout
    report = {(entry["student"], entry["assignment"]): entry["score"]
              for entry in json.loads((root / "all.json").read_text())}
    assert report == {("ann", A1): 7, ("ann", A2): 0, ("bob", A2): 9}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        assert gradebook.find_submission_notebook("gradient_descent", A1, "ann").score == 7
        assert gradebook.find_submission_notebook(course.notebook(A2).removesuffix(".ipynb"), A2, "bob").score == 9
    again = run("autograder", "grade", "--all", "--no-progress", cwd=root)
    assert again.returncode == 0 and again.stdout.count("skipped, already graded") == 2, again.stdout
    # was: "12 submissions in 0.1 s (0.0 per second)" for a resumed run, "0 submissions" without saying where
    assert f"{A2}: nothing new to grade: 2 already graded, unchanged since\n" in again.stdout
    assert (f"03-backpropagation: no submissions found in {root / 'submitted'} (looked for <student>/"
            "03-backpropagation/backpropagation.ipynb)\n") in again.stdout


def test_grade_needs_an_assignment_or_all(course):
    done = run("autograder", "grade", cwd=course.root)
    assert done.returncode == 2 and "name one ASSIGNMENT, or give --all" in done.stderr
