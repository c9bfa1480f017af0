"""Pairs of submissions whose solution code is suspiciously alike, for the class report, with the evidence.

Each exercise's code is read with Python's own `ast` and normalised before it is compared: docstrings and comments
and layout are gone, every name the student binds becomes a placeholder numbered by first use, a for-loop that only
appends to (or adds up into) a fresh list becomes the comprehension (or sum) it stands for, and statements that do
not depend on each other are put in one canonical order. Constants, attributes and the names the course defines stay.
The normalised syntax tree, read in order, is a token stream; every run of `K` tokens is hashed with BLAKE2b (never
`hash()`, which changes with PYTHONHASHSEED) and the hashes are winnowed as MOSS does to index the class.

What counts is what is left after discounting the course's code (the release notebook, the reference solution) and
the runs of tokens that many students share (the ordinary answer, as MOSS's -m option). A pair is scored per exercise
on the share of the SMALLER side that the other side has too (a copy with code of its own added stays contained),
combined over exercises weighted by how much own code each exercise has. A student whose every cell is, text for
text, one of two others' (with rare own code from each) is a merged copy: both pairs are listed. A pair is a lead for
a conversation, never a score change: the report shows the matched lines, what was discounted and how many lines the
figure rests on.
"""
from __future__ import annotations

import ast
import copy
import dataclasses
import hashlib
import io
import keyword
import logging
import re
import tokenize
from collections import Counter, defaultdict
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

K = 6                 # tokens per fingerprinted run: a run this long is rarely alike by chance
WINDOW = 4            # winnowing window: every match of K + WINDOW - 1 tokens shares at least one indexed hash
THRESHOLD = 0.95      # share of the smaller side's own code (weighted over exercises) that the other side has too
MIN_SHARED = 12       # tokens of shared, undiscounted code below which a pair is too short to judge
MIN_LINES = 2         # lines of each side's own code the match must cover: fewer is too little to judge
MAX_PAIRS = 20
EDITED = 0.75
EDIT = K              # an exercise whose sides differ by at most this many fingerprints each (one token changed)
#                       and share twice that is alike, as a whole: a copy with a small edit
WHOLE = 0.95          # a pair this alike is one code twice: a third student alike both is listed once
MERGED_LINES = 1      # lines of each side a merged copy's half must cover (the cells handed in as they are: the
#                       evidence is the two halves together, and each half is shown)
MERGED_EVIDENCE = 6.0  # own fingerprints each source of a merged copy must give on its own cells, each weighted by
#                        one over the number of others who handed in that very text
MERGED_STRONG = 60.0   # ... or one source alone, when the other's cells are too short or too common to point at
#                        anyone: that pair alone is listed (long cells handed in character for character alike)

GIVEN, COMMON, MATCH = "given", "common", "match"   # what a line of code is, for the report's highlight


@dataclass(frozen=True)
class Line:
    text: str
    kind: str = ""      # MATCH (the pair shares it), GIVEN (the course's code), COMMON (many students wrote it) or ""


@dataclass(frozen=True)
class ExerciseMatch:
    exercise: str
    first: tuple[Line, ...]
    second: tuple[Line, ...]
    share: float        # the share of the smaller side's own code found in the other


@dataclass(frozen=True)
class Merged:
    """Why a pair is listed as part of a merged copy: every cell `copier` handed in is, character for character,
    `source`'s or one of `others`' (one name: that pair is listed too; more: they handed in those cells alike, so who
    gave them cannot be told and none of those pairs is listed). `reverse`: `source` is as well explained as merged
    from `copier`'s cells and these students', so which of the two merged cannot be told."""
    copier: str
    source: str
    others: tuple[str, ...]
    reverse: tuple[str, ...] = ()
    alone: bool = False   # the other's cells are too short or too common to point at them: that pair is not listed

    @property
    def note(self) -> str:
        if self.reverse:
            return (f"Possibly merged: every cell {self.copier} handed in is, character for character, {self.source}'s "
                    f"or {_either(self.others)}'s, and every cell {self.source} handed in is {self.copier}'s or "
                    f"{_either(self.reverse)}'s. Which of the two took the other's cells cannot be told from the code, "
                    "so only this pair is listed.")
        if len(self.others) > 1:
            return (f"Possibly merged: every cell {self.copier} handed in is, character for character, {self.source}'s "
                    f"or one that {_both(self.others)} handed in alike. Which of {_both(self.others)} gave those "
                    "cannot be told, so only this pair is listed.")
        if self.alone:
            return (f"Possibly merged: every cell {self.copier} handed in is, character for character, {self.source}'s "
                    f"or {self.others[0]}'s; {self.others[0]}'s cells are too short, or handed in alike by too many "
                    f"students, to point at {self.others[0]}, so only this pair is listed.")
        return (f"Possibly merged: every cell {self.copier} handed in is, character for character, {self.source}'s or "
                f"{self.others[0]}'s, each with code of their own that few others wrote; see that pair too.")


def _either(names: tuple[str, ...], conjunction: str = "or") -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


def _both(names: tuple[str, ...]) -> str:
    return _either(names, "and")


@dataclass(frozen=True)
class SimilarPair:
    first: str
    second: str
    similarity: float       # the smaller side's own code found in the other, weighted over exercises
    exercises: tuple[ExerciseMatch, ...] = ()
    first_lines: tuple[int, int] = (0, 0)    # (lines of first's own code the match covers, lines of own code)
    second_lines: tuple[int, int] = (0, 0)
    merged: Merged | None = None   # the pair is listed as part of a merged copy
    also: tuple[tuple[str, str, str], ...] = ()    # (z, y, x): z, of this pair, is alike y the same way, as y is
    #                                                alike x (of this pair) as a whole; (z, y) is not listed apart

    @property
    def percent(self) -> int:
        return round(100 * self.similarity)


# ---------------------------------------------------------------------------------------------------------------
# Normalisation


_MAGIC = re.compile(r"^\s*[%!].*$", re.M)   # IPython magics and shell lines: not Python, and nobody's own work


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(_MAGIC.sub("", code))
    except (SyntaxError, ValueError):
        return None


def _binds(node: ast.AST) -> set[str]:
    names = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name) and isinstance(inner.ctx, (ast.Store, ast.Del)):
            names.add(inner.id)
        elif isinstance(inner, ast.arg):
            names.add(inner.arg)
        elif isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(inner.name)
        elif isinstance(inner, ast.alias):
            names.add((inner.asname or inner.name).split(".")[0])
    return names


def _bound_names(tree: ast.Module, kept: frozenset) -> set[str]:
    """The names the student's code binds (assigned, loop and comprehension targets, parameters, functions, imports)
    that become placeholders: every name bound inside a function, and the module-level ones the course did not
    define (`kept`: its functions and answer variables, which a student must not rename)."""
    local = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            local |= _binds(node.args) | {n for stmt in ([node.body] if isinstance(node, ast.Lambda) else node.body)
                                          for n in _binds(stmt)}
    return local | (_binds(tree) - kept)


def _defined_by(code: str) -> set[str]:
    """The module-level names the course's code defines (its functions and answer variables): kept as they are."""
    tree = _parse(code)
    if tree is None:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            names |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return names


def _drop_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            kept = [stmt for stmt in body if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
                                                  and isinstance(stmt.value.value, str))]
            if body:   # a body of only a docstring becomes `pass`, still a body
                node.body = kept or [ast.Pass(lineno=body[0].lineno, col_offset=0)]


def _uses(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def _accumulator(loop: ast.For) -> tuple[str, str, ast.expr | tuple, list[ast.comprehension]] | None:
    """(name, "append", "add" or "dict", element, generators) when `loop` (and the loops and ifs nested in it, one
    statement each) only appends to, adds into or sets items of one name: `xs.append(e)`, `xs += [e]`,
    `xs = xs + [e]`; `s += e`, `s = s + e`; `d[k] = v` (element (k, v))."""
    generators, node = [], loop
    while True:
        if node.orelse or len(node.body) != 1:
            return None
        body, conditions = node.body, []
        while isinstance(body[0], ast.If) and not body[0].orelse and len(body[0].body) == 1:
            conditions.append(body[0].test)
            body = body[0].body
        generators.append(ast.comprehension(target=node.target, iter=node.iter, ifs=conditions, is_async=0))
        if isinstance(body[0], ast.For):
            node = body[0]
            continue
        stmt = body[0]
        break
    single = lambda value: (isinstance(value, ast.List) and len(value.elts) == 1   # noqa: E731
                            and not isinstance(value.elts[0], ast.Starred))
    found = None
    if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Attribute)
            and stmt.value.func.attr == "append" and isinstance(stmt.value.func.value, ast.Name)
            and len(stmt.value.args) == 1 and not stmt.value.keywords):
        found = stmt.value.func.value.id, "append", stmt.value.args[0]
    elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, ast.Add) and isinstance(stmt.target, ast.Name):
        found = (stmt.target.id, "append", stmt.value.elts[0]) if single(stmt.value) else (
            stmt.target.id, "add", stmt.value)
    elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
        if (isinstance(target, ast.Name) and isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add)
                and isinstance(value.left, ast.Name) and value.left.id == target.id):
            found = (target.id, "append", value.right.elts[0]) if single(value.right) else (
                target.id, "add", value.right)
        elif (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
              and not isinstance(target.slice, ast.Slice)):
            found = target.value.id, "dict", (target.slice, value)
    if found is None:
        return None
    name, kind, element = found
    parts = list(element) if kind == "dict" else [element]
    parts += [g.iter for g in generators] + [test for g in generators for test in g.ifs]
    if any(_uses(part, name) for part in parts):
        return None
    return name, kind, element, generators


def _starts_empty(stmt: ast.stmt, name: str, kind: str) -> bool:
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
            and stmt.targets[0].id == name):
        return False
    value = stmt.value
    empty = {"append": (ast.List, "list"), "dict": (ast.Dict, "dict")}
    if kind in empty:
        node, call = empty[kind]
        return (isinstance(value, node) and not (value.elts if kind == "append" else value.keys)) or (
            isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == call
            and not value.args and not value.keywords)
    return (isinstance(value, ast.Constant) and not isinstance(value.value, bool)
            and isinstance(value.value, (int, float)) and value.value == 0)


def _comprehensions(body: list[ast.stmt]) -> list[ast.stmt]:
    """`xs = []` then `for t in it: xs.append(e)` becomes `xs = [e for t in it]` (nested loops and ifs as the
    comprehension's own; `s = 0` with `s += e` becomes `s = sum(e for t in it)`, `d = {}` with `d[k] = v` becomes
    `d = {k: v for t in it}`), where the loop stood, when nothing in between touches the name."""
    body = list(body)
    for index, loop in enumerate(body):
        if not isinstance(loop, ast.For):
            continue
        found = _accumulator(loop)
        if not found:
            continue
        name, kind, element, generators = found
        for start in range(index - 1, -1, -1):
            if _starts_empty(body[start], name, kind):
                break
            if _uses(body[start], name):
                start = None
                break
        else:
            start = None
        if start is None:
            continue
        if kind == "append":
            value = ast.ListComp(elt=element, generators=generators)
        elif kind == "dict":
            value = ast.DictComp(key=element[0], value=element[1], generators=generators)
        else:
            value = ast.Call(func=ast.Name(id="sum", ctx=ast.Load()),
                             args=[ast.GeneratorExp(elt=element, generators=generators)], keywords=[])
        body[index] = ast.copy_location(ast.Assign(targets=[body[start].targets[0]], value=value), loop)
        body[start] = None
    return [stmt for stmt in body if stmt is not None]


_JUMPS = (ast.Return, ast.Raise, ast.Break, ast.Continue, ast.Yield, ast.YieldFrom, ast.Global, ast.Nonlocal,
          ast.Import, ast.ImportFrom, ast.Try, ast.With)


def _effects(stmt: ast.stmt, bound: set[str]) -> tuple[set[str], set[str], bool]:
    """(names read, names written, whether the statement must keep its place) of one statement. A method call on a
    name the student bound (`xs.append(...)`) and a store into its item or attribute write it (a call on a module,
    `np.sum(...)`, does not: two statements that both call NumPy are still independent); a bare expression may print
    or plot."""
    reads, writes = set(), set()
    barrier = False
    for node in ast.walk(stmt):
        if isinstance(node, _JUMPS):
            barrier = True
        elif isinstance(node, ast.Name):
            (writes if isinstance(node.ctx, (ast.Store, ast.Del)) else reads).add(node.id)
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            base = node
            while isinstance(base, (ast.Attribute, ast.Subscript)):
                base = base.value
            if isinstance(base, ast.Name):
                writes.add(base.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            base = node.func.value
            while isinstance(base, (ast.Attribute, ast.Subscript)):
                base = base.value
            if isinstance(base, ast.Name) and base.id in bound:
                writes.add(base.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            writes.add(node.name)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            reads.add(node.target.id)
    if isinstance(stmt, ast.Expr):
        reads.add("<output>")
        writes.add("<output>")
    return reads, writes, barrier


def _canonical_order(body: list[ast.stmt], key, bound: set[str]) -> list[ast.stmt]:
    """The statements of `body` in one canonical order that keeps every dependency: of the statements whose
    dependencies are all placed, the one with the smallest name-blind `key` goes first (a topological sort)."""
    if len(body) < 2:
        return body
    effects = [_effects(stmt, bound) for stmt in body]
    after = [set() for _ in body]
    for j, (reads_j, writes_j, barrier_j) in enumerate(effects):
        for i in range(j):
            reads_i, writes_i, barrier_i = effects[i]
            if barrier_i or barrier_j or writes_i & (reads_j | writes_j) or reads_i & writes_j:
                after[j].add(i)
    keys = [key(stmt) for stmt in body]
    placed, order = set(), []
    while len(order) < len(body):
        ready = [j for j in range(len(body)) if j not in placed and after[j] <= placed]
        chosen = min(ready, key=lambda j: (keys[j], j))
        placed.add(chosen)
        order.append(body[chosen])
    return order


def _normalise(tree: ast.AST, key, bound: set[str]) -> None:
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                setattr(node, name, _comprehensions(block))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            bound |= _versions(node)
    origins = _origins(tree, key, bound)
    uses = _uses_of(tree, key, bound)

    def ordered(stmt):   # name-blind, but a name is told by where it came from (`w = w - d_w` before `b = b - d_b`)
        names = [node.id for node in ast.walk(stmt) if isinstance(node, ast.Name) and node.id in bound]
        # and, when that is the same (`dw = 0` and `db = 0`), by where it is read
        return key(stmt), tuple(origins.get(name, (2, (), 0)) for name in names), tuple(uses[name] for name in names)

    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                setattr(node, name, _canonical_order(block, ordered, bound))


def _header(stmt: ast.stmt) -> ast.stmt:
    header = copy.copy(stmt)
    for name in ("body", "orelse", "finalbody", "handlers"):
        if isinstance(getattr(header, name, None), list):
            setattr(header, name, [])
    return header


def _origins(tree: ast.AST, key, bound: set[str]) -> dict[str, tuple]:
    """Where each bound name comes from, the same whatever it is called and wherever its statement stands: the
    function parameter it is (by position), or the name-blind statement that first binds it and its place there."""
    origins: dict[str, tuple] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for index, arg in enumerate(a for a in ast.walk(node.args) if isinstance(a, ast.arg)):
                origins.setdefault(arg.arg, (0, (), index))
        elif isinstance(node, ast.stmt) and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            header = _header(node)   # a loop or branch by its header alone: its body is not in canonical order yet
            stored = [n.id for n in ast.walk(header) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                      and n.id in bound]
            if stored:
                blind = key(header)
                for index, name in enumerate(stored):
                    origins.setdefault(name, (1, blind, index))
    return origins


def _uses_of(tree: ast.AST, key, bound: set[str]) -> dict[str, tuple]:
    """Where each bound name is read, whatever the statements' order: the name-blind statements (a loop or branch by
    its header) that read it, each with the name's place among the names it reads, sorted."""
    uses: dict[str, list] = defaultdict(list)
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            header = _header(node)
            read = [n.id for n in ast.walk(header) if isinstance(n, ast.Name) and n.id in bound
                    and not isinstance(n.ctx, ast.Store)]
            if read:
                blind = key(header)
                for index, name in enumerate(read):
                    uses[name].append((blind, index))
    return defaultdict(tuple, {name: tuple(sorted(found)) for name, found in uses.items()})


def _versions(function: ast.FunctionDef) -> set[str]:
    """A name assigned again in the function's own body (not in a loop or branch) becomes a new name from there on,
    as in static single assignment: `x = np.array(x)` then `x -= d` is then the same as `value = np.array(x)` then
    `value -= d`, as it computes the same. Returns the new names."""
    current: dict[str, str] = {}
    assigned = {arg.arg for arg in ast.walk(function.args) if isinstance(arg, ast.arg)}
    new = set()

    def rename(node: ast.AST) -> None:
        for inner in ast.walk(node):
            if isinstance(inner, ast.Name) and inner.id in current:
                inner.id = current[inner.id]

    for stmt in function.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else []
        names = [n for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)]
        plain = all(isinstance(n, (ast.Name, ast.Tuple, ast.List, ast.Starred, ast.expr_context))
                    for target in targets for n in ast.walk(target))
        if not targets or not plain:   # `xs[i] = e`, `a.b = e`: a store into a value, not a new name
            rename(stmt)
            assigned |= {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            continue
        rename(stmt.value)
        for name in names:
            original = name.id
            if original in assigned:
                current[original] = name.id = f"{original}#{len(new) + 1}"
                new.add(name.id)
            else:
                current.pop(original, None)
                assigned.add(original)
    return new


_RENAMED = {"ListComp": "Comp", "GeneratorExp": "Comp"}   # [e for ...] and (e for ...) mean the same here


def _tokens(node: ast.AST, name, line: int, out: list[tuple[str, int]]) -> None:
    """The tokens of `node`, each with its source line, in a fixed order: node kinds, placeholder or kept names,
    attributes, operators and constants."""
    if isinstance(node, (ast.expr_context,)):
        return
    line = getattr(node, "lineno", line)
    kind = type(node).__name__
    out.append((_RENAMED.get(kind, kind), line))
    if isinstance(node, ast.Name):
        out.append((name(node.id), line))
    elif isinstance(node, ast.arg):
        out.append((name(node.arg), line))
    elif isinstance(node, ast.Constant):
        out.append((repr(node.value), line))
    elif isinstance(node, ast.Attribute):
        out.append(("." + node.attr, line))
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        out.append((name(node.name), line))
    elif isinstance(node, ast.keyword):
        out.append(("=" + str(node.arg), line))
    elif isinstance(node, ast.alias):
        out.append((node.name, line))
    for field_name, value in ast.iter_fields(node):
        if field_name in ("type_comment", "ctx", "decorator_list") or isinstance(value, (str, int, type(None))):
            continue
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, ast.AST):
                _tokens(child, name, line, out)


def tokens(code: str, kept: frozenset = frozenset(), names: set | None = None) -> list[tuple[str, int]]:
    """The normalised tokens of `code` with their 1-based source lines; `kept` names (the course's) stay. The names
    the code binds, as written, are added to `names`."""
    try:
        return _tree_tokens(code, kept, set() if names is None else names)
    except (RecursionError, MemoryError):   # nested too deeply for a syntax tree: a student's code is untrusted
        logger.debug("similarity: code nested too deeply for its syntax tree, read as plain tokens")
        return _plain_tokens(code, kept)


def _tree_tokens(code: str, kept: frozenset, names: set) -> list[tuple[str, int]]:
    tree = _parse(code)
    if tree is None:
        return _plain_tokens(code, kept)
    _drop_docstrings(tree)
    bound = _bound_names(tree, kept)
    names |= bound - kept

    def blind(stmt):
        out = []
        _tokens(stmt, lambda n: "_" if n in bound else n, 0, out)
        return tuple(token for token, _ in out)

    _normalise(tree, blind, bound)
    numbers: dict[str, str] = {}

    def name(original: str) -> str:
        if original not in bound:
            return original
        return numbers.setdefault(original, f"v{len(numbers)}")

    out: list[tuple[str, int]] = []
    for stmt in tree.body:
        _tokens(stmt, name, stmt.lineno, out)
    return out


def _plain_tokens(code: str, kept: frozenset) -> list[tuple[str, int]]:
    """Tokens of code that is not valid Python (a half-written cell): names by first use, no reordering."""
    numbers: dict[str, str] = {}
    out = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.NAME and not keyword.iskeyword(token.string) and token.string not in kept:
                out.append((numbers.setdefault(token.string, f"v{len(numbers)}"), token.start[0]))
            elif token.type in (tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING):
                out.append((token.string, token.start[0]))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


# ---------------------------------------------------------------------------------------------------------------
# Fingerprints


def _digest(run: tuple[str, ...]) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(run).encode(), digest_size=8).digest(), "big")


@dataclass
class Prints:
    """The fingerprints of one exercise of one student: a hash per run of K tokens, and each token's source line."""
    code: str
    hashes: list[int]                      # one per run of K tokens, in token order: run i spans tokens i..i+K-1
    token_lines: list[int]                 # the source line of every token
    own: set[int] = field(default_factory=set)   # the hashes left after the discounts

    def winnowed(self) -> set[int]:
        """MOSS's winnowing: the smallest hash of every window of WINDOW runs."""
        if len(self.hashes) <= WINDOW:
            return set(self.hashes)
        return {min(self.hashes[start:start + WINDOW]) for start in range(len(self.hashes) - WINDOW + 1)}

    def tokens_of(self, hashes) -> set[int]:
        """The positions of the tokens that the runs hashed to one of `hashes` span."""
        return {position for start, digest in enumerate(self.hashes) if digest in hashes
                for position in range(start, start + K)}

    def lines(self, positions) -> set[int]:
        return {self.token_lines[position] for position in positions}

    def own_tokens(self) -> set[int]:
        """The tokens only own runs span: a token also in a discounted run (the course's, the class's) is not own."""
        return self.tokens_of(self.own) - self.tokens_of(set(self.hashes) - self.own)


def fingerprints(code: str, kept: frozenset = frozenset()) -> Prints:
    stream = tokens(code, kept)
    words = tuple(token for token, _ in stream)
    hashes = [_digest(words[start:start + K]) for start in range(len(stream) - K + 1)]
    return Prints(code, hashes, [line for _, line in stream])


def _code_lines(code: str) -> list[int]:
    """The 1-based numbers of the lines that hold code (not blank, not only a comment)."""
    return [number for number, text in enumerate(code.splitlines(), start=1)
            if text.strip() and not text.strip().startswith("#")]


# ---------------------------------------------------------------------------------------------------------------
# Pairs


def _as_exercises(code) -> dict[str, str]:
    return {"": code} if isinstance(code, str) else dict(code)


def similar_pairs(codes: dict, given: list[str], threshold: float = THRESHOLD, limit: int = MAX_PAIRS,
                  common: int | None = None) -> list[SimilarPair]:
    """The pairs of students whose own code is alike beyond `threshold`, most alike first, with the evidence.

    `codes`: student -> their code, either one string or {exercise: code}. `given`: the course's code (release
    notebook cells and reference solution), discounted wherever it appears. A run of tokens that more than `common`
    students wrote (default: max(8, a twentieth of the class)) is the ordinary answer and discounted too: a copy pair
    adds to the count, so a lower bar would discount the very code a pair copied.
    """
    codes = {student: _as_exercises(code) for student, code in codes.items()}
    kept = frozenset().union(*map(_defined_by, given)) if given else frozenset()
    given_hashes = set()
    for code in given:
        given_hashes.update(fingerprints(code, kept).hashes)
    prints: dict[str, dict[str, Prints]] = {}
    holders: Counter = Counter()
    seen: dict[str, Prints] = {}    # many students hand in the same cell: normalise each text once

    def printed(code: str) -> Prints:
        if code not in seen:
            seen[code] = fingerprints(code, kept)
        return dataclasses.replace(seen[code], own=set())

    for student in sorted(codes):
        mine = {exercise: printed(code) for exercise, code in sorted(codes[student].items()) if code and code.strip()}
        prints[student] = mine
        holders.update({(exercise, digest) for exercise, value in mine.items() for digest in value.hashes})
    common = max(8, len(prints) // 20) if common is None else common
    for student, mine in prints.items():
        for exercise, value in mine.items():
            value.own = {digest for digest in value.hashes
                         if digest not in given_hashes and holders[exercise, digest] <= common}
    candidates = _candidates(prints)
    scores = {pair: _score(prints[pair[0]], prints[pair[1]]) for pair in candidates}
    one_code = {pair for pair, (_, counts) in scores.items() if _departures(counts) <= 1}
    whole = {pair for pair, (figure, _) in scores.items()
             if (figure >= threshold and pair in one_code)
             or (figure >= EDITED and _handed_in_alike(prints[pair[0]], prints[pair[1]]))}
    merged = _merged(prints, whole)
    listed = {pair: scores[pair][0] for pair in whole}
    twice: dict[str, set[str]] = defaultdict(set)   # alike as a whole (one code twice), listed or not
    for (first, second), (figure, _) in scores.items():
        if figure >= WHOLE and (first, second) in one_code:
            twice[first].add(second)
            twice[second].add(first)
    for pair in merged:   # half of a merged copy may share too little for the index (a cell of ordinary code)
        if pair not in scores:
            scores[pair] = _score(prints[pair[0]], prints[pair[1]])
    listed.update({pair: scores[pair][0] for pair in merged if pair not in listed})
    pairs = []
    # most alike first (a tie, within a point, goes to the pair whose cells are written more alike as they were
    # handed in: of three students with one code, the copy and its source lead); the evidence (the costly part) only
    # for the pairs listed
    written: dict[str, tuple] = {}   # each distinct cell text read once
    order = {pair: (-round(figure, 2), -_surface(prints[pair[0]], prints[pair[1]], written), pair)
             for pair, figure in listed.items()}
    for (first, second), figure in sorted(listed.items(), key=lambda item: order[item[0]]):
        half = (first, second) in merged and figure < threshold
        # half of a merged copy rests on the copier's code being covered by two others: a short match is enough
        pair = _compare(first, second, figure, prints[first], prints[second], given_hashes, common, holders,
                        min_lines=MERGED_LINES if half else MIN_LINES, min_shared=1 if half else MIN_SHARED)
        if pair and half:
            pair = dataclasses.replace(pair, merged=merged[first, second])
        repeated = _repeats(pair, pairs, twice) if pair else None
        if repeated:   # one lead, not two: said on the pair listed
            at, also = repeated
            pairs[at] = dataclasses.replace(pairs[at], also=pairs[at].also + (also,))
            continue
        if pair:
            pairs.append(pair)
            if len(pairs) == limit:
                break
    logger.debug("similarity: %d students, %d candidate pairs, %d listed", len(prints), len(scores), len(pairs))
    return pairs


def _score(mine: dict[str, Prints], theirs: dict[str, Prints]) -> tuple[float, dict[str, tuple[int, int, int]]]:
    """(the pair's figure, {exercise: (shared, first's own, second's own) fingerprints}): per exercise the share of
    the smaller side's own fingerprints the other has, weighted over exercises by the exercise's own code (the larger
    side's; an exercise only one side wrote own code for counts as not alike)."""
    shared_total = size_total = 0.0
    counts = {}
    for exercise in sorted(set(mine) | set(theirs)):
        a = mine[exercise].own if exercise in mine else set()
        b = theirs[exercise].own if exercise in theirs else set()
        shared = len(a & b)
        counts[exercise] = (shared, len(a), len(b))
        size = max(len(a), len(b))
        size_total += size
        if shared >= 2 * EDIT and max(len(a), len(b)) - shared <= EDIT:
            shared_total += size
        elif shared:
            shared_total += size * shared / min(len(a), len(b))
    return (shared_total / size_total if size_total else 0.0), counts


def _departures(counts: dict[str, tuple[int, int, int]]) -> int:
    """The exercises in which the two differ at all: own code on one side only, or own code the other lacks. One
    code handed in twice departs in none, or in one (an edit of the copier's, an exercise done apart); two students
    who wrote alike by chance part ways here and there."""
    return sum(1 for shared, first, second in counts.values() if (first or second) and not shared == first == second)


def _surface(mine: dict[str, Prints], theirs: dict[str, Prints], written: dict[str, tuple]) -> float:
    """How alike the two cells of each exercise are as they were handed in, before any normalisation: 1 for the very
    same text, 1/2 for the same names in the same order, averaged over the exercises both handed in. `written`:
    cell text -> (its text, its names), filled as cells are read."""
    both = sorted(set(mine) & set(theirs))
    if not both:
        return 0.0
    alike = 0.0
    for exercise in both:
        a, b = (written.get(code) or written.setdefault(code, (_text(code), _names_written(code)))
                for code in (mine[exercise].code, theirs[exercise].code))
        alike += 1.0 if a[0] == b[0] else 0.5 if a[1] == b[1] else 0.0
    return alike / len(both)


def _names_written(code: str) -> tuple[str, ...]:
    """The names in a cell, in the order they are first written (comments and layout aside)."""
    seen: dict[str, None] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.NAME and not keyword.iskeyword(token.string):
                seen.setdefault(token.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return tuple(seen)


def _candidates(prints: dict[str, dict[str, Prints]]):
    """The pairs sharing at least one winnowed own fingerprint, found through an index of fingerprints rather than by
    comparing every pair (2,000 students make two million pairs); ordered, each once."""
    index: dict[tuple[str, int], list[str]] = defaultdict(list)
    for student, mine in prints.items():
        for exercise, value in mine.items():
            for digest in sorted(value.winnowed() & value.own):
                index[exercise, digest].append(student)
    shared: Counter = Counter()
    for students in index.values():
        for i, first in enumerate(students):
            for second in students[i + 1:]:
                shared[first, second] += 1
    return sorted(pair for pair, count in shared.items() if count >= 2)


def _repeats(pair: SimilarPair, listed: list[SimilarPair], whole: dict) -> tuple[int, tuple[str, str, str]] | None:
    """(index of the listed pair, (z, y, x)) when `pair` (z, y) says again what a listed pair (z, x) said: y and x
    are listed as alike as a whole, and (z, x) with the same figure. A student alike two others who are copies of
    each other is one lead, not two (nor four, when both sides have a copy; nor three, when three wrote one code).
    `whole`: student -> the others alike them as a whole."""
    index = {frozenset((other.first, other.second)): at for at, other in enumerate(listed)}
    for z, y in ((pair.first, pair.second), (pair.second, pair.first)):
        for x in sorted(whole.get(y, ())):
            at = index.get(frozenset((z, x)))
            if at is not None and abs(listed[at].similarity - pair.similarity) < 0.02:
                return at, (z, y, x)
    return None


def _merged(prints: dict[str, dict[str, Prints]], whole) -> dict[tuple[str, str], Merged]:
    """Merged copies: a student who handed in some cells as A did and the rest as B did, where a whole-submission
    figure stays near one half (`_verbatim_halves` finds them). A student already alike one of the two as a whole
    (`whole`: the pairs listed) is that pair's, not a merger; and as the three of a merged copy also explain the
    sources' code by the copier's, the strongest explanations are taken first, a copier is nobody's source and a
    source is the source of one merged copy. A pair is listed only when no rival explanation (any with rare own code
    from each source) says otherwise: when others handed in the very cells of one source too, or when a source is as
    well explained as merged from the copier's cells and a third student's, only the pair every explanation agrees
    on is listed. Returns {pair: Merged} for the pairs listed."""
    found, copiers, sources = {}, set(), set()
    rivals = _verbatim_halves(prints, whole)
    # an explanation is taken when both sources reach the bar, or one is long (then it alone is listed)
    explanations = [rival for rival in rivals if -rival[0][0] >= MERGED_EVIDENCE
                    or -rival[0][1] + rival[0][0] >= MERGED_STRONG]
    for _, copier, first, second, listable in sorted(explanations):
        if copier in copiers | sources or {first, second} & (copiers | sources):
            continue
        copiers.add(copier)
        sources |= {first, second}
        alike = [{a, b} for _, other, a, b, _ in rivals if other == copier]   # this explanation is among them
        # a source explained as merged from the copier's cells and a third student's: (source, third)
        reverse = {(other, (set(a_b) - {copier}).pop()) for _, other, *a_b, _ in rivals
                   if other in (first, second) and copier in a_b}
        agreed = set.intersection({first, second}, *alike) & listable
        if reverse:
            agreed &= {by for by, _ in reverse}
        for source in agreed:
            others = tuple(sorted(set().union(*alike) - {source}))
            back = tuple(sorted(third for by, third in reverse if by == source))
            found[tuple(sorted((copier, source)))] = Merged(copier, source, others, back,
                                                           alone=len(listable) == 1 and not back and len(others) == 1)
    return found


def _text(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines())


def _handed_in_alike(mine: dict[str, Prints], theirs: dict[str, Prints]) -> bool:
    """Whether the two handed in the very same text in every cell but one (a copy with an edit of its own)."""
    cells = set(mine) | set(theirs)
    same = sum(1 for e in cells if e in mine and e in theirs and _text(mine[e].code) == _text(theirs[e].code))
    return len(cells) >= 2 and same >= len(cells) - 1


def _verbatim_halves(prints: dict[str, dict[str, Prints]], whole) -> list[tuple]:
    """Merged copies handed in as they were copied: every cell of the copier's is, text for text, the cell of one of
    two others, each of whom supplies cells the other does not. The evidence each source must give on its own cells
    is rare own code: own fingerprints weighted by one over the number of students who handed in that very text (a
    one-liner half the class wrote points at nobody), at least MERGED_EVIDENCE from cells each of which reaches it.
    Returns every explanation with some rare own code from each source (the rivals of the ones taken):
    ((-weaker, -both), copier, A, B, the sources whose cells reach the bar)."""
    texts: dict[tuple[str, str], set[str]] = defaultdict(set)
    for student, mine in prints.items():
        for exercise, value in mine.items():
            texts[exercise, _text(value.code)].add(student)
    rivals = []
    for copier in sorted(prints):
        mine = {exercise: texts[exercise, _text(value.code)] for exercise, value in prints[copier].items()}
        if len(mine) < 2:
            continue
        evidence: dict[str, Counter] = defaultdict(Counter)   # cells each of which reaches the bar
        some: dict[str, Counter] = defaultdict(Counter)       # any rare own code
        for exercise, holders in sorted(mine.items()):
            own = len(prints[copier][exercise].own)
            if own and len(holders) > 1:
                for other in holders - {copier}:
                    some[other][exercise] = own / (len(holders) - 1)
                    if len(holders) - 1 <= own / MERGED_EVIDENCE:   # else no holder can reach the bar with it
                        evidence[other][exercise] = own / (len(holders) - 1)
        for first, second in _covering_pairs({exercise: holders - {copier} for exercise, holders in mine.items()}):
            with_first = {exercise for exercise, holders in mine.items() if first in holders}
            with_second = {exercise for exercise, holders in mine.items() if second in holders}
            if {tuple(sorted((copier, first))), tuple(sorted((copier, second)))} & whole:
                continue
            weak = (sum(some[first][e] for e in with_first - with_second),
                    sum(some[second][e] for e in with_second - with_first))
            if min(weak) <= 0:
                continue
            alone = (sum(evidence[first][e] for e in with_first - with_second),
                     sum(evidence[second][e] for e in with_second - with_first))
            # the weaker source decides: a source's own copier plus a chance twin of a one-liner is weak on one side
            strength = (-min(alone), -sum(alone))
            # a source listed: one whose cells reach the bar; the other too weak to point at anyone is named only
            listable = frozenset(source for source, weight in zip((first, second), alone) if weight >= MERGED_EVIDENCE)
            rivals.append((strength, copier, first, second, listable))
    return rivals


def _covering_pairs(cells: dict[str, set[str]]) -> list[tuple[str, str]]:
    """The pairs of students who between them handed in every one of `cells` (exercise -> who handed in that very
    text), neither of them all: one of the two handed in the cell the fewest did, the other every cell the first did
    not (a few set operations per holder of that cell, never every pair of the class)."""
    if not cells or not all(cells.values()):
        return []
    fewest = min(sorted(cells), key=lambda exercise: len(cells[exercise]))
    pairs = set()
    every = set.intersection(*cells.values())
    for first in cells[fewest] - every:
        rest = [holders for holders in cells.values() if first not in holders]
        pairs.update(tuple(sorted((first, second))) for second in set.intersection(*rest) - every)
    return sorted(pairs)


def _compare(first: str, second: str, figure: float, mine: dict[str, Prints], theirs: dict[str, Prints],
             given_hashes: set[int], common: int, holders: Counter, min_lines: int = MIN_LINES,
             min_shared: int = MIN_SHARED) -> SimilarPair | None:
    """The pair with its evidence: per exercise both codes, each line marked; None when the shared code is too short
    to judge (fewer than MIN_SHARED tokens, or fewer than MIN_LINES lines of either side)."""
    matched: list[ExerciseMatch] = []
    covered_first, covered_second = set(), set()
    own_first = own_second = 0
    shared_hashes: set[int] = set()
    for exercise in sorted(set(mine) | set(theirs)):
        a, b = mine.get(exercise), theirs.get(exercise)
        own_first += len(_own_lines(a)) if a else 0
        own_second += len(_own_lines(b)) if b else 0
        shared = a.own & b.own if a and b else set()
        if not shared:
            continue
        shared_hashes |= shared
        lines_a, lines_b = _matched_lines(a, shared), _matched_lines(b, shared)
        covered_first |= {(exercise, line) for line in lines_a}
        covered_second |= {(exercise, line) for line in lines_b}
        matched.append(ExerciseMatch(exercise, _highlight(a, lines_a, given_hashes, common, holders, exercise),
                                     _highlight(b, lines_b, given_hashes, common, holders, exercise),
                                     len(shared) / min(len(a.own), len(b.own))))
    if len(shared_hashes) + K - 1 < min_shared or min(len(covered_first), len(covered_second)) < min_lines:
        return None
    return SimilarPair(first, second, figure, tuple(matched), (len(covered_first), own_first),
                       (len(covered_second), own_second))


def _matched_lines(value: Prints, shared: set[int]) -> set[int]:
    return value.lines(value.tokens_of(shared) & value.own_tokens())


def _own_lines(value: Prints) -> set[int]:
    return value.lines(value.own_tokens()) & set(_code_lines(value.code))


def _highlight(value: Prints, matched: set[int], given_hashes: set[int], common: int, holders: Counter,
               exercise: str) -> tuple[Line, ...]:
    """Every line of the code with what it is: matched by the pair, the course's, common to the class, or plain."""
    given = value.lines(value.tokens_of(given_hashes))
    usual = value.lines(value.tokens_of({digest for digest in value.hashes if holders[exercise, digest] > common}))
    code_lines = set(_code_lines(value.code))
    out = []
    for number, text in enumerate(value.code.splitlines(), start=1):
        kind = ""
        if number in code_lines:
            kind = MATCH if number in matched else GIVEN if number in given else COMMON if number in usual else ""
        out.append(Line(text, kind))
    return tuple(out)
