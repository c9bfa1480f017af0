"""The reference's times cached on disk (autograder/engine/budgets.py): a new grading process reads them instead of
timing the instructor's solution again; a changed solution, check file or setting is timed again; a corrupt or foreign
cache file is ignored; processes writing the cache at once leave a whole file. Fast: `measure` stands in for the
sandbox's runs of the solution (it records times into the real Measurement, as the sandbox does)."""
import dataclasses
import json
import multiprocessing
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.engine import budgets
from autograder.engine.budgets import Reference, cache_path, read_cached, reference_for, write_cached
from autograder.checking.checks import check_file
from course_files import copy_course

A1 = "01-gradient-descent"


@pytest.fixture
def course(course, tmp_path):
    return dataclasses.replace(course, root=copy_course(tmp_path / "course"))


@pytest.fixture(autouse=True)
def new_process(monkeypatch):
    """Each call of `reference_for` below acts as a new grading process: nothing kept in memory."""
    def fresh():
        monkeypatch.setattr(budgets, "_cache", budgets._Cache())
    fresh()
    return fresh


class Timer:
    """A stand-in for grading the solution in the sandbox: one cell and one call, timed `seconds`."""

    def __init__(self, seconds=0.004):
        self.seconds, self.runs = seconds, 0

    def __call__(self, measurement):
        self.runs += 1
        measurement.for_cells({0: "id:check_df"})
        measurement.measured_cell(0, self.seconds, failed=False)
        measurement.measured_call("df", self.seconds / 4, failed=False)


def test_a_new_process_reads_the_times_the_first_one_measured(course, new_process):
    timer = Timer()
    first = reference_for(course, A1, check_file(A1), timer)
    assert timer.runs == budgets.RUNS and first == Reference({"id:check_df": 0.004}, {"df": 0.001})
    assert cache_path(course, A1).is_file() and cache_path(course, A1).is_relative_to(course.root / ".autograder-cache")
    new_process()
    assert reference_for(course, A1, check_file(A1), lambda measurement: pytest.fail("timed again")) == first


@pytest.mark.parametrize("change", ["solution", "check file", "setting"])
def test_a_changed_solution_check_file_or_setting_is_timed_again(course, new_process, tmp_path, change):
    checks = tmp_path / "test_01_gradient_descent.py"
    checks.write_bytes(check_file(A1).read_bytes())
    reference_for(course, A1, checks, Timer(0.004))
    new_process()
    if change == "solution":
        source = course.source_notebook(A1)
        source.write_text(source.read_text().replace("def df(x):", "def df(x):  # faster now", 1))
    elif change == "check file":
        checks.write_text(checks.read_text() + "\n# one more check\n")
    else:
        course = dataclasses.replace(course, cell_timeout=course.cell_timeout + 1)
    timer = Timer(0.008)
    assert reference_for(course, A1, checks, timer).cells == {"id:check_df": 0.008}
    assert timer.runs == budgets.RUNS
    new_process()  # and the new times replaced the old ones on disk
    assert reference_for(course, A1, checks, lambda m: pytest.fail("timed again")).cells == {"id:check_df": 0.008}


@pytest.mark.parametrize("content", [
    b"", b"{ not json", b"\xff\xfe\x00", b"[]", b"null", b'{"key": 1}',
    b'{"key": "KEY", "cells": {"id:check_df": "0.004"}, "calls": {"df": 0.001}}',
    b'{"key": "KEY", "cells": {"id:check_df": NaN}, "calls": {"df": 0.001}}',
    b'{"key": "KEY", "cells": {"id:check_df": -1}, "calls": {"df": 0.001}}',
    b'{"key": "KEY", "cells": {}, "calls": {"df": 0.001}}',
    b'{"key": "KEY", "cells": {"id:check_df": true}, "calls": {"df": 0.001}}',
    b'{"key": "KEY", "cells": [1], "calls": {"df": 0.001}}',
    b'{"key": "another course\'s", "cells": {"id:check_df": 0.5}, "calls": {"df": 0.5}}',
])
def test_a_corrupt_or_foreign_cache_file_is_ignored_and_replaced(course, content):
    key = budgets.content_key(course, course.source_notebook(A1), check_file(A1))
    path = cache_path(course, A1)
    path.parent.mkdir(parents=True)
    path.write_bytes(content.replace(b"KEY", key.encode()))
    timer = Timer()
    assert reference_for(course, A1, check_file(A1), timer) == Reference({"id:check_df": 0.004}, {"df": 0.001})
    assert timer.runs == budgets.RUNS
    assert json.loads(path.read_text())["key"] == key


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=200), st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=12).map(lambda data: json.dumps({"key": "k", **data} if isinstance(data, dict) else data).encode())))
def test_whatever_the_cache_file_holds_reading_it_gives_valid_times_or_none(tmp_path, content):
    path = tmp_path / "times.json"
    path.write_bytes(content)
    reference = read_cached(path, "k")
    assert reference is None or all(
        isinstance(seconds, float) and 0 <= seconds < float("inf")
        for seconds in [*reference.cells.values(), *reference.calls.values()])


def _write_many(path, which, count):
    for _ in range(count):
        write_cached(path, "key", Reference({f"id:{which}": float(which)}, {"df": float(which)}))


def test_processes_writing_the_cache_at_once_leave_a_whole_file(tmp_path):
    path = tmp_path / "cache" / "01.json"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_write_many, args=(path, which, 200)) for which in range(1, 5)]
    for writer in writers:
        writer.start()
    seen = set()
    while any(writer.is_alive() for writer in writers):
        reference = read_cached(path, "key")  # never half a file: None before the first write, then a whole one
        if path.exists():
            assert reference is not None
            (which,) = reference.calls.values()
            assert reference.cells == {f"id:{which:g}": which}
            seen.add(which)
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0
    assert read_cached(path, "key") is not None and seen
    assert os.listdir(path.parent) == ["01.json"]  # no temporary file left behind


def test_a_course_folder_that_cannot_be_written_still_grades_with_times_in_memory(course, tmp_path):
    (course.root / ".autograder-cache").write_text("a file where the folder would be")
    timer = Timer()
    assert reference_for(course, A1, check_file(A1), timer) == Reference({"id:check_df": 0.004}, {"df": 0.001})
    assert reference_for(course, A1, check_file(A1), lambda m: pytest.fail("timed again")) is not None
