"""What the tools print and show can be trusted: scores with at most two decimals everywhere (the gradebook keeps
full precision), the demo's table aligned at any score with a legend that says what its marks mean, timings that
agree with each other, and a plain line for a resumed run or a batch that found nothing."""
import re
from pathlib import Path
from types import SimpleNamespace

from hypothesis import example, given
from hypothesis import strategies as st

from autograder.results import scores
from autograder.grading.batch import BatchSummary
from autograder.demo import ERROR, LEGEND, STOPPED, mark, table_lines
from autograder.lms.ags import StudentScore
from autograder.results.scores import count, points
from autograder.present.pages import environment
from autograder.web.results import Standing

PACKAGE = Path(scores.__file__).resolve().parent
ANY_SCORE = st.floats(min_value=0, max_value=1000, allow_nan=False)


@given(ANY_SCORE)
def test_a_score_has_at_most_two_decimals_and_is_the_nearest_such_number(number):
    shown = scores.score(number)
    assert re.fullmatch(r"\d+(\.\d?[1-9])?", shown), shown  # no trailing zero, no "-0"
    assert abs(float(shown) - number) <= 0.005 + 1e-9


def test_scores_as_the_issue_shows_them():
    assert [scores.score(x) for x in (2.6666667, 8.0, 8.333333, 0.5, 0.6666667, -1e-9)] == [
        "2.67", "8", "8.33", "0.5", "0.67", "0"]
    assert scores.fraction(2.6666667, 9) == "2.67/9"
    assert points(2.6666667, 7) == "2.67 of 7 points" and points(1, 1) == "1 of 1 point"
    assert count(0.6666667, "more point") == "0.67 more points"


def test_feedback_pages_lms_comments_and_service_pages_show_two_decimals():
    page = environment().from_string(
        "{{ got | g }} / {{ top | g }}, {{ top | count('point') }}, {{ got | points(top) }}")
    assert page.render(got=0.6666667, top=2.3333333) == "0.67 / 2.33, 2.33 points, 0.67 of 2.33 points"
    comment = StudentScore("ada", None, 2.6666667, 7.0, 0.0, (("df", 0.6666667, 2.0),)).comment()
    assert comment.startswith("2.67 of 7 points. df 0.67/2")
    assert Standing(8.3333333, 12, 0, 0, True).summary() == "8.33 of 12 points"
    assert (Standing(8.3333333, 12, 2.5, 1.1111, True).summary() == "7.22 of 9.5 points so far (8.33 earned, less "
            "a late-submission penalty of 1.11); 2.5 more points to be graded by your instructor")


def test_no_template_formats_a_score_with_printf():
    """'%g' shows 2.66667: pages use the `g` (feedback, report) or `score` (service) filter instead."""
    for template in [*PACKAGE.glob("templates/*.html"), *PACKAGE.glob("web/templates/**/*.html")]:
        text = template.read_text()
        assert not re.search(r"'%g' % [\w.]*score", text), template
        assert not re.search(r"'%g' % (median|report\.max_score)", text), template


student_ids = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz_0123456789"), min_size=1, max_size=40)
entries = st.builds(lambda earned, top, flag: scores.fraction(earned, top) + flag,
                    ANY_SCORE, st.floats(min_value=0.5, max_value=1000), st.sampled_from(["", ERROR, STOPPED]))


@given(st.dictionaries(student_ids, st.lists(st.one_of(entries, st.just("-")), min_size=4, max_size=4),
                       min_size=1, max_size=8))
def test_the_demo_table_keeps_its_columns_apart_and_aligned_at_any_score_and_name(rows):
    assignments = ["01-gradient-descent", "02-slopes-and-updates", "03-backpropagation", "04-linear-regression"]
    table = {student: dict(zip(assignments, marks)) for student, marks in rows.items()}
    lines = table_lines(table, assignments)
    header, body = lines[0], lines[1:1 + len(rows)]

    def cells(line):  # (text, end column) of each cell, found in the line
        return [(found.group(), found.end()) for found in re.finditer(r"\S+", line)]

    ends = [end for _, end in cells(header)[1:]]
    for student, line in zip(sorted(rows), body):
        found = cells(line)
        assert [text for text, _ in found] == [student, *rows[student]]  # nothing ran together
        assert [end for _, end in found[1:]] == ends  # right-aligned under the header
        gaps = re.findall(r"(?<=\S)( +)(?=\S)", line)
        assert all(len(gap) >= 2 for gap in gaps)


def test_the_legend_names_only_the_marks_the_table_has_and_says_what_they_mean():
    result = SimpleNamespace(score=2.6666667, max_score=9, status="graded", notes=[])
    assert mark(result) == "2.67/9"
    assert mark(SimpleNamespace(score=0, max_score=9, status="error", notes=[])) == "0/9!"
    assert mark(SimpleNamespace(score=7, max_score=9, status="graded", notes=["Cell 4 was stopped"])) == "7/9*"
    clean = table_lines({"ada": {"01-gradient-descent": "9/9"}}, ["01-gradient-descent"])
    assert clean == ["student   01", "ada      9/9"]
    stopped = table_lines({"ada": {"01-gradient-descent": "7/9*"}}, ["01-gradient-descent"])
    assert stopped[-1] == LEGEND[STOPPED] and "a cell was stopped" in stopped[-1]
    errored = table_lines({"ada": {"01-gradient-descent": "0/9!"}}, ["01-gradient-descent"])
    assert errored[-1] == LEGEND[ERROR] == "! could not be graded (counted in the summaries' errors)"


def result(student, seconds, score=1.0, max_score=7.0):
    return SimpleNamespace(student=student, seconds=seconds, score=score, max_score=max_score, status="graded", flags=[])


@given(st.lists(st.tuples(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=30)),
                min_size=1, max_size=20))
@example(arrivals=[(33.0, 0.05)])  # 33.0 - (33.0 - 0.05) is a hair under 0.05: the total showed 0.0, the notebook 0.1
def test_no_notebook_took_longer_than_its_assignment(arrivals):
    summary = BatchSummary("03-backpropagation", max_score=7.0)
    clock = 0.0
    for index, (wait, seconds) in enumerate(arrivals):
        clock += wait
        summary.add(result(f"s{index}", seconds), arrived=clock)
    assert max(seconds for _, seconds in arrivals) <= summary.seconds + 1e-9
    first, *_, slowest = summary.lines()
    total = float(re.search(r"in ([\d.]+) s", first).group(1))
    assert all(float(seconds) <= total for seconds in re.findall(r" ([\d.]+) s", slowest.split(":", 1)[1]))
    assert slowest.startswith(f"  slowest, each within those {total:.1f} s: ")


def test_the_issue_s_timings_now_agree():
    """Was: "12 submissions in 6.7 s" beside "slowest: ada_lovelace 8.57 s" (its time counted from the end of the
    assignment before)."""
    summary = BatchSummary("03-backpropagation", max_score=7.0)
    summary.add(result("ada_lovelace", 8.57), arrived=100.0)
    for index in range(11):
        summary.add(result(f"student{index}", 1.0), arrived=101.0 + 0.5 * index)
    first, _, _, slowest = summary.lines()
    assert first == "03-backpropagation: 12 submissions in 14.6 s (0.8 notebooks per second)"
    assert slowest.startswith("  slowest, each within those 14.6 s: ada_lovelace 8.6 s, ")


def test_a_resumed_run_with_nothing_new_says_so():
    summary = BatchSummary("01-gradient-descent", max_score=7.0)
    for index in range(12):
        summary.add_skipped({"score": 2.0})
    assert summary.lines()[:2] == ["01-gradient-descent: nothing new to grade: 12 already graded, unchanged since",
                                   "  graded: 0   errors: 0   skipped, already graded: 12"]
    assert "per second" not in "\n".join(summary.lines())


def test_a_batch_that_found_nothing_says_where_it_looked(tmp_path):
    summary = BatchSummary("01-gradient-descent", folder=tmp_path / "submitted", notebook="gradient_descent.ipynb")
    assert summary.lines() == [f"01-gradient-descent: no submissions found in {tmp_path / 'submitted'} (looked for "
                               "<student>/01-gradient-descent/gradient_descent.ipynb)"]


def test_scores_in_the_summary_have_at_most_two_decimals():
    summary = BatchSummary("01-gradient-descent", max_score=7.6666667, by_hand=1.0)
    summary.add(result("ada", 1.0, score=2.6666667, max_score=7.6666667), arrived=1.0)
    assert summary.lines()[2] == "  score: mean 2.67, median 2.67 (out of 6.67 autograded; 1 by hand)"
