"""The feedback page and the class report from their templates: every width, bad input, a class of 2,000."""
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.present import pages
from autograder.results.model import CheckResult, Figure, Series
from autograder.present.feedback import render_feedback
from autograder.results.model import SubmissionResult
from autograder.results.model import TestResult as ExerciseResult
from autograder.present.report import ClassReport, render_report
from autograder.present.similarity import similar_pairs
from headless_chromium import chromium, layout

A2 = "02-slopes-and-updates"
LOSSES = Figure("The losses of train(...)", "update", "loss",
                (Series("reference", (1.0, 2.0, 3.0), (4.0, 2.0, 1.0)), Series("yours", (1.0, 2.0, 3.0), (4.0, 3.0, 2.5))))


def result(student="ada", message="get_slope(`x`) returned 2, but 4 was expected.", figures=(), score=0.0,
           mistake="dropped the factor 2", notes=()):
    check = CheckResult("test_get_slope_on_new_inputs", "get_slope", False, message, mistake, tuple(figures))
    passed = CheckResult("test_predict_on_new_inputs", "predict", True, "")
    return SubmissionResult(student, A2, score, 3.0, "graded", tests=[
        ExerciseResult("check_predict", 1.0, 1.0, "The check passed.", checks=(passed,)),
        ExerciseResult("check_get_slope", 0.0, 2.0, f"- {message}", checks=(check,))], notes=list(notes))


def test_a_result_without_figures_renders_without_svg():
    html = render_feedback(result())
    assert "<svg" not in html and "get_slope: 0 of 2 points</h2>" in html and "predict: 1 of 1 point</h2>" in html


def test_a_student_name_and_message_with_html_are_text():
    html = render_feedback(result(student="<script>alert(1)</script>", message="<img src=x onerror=alert(1)> `<b>`"))
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<code>&lt;b&gt;</code>" in html


def test_a_message_of_a_megabyte_is_cut_and_the_page_stays_small():
    html = render_feedback(result(message="x" * 1_000_000))
    assert len(html) < 50_000 and f"{1_000_000 - pages.MAX_MESSAGE_CHARS:,} more characters not shown" in html


def test_backticks_become_code_and_an_unmatched_one_stays_text():
    assert pages.segments("use `-=` here") == [("use ", False), ("-=", True), (" here", False)]
    assert pages.segments("a ` b") == [("a ` b", False)]
    assert pages.segments("fit(np.array([1, 2]), 0.1) returned (1, 2), not (for example) 3") == [
        ("fit(np.array([1, 2]), 0.1)", True), (" returned (1, 2), not (for example) 3", False)]
    assert pages.count(1, "point") == "1 point" and pages.points(1, 1) == "1 of 1 point"
    assert pages.points(0.5, 2) == "0.5 of 2 points"


def test_a_course_template_overrides_the_packages(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "feedback.html").write_text(
        '{% extends "base.html" %}{% block body %}<p>Our course: {{ result.student }}</p>{% endblock %}')
    html = render_feedback(result(student="<ada>"), tmp_path)
    assert "<p>Our course: &lt;ada&gt;</p>" in html and 'name="viewport"' in html


def test_axes_span_both_paths_not_the_background_curve():
    grid = tuple(x / 10 for x in range(0, 101))
    figure = Figure("path", "x", "loss", (Series("loss", grid, tuple((x - 5) ** 2 for x in grid), "curve"),
                                          Series("reference path", (3.4, 3.5, 3.55), (2.6, 2.2, 2.1), "path"),
                                          Series("your path", (3.4, 3.46), (2.6, 2.4), "path")))
    low, high = pages.draw(figure).axes[0].get_xlim()
    assert 3.3 < low < 3.4 and 3.55 < high < 3.6


def test_counts_get_whole_ticks_and_a_histogram_every_score():
    ticks = pages.draw(LOSSES).axes[0].get_xticks()
    assert all(float(tick).is_integer() for tick in ticks)
    histogram = Figure("scores", "points", "students", (Series("students", tuple(map(float, range(10))),
                                                               (0, 1, 0, 0, 2, 0, 0, 0, 0, 5.0), "bar"),))
    axes = pages.draw(histogram).axes[0]
    assert list(axes.get_xticks()) == list(range(10))
    assert all(float(tick).is_integer() for tick in axes.get_yticks())


def test_renamed_reformatted_code_is_found_alike_and_different_code_is_not():
    original = ("def total(values, weights):\n    result = 0.0\n    for value, weight in zip(values, weights):\n"
                "        result += (value * weight - 1) ** 2 / (abs(weight) + 1)\n"
                "    spread = max(values) - min(values)\n    return result / len(values) + spread * 0.5, spread\n")
    copied = ("# mine\ndef total(values, weights):\n    acc=0.0\n    for v,w in zip(values,weights):  # each\n"
              "        acc+=(v*w-1)**2/(abs(w)+1)\n"
              "    s=max(values)-min(values)\n    return acc/len(values)+s*0.5,s\n")
    other = "def total(values):\n    import numpy as np\n    return float(np.mean(np.square(values))) + np.ptp(values)\n"
    pairs = similar_pairs({"ada": original, "bob": copied, "cy": other}, given=[])
    assert [(pair.first, pair.second) for pair in pairs] == [("ada", "bob")] and pairs[0].percent >= 80


def test_the_given_code_and_a_stub_do_not_make_a_pair():
    given = "def total(values):\n    raise NotImplementedError()\n"
    assert similar_pairs({"ada": given, "bob": given, "cy": given}, given=[given]) == []


def _class(n: int) -> ClassReport:
    report = ClassReport(A2)
    for number in range(n):
        report.add(result(f"student_{number:04d}", score=float(number % 4),
                          mistake=("dropped the factor 2", "flipped the sign", None)[number % 3],
                          notes=[f"Cell {number % 30} ran longer than 5 seconds."] if number % 50 == 0 else ()))
    return report


def test_a_class_of_one_renders(tmp_path):
    html = render_report(_class(1), tmp_path, tmp_path)
    assert "1 submission," in html and "student_0000" in html and html.count("<svg") == 1


def test_a_class_of_2000_renders_in_under_5_seconds_and_10_megabytes(tmp_path):
    report = _class(2000)
    started = time.process_time()  # CPU time: the render's own cost, not the other work of a loaded machine
    html = render_report(report, tmp_path, tmp_path)
    seconds = time.process_time() - started
    assert seconds < 5 and len(html.encode()) < 10_000_000, (seconds, len(html))
    assert "2000 submissions," in html and html.count("student_1999") >= 1


@pytest.fixture(scope="module")
def browser():
    with chromium(360) as driver:
        yield driver


@pytest.mark.slow
def test_a_feedback_page_fits_360_pixels_and_shows_its_figures(tmp_path, browser):
    page = tmp_path / "feedback.html"
    page.write_text(render_feedback(result(student="a_very_long_student_name_" * 4, message=(
        "fit(np.array([-1.07, -1.21, -0.55, 1.51, 2.7, -1.8, -2.84, 0.5, ...]), np.array([0.55, 0.21, ...]), 0.002, "
        "28) returned (0.2645, 0.000395893), but `np.array([0.335288,0.0223586,0.0223586,0.0223586,0.0223586])`"
        " was expected."), figures=(LOSSES, LOSSES), notes=["Cell 3 ran longer. It begins with `" + "x" * 200 + "`."])))
    seen = layout(browser, page.as_uri())
    assert_fits(seen, figures=2)


def assert_fits(seen: dict, figures: int):
    assert seen["width"] == 360 and seen["scrollWidth"] <= 360, seen
    assert seen["wide"] == [], seen["wide"]
    assert len(seen["figures"]) == figures
    for left, right, width, height, visibility in seen["figures"]:
        assert left >= 0 and right <= 360 and width > 200 and height > 100 and visibility == "visible"


MESSAGE = pages.environment().from_string('{% from "macros.html" import message %}{{ message(text) }}')


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_any_message_renders_as_escaped_text_with_code_spans(text):
    from markupsafe import escape

    parts = pages.segments(text)
    html = MESSAGE.render(text=text)
    assert re.sub(r"</?code>", "", html) == str(escape("".join(part for part, _ in parts)))
    assert html.count("<code>") == sum(is_code for _, is_code in parts)
    assert "".join(part for part, _ in parts) == (text.replace("`", "") if text.count("`") % 2 == 0 else
                                                   text[:text.rindex("`")].replace("`", "") + text[text.rindex("`"):])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), max_size=20))
def test_a_check_cells_numbers_come_out_to_6_digits_and_8_entries(numbers):
    from autograder.results.wording import in_our_style

    text = in_our_style(f"f(x) gave {[float(number) for number in numbers]!r}, but [1.0] was expected.")
    shown = re.search(r"returned \[(.*)\], but", text).group(1)
    entries = [entry for entry in shown.split(", ") if entry]
    assert len(entries) == min(len(numbers), 8) + (len(numbers) > 8)
    for entry, number in zip(entries[:8], numbers):
        digits = entry.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
        assert abs(float(entry) - number) <= abs(number) * 1e-5 and len(digits) <= 6


def test_a_notebook_that_could_not_be_graded_says_why_once():
    from autograder.grading.grade import AssignmentSpec, Exercise
    from autograder.results.model import error_result

    spec = AssignmentSpec(A2, "slopes.ipynb", (Exercise("check_predict", "predict", ("predict",), 1.0),), {}, {},
                          frozenset())
    html = render_feedback(error_result(spec, "<ada>", "The notebook could not be opened: `not JSON`."))
    assert html.count("could not be opened") == 1 and "<code>not JSON</code>" in html and "&lt;ada&gt;" in html
