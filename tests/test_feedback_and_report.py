"""`autograder feedback` (a page per student) and `autograder report` (the class), on the graded sample class."""
import json
import re
import shutil
import subprocess
import sys
from collections import Counter

import pytest

from autograder.grading.batch import find_submissions, grade_batch
from autograder.results.model import SubmissionResult
from autograder.present.report import UNNAMED
from autograder.present.view import build
from make_class import EXPECTED

pytestmark = pytest.mark.slow  # grades a class in sandboxes once, then renders its pages (and a browser)

A2, A4 = "02-slopes-and-updates", "04-linear-regression"


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """The sample class's 02 and 04, graded into a fresh folder: (folder, {assignment: {student: result json}})."""
    folder = tmp_path_factory.mktemp("class")
    shutil.copytree(course.root / "samples" / "submitted", folder / "submitted")
    results = {}
    for assignment in (A2, A4):
        grade_batch(course, assignment, f"sqlite:///{folder / 'gradebook.db'}", 3, None,
                    find_submissions(course, assignment, folder / "submitted"),
                    autograded_root=folder / "autograded", progress=False)
        results[assignment] = {path.parent.parent.name: json.loads(path.read_text())
                               for path in (folder / "autograded").glob(f"*/{assignment}/results.json")}
    return folder, results


def autograder(*args, cwd):
    done = subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def pages(course, graded):
    folder, _ = graded
    autograder("feedback", A2, "--autograded", folder / "autograded", "--output", folder / "feedback", cwd=course.root)
    return {path.parent.parent.name: path.read_text() for path in (folder / "feedback").glob(f"*/{A2}/feedback.html")}


def test_results_json_is_written_for_every_submission(graded):
    _, results = graded
    for assignment in (A2, A4):
        assert {student: result["score"] for student, result in results[assignment].items()} == EXPECTED[assignment]


def test_feedback_writes_one_page_per_student_with_their_score(pages):
    assert set(pages) == set(EXPECTED[A2])
    for student, html in pages.items():
        assert f"{EXPECTED[A2][student]:g} of 9 points" in html
        for exercise in ("predict", "get_error", "get_slope", "update_weights", "train"):
            assert f">{exercise}: " in html


def test_feedback_pages_show_every_message_and_name_the_mistake(pages, graded):
    _, results = graded
    frances = _text(pages["frances_allen"])
    assert "It looks like you added the inputs and weights instead of multiplying them." in frances
    for exercise in build(SubmissionResult.from_json(results[A2]["frances_allen"])).exercises:
        for message in exercise.messages:
            assert message.text.replace("`", "") in frances and message.hint.replace("`", "") in frances


def test_feedback_pages_set_code_as_code_and_count_in_words(pages):
    frances = pages["frances_allen"]
    assert "<code>return</code>" in pages["grace_hopper"] or "<code>raise NotImplementedError()</code>" in \
        pages["grace_hopper"]
    assert "`" not in _text(frances).replace("```", "")
    for html in pages.values():
        assert " of 1 points" not in html and "1 of 1 point<" not in html.replace("1 of 1 point</h2>", "")
        assert "All 1 " not in html
    assert "predict: 1 of 1 point</h2>" in pages["emmy_noether"]
    assert _text(pages["emmy_noether"]).count("hidden checks passed") == 5


def test_feedback_pages_draw_the_loss_history_against_the_reference(pages):
    for student in ("emmy_noether", "frances_allen"):  # one right, one wrong train
        section = pages[student].split('id="check_train"')[1]
        assert section.count("<svg") == 1 and "The losses of train(" in _text(section)


def test_feedback_pages_work_offline(pages):
    for html in pages.values():
        assert "<script" not in html and "<link" not in html and "src=" not in html
        assert not re.search(r"(?:href|url)\(?=?['\"]?https?:", html)


def test_a_passed_exercise_says_so_and_a_stub_says_what_to_do(pages):
    assert "Every exercise works: well done." in pages["emmy_noether"]
    assert "train is not written yet" in pages["john_von_neumann"]


def test_report_counts_the_score_distribution_and_pass_rates(course, graded):
    folder, results = graded
    out = autograder("report", A2, "--autograded", folder / "autograded", "--output", folder / "report.html",
                     cwd=course.root)
    scores = Counter(int(score) for score in EXPECTED[A2].values())
    for points in range(10):
        assert re.search(rf"^\s+{points} \|[ #]+ {scores.get(points, 0)}$", out, re.M), points
    for exercise in ("predict", "get_error", "get_slope", "update_weights", "train"):
        passed = sum(test["score"] == test["max_score"] for result in results[A2].values()
                     for test in result["tests"] if test["name"] == f"check_{exercise}")
        assert re.search(rf"^\s+{exercise}\s+{passed}/12 ", out, re.M), exercise
    html = (folder / "report.html").read_text()
    assert html.count("<svg") == 1 and "<script" not in html


def test_report_lists_the_most_frequent_mistakes_with_counts(course, graded):
    folder, results = graded
    out = autograder("report", A2, "--autograded", folder / "autograded", "--output", folder / "report.html",
                     cwd=course.root)
    made = Counter((check["exercise"], check["mistake"]) for result in results[A2].values()
                   for test in result["tests"] for check in test.get("checks", []) if check.get("mistake"))
    students = Counter({key: sum(1 for result in results[A2].values() if any(
        (check["exercise"], check.get("mistake")) == key for test in result["tests"] for check in test.get("checks", [])))
        for key in made})
    assert students[("get_slope", "dropped the factor 2")] >= 1
    html = (folder / "report.html").read_text()
    rows = _mistake_rows(html)
    for (exercise, mistake), count in students.items():  # the page lists them all, the terminal the ten most frequent
        assert rows[exercise, mistake] == sorted(student for student, result in results[A2].items() if any(
            (check["exercise"], check.get("mistake")) == (exercise, mistake)
            for test in result["tests"] for check in test.get("checks", [])))
    (exercise, mistake), count = students.most_common(1)[0]
    assert re.search(rf"^\s+{count}\s+\w+: ", out.split("most frequent mistakes")[1], re.M)


def test_report_lists_known_mistakes_before_unnamed_failures(course, graded):
    folder, _ = graded
    autograder("report", A2, "--autograded", folder / "autograded", "--output", folder / "report.html",
               "--no-flag", cwd=course.root)
    kinds = [kind for _, kind in _mistake_rows((folder / "report.html").read_text())]
    unnamed = [index for index, kind in enumerate(kinds) if kind in UNNAMED or kind.startswith("raised an error")]
    assert unnamed and kinds[0] not in UNNAMED and unnamed == list(range(unnamed[0], len(kinds)))


def test_report_links_each_student_to_their_feedback_page(course, graded, pages):
    folder, _ = graded
    autograder("report", A2, "--autograded", folder / "autograded", "--output", folder / "reports" / "r.html",
               "--feedback", folder / "feedback", "--no-flag", cwd=course.root)
    html = (folder / "reports" / "r.html").read_text()
    links = set(re.findall(r'<a href="([^"]+)">(\w+)</a>', html))
    assert ("../feedback/frances_allen/02-slopes-and-updates/feedback.html", "frances_allen") in links
    assert all((folder / "reports" / href).resolve() == (folder / "feedback" / name / A2 / "feedback.html").resolve()
               for href, name in links)


def test_report_flags_the_submissions_that_need_attention_in_formgrader(course, graded):
    from nbgrader.api import Gradebook

    folder, _ = graded
    out = autograder("report", A2, "--autograded", folder / "autograded", "--output", folder / "r.html",
                     "--db", f"sqlite:///{folder / 'gradebook.db'}", cwd=course.root)
    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}") as gradebook:
        flagged = {notebook.student.id for notebook in gradebook.notebook_submissions("slopes_and_updates", A2)
                   if notebook.flagged}
    # exactly the students the report lists (a loaded machine can stop one more cell at its time limit)
    assert flagged == set(_attention(out)) >= {"alan_turing", "claude_shannon", "john_von_neumann"}
    assert "katherine_johnson" not in flagged and f"formgrader: {len(flagged)} submitted notebook(s) flagged" in out


def test_report_shows_the_copied_pair_side_by_side_and_no_other(course, graded):
    folder, results = graded
    out = autograder("report", A4, "--autograded", folder / "autograded", "--output", folder / "r4.html",
                     "--no-flag", cwd=course.root)
    html = (folder / "r4.html").read_text()
    # the disguised copy, on all its own code; and two students who wrote the same sse and the same wrong
    # sse_gradient (the sample's shared variants; one writes np.mean where the other writes np.sum, the reference's),
    # everything else as the reference: a short lead, said as such
    assert re.findall(r"^\s+(\w+) and (\w+): (\d+)% alike, resting on (\d+) of (\d+) lines", out, re.M) == [
        ("ada_lovelace", "margaret_hamilton", "100", "15", "15"), ("alan_turing", "grace_hopper", "96", "4", "4")]
    pair = html.split("Suspiciously alike solutions")[1]
    # each exercise side by side, the copied lines marked whatever the names
    assert pair.count('<pre>') == 8 + 4 and '<mark class="line">        my_total +=' in pair
    assert '<mark class="line">        total +=' in pair
    assert results[A4]["margaret_hamilton"]["score"] == results[A4]["ada_lovelace"]["score"] == 8  # no score change


def test_report_flags_the_students_who_need_attention(course, graded):
    folder, _ = graded
    out2 = autograder("report", A2, "--autograded", folder / "autograded", "--output", folder / "r2.html",
                      cwd=course.root)
    out4 = autograder("report", A4, "--autograded", folder / "autograded", "--output", folder / "r4.html",
                      cwd=course.root)
    attention2 = _attention(out2)
    assert "refers to the course's own files" in attention2["john_von_neumann"]        # read the hidden checks
    assert "ran longer than" in attention2["claude_shannon"]                # endless loop
    assert "ended the Python process" in attention2["alan_turing"]                    # crash
    attention4 = _attention(out4)
    # fake numbers: judged as the plain numbers they are (so they earn nothing), the cell defining them flagged
    assert "defines its own equality" in attention4["emmy_noether"]
    assert "emmy_noether" not in attention2 and "katherine_johnson" not in attention2  # honest, correct students


def test_feedback_and_report_refuse_an_ungraded_assignment(course, tmp_path):
    for verb in ("feedback", "report"):
        done = subprocess.run([sys.executable, "-m", "autograder", verb, A2, "--autograded", str(tmp_path)],
                              cwd=course.root, capture_output=True, text=True)
        assert done.returncode == 1 and f"autograder grade {A2}` first" in done.stderr


def _mistake_rows(html: str) -> dict[tuple[str, str], list[str]]:
    """(exercise, mistake) -> students named, from the report's table of frequent mistakes, in its order."""
    table = html.split("<h2>Most frequent mistakes</h2>")[1].split("</table>")[0]
    rows = {}
    for exercise, cell in re.findall(r'<tr><td class="number"[^>]*>\d+</td><td[^>]*>(.*?)</td><td[^>]*>(.*?)</td></tr>',
                                     table, re.S):
        exercise = _text(exercise)  # a name breaks only after its underscores (<wbr>)
        kind, names = re.split(r"<br>|</summary>", cell, maxsplit=1) if "<br>" in cell else cell.split("<details>", 1)
        names = names.split("</summary>")[-1]
        rows[exercise, _text(kind).strip()] = sorted(name.strip() for name in _text(names).split(","))
    return rows


def _text(html: str) -> str:
    import html as markup

    return markup.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<svg.*?</svg>", "", html, flags=re.S)))


def _attention(out: str) -> dict[str, str]:
    section = out.split("needs attention:")[1].split("HTML report:")[0]
    return dict(re.findall(r"^\s{4}(\w+): (.*)$", section, re.M))


def _escaped(text: str) -> str:
    import html

    return html.escape(text)


A1, WRITTEN = "01-gradient-descent", "learning_rate_too_large"


@pytest.fixture(scope="module")
def written(course, tmp_path_factory):
    """ada_lovelace's 01, graded into a fresh gradebook: her written answer waits for the instructor."""
    folder = tmp_path_factory.mktemp("written")
    shutil.copytree(course.root / "samples" / "submitted" / "ada_lovelace" / A1, folder / "submitted" / "ada_lovelace" / A1)
    db = f"sqlite:///{folder / 'gradebook.db'}"
    grade_batch(course, A1, db, 1, None, find_submissions(course, A1, folder / "submitted"),
                autograded_root=folder / "autograded", progress=False)
    return folder, db


def feedback_page(course, folder, db):
    autograder("feedback", A1, "--autograded", folder / "autograded", "--output", folder / "feedback", "--db", db,
               cwd=course.root)
    return (folder / "feedback" / "ada_lovelace" / A1 / "feedback.html").read_text()


def test_a_written_answer_not_graded_yet_is_not_counted_as_0_then_its_hand_grade_shows_everywhere(course, written):
    from nbgrader.api import Gradebook

    from autograder.lms.ags import gradebook_scores

    folder, db = written
    html = feedback_page(course, folder, db)
    assert "7 of 7 points so far; 2 more points to be graded by your instructor" in html
    assert "to be graded by your instructor" in html and "0 / 2" not in html
    report = autograder("report", A1, "--autograded", folder / "autograded", "--db", db,
                        "--output", folder / "report.html", cwd=course.root)
    assert "written answers to be graded by hand (formgrader): 1" in report

    with Gradebook(db) as gradebook:  # what formgrader does when the instructor grades the answer
        notebook = course.notebook(A1).removesuffix(".ipynb")
        grade = gradebook.find_grade(WRITTEN, notebook, A1, "ada_lovelace")
        grade.manual_score, grade.needs_manual_grade = 1.5, False
        gradebook.find_comment(WRITTEN, notebook, A1, "ada_lovelace").manual_comment = "Right idea; say why it diverges."
        gradebook.db.commit()

    html = feedback_page(course, folder, db)
    assert "8.5 of 9 points" in html and "so far" not in html
    assert "graded by your instructor, 1.5 of 2 points. Comment: Right idea; say why it diverges." in html
    report = autograder("report", A1, "--autograded", folder / "autograded", "--db", db,
                        "--output", folder / "report2.html", cwd=course.root)
    assert "to be graded by hand" not in report and "mean 8.50" in report
    (score,), _ = gradebook_scores(db, A1, {})
    assert (score.score, score.max_score, score.grading_progress()) == (8.5, 9.0, "FullyGraded")
    assert score.comment().endswith(f"Comment on {WRITTEN}: Right idea; say why it diverges.")


def test_feedback_shows_partial_credit_check_by_check(course, graded):
    folder, results = graded
    autograder("feedback", A4, "--autograded", folder / "autograded", "--output", folder / "feedback", cwd=course.root)
    partial = {student: result for student, result in results[A4].items()
               if any(0 < test["score"] < test["max_score"] for test in result["tests"])}
    assert partial, "the sample class has partly right exercises"
    for student, result in partial.items():
        html = (folder / "feedback" / student / A4 / "feedback.html").read_text()
        test = next(test for test in result["tests"] if 0 < test["score"] < test["max_score"])
        assert f"{test['score']:g} of {test['max_score']:g} points" in html
        assert "&#10007;" in html and "points)</li>" in html


def test_the_sample_pages_and_report_fit_a_phone_and_show_every_figure(course, graded, pages):
    from headless_chromium import chromium, layout
    from test_pages import assert_fits

    folder, _ = graded
    autograder("report", A4, "--autograded", folder / "autograded", "--output", folder / "phone.html", "--no-flag",
               cwd=course.root)
    with chromium(360) as browser:
        for student in ("frances_allen", "john_von_neumann"):
            assert_fits(layout(browser, (folder / "feedback" / student / A2 / "feedback.html").as_uri()),
                        figures=pages[student].count("<svg"))
        assert_fits(layout(browser, (folder / "phone.html").as_uri()), figures=1)
