"""One grading pipeline: jobs go into a pool of graders, each (job, result) comes out into a sink.

    Job ──> Pool (warm local sandboxes: batch.SandboxWorker; or a Dask cluster: distributed.ClusterPool)
        ──> (job, result), in the order results complete ──> Sink (the batch's: gradebook, autograded copy, JSON
            report, crash-safe resume; or the service's: attempt store, and the gradebook when the attempt counts)

Every driver (`autograder grade`, `serve`, `--scheduler`, the Gradescope runner) grades with `grade.grade_notebook`
and tells it the course's other assignments with `other_assignments`, so a notebook of the wrong assignment is
named the same way wherever it is graded.

What the stages keep, on purpose: each local sandbox forks every notebook's run from a warm zygote, and holds a
slot lock so that two sandboxes on a machine never share a uid (its clean-up kills all of that uid's processes);
every message from inside a sandbox is checked against the wire protocol before it is believed (sandbox.py); the
batch's sink commits a
submission's grades with its fingerprint in one transaction after its autograded copy is in place, so a killed
batch resumes where it stopped (batch.save_or_explain, gradebook.GradebookWriter); and grades go into nbgrader's
own gradebook, which `nbgrader autograde` agrees with (tests/test_nbgrader_agreement.py).
"""
from __future__ import annotations

import queue
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol

from ..course.spec import AssignmentSpec


@dataclass(frozen=True)
class Job:
    """One notebook to grade. `key` says which submission it is to the sink that records it: the service's attempt
    id, or the batch's own (the student is the batch's key; it leaves `key` empty). Nothing else carries an id."""
    student: str
    path: Path | None            # None when the student's folder holds no notebook
    timestamp_file: Path | None
    fingerprint: str = ""        # what was graded (the batch's crash-safe resume compares it): set as it is read
    assignment: str = ""
    key: int | str = ""


def other_assignments(specs: Mapping[str, AssignmentSpec], assignment: str) -> tuple[AssignmentSpec, ...]:
    """The course's assignments other than `assignment`, in the course's order: grade_notebook names a notebook of
    one of them handed in for this one. A copy is read, so specs added while the service runs are safe to iterate."""
    return tuple(spec for name, spec in list(specs.items()) if name != assignment)


class Pool(Protocol):
    """A pool of graders, as a thread: it takes Jobs from its `jobs` queue until None and puts (job, result) in its
    `results` queue as each completes, then (None, None) when it ends; (None, error) when grading itself failed
    (a sandbox or a cluster worker, not a notebook: a notebook's failure is its result). Two kinds: warm local
    sandboxes (batch.SandboxWorker, one thread per sandbox) and a Dask cluster (distributed.ClusterPool)."""

    def start(self) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...


class Sink(Protocol):
    """Where results go, one at a time from one thread (so a SQLite gradebook has a single writer): the batch's
    (batch.BatchSink: gradebook, autograded copy, JSON report, crash-safe resume), the service's
    (web.grading.GradingService: the attempt store, which a publisher thread reads to send each counting
    attempt's score to the LMS (web/lti.py), and the gradebook when the attempt counts) and the Gradescope
    runner's (lms.gradescope.ResultsFile: results.json, said by the one result view)."""

    def take(self, job: Job, result) -> None:
        """Record the result of `job`."""

    def pool_ended(self, error: BaseException | None) -> None:
        """A pool thread ended: with `error` when grading itself failed (the sink may raise it to stop)."""


STOP = object()   # put (STOP, None) in a results queue to end `drain` before its pools end (the service closing)


def drain(results: queue.Queue, sink: Sink, pools: int | None = None) -> None:
    """Hand each (job, result) from `results` to `sink` in the order they arrive, until `pools` pool threads have
    ended (the batch) or (STOP, None) arrives (the service, whose pools are replaced while it runs)."""
    ended = 0
    while True:
        job, result = results.get()
        if job is STOP:
            return
        if job is None:
            sink.pool_ended(result)
            ended += 1
            if pools is not None and ended >= pools:
                return
            continue
        sink.take(job, result)
