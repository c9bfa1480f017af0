"""notebook.read bounds how deep a notebook's JSON may nest: MAX_DEPTH levels are read, one more is refused with
the same message however deep it goes (even past what the JSON parser can reach)."""
import json

import pytest

from autograder.course import notebook as nb

# levels: the notebook (1), its metadata (2), then what a test nests inside it
NOTEBOOK = '{"nbformat": 4, "nbformat_minor": 5, "cells": [], "metadata": {"deep": %s}}'


def lists(levels: int) -> str:
    return "[" * (levels - 2) + "]" * (levels - 2)


def objects(levels: int) -> str:
    return '{"a": ' * (levels - 3) + "{}" + "}" * (levels - 3)


def in_a_cell(levels: int) -> str:
    """Lists in a cell's metadata: the notebook (1), cells (2), the cell (3), its metadata (4), then lists."""
    cell = {"cell_type": "code", "source": "x = 1", "metadata": {"deep": "HERE"}, "outputs": [],
            "execution_count": None}
    text = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]})
    return text.replace('"HERE"', "[" * (levels - 4) + "]" * (levels - 4))


def written(tmp_path, text: str):
    path = tmp_path / "deep.ipynb"
    path.write_text(text)
    return path


@pytest.mark.parametrize("nested", [lambda n: NOTEBOOK % lists(n), lambda n: NOTEBOOK % objects(n), in_a_cell],
                         ids=["lists", "objects", "lists-in-a-cell"])
def test_a_notebook_nested_to_the_limit_is_read_and_one_level_more_is_refused(tmp_path, nested):
    notebook = nb.read(written(tmp_path, nested(nb.MAX_DEPTH)))
    assert notebook.nbformat == 4
    with pytest.raises(nb.NestedTooDeep) as refused:
        nb.read(written(tmp_path, nested(nb.MAX_DEPTH + 1)))
    assert str(refused.value) == f"{tmp_path / 'deep.ipynb'}: not a readable notebook (nested more than " \
                                 f"{nb.MAX_DEPTH} levels deep)"


@pytest.mark.parametrize("levels", [500, 700, 800, 100_000])
def test_any_depth_past_the_limit_gets_the_same_message(tmp_path, levels):
    """The issue's notebooks: 500 to 800 deep crashed reading after the parser; 100,000 stop in the parser."""
    with pytest.raises(nb.NestedTooDeep, match=f"nested more than {nb.MAX_DEPTH} levels deep"):
        nb.read(written(tmp_path, NOTEBOOK % lists(levels)))
    with pytest.raises(nb.NestedTooDeep, match=f"nested more than {nb.MAX_DEPTH} levels deep"):
        nb.read(written(tmp_path, NOTEBOOK % objects(levels)))


def test_the_limit_is_far_above_any_notebook_jupyter_writes(course):
    """The course's own notebooks nest 5 levels: the limit leaves room for deep widget state and JSON outputs."""
    def depth(value):
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        return 0 if children is None else 1 + max(map(depth, children), default=0)

    deepest = max(depth(json.loads(course.release_notebook(name).read_text())) for name in course.assignments)
    assert deepest * 10 <= nb.MAX_DEPTH
