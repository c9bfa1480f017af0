"""One grading pipeline: jobs go into a pool of graders, each (job, result) comes out into a sink.

    Job ──> Pool (warm local sandboxes: batch.SandboxWorker; or a Dask cluster: distributed.ClusterPool)
        ──> (job, result), in the order results complete ──> Sink (the batch's: gradebook, autograded copy, JSON
            report, crash-safe resume; or the service's: attempt store, LMS publication)

Every driver (`autograder grade`, `serve`, `--scheduler`, the Gradescope runner) grades with `grade.grade_notebook`
and tells it the course's other assignments with `other_assignments`, so a notebook of the wrong assignment is
named the same way wherever it is graded.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol

from .spec import AssignmentSpec


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
