"""The rules of the web service, per assignment, from `c.Autograder.policies` in course_config.py.

`policies["default"]` applies to every assignment; `policies[<assignment>]` overrides it key by key.
A wrong key or value stops `autograder serve` at start with a message naming it, never mid-term.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta

from ..grading.history import PolicyError, configured_policy, counting_of
from ..present.view import VISIBILITY, Shown  # noqa: F401 (VISIBILITY: what a student sees of a result, less to more)


@dataclass(frozen=True)
class Policy:
    due: datetime | None = None        # UTC; after it (and a student's extension) an upload is late
    attempts: int = 5                  # graded attempts a student has
    minutes_between: float = 0.0       # the least time between two graded attempts of one student
    before_due: str = "worked example" # what a result shows until the due date
    after_due: str = "full"            # and from then on
    counting: str = "best"             # which attempt goes into the gradebook

    def visibility(self, now: datetime, extension: timedelta = timedelta(0)) -> str:
        due = self.due_for(extension)
        return self.before_due if due is None or now < due else self.after_due

    def shown(self, now: datetime, extension: timedelta = timedelta(0)) -> Shown:
        """What a result shows now, and (if it is still ahead) from which due date it shows more."""
        due = self.due_for(extension)
        if due is not None and now >= due:
            return Shown(self.after_due, None, self.after_due)
        return Shown(self.before_due, due, self.after_due)

    def due_for(self, extension: timedelta) -> datetime | None:
        return None if self.due is None else self.due + extension


def policy(course, assignment: str) -> Policy:
    """The policy of `assignment`: the defaults, then the course's "default" entry, then its own."""
    return _parse(configured_policy(course, assignment), assignment)


def check_policies(course) -> None:
    """Raise PolicyError for any policy of the course that names no assignment or holds a wrong value."""
    from ..grading.nbtests import nbgrader_assignments

    assignments = [*course.assignments, *(nbgrader_assignments(course) if course.policies else ())]
    for name in course.policies or {}:
        if name != "default" and name not in assignments:
            raise PolicyError(f"c.Autograder.policies names {name!r}, which is not an assignment of the course "
                              f"({', '.join(assignments)}) nor 'default'")
    for assignment in assignments:
        policy(course, assignment)


def _parse(values: dict, assignment: str) -> Policy:
    known = {field.name for field in fields(Policy)}
    where = f"c.Autograder.policies for {assignment}"
    unknown = set(values) - known
    if unknown:
        raise PolicyError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    result = Policy()
    if values.get("due") is not None:
        from nbgrader.utils import parse_utc

        try:
            due = parse_utc(str(values["due"]))
        except (ValueError, OverflowError) as error:
            raise PolicyError(f"{where}: due {values['due']!r} is not a date ({error}); "
                              "write e.g. '2026-12-15 23:59:00 UTC'") from None
        result = replace(result, due=due)
    if "attempts" in values:
        if not isinstance(values["attempts"], int) or values["attempts"] < 1:
            raise PolicyError(f"{where}: attempts must be a whole number of at least 1, not {values['attempts']!r}")
        result = replace(result, attempts=values["attempts"])
    if "minutes_between" in values:
        if not isinstance(values["minutes_between"], (int, float)) or values["minutes_between"] < 0:
            raise PolicyError(f"{where}: minutes_between must be a number of minutes, 0 or more")
        result = replace(result, minutes_between=float(values["minutes_between"]))
    for key in ("before_due", "after_due"):
        if key in values:
            if values[key] not in VISIBILITY:
                raise PolicyError(f"{where}: {key} must be one of {', '.join(map(repr, VISIBILITY))}")
            result = replace(result, **{key: values[key]})
    if "counting" in values:
        result = replace(result, counting=counting_of(values, assignment))
    return result
