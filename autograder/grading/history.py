"""One history of a student's graded attempts: the service's (`autograder serve`, its `autograder_attempts` table)
and the batch's graded submission (`autograder grade`, grading/graded.py), counted under one rule: the assignment's
`counting` policy. Below both the gradebook writer and the service (web/store.py, web/policies.py, web/grading.py),
which read these tables and count with `counting_attempt`."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Hashable, Iterable

from sqlalchemy import Boolean, Column, DateTime, Float, Integer, MetaData, String, Table, UniqueConstraint

HISTORY = MetaData()  # the service's store creates these tables with its own (web/store.py)
ATTEMPTS = Table(
    "autograder_attempts", HISTORY,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("student", String(128), nullable=False, index=True),
    Column("assignment", String(128), nullable=False),
    Column("number", Integer, nullable=False),           # 1, 2, ... per student and assignment
    Column("status", String(16), nullable=False),        # "receiving", "queued" (acknowledged) or "done"
    Column("uploaded_at", DateTime, nullable=False),     # UTC
    Column("finished_at", DateTime),
    Column("outcome", String(16)),                       # "graded" or "error" (SubmissionResult.status)
    Column("score", Float),
    Column("max_score", Float),
    Column("late", Boolean, nullable=False, default=False),
    Column("counts", Boolean, nullable=False, default=False),  # the attempt in nbgrader's gradebook
    UniqueConstraint("student", "assignment", "number"),
)
EXTENSIONS = Table(
    "autograder_extensions", HISTORY,
    Column("student", String(128), primary_key=True),
    Column("assignment", String(128), primary_key=True),
    Column("hours", Float, nullable=False),
    Column("granted_at", DateTime, nullable=False),
)


COUNTING = ("best", "last")


class PolicyError(ValueError):
    """A policy in course_config.py that cannot be used; the message names it and says what is allowed."""


def configured_policy(course, assignment: str) -> dict:
    """What c.Autograder.policies sets for `assignment`: its "default" entry, then its own, key by key (the service
    reads all of it, web/policies.py; the batch only `counting`)."""
    configured = course.policies or {}
    return {**configured.get("default", {}), **configured.get(assignment, {})}


def counting_of(values: dict, assignment: str) -> str:
    """The counting rule of a policy's `values` ("best" unless they say), or PolicyError naming a wrong one."""
    counting = values.get("counting", COUNTING[0])
    if counting not in COUNTING:
        raise PolicyError(f"c.Autograder.policies for {assignment}: counting must be 'best' or 'last', "
                          f"not {counting!r}")
    return counting


def counting_rule(course, assignment: str) -> str:
    """Which of `assignment`'s attempts counts: "best" or "last"."""
    return counting_of(configured_policy(course, assignment), assignment)


@dataclass(frozen=True)
class Graded:
    """One graded attempt of a student's history, from the service or from a batch run (`autograder grade`)."""
    key: Hashable          # what identifies it: the service attempt's id, or BATCH
    score: float           # after nbgrader's late penalty
    submitted_at: datetime # when the student handed it in (UTC)
    order: int = 0         # of attempts handed in at the same moment, the higher is the later


BATCH = "batch"   # the key of the attempt `autograder grade` graded (there is at most one per student and assignment)


def counting_attempt(counting: str, history: Iterable[Graded]) -> Hashable | None:
    """The key of the attempt that counts under `counting`, over service and batch attempts alike: "last", the
    one handed in last; "best", the highest score, of equal ones the one handed in last. None for no attempts."""
    def handed_in(graded: Graded):
        return graded.submitted_at, graded.order

    attempts = list(history)
    if not attempts:
        return None
    if counting == "last":
        return max(attempts, key=handed_in).key
    return max(attempts, key=lambda graded: (graded.score, *handed_in(graded))).key
