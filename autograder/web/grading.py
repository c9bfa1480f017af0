"""Grading the service's attempts: the batch engine's pool of warm sandboxes, fed one attempt at a time.

Workers are pipeline Pools (batch.py's `SandboxWorker`: a warm `Sandbox` each, grading with `grade.grade_notebook`;
or Dask's `ClusterPool`); one saver thread alone writes results, draining them into this service as the pipeline's
Sink (`take`), as in a batch, so a SQLite gradebook has one writer. For each graded attempt it writes, in this
order: the attempt's own results (atomically), the gradebook through batch.py's `save_or_explain` when the
attempt counts, then the attempt's row as "done". A server killed anywhere in between grades the attempt again at
its next start and writes the same rows again.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import threading
import time
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from ..grading.autograded import RESULTS
from ..grading.batch import SandboxWorker, read_submitted, save_or_explain, write_copy
from ..grading.deferred import Drawn, fill, pending_records
from ..grading.grade import assignment_spec
from ..results.model import SubmissionResult
from ..grading.gradebook import GradebookError
from ..grading.pipeline import STOP, Job, drain
from ..engine.sandbox import MAX_DISPLAY_CHARS
from ..grading.history import BATCH, Graded, counting_attempt
from .policies import policy
from ..course.spec import NbgraderSpec
from .store import Attempt, Store

logger = logging.getLogger(__name__)

RETRY_SECONDS = 2.0   # a gradebook that went away is tried again this often; the attempt waits meanwhile
RECORDED_SECONDS = 5.0   # how long a worker waits for an attempt to be recorded before drawing its figures anyway


def attempt_folder(course, attempt: Attempt) -> Path:
    return numbered_folder(course, attempt.student, attempt.assignment, attempt.number)


def numbered_folder(course, student: str, assignment: str, number: int) -> Path:
    """service/attempts/<student>/<assignment>/<n>/: the attempt's submitted/ notebook and autograded/ results."""
    return course.root / "service" / "attempts" / student / assignment / str(number)


def submitted_notebook(course, attempt: Attempt) -> Path:
    """The attempt's submitted notebook (of an nbgrader assignment's several, a path in the folder holding them)."""
    folder = attempt_folder(course, attempt) / "submitted"
    return folder / course.notebook(attempt.assignment) if attempt.assignment in course.assignments else \
        folder / "notebooks"


def submission_path(spec, folder: Path) -> Path:
    """What a Job grades of the submission in `folder`: its notebook, or for an nbgrader assignment with
    several notebooks (spec.NbgraderSpec), the folder that holds them."""
    return folder if isinstance(spec, NbgraderSpec) else folder / spec.notebook


def service_specs(course) -> dict:
    """The spec of every assignment the service can grade: the course's own (one not ready to grade yet left out,
    and tried again at the next change), then those graded by their notebooks' own test cells (nbtests.py)."""
    from ..grading.nbtests import nbgrader_assignments, nbgrader_spec

    specs = {}
    for name in course.assignments:
        try:
            specs[name] = assignment_spec(course, name)
        except Exception as error:  # e.g. `autograder new` wrote it, its checks are not written yet
            logger.warning("assignment %s cannot be graded yet (%s)", name, error)
    for name in nbgrader_assignments(course):
        specs[name] = nbgrader_spec(course, name)
    return specs


def stored_result(course, attempt: Attempt) -> SubmissionResult | None:
    """The attempt's graded result, or None while it is not graded."""
    path = attempt_folder(course, attempt) / "autograded" / RESULTS
    try:
        return SubmissionResult.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None


class _ServiceWorker(SandboxWorker):
    """batch.py's worker, remembering the attempt it grades: if its sandbox fails, that attempt is not lost. It
    draws the figures of the attempt that counts only, once the saver has recorded which one that is."""

    current: Job | None = None
    service: "GradingService | None" = None
    draw_at_end = False   # a server stopping does not wait for figures: their records are drawn at its next start

    def wanted(self, job) -> bool:
        service = self.service
        if service is None or type(job.key) is not int:
            return True
        # the verdict was put in the results a moment ago: the saver records it (and which attempt counts) in ms
        attempt = service.wait_graded(job.key, lambda: service.store.attempt(job.key), RECORDED_SECONDS)
        return attempt is not None and (not attempt.done or attempt.counts)

    def _grade(self, sandbox, job):
        sandbox.max_templates = len(self.specs)  # uploads of every assignment come mixed: keep each one's warm
        self.current = job
        result = super()._grade(sandbox, job)
        self.current = None
        return result


class GradingService:
    def __init__(self, course, db_url: str, store: Store, workers: int = 2, scheduler: str | None = None):
        self.course, self.db_url, self.store = course, db_url, store
        self.workers, self.scheduler = max(1, workers), scheduler
        self.specs = {name: assignment_spec(course, name) for name in course.assignments}
        self.specs.update(service_specs(course))
        self.jobs: queue.Queue = queue.Queue()
        self.results: queue.Queue = queue.Queue()
        self.pool: list = []
        self.writers: dict = {}
        self._queued: set[int] = set()   # attempts in the jobs queue or being graded
        self._again: set[int] = set()    # of those, attempts an instructor asked to regrade meanwhile
        self._lock = threading.Lock()
        self._stopping = False
        self._releasing = False   # the server is stopping: pages stop waiting for results
        self._graded: dict[int, threading.Event] = {}   # attempt id -> set when it is recorded as graded
        self.preparing: frozenset[str] = frozenset()   # assignments whose release the saver is making as it starts
        self.saver = threading.Thread(target=self._save_loop, daemon=True, name="autograder-saver")

    def start(self) -> None:
        """Start the sandboxes and the saver, and queue every attempt acknowledged but not yet graded."""
        self.store.drop_unacknowledged()  # uploads a killed server never acknowledged: the student was not told
        if self.scheduler:
            from ..grading.distributed import ClusterPool

            self.pool = [ClusterPool(self.scheduler, self.course, self.jobs, self.results, service=True)]
        else:
            left = pending_records(self.course, attempts=True) if self.course.keep_figures else []
            self.pool = [self._worker(left[number::self.workers]) for number in range(self.workers)]
        for worker in self.pool:
            worker.start()
        # an nbgrader assignment's release is made (nbgrader generate_assignment) as the saver opens its gradebook
        self.preparing = frozenset(name for name, spec in self.specs.items() if isinstance(spec, NbgraderSpec))
        self.saver.start()
        for attempt in self.store.attempts(status="queued"):
            self.enqueue(attempt)

    def _worker(self, backlog=()) -> _ServiceWorker:
        worker = _ServiceWorker(self.course, self.specs, self.jobs, self.results, backlog)
        worker.service = self
        return worker

    def refresh(self, course) -> None:
        """Grade with `course` as re-read (app.Service.course): the spec of each assignment added or released
        since is built (one not ready to grade yet is left out, and tried again at the next change)."""
        for name, spec in service_specs(course).items():
            if self.specs.get(name) != spec:
                self.specs[name] = spec  # the same dict the workers read: they grade with it from their next job
        self.course = course

    def enqueue(self, attempt: Attempt) -> None:
        """Queue the attempt for grading; one queued or being graded already is graded once more after that."""
        with self._lock:
            if attempt.id in self._queued:
                self._again.add(attempt.id)  # its running grading may have read the inputs a regrade changes
                return
            self._queued.add(attempt.id)
        folder = attempt_folder(self.course, attempt) / "submitted"
        self.jobs.put(Job(attempt.student, submission_path(self.specs[attempt.assignment], folder),
                          folder / "timestamp.txt", assignment=attempt.assignment, key=attempt.id))

    def regrade(self, attempts: list[Attempt]) -> int:
        """Grade these attempts again (their rows go back to "queued" first); returns how many were queued."""
        self.store.requeue([attempt.id for attempt in attempts])
        for attempt in attempts:
            self.enqueue(attempt)
        return len(attempts)

    def wait_graded(self, attempt_id: int, read, seconds: float):
        """`read()` (the attempt's row) once it is graded, or after `seconds`; a page waiting here costs no
        database query until its own attempt is recorded."""
        with self._lock:  # the event exists before the row is read: a result recorded in between still sets it
            graded = self._graded.setdefault(attempt_id, threading.Event())
            releasing = self._releasing
        attempt = read()
        if attempt is None or attempt.done or releasing:
            return attempt
        graded.wait(seconds)
        return read()

    def release_waiting_pages(self) -> None:
        """Answer every page waiting in `wait_graded` now, and any later one at once: the server is stopping, and
        its threads must not wait out a long poll."""
        with self._lock:
            self._releasing = True
            for graded in self._graded.values():
                graded.set()

    def close(self) -> None:
        self._stopping = True
        for _ in self.pool:
            self.jobs.put(None)
        for worker in self.pool:
            worker.join(timeout=10)
        self.results.put((STOP, None))
        if self.saver.is_alive():
            self.saver.join(timeout=10)

    # the saver thread

    def _save_loop(self) -> None:
        for assignment in self.specs:  # open the gradebook (nbgrader's import, its tables) while sandboxes warm up
            try:
                self._writer(assignment)
            except Exception as error:  # the database is away: the first result to save tries again
                logger.warning("the gradebook cannot be opened yet (%s)", error)
                self._close_writers()
                break
            finally:
                self.preparing -= {assignment}
        self.preparing = frozenset()  # made or failed: a page that needs a release it has not got is a 404 now
        drain(self.results, self)  # until close() puts STOP: a worker whose sandbox failed is replaced meanwhile
        self._close_writers()

    # the service as the pipeline's Sink (pipeline.Sink), on the saver thread

    def take(self, job: Job, result: SubmissionResult) -> None:
        """Record the graded attempt `job.key`, retrying while the database is away; then queue it again if a
        regrade was asked for while it was graded, or tell the pages waiting for it. Figures drawn after an
        attempt's verdict (deferred.Drawn) go into its autograded copies."""
        if isinstance(result, Drawn):
            try:
                self._fill(job, result)
            except Exception:  # e.g. the database away: the record stays, drawn again at the next start
                logger.exception("the figures of attempt %s were not put in place", job.key)
            return
        attempt_id = job.key
        while not self._stopping:
            try:
                self._finish(attempt_id, job, result)
                break
            except (SQLAlchemyError, GradebookError) as error:  # the database went away: keep it, try again
                logger.warning("could not record attempt %s (%s); retrying", attempt_id, error)
                self._close_writers()
                time.sleep(RETRY_SECONDS)
            except Exception:  # a bug must not stop every other result: this one stays queued for a restart
                logger.exception("attempt %s was not recorded; it stays queued for a restart", attempt_id)
                break
        with self._lock:
            again = attempt_id in self._again
            self._again.discard(attempt_id)
            if not again:
                self._queued.discard(attempt_id)
            graded = None if again else self._graded.pop(attempt_id, None)
        if again:
            self._grade_again(attempt_id, job)
        if graded is not None:
            graded.set()

    def _fill(self, job: Job, drawn: Drawn) -> None:
        """The attempt's figures into its own autograded copy and into the course's, where that copy is this
        attempt's (the placeholders' token says so); then the record of them goes."""
        attempt = self.store.attempt(job.key) if type(job.key) is int else None
        spec = self.specs.get(job.assignment)
        if attempt is not None and spec is not None:
            for folder in (attempt_folder(self.course, attempt) / "autograded",
                           self.course.root / "autograded" / attempt.student / attempt.assignment):
                fill(folder / spec.notebook, drawn, MAX_DISPLAY_CHARS)
        drawn.pending.done()

    def _grade_again(self, attempt_id: int, job: Job) -> None:
        """A regrade asked for while the attempt was graded: its row back to "queued", its job in the queue."""
        while not self._stopping:
            try:
                self.store.requeue([attempt_id])
                break
            except SQLAlchemyError as error:
                logger.warning("could not queue attempt %s again (%s); retrying", attempt_id, error)
                time.sleep(RETRY_SECONDS)
        self.jobs.put(job)

    def pool_ended(self, error) -> None:
        """A worker stopped because its sandbox failed: once its thread has ended, queue its attempt again
        and start another worker in its place. (A worker that stops for `close` sends no error.)"""
        if self._stopping or error is None:
            return
        logger.warning("a grading sandbox failed (%s); starting another", error)
        threading.Thread(target=self._replace_ended_workers, daemon=True).start()

    def _replace_ended_workers(self) -> None:
        for _ in range(300):
            ended = [index for index, worker in enumerate(self.pool)
                     if isinstance(worker, _ServiceWorker) and not worker.is_alive()]
            if ended:
                break
            time.sleep(0.1)
        for index in ended:
            if self.pool[index].current is not None:
                self.jobs.put(self.pool[index].current)
            self.pool[index] = self._worker(self.pool[index].backlog)
            self.pool[index].start()

    def _finish(self, attempt_id: int, job: Job, result: SubmissionResult) -> None:
        attempt = self.store.attempt(attempt_id)
        if attempt is None:  # its row was removed meanwhile: nothing to record
            return
        spec = self.specs[attempt.assignment]
        others = [other for other in self.store.attempts(attempt.student, attempt.assignment)
                  if other.done and other.id != attempt.id]
        batch = next(iter(self.store.batch_attempts(attempt.student, attempt.assignment, results=True)), None)
        counting = self._counting(attempt, result.score, others, batch)
        previous = next((other.id for other in others if other.counts), BATCH if batch and batch.counts else None)
        own_copy = attempt_folder(self.course, attempt) / "autograded"
        if counting == attempt.id:
            written = self._record(attempt, job, result)
            _copy_atomically(written, own_copy)  # the same files: copied, not written out again
        else:
            write_copy(self.course.root, own_copy, spec, result, read_submitted(spec, job.path), job.timestamp_file)
            if counting != previous:  # a regrade lowered the counting attempt: another one counts now
                if counting == BATCH:  # the batch's graded submission, back into nbgrader's tables
                    folder = self.course.root / "submitted" / attempt.student / attempt.assignment
                    notebook = submission_path(spec, folder)
                    self._record(attempt, Job(attempt.student, notebook if notebook.exists() else None,
                                              folder / "timestamp.txt", assignment=attempt.assignment),
                                 SubmissionResult.from_json(batch.result))
                else:
                    chosen = next(other for other in others if other.id == counting)
                    folder = submitted_notebook(self.course, chosen).parent
                    self._record(chosen, Job(chosen.student, submission_path(spec, folder), folder / "timestamp.txt",
                                             assignment=chosen.assignment, key=chosen.id),
                                 stored_result(self.course, chosen))
        self.store.finish(attempt, result.status, result.score, result.max_score,
                          None if counting == BATCH else counting)

    def _counting(self, attempt: Attempt, score: float, others: list[Attempt], batch=None) -> int | str:
        """The attempt that counts (its id, or BATCH) under the assignment's policy, over the service's graded
        attempts and the batch's graded submission alike (history.counting_attempt)."""
        history = [Graded(other.id, self._after_late_penalty(other, other.score or 0.0), other.uploaded_at,
                          other.number) for other in others]
        history.append(Graded(attempt.id, self._after_late_penalty(attempt, score), attempt.uploaded_at,
                              attempt.number))
        if batch is not None:
            history.append(Graded(BATCH, self._after_late_penalty(attempt, batch.score, batch.submitted_at),
                                  batch.submitted_at, 0))
        return counting_attempt(policy(self.course, attempt.assignment).counting, history)

    def _after_late_penalty(self, attempt: Attempt, score: float, handed_in=None) -> float:
        """`score` less the late penalty nbgrader's gradebook would take off it if handed in at `handed_in` (by
        default, when `attempt` was uploaded): a late attempt's higher score must not make it count over an
        earlier attempt on time that is worth more."""
        extension = self.store.extension(attempt.student, attempt.assignment)
        penalty = self._writer(attempt.assignment).late_penalty(attempt.student, score,
                                                                 handed_in or attempt.uploaded_at, extension or None)
        return score - (penalty or 0.0)

    def _record(self, attempt: Attempt, job: Job, result: SubmissionResult) -> Path:
        """Write `result` into nbgrader's gradebook and the course's autograded/, as `autograder grade` does
        (but as the service's: the batch's own record of what it graded stays); returns the folder written."""
        writer = self._writer(attempt.assignment)
        extension = self.store.extension(attempt.student, attempt.assignment)
        if extension:  # nbgrader's late penalty reads the extension from the student's submission
            writer.gradebook.update_or_create_student(attempt.student)
            writer.gradebook.update_or_create_submission(attempt.assignment, attempt.student, extension=extension)
        # a result the submission keeps from being saved is saved as an error that says why, as in a batch
        save_or_explain(writer, self.specs[attempt.assignment], job, result, self.course.root / "autograded",
                        service=True)
        return self.course.root / "autograded" / attempt.student / attempt.assignment

    def _writer(self, assignment: str):
        if assignment in self.writers and self.writers[assignment].spec != self.specs[assignment]:
            self.writers.pop(assignment).close()  # released again while the service runs: its cells may differ
        if assignment not in self.writers:
            from ..grading.gradebook import GradebookWriter

            due = policy(self.course, assignment).due
            if due is not None:  # nbgrader's late penalty needs the due date in its gradebook
                set_due_date(self.db_url, assignment, due)
            self.writers[assignment] = GradebookWriter(self.db_url, self.course, self.specs[assignment])
        return self.writers[assignment]

    def _close_writers(self) -> None:
        for writer in self.writers.values():
            try:
                writer.close()
            except Exception:  # a connection already gone cannot be closed more
                pass
        self.writers = {}


def _copy_atomically(source: Path, destination: Path) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and not path.name.startswith("."):
            temporary = destination / f".{path.name}.partial"
            shutil.copyfile(path, temporary)
            os.replace(temporary, destination / path.name)


def set_due_date(db_url: str, assignment: str, due) -> None:
    from ..grading.gradebook import open_gradebook

    gradebook = open_gradebook(db_url)
    try:
        gradebook.update_or_create_assignment(assignment, duedate=due)
    finally:
        gradebook.close()

