"""What the feedback pages and the class report share: the Jinja2 templates, message text and figures.

The templates live in `autograder/present/templates/`; a course overrides any of them by putting a file of the same
name in its own `templates/` folder. Autoescaping is on, so a student's name or message is text, never markup.
Pages stay self-contained: styles inline, figures inline SVG, no script, no external file.
"""
from __future__ import annotations

import io
import re
import threading
from collections import OrderedDict
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from ..results.model import Figure
from ..results import scores
from ..results.scores import score

TEMPLATES = Path(__file__).resolve().parent / "templates"
# A message longer than this is cut on a page (a student's print loop can fill a message with megabytes).
MAX_MESSAGE_CHARS = 4000


@lru_cache(maxsize=8)
def environment(course_root: Path | None = None) -> Environment:
    """Templates from the course's `templates/` folder first, then the package's."""
    loaders = [FileSystemLoader(str(course_root / "templates"))] if course_root else []
    # the package's folder by path: a course folder holding an autograder/ folder would shadow a PackageLoader lookup
    env = Environment(loader=ChoiceLoader([*loaders, FileSystemLoader(str(TEMPLATES))]),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["segments"] = segments
    env.filters["count"] = count
    env.filters["points"] = points
    env.filters["g"] = score
    env.filters["breakable"] = breakable
    env.globals["draw"] = svg
    return env


def render(template: str, course_root: Path | None = None, **context) -> str:
    return environment(course_root).get_template(template).render(**context)


# A call as the checks describe one, `gradient_descent(df, 2, 0.2, 6)` or `np.array([1, 2])`: code, even unquoted.
CALL = re.compile(r"\b[A-Za-z_][\w.]*\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)")


def segments(text: str) -> list[tuple[str, bool]]:
    """`text` as (part, is_code) pairs: what stands between backticks is code, and so is a call such as
    `df(5)` in the rest. Overlong text is cut."""
    text = str(text)
    if len(text) > MAX_MESSAGE_CHARS:
        text = f"{text[:MAX_MESSAGE_CHARS]} ... ({len(text) - MAX_MESSAGE_CHARS:,} more characters not shown)"
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick is text
        parts[-2:] = [parts[-2] + "`" + parts[-1]]
    pieces = []
    for index, part in enumerate(parts):
        if index % 2:
            pieces.append((part, True))
            continue
        start = 0
        for call in CALL.finditer(part):
            pieces += [(part[start:call.start()], False), (call.group(), True)]
            start = call.end()
        pieces.append((part[start:], False))
    return [(piece, is_code) for piece, is_code in pieces if piece]


def breakable(name) -> Markup:
    """A name such as `gradient_descent_update` that a narrow column may break after an underscore, and only there."""
    return Markup("_<wbr>").join(str(name).split("_"))


count = scores.count


points = scores.points


# A fixed layout: margins that fit the 11-point tick labels and axis labels of a 4.8 x 3.0 inch figure. Constrained
# layout measured every text to place the axes, about half of a figure's drawing time, for the same picture.
MARGINS = {"left": 0.16, "right": 0.97, "bottom": 0.17, "top": 0.91}
FONT_SIZE = 11   # points, on a 4.8-inch figure: a large font on a small canvas stays readable on a 360 px phone
KINDS_KEPT, SPARE_PER_KIND = 16, 2   # figures kept ready to reuse: per kind (the same series, styles, labels)
_spare: OrderedDict = OrderedDict()  # kind -> canvases no page is drawing on, the kind used last at the end
_spare_lock = threading.Lock()


@lru_cache(maxsize=256)
def svg(figure: Figure) -> Markup:
    """The figure as inline SVG (text as paths: no font or file is needed to show it), scaling to its box; the
    last figures drawn are kept (a figure is frozen data, and drawing one costs tens of milliseconds)."""
    buffer = io.StringIO()
    with drawn(figure) as canvas:
        canvas.savefig(buffer, format="svg")
    text = buffer.getvalue()
    text = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"', r'<svg \1', text[text.index("<svg"):], count=1)
    return Markup(text)  # matplotlib's own SVG; every text in it is drawn as a path


def draw(figure: Figure):
    """The figure drawn by matplotlib on a new canvas, the caller's to keep. The axes span the student's and the
    reference's values (a background curve is cut to them), so a small difference between the two shows; whole
    numbers (updates, scores) get whole ticks, and a histogram of scores a tick at every possible score. The style
    is set on the figure itself, never in matplotlib's global rcParams, which every thread shares."""
    return _draw(figure, _canvas())


@contextmanager
def drawn(figure: Figure):
    """The figure drawn on a canvas that is this caller's until the `with` block ends: a figure of lines reuses a
    spare canvas of the same kind, replacing only the lines' data and the axes' limits (about a third of a new
    figure's cost). A canvas is taken under a lock and given back after, so pages drawn at once never share one;
    at most SPARE_PER_KIND canvases of each of the last KINDS_KEPT kinds are kept."""
    if any(series.style == "bar" for series in figure.series):
        yield draw(figure)
        return
    kind = _kind(figure)
    with _spare_lock:
        spare = _spare.get(kind)
        canvas = spare.pop() if spare else None
    if canvas is None:
        canvas = draw(figure)
    else:
        _redraw(figure, canvas)
    yield canvas
    with _spare_lock:
        spare = _spare.setdefault(kind, [])
        _spare.move_to_end(kind)
        if len(spare) < SPARE_PER_KIND:
            spare.append(canvas)
        while len(_spare) > KINDS_KEPT:
            _spare.popitem(last=False)


def _kind(figure: Figure) -> tuple:
    return figure.x_label, figure.y_label, tuple((series.label, series.style) for series in figure.series)


def _canvas():
    import matplotlib

    matplotlib.use("agg")
    from matplotlib.figure import Figure as Canvas

    canvas = Canvas(figsize=(4.8, 3.0))
    canvas.subplots_adjust(**MARGINS)
    return canvas


def _draw(figure: Figure, canvas):
    from matplotlib.ticker import ScalarFormatter

    axes = canvas.subplots()
    axes.tick_params(labelsize=FONT_SIZE)
    for axis in (axes.xaxis, axes.yaxis):
        # numbers from 10⁻³ to 10⁴ as they are, others with a common factor (1e5 above the axis): tick labels stay
        # short enough for the fixed margins
        formatter = ScalarFormatter(useMathText=False)
        formatter.set_powerlimits((-3, 4))
        axis.set_major_formatter(formatter)
        axis.get_offset_text().set_fontsize(FONT_SIZE)
    for series in figure.series:
        mine = series.label.startswith("your")
        if series.style == "bar":
            axes.bar(series.x, series.y, color="#2e86ab", width=0.8, label=series.label)
        elif series.style == "curve":
            axes.plot(series.x, series.y, color="#9a9a9a", linewidth=1, label=series.label)
        elif series.style == "path":
            axes.plot(series.x, series.y, marker="o", markersize=4 if mine else 6, linewidth=1.2,
                      color="#d1495b" if mine else "#2e86ab", alpha=0.9, label=series.label,
                      linestyle="--" if mine else "-")
        else:
            axes.plot(series.x, series.y, linewidth=2 if mine else 2.5, color="#d1495b" if mine else "#2e86ab",
                      linestyle="--" if mine else "-", label=series.label)
    _fit_axes(axes, figure)
    _ticks(axes, figure)
    axes.set_xlabel(figure.x_label, fontsize=FONT_SIZE)
    axes.set_ylabel(figure.y_label, fontsize=FONT_SIZE)
    axes.grid(alpha=0.3)
    if len(figure.series) > 1:
        axes.legend(fontsize=FONT_SIZE)
    return canvas


def _redraw(figure: Figure, canvas):
    """`canvas`, drawn by `_draw` for a figure of the same kind, now showing `figure`'s data."""
    axes = canvas.axes[0]
    for line, series in zip(axes.get_lines(), figure.series):
        line.set_data(series.x, series.y)
    axes.set_autoscale_on(True)
    axes.relim()
    axes.autoscale_view()
    _fit_axes(axes, figure)
    _ticks(axes, figure)


def _ticks(axes, figure: Figure):
    from matplotlib.ticker import AutoLocator, MaxNLocator

    bars = [series for series in figure.series if series.style == "bar"]
    if bars and len(bars[0].x) <= 41:  # a histogram of scores: a tick at every possible score
        axes.set_xticks(bars[0].x)
    elif _whole(x for series in figure.series if series.style != "curve" for x in series.x):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        axes.xaxis.set_major_locator(AutoLocator())
    if bars and _whole(y for series in bars for y in series.y):
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        axes.yaxis.set_major_locator(AutoLocator())


def _fit_axes(axes, figure: Figure):
    """Limit the axes to the span of the data series (not of a background curve), with a margin."""
    data = [series for series in figure.series if series.style in ("path", "line")]
    if not data or not any(series.style == "curve" for series in figure.series):
        return
    for values, set_limits in ((lambda s: s.x, axes.set_xlim), (lambda s: s.y, axes.set_ylim)):
        numbers = [value for series in data for value in values(series)]
        low, high = min(numbers), max(numbers)
        margin = (high - low) * 0.08 or max(abs(low) * 0.05, 0.5)
        set_limits(low - margin, high + margin)


def _whole(numbers) -> bool:
    numbers = list(numbers)
    return bool(numbers) and all(float(number).is_integer() for number in numbers)
