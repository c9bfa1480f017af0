"""Reading a graded hostile submission: its points against its honest part's, and everything it was told."""
from __future__ import annotations

import fcntl
import hashlib
import tempfile
import time
from pathlib import Path

from autograder.results.model import SubmissionResult
from autograder.engine.sandbox import FIRST_UID
from test_engine_hostile import processes_of


def earns_honest_points(batch, student: str, lost=(), earns=None):
    """Assert the submission was graded and earned exactly the points of its honest part: every autograded
    exercise but those in `lost`, which earn nothing but the partial credit `earns` gives them. Returns its result."""
    result = batch.result(student)
    expected = batch.honest_points(result.assignment, lost, earns or {})
    got = {test.name: test.score for test in result.tests if not test.manual}
    assert (result.status, got) == ("graded", expected), f"{student}: {got} != {expected}; {result.notes}"
    assert result.score == round(sum(expected.values()), 4)
    return result


def output(result, grade_id: str) -> str:
    """The message of one autograded exercise."""
    return next(test.output for test in result.tests if test.name == grade_id)


def cell_text(result, marker: str) -> str:
    """The output of the (one) cell whose output contains `marker`."""
    found = [text for text, _ in result.cell_outputs.values() if marker in text]
    assert len(found) == 1, f"{len(found)} cells printed {marker!r}"
    return found[0]


def cell_errors(result) -> list[str]:
    return [str(error.get("type")) for _, error in result.cell_outputs.values() if error]


def everything_said(result) -> str:
    """Every text the grader keeps of a submission: reason, notes, messages, cell outputs and errors."""
    parts = [result.reason, *result.notes, *(test.output for test in result.tests)]
    for text, error in result.cell_outputs.values():
        parts += [text, str(error or "")]
    return "\n".join(parts)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def printed_uids(result: SubmissionResult) -> set[int]:
    """The uids a submission printed as `uid N` (its sandbox user)."""
    return {int(line.split()[1]) for text, _ in result.cell_outputs.values() for line in text.splitlines()
            if line.startswith("uid ") and line.split()[1].isdigit()}


def leftover_processes(uid: int) -> list[int]:
    """Living processes of a sandbox uid, looked up while holding its slot so no other grader can be using it."""
    assert FIRST_UID <= uid < FIRST_UID + 1000, f"uid {uid} is not a sandbox user"
    with open(Path(tempfile.gettempdir(), "autograder-slots", str(uid - FIRST_UID)), "a") as lock:
        for _ in range(600):  # another grader on this machine may hold the slot now: wait for it, a minute at most
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return processes_of(uid)
            except BlockingIOError:
                time.sleep(0.1)
        raise TimeoutError(f"the sandbox slot of uid {uid} stayed taken for a minute")
