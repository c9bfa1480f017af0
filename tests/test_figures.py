"""Cheaper figures with the same information (issue 24 item 3). Fast: no sandbox; the sandbox's own module renders.

- Formgrader figures (a student's plotting cell, displayed in the sandbox): drawn once at the figure's own size (no
  tight bounding box, which draws twice), log-axis tick labels as plain text at the ticks matplotlib labels, a
  formatter the student chose kept.
- Feedback figures (the student's curve against the reference's, SVG): a fixed layout that keeps every text inside
  the figure, and a reused figure per kind and thread that draws exactly what a new figure draws.
"""
import io
import re
import threading

import matplotlib

matplotlib.use("agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib import rc_context  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.image import imread  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation  # noqa: E402

from autograder.present import pages
from autograder.engine import sandboxed  # noqa: E402
from autograder.results.model import Figure, Series  # noqa: E402

SUPERSCRIPT_DIGITS = str.maketrans("\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079", "-0123456789")


@pytest.fixture(scope="module")
def shell():
    """The sandbox's shell, as a child of the zygote has it: its display formatter renders a student's figures."""
    shell = sandboxed.new_shell()
    yield shell
    type(shell).clear_instance()


def losses_figure():
    """02's plotting cell: training losses on a log axis."""
    figure = plt.figure(figsize=(6, 4))
    plt.semilogy(np.arange(1, 31), 36 * 0.5 ** np.arange(30), "o-", markersize=4)
    plt.xlabel("number of updates")
    plt.ylabel("squared error after the update (log scale)")
    return figure


def tick_labels(axis) -> list[tuple[float, str]]:
    return [(tick.get_loc(), tick.label1.get_text()) for tick in axis.get_major_ticks() if tick.label1.get_text()]


def value_of(label: str) -> float:
    """A plain log tick label read back as a number: 10⁻³, 2×10⁴, −10²."""
    label = label.replace("\u2212", "-")
    coefficient, _, power = label.rpartition("\u00d7") if "\u00d7" in label else ("1", "", label)
    sign = -1 if power.startswith("-") else 1
    base, exponent = power.lstrip("-")[:2], power.lstrip("-")[2:].translate(SUPERSCRIPT_DIGITS)
    return sign * float(coefficient) * float(base) ** int(exponent)


def test_a_students_log_axis_figure_is_drawn_once_with_plain_text_ticks(shell):
    figure = losses_figure()
    png = shell.display_formatter.formatters["image/png"](figure)
    image = imread(io.BytesIO(png), format="png")
    # the figure's own size at 60 dpi: a tight bounding box would have cut it to the drawn area's
    assert image.shape[:2] == (4 * sandboxed.FIGURE_DPI, 6 * sandboxed.FIGURE_DPI)
    labels = tick_labels(figure.axes[0].yaxis)
    assert len(labels) >= 4 and not any("$" in text for _, text in labels)  # mathtext is what cost 40 %
    assert all(value_of(text) == pytest.approx(location) for location, text in labels)
    assert "10\u2070" in [text for _, text in labels]  # 1, as matplotlib writes it: 10 to the power 0
    # the same ticks carry labels as with matplotlib's own formatter
    default = losses_figure()
    default.canvas.draw()
    assert [location for location, _ in tick_labels(default.axes[0].yaxis)] == [location for location, _ in labels]
    plt.close("all")


def test_a_formatter_the_student_chose_is_kept(shell):
    figure = losses_figure()
    mine = FuncFormatter(lambda value, position: f"{value:.0e}")
    figure.axes[0].yaxis.set_major_formatter(mine)
    shell.display_formatter.formatters["image/png"](figure)
    assert figure.axes[0].yaxis.get_major_formatter() is mine
    plt.close(figure)


def test_a_figure_without_axes_shows_nothing(shell):
    assert shell.display_formatter.formatters["image/png"](plt.figure()) is None
    plt.close("all")


@given(st.integers(1, 9), st.integers(-15, 15), st.booleans())
def test_plain_log_labels_name_the_tick_they_label(coefficient, exponent, negative):
    formatter = sandboxed.PlainLogFormatter(10, labelOnlyBase=False)
    value = (-1 if negative else 1) * coefficient * 10.0 ** exponent
    label = formatter.plain(value)
    assert "$" not in label and value_of(label) == pytest.approx(value)
    assert bool(formatter(value)) == bool(LogFormatterSciNotation(10, labelOnlyBase=False)(value))


def loss_histories(rate: float) -> Figure:
    steps = tuple(float(k) for k in range(1, 21))
    return Figure("The losses of train(...)", "number of updates", "loss",
                  (Series("reference", steps, tuple(36 * 0.7 ** k for k in steps)),
                   Series("yours", steps, tuple(36 * rate ** k for k in steps))))


def descent_path(scale: float) -> Figure:
    grid = tuple(float(x) for x in np.linspace(-0.5, 6.5, 80))
    ours = tuple(float(3 - 3 * 0.6 ** k) for k in range(8))
    theirs = tuple(float(3 - 3 * 0.5 ** k) for k in range(8))
    return Figure("path", "x", "loss f(x)", (
        Series("loss", grid, tuple(scale * (x - 3) ** 2 for x in grid), "curve"),
        Series("reference path", ours, tuple(scale * (x - 3) ** 2 for x in ours), "path"),
        Series("your path", theirs, tuple(scale * (x - 3) ** 2 for x in theirs), "path")))


def svg_text(canvas) -> str:
    buffer = io.StringIO()
    with rc_context({"svg.hashsalt": "fixed"}):
        canvas.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


@pytest.mark.parametrize("kind", [loss_histories, descent_path])
def test_a_reused_figure_draws_exactly_what_a_new_one_draws(kind):
    first, second = (kind(0.5), kind(0.9)) if kind is loss_histories else (kind(1.0), kind(40.0))
    with pages.drawn(first) as canvas:
        pass
    with pages.drawn(second) as again:
        assert again is canvas  # the same figure, its data replaced
        reused = svg_text(again)
    assert reused == svg_text(pages.draw(second))


def test_the_svg_shows_both_curves_and_every_label():
    figure = loss_histories(0.6)
    text = str(pages.svg(figure))
    comments = re.findall(r"<!-- (.*?) -->", text)  # matplotlib writes each text it draws as a path, and names it
    assert {"number of updates", "loss", "reference", "yours"} <= set(comments)
    with pages.drawn(figure) as canvas:
        lines = canvas.axes[0].get_lines()
        drawn = {line.get_label(): (tuple(line.get_xdata()), tuple(line.get_ydata())) for line in lines}
    assert drawn == {series.label: (series.x, series.y) for series in figure.series}


def test_pages_drawn_at_once_never_share_a_canvas_and_few_are_kept():
    failures, barrier = [], threading.Barrier(4)

    def draw_many(rate):
        for _ in range(8):
            figure = loss_histories(rate)
            with pages.drawn(figure) as canvas:
                barrier.wait()  # all four hold a canvas of the same kind at once
                svg_text(canvas)
                if tuple(canvas.axes[0].get_lines()[1].get_ydata()) != figure.series[1].y:
                    failures.append(rate)
    threads = [threading.Thread(target=draw_many, args=(rate,)) for rate in (0.3, 0.5, 0.8, 0.95)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(pages._spare[pages._kind(loss_histories(0.3))]) == pages.SPARE_PER_KIND


SCORES = Figure("scores", "points", "students",
                (Series("students", tuple(map(float, range(41))), (3.0,) * 41, "bar"),))


@pytest.mark.parametrize("figure", [loss_histories(0.5), descent_path(1.0), descent_path(12345.0),
                                    descent_path(-0.0001), descent_path(-0.001), descent_path(3000.0),
                                    descent_path(-7e8), SCORES])
def test_the_fixed_layout_keeps_every_text_inside_a_phone_wide_figure(figure):
    with pages.drawn(figure) as canvas:
        pass
    assert canvas.get_layout_engine() is None  # no constrained layout measuring every text at each draw
    agg = FigureCanvasAgg(canvas)
    agg.draw()
    renderer = agg.get_renderer()
    width, height = canvas.bbox.width, canvas.bbox.height
    axes = canvas.axes[0]
    shown = [tick.label1 for axis in (axes.xaxis, axes.yaxis) for tick in axis.get_major_ticks()
             if min(axis.get_view_interval()) <= tick.get_loc() <= max(axis.get_view_interval())]
    texts = [axes.xaxis.label, axes.yaxis.label, *shown, axes.yaxis.get_offset_text()]
    if axes.get_legend():
        texts += axes.get_legend().get_texts()
    for text in texts:
        if text.get_visible() and text.get_text():
            box = text.get_window_extent(renderer)
            assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, text.get_text()
    # 11-point text on a 4.8-inch figure shown 360 pixels wide: about 11 pixels high, readable on a phone
    assert axes.xaxis.label.get_fontsize() * 360 / (4.8 * 72) >= 11


def test_the_style_is_the_figures_own_not_matplotlibs_global_settings():
    """Threads share matplotlib's rcParams: a page drawn while another thread changes them keeps its 11-point text."""
    with rc_context({"font.size": 6, "axes.formatter.limits": (-9, 9)}):
        canvas = pages.draw(descent_path(12345.0))
        agg = FigureCanvasAgg(canvas)
        agg.draw()
    axes = canvas.axes[0]
    sizes = {axes.xaxis.label.get_fontsize(), axes.yaxis.label.get_fontsize(),
             axes.yaxis.get_offset_text().get_fontsize(),
             *(text.get_fontsize() for text in axes.get_legend().get_texts()),
             *(tick.label1.get_fontsize() for tick in axes.yaxis.get_major_ticks())}
    assert sizes == {pages.FONT_SIZE}
    assert axes.yaxis.get_offset_text().get_text() == "1e5"  # the figure's own limits for a common factor
