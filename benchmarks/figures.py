"""What a figure costs to render, before and after issue 24's changes, side by side in one run.

    python benchmarks/figures.py              # 15 repeats of each
    python benchmarks/figures.py --repeats 40

Two kinds of figures:

- formgrader figures: what a student's plotting cell displays, rendered to PNG inside the sandbox for the
  autograded notebook. The figures are the course's own (the plotting cells of 01-04, rebuilt here with the same
  calls and data shapes: one-panel log-axis figures, two-panel figures with constrained layout). "before" is how the
  sandbox rendered them (IPython's print_figure, bbox_inches="tight", 60 dpi, mathtext log ticks); "after" is
  `sandboxed.figure_png` (one draw, plain log ticks, same dpi).
- feedback figures: the student's curve against the reference's, drawn as SVG for a result page. "before" is a new
  figure with constrained layout each time; "fixed" a new figure with fixed margins; "after" is `pages.drawn`, as
  `pages.svg` uses it: a spare figure of the same kind, reused.

Each render is timed in processor time (time.process_time) on a new figure built the same way; the variants take
turns, so a machine busy with other work slows them alike. Prints min and median per figure and variant, and the
ratios before/after.

    python benchmarks/figures.py --notebooks --baseline /tmp/old-checkout

also grades the instructor's solution of 02, 03 and 04 (an honest notebook with the course's plotting cells) in a
sandbox, `--repeats` times each, with figures kept and with `keep_figures = False`, by this checkout and by the
one at --baseline (say, `git archive` of the commit before): min and median seconds a notebook (wall time; each
variant grades in its own process, one after the other).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "autograder"))

import matplotlib  # noqa: E402

matplotlib.use("agg")
import numpy as np  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib import rc_context  # noqa: E402
from matplotlib.figure import Figure as Canvas  # noqa: E402

import sandboxed  # noqa: E402  (the sandbox's own module, as the zygote imports it)
from autograder.present import pages  # noqa: E402
from autograder.results.model import Figure, Series  # noqa: E402


def semilogy_losses():
    """02/03: the losses of training, one panel, log y axis."""
    losses = 36 * 0.7 ** np.arange(30)
    plt.figure(figsize=(6, 4))
    plt.semilogy(np.arange(1, 31), losses, "o-", markersize=4)
    plt.xlabel("number of updates")
    plt.ylabel("loss after the update (log scale)")
    plt.title("Training the small network on one example")
    return plt.gcf()


def learning_rates():
    """01: distance to the minimum for four learning rates, one panel, log y axis, a legend."""
    plt.figure(figsize=(7, 4))
    for rate in [0.01, 0.05, 0.3, 0.9]:
        positions = [0.0]
        for _ in range(20):
            positions.append(positions[-1] - rate * 2 * (positions[-1] - 3))
        plt.semilogy(np.arange(21), np.abs(np.array(positions) - 3), "o-", markersize=3, label=f"learning rate {rate}")
    plt.xlabel("step k")
    plt.ylabel("distance to the minimum $|x_k - 3|$")
    plt.title("Smaller learning rate: slower convergence")
    plt.legend()
    return plt.gcf()


def regression_two_panels():
    """04: the loss history (log x axis) and the fitted line, two panels, constrained layout."""
    rng = np.random.default_rng(0)
    x = np.linspace(0, 5, 40)
    y = 2 * x + 1 + rng.normal(0, 0.5, 40)
    history = 300 / np.arange(1, 501) + 10
    fig, (ax_hist, ax_line) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    ax_hist.semilogx(np.arange(1, len(history) + 1), history)
    ax_hist.axhline(10, color="gray", linestyle="--", label="SSE of the best line")
    ax_hist.set_xlabel("epoch (update number)")
    ax_hist.set_ylabel("SSE after the update")
    ax_hist.set_title("Loss history")
    ax_hist.legend()
    ax_line.plot(x, y, "o", label="data")
    ax_line.plot(x, 2 * x + 1, linewidth=3, alpha=0.6, label="gradient descent")
    ax_line.plot(x, 2.01 * x + 0.98, "--", color="black", label="np.polyfit")
    ax_line.set_xlabel("x")
    ax_line.set_ylabel("y")
    ax_line.set_title("Fitted line")
    ax_line.legend()
    return fig


def before_png(figure):
    from IPython.core.pylabtools import print_figure

    return print_figure(figure, "png", bbox_inches="tight", dpi=60)


FORMGRADER = {"01 learning rates (log y)": learning_rates, "02/03 losses (log y)": semilogy_losses,
              "04 two panels (log x, constrained)": regression_two_panels}
PNG_VARIANTS = {"before": before_png, "after": sandboxed.figure_png}


def feedback_figure(seed: int) -> Figure:
    """A loss history against the reference's, as the checks of 02 draw it (data differ per seed)."""
    steps = tuple(float(k) for k in range(1, 21))
    rate = 0.6 + 0.01 * seed
    return Figure("The losses of train(...)", "number of updates", "loss",
                  (Series("reference", steps, tuple(36 * 0.7 ** k for k in steps)),
                   Series("yours", steps, tuple(36 * rate ** k for k in steps))))


def gradient_path(seed: int) -> Figure:
    """A path of gradient descent on its loss curve (01's feedback figure)."""
    grid = tuple(float(x) for x in np.linspace(-0.5, 6.5, 120))
    ours = tuple(float(3 - 3 * 0.6 ** k) for k in range(8))
    theirs = tuple(float(3 - 3 * (0.55 + 0.01 * seed) ** k) for k in range(8))
    return Figure("path", "x", "loss f(x)", (Series("loss", grid, tuple((x - 3) ** 2 for x in grid), "curve"),
                                             Series("reference path", ours, tuple((x - 3) ** 2 for x in ours), "path"),
                                             Series("your path", theirs, tuple((x - 3) ** 2 for x in theirs), "path")))


def svg_of(canvas) -> str:
    import io

    buffer = io.StringIO()
    canvas.savefig(buffer, format="svg")
    return buffer.getvalue()


def fresh(layout):
    def render(figure):
        with rc_context({"font.size": 11}):  # as the old drawing did, in matplotlib's global settings
            canvas = Canvas(figsize=(4.8, 3.0), layout=layout)
            if layout is None:
                canvas.subplots_adjust(**pages.MARGINS)
            return svg_of(pages._draw(figure, canvas))
    return render


def reused(figure):
    with pages.drawn(figure) as canvas:
        return svg_of(canvas)


FEEDBACK = {"loss history vs reference": feedback_figure, "descent path on its curve": gradient_path}
SVG_VARIANTS = {"before": fresh("constrained"), "fixed": fresh(None), "after": reused}


def cpu(function, *args) -> float:
    started = time.process_time()
    function(*args)
    return time.process_time() - started


def report(name: str, times: dict[str, list[float]]):
    base = times["before"]
    cells = []
    for variant, seconds in times.items():
        text = f"{variant} min {min(seconds) * 1000:6.1f} ms, median {statistics.median(seconds) * 1000:6.1f} ms"
        if variant != "before":
            text += f" (x{min(base) / min(seconds):.2f} / x{statistics.median(base) / statistics.median(seconds):.2f})"
        cells.append(text)
    print(f"{name:38s} " + " | ".join(cells))


GRADE_NOTEBOOKS = """
import dataclasses, json, sys, time
from autograder.course.config import load_course
from autograder.grading.grade import assignment_spec, grade_notebook
from autograder.engine.sandbox import Sandbox

root, keep, repeats, defer = sys.argv[1], sys.argv[2] == "True", int(sys.argv[3]), sys.argv[4] == "True"
course = dataclasses.replace(load_course(root), keep_figures=keep)
seconds, drawing = {}, {}


def snapshots(result):
    return [display["figure"] for displays in result.cell_displays.values() for display in displays
            if "figure" in display]


with Sandbox(course) as sandbox:
    sandbox.defer_figures = defer  # the verdict first: figures kept as snapshots, drawn after by sandbox.render
    for name in ("02-slopes-and-updates", "03-backpropagation", "04-linear-regression"):
        spec, path = assignment_spec(course, name), course.source_notebook(name)
        grade_notebook(sandbox, course, spec, "warm", path)  # the reference's timing, first-use imports
        seconds[name], drawing[name] = [], []
        for _ in range(repeats):
            result = grade_notebook(sandbox, course, spec, "honest", path)
            seconds[name].append(result.seconds)
            if defer:
                started = time.monotonic()
                assert all(sandbox.render(snapshots(result)))
                drawing[name].append(time.monotonic() - started)
print(json.dumps([seconds, drawing]))
"""


def notebooks(baseline: Path | None, repeats: int):
    variants = {"after, figures at once": (ROOT, True, False), "after, figures after verdict": (ROOT, True, True),
                "after, keep_figures=False": (ROOT, False, False)}
    if baseline:
        variants = {"before, figures": (baseline, True, False), **variants,
                    "before, keep_figures=False": (baseline, False, False)}
    print(f"\nan honest notebook graded in a sandbox (the solution), wall seconds a notebook, {repeats} repeats")
    for label, (package, keep, defer) in variants.items():
        done = subprocess.run([sys.executable, "-c", GRADE_NOTEBOOKS, str(ROOT), str(keep), str(repeats), str(defer)],
                              cwd=package, env={**os.environ, "PYTHONPATH": str(package)}, capture_output=True,
                              text=True, check=True)
        times, drawing = json.loads(done.stdout.splitlines()[-1])
        print(f"{label:28s} " + spread(times))
        if defer:
            print(f"{'  its figures, drawn after':28s} " + spread(drawing))


def spread(times: dict) -> str:
    return " | ".join(f"{name[:2]} min {min(seconds):.3f} s, median {statistics.median(seconds):.3f} s"
                      for name, seconds in times.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--notebooks", action="store_true", help="also grade honest notebooks in a sandbox")
    parser.add_argument("--baseline", type=Path, help="another checkout's root, for --notebooks")
    args = parser.parse_args()
    for build in FORMGRADER.values():  # warm: fonts, caches, first-draw imports
        for render in PNG_VARIANTS.values():
            render(build())
            plt.close("all")
    print(f"formgrader figures (PNG at 60 dpi), processor time, {args.repeats} repeats "
          "(ratios before/variant: of the minima / of the medians)")
    for name, build in FORMGRADER.items():
        times = {variant: [] for variant in PNG_VARIANTS}
        for _ in range(args.repeats):
            for variant, render in PNG_VARIANTS.items():
                figure = build()
                times[variant].append(cpu(render, figure))
                plt.close(figure)
        report(name, times)
    print(f"\nfeedback figures (SVG, 4.8 x 3.0 in), processor time, {args.repeats} repeats")
    for name, build in FEEDBACK.items():
        for render in SVG_VARIANTS.values():
            render(build(0))
        times = {variant: [] for variant in SVG_VARIANTS}
        for repeat in range(args.repeats):
            for variant, render in SVG_VARIANTS.items():
                times[variant].append(cpu(render, build(repeat % 10)))  # new data each time, as pages see it
        report(name, times)
    if args.notebooks:
        notebooks(args.baseline, args.repeats)


if __name__ == "__main__":
    main()
