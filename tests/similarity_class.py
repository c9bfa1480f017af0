"""A labelled class for the similarity section: honest students who wrote their own code, and planted copies.

For assignments 01 and 04 each exercise has 6-9 genuinely different ways (right and wrong), each written out by hand
below. An honest student picks a way per exercise and writes it in their own manner: their own names, small choices
of their own (`[[a|b]]`: which of equivalent spellings), the order of independent statements (`@swap`), a loop or a
comprehension (`@loop`). Copy groups are planted with the usual disguises; `Labelled.copies` says which pairs are
copies and how they were disguised. The exercise headers (def line, docstring) are the release notebook's.
"""
from __future__ import annotations

import ast
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("verbatim", "renamed", "reordered", "comprehension", "merged", "bug")
MERGED_RENAMED = "merged-renamed"   # planted only when asked: merged from two students, then renamed and commented

NAMES = {
    "p": ["positions", "path", "xs", "history", "points", "trajectory"],
    "x": ["x", "current", "pos", "value", "xk"],
    "i": ["i", "k", "step", "n", "t"],
    "s": ["step", "delta", "update", "change", "move"],
    "e": ["errors", "err", "residuals", "diff", "r"],
    "q": ["pred", "predictions", "y_hat", "fitted", "yhat"],
    "dw": ["d_weight", "dw", "grad_w", "g_w", "dW"],
    "db": ["d_bias", "db", "grad_b", "g_b", "dB"],
    "h": ["history", "losses", "hist", "sse_values", "record"],
    "t": ["total", "acc", "s", "result", "running"],
    "v": ["v", "xi", "item", "point", "a"],
    "u": ["u", "yi", "target", "b_", "y_i"],
    "o": ["out", "result", "values", "res", "lst"],
    "d": ["d", "shift", "offset", "gap", "dist"],
    "c": ["c", "count", "it", "iteration", "j"],
}

WAYS = {
    "01-gradient-descent": {
        "df": [
            "return [[2 * (x - 3)|2*(x-3)|(x - 3) * 2|2.0 * (x - 3.0)]]",
            "return [[2 * x - 6|2*x - 6|-6 + 2 * x]]",
            "{d} = x - [[3|3.0]]\nreturn [[2 * {d}|{d} * 2|{d} + {d}]]",
            "x = np.[[asarray|array]](x, dtype=float)\nreturn 2 * (x - 3)",
            "return [[2 * (3 - x)|-2 * (x + 3)]]",
            "return [[x - 3|(x - 3)]]",
            "{d} = [[1e-6|1e-5|0.0001]]\nreturn (f(x + {d}) - f(x - {d})) / (2 * {d})",
            "if np.ndim(x) == 0:\n    return 2 * (x - 3)\n@loop\n{o} = []\nfor {v} in x:\n"
            "    {o}.append(2 * ({v} - 3))\n"
            "@comp\n{o} = [2 * ({v} - 3) for {v} in x]\n@end\nreturn np.array({o}, dtype=float)",
            "return np.multiply(2, np.subtract(x, 3))",
        ],
        "gradient_descent_update": [
            "return [[x - learning_rate * gradx|x - gradx * learning_rate|x-learning_rate*gradx]]",
            "{s} = learning_rate * gradx\nreturn x - {s}",
            "{x} = x - [[gradx * learning_rate|learning_rate * gradx]]\nreturn {x}",
            "return np.subtract(x, [[learning_rate * gradx|np.multiply(learning_rate, gradx)]])",
            "return [[x + learning_rate * gradx|x + gradx * learning_rate]]",
            "x -= learning_rate * gradx\nreturn x",
            "{x} = np.array(x, dtype=float)\n{x} = {x} - learning_rate * np.asarray(gradx)\nreturn {x}",
            "return (x - learning_rate) * gradx",
        ],
        "gradient_descent": [
            "{p} = [x0]\n{x} = x0\nfor _ in range(max_iters):\n    [[{x} = gradient_descent_update({x}, grad({x}), "
            "learning_rate)|{g} = grad({x})\n    {x} = gradient_descent_update({x}, {g}, learning_rate)]]\n"
            "    {p}.append({x})\nreturn np.[[array|asarray]]({p}[[|, dtype=float]])",
            "{p} = np.[[zeros|empty]](max_iters + 1[[|, dtype=float]])\n{p}[0] = x0\n"
            "for {i} in range(max_iters):\n    {p}[{i} + 1] = "
            "gradient_descent_update({p}[{i}], grad({p}[{i}]), learning_rate)\nreturn {p}",
            "{p} = [x0]\n{c} = 0\nwhile {c} [[<|!=]] max_iters:\n    {p}.append(gradient_descent_update({p}[-1], "
            "grad({p}[-1]), learning_rate))\n    {c} [[+= 1|= {c} + 1]]\nreturn np.array({p}[[|, dtype=float]])",
            "{p} = [x0]\nfor {i} in range(max_iters):\n    {p}.append({p}[-1] - learning_rate * grad({p}[-1]))\n"
            "@loop\n{o} = []\nfor {v} in {p}:\n    {o}.append(float({v}))\n@comp\n{o} = [float({v}) for {v} in {p}]\n"
            "@end\nreturn np.array({o})",
            "if max_iters == 0:\n    return np.array([x0], dtype=float)\n{x} = gradient_descent_update(x0, grad(x0), "
            "learning_rate)\nreturn np.concatenate(([x0], gradient_descent(grad, {x}, learning_rate, "
            "max_iters - 1)))",
            "{p} = [x0]\n{x} = x0\nfor {i} in range([[max_iters - 1|1, max_iters]]):\n    {x} = {x} - learning_rate "
            "* grad({x})\n    {p}.append({x})\nreturn np.[[array|asarray]]({p})",
            "{x} = x0\n{p} = [{x}]\nfor _ in range(max_iters):\n    {x} = {x} - learning_rate * grad(x0)\n"
            "    {p}.append({x})\nreturn [[np.array({p})|np.array({p}, dtype=float)|{p}]]",
            "{p} = np.array([x0], dtype=float)\n{x} = x0\nfor _ in range(max_iters):\n    {x} = "
            "gradient_descent_update({x}, grad({x}), learning_rate)\n    {p} = np.append({p}, {x})\nreturn {p}",
            "{p} = [float(x0)]\nfor _ in range(max_iters):\n    {s} = learning_rate * grad({p}[-1])\n"
            "    {p}.append({p}[-1] - {s})\nreturn [[{p}|np.asarray({p})]]",
        ],
        "max_stable_learning_rate": [
            "max_stable_learning_rate = [[1.0|1]]",
            "max_stable_learning_rate = 2 / 2",
            "max_stable_learning_rate = [[0.5|2.0]]",
            "max_stable_learning_rate = 2 / [[2|2.0]]  # 2 / f''(x)",
            "{c} = 2\nmax_stable_learning_rate = 2 / {c}",
            "max_stable_learning_rate = [[0.99|0.999]]",
        ],
    },
    "04-linear-regression": {
        "linear": [
            "return weight * np.asarray(x, dtype=float) + bias",
            "return [[weight * x + bias|x * weight + bias|bias + weight * x]]",
            "x = np.[[array|asarray]](x, dtype=float)\nreturn x * weight + bias",
            "return np.add(np.multiply(weight, x), bias)",
            "return [[bias * x + weight|x * bias + weight]]",
            "if np.ndim(x) == 0:\n    return weight * x + bias\n@loop\n{o} = []\nfor {v} in x:\n"
            "    {o}.append(weight * {v} + bias)\n@comp\n{o} = [weight * {v} + bias for {v} in x]\n@end\n"
            "return np.array({o}, dtype=float)",
            "return weight * (x + bias)",
            "{q} = np.[[asarray|array]](x) * weight\n{q} = {q} + bias\nreturn [[{q}|{q}.astype(float)]]",
        ],
        "sse": [
            "{e} = linear(x, weight, bias) - np.asarray(y, dtype=float)\n"
            "return [[float(np.sum({e} ** 2))|float(({e} ** 2).sum())|float(np.sum({e} * {e}))]]",
            "return [[np.sum((linear(x, weight, bias) - y) ** 2)|((linear(x, weight, bias) - y) ** 2).sum()]]",
            "@loop\n{t} = 0\nfor {v}, {u} in zip(x, y):\n    {t} += (weight * {v} + bias - {u}) ** 2\n"
            "@comp\n{t} = sum((weight * {v} + bias - {u}) ** 2 for {v}, {u} in zip(x, y))\n@end\nreturn {t}",
            "{e} = np.asarray(y) - linear(x, weight, bias)\nreturn float([[{e} @ {e}|np.dot({e}, {e})]])",
            "return np.mean((linear(x, weight, bias) - y) ** 2)",
            "return np.sum(linear(x, weight, bias) - y) ** 2",
            "{q} = weight * np.asarray(x) + bias\n{e} = {q} - np.asarray(y)\nreturn float(np.sum({e} * {e}))",
        ],
        "sse_gradient": [
            "x = np.asarray(x, dtype=float)\n{e} = linear(x, weight, bias) - np.asarray(y, dtype=float)\n"
            "return float(2 * np.sum({e} * x)), float(2 * np.sum({e}))",
            "{q} = linear(x, weight, bias)\n{e} = {q} - [[y|np.asarray(y)|np.array(y, dtype=float)]]\n@swap\n"
            "{dw} = 2 * np.sum({e} * x)\n@with\n"
            "{db} = 2 * np.sum({e})\n@end\nreturn {dw}, {db}",
            "{dw} = [[0|0.0]]\n{db} = [[0|0.0]]\nfor {v}, {u} in zip(x, y):\n    {e} = weight * {v} + bias - {u}\n"
            "    {dw} += 2 * {e} * {v}\n    {db} += 2 * {e}\nreturn {dw}, {db}",
            "{e} = linear(x, weight, bias) - [[y|np.asarray(y)]]\nreturn 2 * np.mean({e} * x), 2 * np.mean({e})",
            "{e} = [[y|np.asarray(y)]] - linear(x, weight, bias)\nreturn 2 * np.sum({e} * x), 2 * np.sum({e})",
            "{e} = linear(x, weight, bias) - np.asarray(y)\nreturn 2 * np.dot({e}, x), 2 * np.sum({e})",
            "{e} = linear(x, weight, bias) - [[y|np.asarray(y)]]\n"
            "return [[2 * np.sum({e}), 2 * np.sum({e} * x)|np.sum(2 * {e}), np.sum(2 * {e} * x)]]",
        ],
        "fit": [
            "{h} = []\nfor _ in range(epochs):\n    {dw}, {db} = sse_gradient(x, y, weight, bias)\n"
            "    weight, bias = weight - learning_rate * {dw}, bias - learning_rate * {db}\n"
            "    [[{h}.append(sse(x, y, weight, bias))|{h} = {h} + [sse(x, y, weight, bias)]|{h} += [sse(x, y, weight, "
            "bias)]]]\nreturn weight, bias, np.[[array|asarray]]({h}[[|, dtype=float]])",
            "{h} = []\nfor {i} in range(epochs):\n    {dw}, {db} = sse_gradient(x, y, weight, bias)\n@swap\n"
            "    weight = weight - learning_rate * {dw}\n@with\n    bias = bias - learning_rate * {db}\n@end\n"
            "    {h}.append(sse(x, y, weight, bias))\n"
            "return weight, bias, [[np.array({h})|np.asarray({h}, dtype=float)]]",
            "{h} = []\nfor _ in range(epochs):\n    {dw}, _ = sse_gradient(x, y, weight, bias)\n    weight -= "
            "learning_rate * {dw}\n    _, {db} = sse_gradient(x, y, weight, bias)\n    bias -= learning_rate * {db}\n"
            "    {h}.append(sse(x, y, weight, bias))\nreturn weight, bias, np.array({h})",
            "{h} = []\nfor _ in range(epochs):\n    {h}.append(sse(x, y, weight, bias))\n    {dw}, {db} = "
            "sse_gradient(x, y, weight, bias)\n    weight -= learning_rate * {dw}\n    bias -= learning_rate * {db}\n"
            "return weight, bias, np.array({h})",
            "{h} = np.[[zeros|empty]](epochs)\n{c} = 0\nwhile {c} < epochs:\n"
            "    {g} = sse_gradient(x, y, weight, bias)\n"
            "    weight, bias = weight - learning_rate * {g}[0], bias - learning_rate * {g}[1]\n"
            "    {h}[{c}] = sse(x, y, weight, bias)\n    {c} += 1\nreturn weight, bias, {h}",
            "{h} = []\nfor _ in range(epochs):\n    {dw}, {db} = sse_gradient(x, y, weight, bias)\n"
            "    {n} = len(x)\n    weight, bias = weight - learning_rate * {dw} / {n}, bias - learning_rate * {db} / "
            "{n}\n    {h}.append(sse(x, y, weight, bias))\nreturn weight, bias, np.array({h})",
            "{w}, {b} = [[weight, bias|float(weight), float(bias)]]\n{h} = np.[[empty|zeros]](epochs)\n"
            "for {i} in range(epochs):\n    {g} = np.array("
            "sse_gradient(x, y, {w}, {b}))\n    {w}, {b} = np.array([{w}, {b}]) - learning_rate * {g}\n"
            "    {h}[{i}] = sse(x, y, {w}, {b})\nreturn {w}, {b}, {h}",
            "{h} = []\nfor _ in range(epochs):\n    {dw}, {db} = sse_gradient(x, y, weight, bias)\n"
            "    weight = weight - learning_rate * {dw}\n    bias = bias - learning_rate * {dw}\n"
            "    {h}.append(sse(x, y, weight, bias))\nreturn weight, bias, {h}",
        ],
    },
}

for _pool, _names in (("g", ["g", "grads", "gradient", "grad_pair", "gr"]), ("n", ["n", "m", "size", "count", "N"]),
                      ("w", ["w", "wt", "cur_w", "weight_", "w_"]), ("b", ["b", "bs", "cur_b", "bias_", "b_"])):
    NAMES[_pool] = _names

COMMENTS = ["# compute it", "# the update", "# as in the lecture", "# vectorised", "# keep the result",
            "# step by step", "# see the worked example", "# careful with the sign"]


def release_headers(assignment: str) -> dict[str, str]:
    """exercise -> the release notebook's cell up to its "YOUR CODE HERE" line (the def line and docstring)."""
    folder = ROOT / "release" / assignment
    notebook = json.loads(next(folder.glob("*.ipynb")).read_text())
    headers = {}
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("solution"):
            source = "".join(cell["source"])
            headers[meta["grade_id"]] = source.split("# YOUR CODE HERE")[0].rstrip(" ")
    return headers


@dataclass
class Style:
    """How one student writes one exercise: enough to write it again, or a disguised copy of it."""
    way: int
    seed: int
    names: dict[str, str]
    swap: bool = False
    loop: bool = True
    comments: tuple = ()
    habits: frozenset = frozenset()   # the student's own habits, the same in every exercise (see HABITS)


# Habits of a student's own, kept across exercises, that the normalisation rightly keeps apart (they are different
# syntax trees): without them two honest students who picked the same way wrote it token for token alike in 72 % of
# their exercises of ten or more tokens, so a copy could not be told from the honest students who wrote the same way.
# (habit, how many students have it, pattern, replacement)
HABITS = (
    ("minus-equals", 0.5, re.compile(r"^(\s*)(\w+) = \2 - (.+)$", re.M), r"\1\2 -= \3"),
    ("range-from-0", 0.25, re.compile(r"\brange\(([^(),]+)\)"), r"range(0, \1)"),
    ("float64", 0.2, re.compile(r"dtype=float\b"), "dtype=np.float64"),
    ("rate-last", 0.35, re.compile(r"\blearning_rate \* (\w+(?:\[\d\])?)(?![\w(\[.])"), r"\1 * learning_rate"),
)


def habits(rng: random.Random) -> frozenset:
    return frozenset(name for name, share, _, _ in HABITS if rng.random() < share)


def render(template: str, style: Style) -> str:
    choices = random.Random(style.seed)
    text = re.sub(r"\[\[(.*?)\]\](?!\])", lambda m: choices.choice(m.group(1).split("|")), template, flags=re.S)
    text = re.sub(r"@swap\n(.*?)@with\n(.*?)@end\n",
                  lambda m: m.group(2) + m.group(1) if style.swap else m.group(1) + m.group(2), text, flags=re.S)
    text = re.sub(r"@loop\n(.*?)@comp\n(.*?)@end\n", lambda m: m.group(1) if style.loop else m.group(2), text,
                  flags=re.S)
    text = re.sub(r"\{(\w+)\}", lambda m: style.names[m.group(1)], text)
    for name, _, pattern, replacement in HABITS:
        if name in style.habits:
            text = pattern.sub(replacement, text)
    lines = text.splitlines()
    for number, comment in style.comments:
        at = number % (len(lines) + 1)
        indent = re.match(r"\s*", lines[at] if at < len(lines) else lines[-1]).group(0)
        lines.insert(at, indent + comment)
    return "\n".join(lines)


def cell(header: str, body: str) -> str:
    if header.lstrip().startswith("def "):
        return header + "\n".join("    " + line if line else line for line in body.splitlines())
    return header + body


def _names(rng: random.Random, avoid: dict[str, str] | None = None) -> dict[str, str]:
    return {role: rng.choice([n for n in pool if not avoid or n != avoid[role]]) for role, pool in NAMES.items()}


def _honest_style(rng: random.Random, assignment: str, exercise: str) -> Style:
    return Style(rng.randrange(len(WAYS[assignment][exercise])), rng.randrange(10 ** 9), _names(rng),
                 rng.random() < 0.5, rng.random() < 0.5)


@dataclass
class Labelled:
    assignment: str
    codes: dict[str, dict[str, str]]                        # student -> exercise -> the cell's code
    copies: dict[tuple[str, str], str] = field(default_factory=dict)   # (student, student), sorted -> disguise
    given: list[str] = field(default_factory=list)          # the release's and the reference's solution cells


def _has_loop(assignment: str, styles: dict[str, Style]) -> bool:
    return any("@loop" in WAYS[assignment][exercise][style.way] for exercise, style in styles.items())


def _give_loop(assignment: str, styles: dict[str, Style], rng: random.Random) -> None:
    """Make one exercise of a student's a way with a loop in it (no honest student has one: a comprehension copy
    needs one to rewrite)."""
    choices = [(exercise, way) for exercise in sorted(styles) for way, template in enumerate(WAYS[assignment][exercise])
               if "@loop" in template]
    exercise, way = rng.choice(choices)
    styles[exercise].way = way


def _write(assignment: str, headers: dict[str, str], styles: dict[str, Style]) -> dict[str, str]:
    return {exercise: cell(headers[exercise], render(WAYS[assignment][exercise][style.way], style))
            for exercise, style in styles.items()}


def _reformat(code: str) -> str:
    """Layout changed as a formatter would (spacing, parentheses, quotes), comments gone, blank lines between."""
    tree = ast.parse(code)
    return "\n\n".join(ast.unparse(stmt) for stmt in tree.body) if len(tree.body) > 1 else ast.unparse(tree)


def _add_bug(code: str, rng: random.Random) -> str:
    header, _, body = code.rpartition('"""\n') if '"""' in code else ("", "", code)
    for old, new in ((" - ", " + "), ("2 * ", "3 * "), ("0", "1"), ("*", "/")):
        spots = [m.start() for m in re.finditer(re.escape(old), body)]
        if spots:
            at = rng.choice(spots)
            body = body[:at] + new + body[at + len(old):]
            break
    return header + _ + body


def labelled_class(assignment: str, seed: int, honest: int = 23, merged_renamed: bool = False) -> Labelled:
    """About 30 students: `honest` who wrote their own code, and one planted copy group per disguise kind; with
    `merged_renamed`, one more copier (MERGED_RENAMED), the same class otherwise."""
    rng = random.Random(f"{assignment}/{seed}")
    headers = release_headers(assignment)
    exercises = list(WAYS[assignment])
    styles = {f"s{seed:02d}_{n:03d}": {e: _honest_style(rng, assignment, e) for e in exercises}
              for n in range(honest)}
    for student, mine in styles.items():   # a stream of their own: the ways and names are as without habits
        own = habits(random.Random(f"{assignment}/{seed}/{student}/habits"))
        for style in mine.values():
            style.habits = own
    codes = {student: _write(assignment, headers, mine) for student, mine in styles.items()}
    copies = {}
    order = rng.sample(sorted(styles), len(styles))
    unused = list(order)

    def next_original(fits=lambda student: True) -> str:
        """The next honest student in the shuffled order that fits, passing over those that do not (as before, so
        every class the generator could build stays the same); when the order runs out, the first passed over that
        fits, and when none fits, the next unused student is given a way that fits."""
        while order:
            student = order.pop(0)
            if fits(student):
                unused.remove(student)
                return student
        student = next((s for s in unused if fits(s)), None)
        if student is None:
            student = unused[0]
            _give_loop(assignment, styles[student], rng)
            codes[student] = _write(assignment, headers, styles[student])
        unused.remove(student)
        return student

    number = honest
    for kind in KINDS:
        copier = f"s{seed:02d}_{number:03d}"
        number += 1
        if kind == "comprehension":
            original = next_original(lambda student: _has_loop(assignment, styles[student]))
        else:
            original = next_original()
        mine = {e: Style(**vars(style)) for e, style in styles[original].items()}
        if kind == "verbatim" or kind == "bug":
            codes[copier] = dict(codes[original])
            if kind == "bug":
                sizes = sorted(exercises, key=lambda e: -len(codes[original][e]))
                target = sizes[rng.randrange(2)]
                # an exercise with nothing to break (`np.subtract(x, np.multiply(...))`): the next longest
                for exercise in [target] + [e for e in sizes if e != target]:
                    codes[copier][exercise] = _add_bug(codes[original][exercise], rng)
                    if codes[copier][exercise] != codes[original][exercise]:
                        break
        elif kind == "renamed":
            for e, style in mine.items():
                style.names = _names(rng, avoid=style.names)
                style.comments = tuple((rng.randrange(10), rng.choice(COMMENTS)) for _ in range(rng.randrange(1, 3)))
            codes[copier] = _write(assignment, headers, mine)
        elif kind == "reordered":
            for style in mine.values():
                style.swap = not style.swap
            codes[copier] = {e: _reformat(code) for e, code in _write(assignment, headers, mine).items()}
        elif kind == "comprehension":
            for style in mine.values():
                style.loop = not style.loop
            codes[copier] = _write(assignment, headers, mine)
        elif kind == "merged":
            other = next_original()
            half = set(rng.sample(exercises, len(exercises) // 2))
            codes[copier] = {e: codes[original if e in half else other][e] for e in exercises}
            copies[tuple(sorted((other, copier)))] = kind
        copies[tuple(sorted((original, copier)))] = kind
    if merged_renamed:
        _plant_merged_renamed(assignment, seed, headers, styles, codes, copies, unused, f"s{seed:02d}_{number:03d}")
    return Labelled(assignment, codes, copies, given_code(assignment))


def _plant_merged_renamed(assignment: str, seed: int, headers: dict[str, str], styles: dict[str, dict[str, Style]],
                          codes: dict, copies: dict, unused: list[str], copier: str) -> None:
    """A copier who took half the exercises from one honest student and the rest from another (not copied yet, when
    two are left), then renamed and commented them; from a stream of its own, so the class is otherwise the same."""
    exercises = list(WAYS[assignment])
    side = random.Random(f"{assignment}/{seed}/merged-renamed")
    honest_students = sorted(styles)
    pool = [student for student in honest_students if student in unused] if len(unused) >= 2 else honest_students
    first, second = side.sample(pool, 2)
    half = set(side.sample(exercises, len(exercises) // 2))
    mine = {e: Style(**vars(styles[first if e in half else second][e])) for e in exercises}
    for style in mine.values():
        style.names = _names(side, avoid=style.names)
        style.comments = tuple((side.randrange(10), side.choice(COMMENTS)) for _ in range(side.randrange(1, 3)))
    codes[copier] = _write(assignment, headers, mine)
    for source in (first, second):
        copies[tuple(sorted((source, copier)))] = MERGED_RENAMED


def given_code(assignment: str) -> list[str]:
    """The code cells of the release and source notebooks (what the course wrote), as the report discounts them."""
    cells = []
    for folder in ("release", "source"):
        notebook = json.loads(next((ROOT / folder / assignment).glob("*.ipynb")).read_text())
        meta = [c.get("metadata", {}).get("nbgrader", {}) for c in notebook["cells"]]
        cells += ["".join(c["source"]) for c, m in zip(notebook["cells"], meta)
                  if c["cell_type"] == "code" and m.get("solution")]
    return cells


ASSIGNMENTS = tuple(WAYS)
