"""Time budgets from the reference: a student's cell or call gets what the instructor's solution needs, times a factor.

A correct function of the course returns in microseconds to milliseconds, so the flat `cell_timeout` (seconds) is
thousands of times what honest code needs, and an endless loop costs it in full, cell after cell, call after call.
Instead, once per assignment in each grading process, the source notebook (the instructor's solution) runs in the
same sandbox as the students' and every cell and every call of a student function is timed there. A submission then
gets `max(floor, factor x reference)` for each, never more than `cell_timeout`:

- a cell is known by its grade id, or, without one, by its exact source (the course's own cells); a cell the
  student added, or one that failed in the reference, has no time of its own and gets the budget of the
  reference's slowest cell;
- a call is known by the function's name, its budget from the longest reference call of that function: the hidden
  checks call a function on inputs of the same sizes, so the longest call bounds them all, and a submission that
  fails early (fewer calls, in another order) still meets the right budget;
- a function that has run out of time once in a submission gets only the floor for its later calls.

Measured on the machine that grades, budgets scale with it: a slow machine measures a slow reference.

The times are kept on disk too, in the course's `.autograder-cache/` folder, under a hash of everything that
determines them (the source notebook, the hidden check file, the sandbox's code, the interpreter, the machine and the
limits): a new grading process reuses them instead of running the solution twice (seconds at every start), and a
changed solution is timed again. A cache file that cannot be read, or holds another key, is ignored.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import platform
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..course.config import Course

logger = logging.getLogger(__name__)

CACHE_FOLDER = ".autograder-cache"   # in the course root; .gitignore lists it
CACHE_FORMAT = 1
# the files of the engine whose change can change what the reference measures: the sandbox's side of a run
ENGINE_FILES = ("engine/sandboxed.py", "engine/plain.py", "engine/sandbox.py", "grading/grade.py",
                "engine/budgets.py")
RUNS = 2  # the reference is timed this often; each time kept is the shortest, the least disturbed


def cell_key(grade_id: str | None, source: str) -> str:
    """What identifies a cell across the reference and a submission: its grade id, else its exact source."""
    return f"id:{grade_id}" if grade_id else f"source:{source}"


def duration(seconds: float) -> str:
    """A time as a person says it: "0.5 s", "2 ms", "less than 1 ms"."""
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 0.1:
        return f"{seconds:.2g} s"
    if seconds >= 0.001:
        return f"{seconds * 1000:.0f} ms"
    return "less than 1 ms"


@dataclass(frozen=True)
class Reference:
    """How long the instructor's solution took: each cell that ran cleanly, and each function's longest call."""

    cells: dict[str, float]
    calls: dict[str, float]

    @property
    def slowest_cell(self) -> float:
        return max(self.cells.values(), default=0.0)

    @property
    def slowest_call(self) -> float:
        return max(self.calls.values(), default=0.0)


class Budgets:
    """One submission's time limits, per cell (by its index in the submitted notebook) and per call (by name).

    Shared by every run of the submission (a rerun after a crash keeps what ran out of time)."""

    def __init__(self, course: Course, reference: Reference | None, cell_keys: dict[int, str]):
        self.floor, self.factor, self.ceiling = course.budget_floor, course.budget_factor, course.cell_timeout
        self.reference = reference
        self.cell_keys = cell_keys
        self.ran_out_of_time: set[str] = set()

    def _budget(self, reference_seconds: float) -> float:
        return min(self.ceiling, max(self.floor, self.factor * reference_seconds))

    def cell(self, index: int | None) -> float:
        if self.reference is None:
            return self.ceiling
        key = self.cell_keys.get(index)
        return self._budget(self.reference.cells.get(key, self.reference.slowest_cell))

    def call(self, name: str) -> float:
        if self.reference is None:
            return self.ceiling
        if name in self.ran_out_of_time:
            return min(self.ceiling, self.floor)
        return self._budget(self.reference.calls.get(name, self.reference.slowest_call))

    def wall(self, budget: float) -> float:
        """The wall time a cell or call with `budget` seconds of processor time may take: waiting (a sleep, a
        callback into the grader, a loaded machine) costs no processor time, so it has the flat limit."""
        return self.ceiling

    def ran_out(self, name: str):
        self.ran_out_of_time.add(name)

    def cell_hint(self, index: int | None) -> str:
        """Why the cell at `index` had the time it had, for the student."""
        if self.reference is None:
            return "the longest any cell may run"
        seconds = self.reference.cells.get(self.cell_keys.get(index))
        if seconds is not None:
            return f"your instructor's solution runs this cell in {duration(seconds)}"
        return f"no cell of your instructor's solution needs more than {duration(self.reference.slowest_cell)}"

    def call_hint(self, name: str, seconds: float) -> str:
        """Why a call of `name` had `seconds`, for the student."""
        if self.reference is None:
            return "the longest any call may run"
        if name in self.ran_out_of_time and seconds <= self.floor:
            return "it had already run out of time once, so later calls get the shortest time"
        reference = self.reference.calls.get(name)
        if reference is not None:
            return f"your instructor's solution needs {duration(reference)}"
        return f"no call in your instructor's solution needs more than {duration(self.reference.slowest_call)}"

    def measured_cell(self, index: int, seconds: float, failed: bool):
        """What the sandbox measured for a cell: kept only when timing the reference."""

    def measured_call(self, name: str, seconds: float, failed: bool):
        """What the sandbox measured for a call: kept only when timing the reference."""


class Measurement(Budgets):
    """The reference's runs: every limit is `cell_timeout`, and every time measured is kept: per run, each
    cell's time and each function's longest call; across runs, the shortest (what the solution needs, less noise)."""

    def __init__(self, course: Course):
        super().__init__(course, None, {})
        self.runs: list[tuple[dict, dict]] = []   # (cell key -> seconds, function name -> seconds) per run
        self.failed: set[str] = set()             # cells that raised: their time says nothing about what they need

    def for_cells(self, cell_keys: dict[int, str]) -> "Measurement":
        """This measurement, for one more run of the notebook whose cells have these keys."""
        self.cell_keys = cell_keys
        self.runs.append(({}, {}))
        return self

    def measured_cell(self, index: int, seconds: float, failed: bool):
        key = self.cell_keys.get(index)
        if key is not None:
            self.runs[-1][0][key] = seconds
            if failed:
                self.failed.add(key)

    def measured_call(self, name: str, seconds: float, failed: bool):
        if not failed:
            calls = self.runs[-1][1]
            calls[name] = max(seconds, calls.get(name, 0.0))

    def measured(self) -> Reference:
        def shortest(which: int) -> dict:
            keys = set().union(*(run[which] for run in self.runs)) - self.failed
            return {key: min(run[which][key] for run in self.runs if key in run[which]) for key in keys}
        return Reference(shortest(0), shortest(1))


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    locks: dict = field(default_factory=dict)        # one per key: workers on other assignments need not wait
    references: dict = field(default_factory=dict)   # (source, its mtime, check file's mtime, limits) -> Reference


_cache = _Cache()


def reference_for(course: Course, assignment: str, check_file: Path,
                  measure: Callable[[Measurement], object]) -> Reference | None:
    """The reference times of `assignment`, measured once per grading process or read from the course's cache:
    `measure(measurement)` grades the source notebook with it (RUNS times). None (every limit `cell_timeout`) when
    the solution cannot be timed."""
    source = course.source_notebook(assignment)
    try:
        key = (str(source), source.stat().st_mtime_ns, check_file.stat().st_mtime_ns, course.cell_timeout,
               course.budget_floor, course.budget_factor)
    except OSError:
        return None
    with _cache.lock:
        lock = _cache.locks.setdefault(key, threading.Lock())
    with lock:  # one worker measures; the others wait for it rather than measure at the same time
        if key not in _cache.references:
            try:
                _cache.references[key] = _measured(course, assignment, source, check_file, measure)
            except Exception as error:  # e.g. the sandbox failed: grading goes on with the flat limit
                logger.warning("the solution of %s could not be timed (%s); every cell and call gets %g s", assignment,
                               error, course.cell_timeout)
                _cache.references[key] = None
        return _cache.references[key]


def _measured(course: Course, assignment: str, source: Path, check_file: Path,
              measure: Callable[[Measurement], object]) -> Reference:
    """The reference from the course's cache when it was measured for these same files, else measured now (and
    cached)."""
    try:
        disk_key = content_key(course, source, check_file)
    except OSError:
        disk_key = None
    path = cache_path(course, assignment)
    if disk_key is not None:
        cached = read_cached(path, disk_key)
        if cached is not None:
            return cached
    measurement = Measurement(course)
    for _ in range(RUNS):
        measure(measurement)
    reference = measurement.measured()
    if not (reference.cells and reference.calls):
        raise ValueError("nothing of it ran")
    if disk_key is not None:
        write_cached(path, disk_key, reference)
    return reference


def cache_path(course: Course, assignment: str) -> Path:
    return course.root / CACHE_FOLDER / "reference-times" / f"{assignment}.json"


def content_key(course: Course, source: Path, check_file: Path) -> str:
    """A hash of what the reference's times depend on; the same key, the same times (up to the machine's noise)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for path in (source, check_file, *(package / name for name in ENGINE_FILES)):
        content = path.read_bytes()
        digest.update(f"{path.name}:{len(content)}:".encode())
        digest.update(content)
    facts = [CACHE_FORMAT, sys.version, sys.executable, platform.node(), platform.machine(), os.cpu_count(),
             course.cell_timeout, course.budget_floor, course.budget_factor, course.memory_mb, course.cpu_seconds,
             course.keep_figures]
    digest.update(json.dumps(facts).encode())
    return digest.hexdigest()


def read_cached(path: Path, key: str) -> Reference | None:
    """The reference cached at `path` for `key`; None when there is none, it is another key's, or it is unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        cells, calls = data["cells"], data["calls"]
        for times in (cells, calls):
            if not (isinstance(times, dict) and times and all(
                    isinstance(name, str) and type(seconds) in (int, float) and math.isfinite(seconds) and seconds >= 0
                    for name, seconds in times.items())):
                raise ValueError("not a table of times")
        return Reference({name: float(seconds) for name, seconds in cells.items()},
                         {name: float(seconds) for name, seconds in calls.items()})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        logger.warning("ignoring the cached reference times in %s (%s); the solution is timed again", path, error)
        return None


def write_cached(path: Path, key: str, reference: Reference):
    """Keep `reference` at `path` for `key`: written whole to a temporary file, then renamed over the old one, so a
    reader sees the old file or the new one, and of two processes writing at once the last one's file stays."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                         delete=False) as file:
            json.dump({"key": key, "cells": reference.cells, "calls": reference.calls}, file)
        os.chmod(file.name, 0o644)  # as any file the course's tools write: others grading this course read it too
        os.replace(file.name, path)
    except OSError as error:  # a read-only course: the times stay in this process only
        logger.warning("could not cache the reference times in %s: %s", path, error)
        try:
            os.unlink(file.name)
        except (OSError, NameError):
            pass
