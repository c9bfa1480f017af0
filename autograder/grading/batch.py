"""`autograder grade`: a batch of submissions through a pool of sandboxes into the gradebook.

Submissions are streamed, never held together: a worker thread per sandbox grades one notebook at a
time, and this thread alone writes the gradebook, the autograded copies and the JSON report, so a
SQLite gradebook has a single writer.

A batch survives being killed at any moment: a submission's grades and its fingerprint (the notebook's
bytes, its timestamp, the source notebook and hidden checks) commit together, the autograded copy is
in place before that commit, and the JSON report appears whole or not at all. Run again, the batch
skips every submission whose fingerprint committed and grades the rest (`regrade=True` grades all).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import statistics
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator

from tqdm import tqdm

from ..course import notebook as nb
from ..checking.checks import check_file
from ..course.config import Course
from .deferred import Drawn, Pending, fill, pending_records, set_aside
from .grade import AssignmentSpec, assignment_spec, grade_notebook
from ..results.model import SubmissionResult, error_result
from .nbtests import grade_nbgrader_submission, nbgrader_assignments, nbgrader_spec
from .pipeline import Job, drain, other_assignments
from ..engine.sandbox import MAX_DISPLAY_CHARS, Sandbox
from ..results.scores import score
from ..course.spec import NbgraderSpec

logger = logging.getLogger(__name__)


SubmittedNotebook = Job   # the batch's name for a pipeline Job: its assignment is set by find_submissions, or by the
                          # batch for submissions it is handed; its fingerprint by the batch as it reads the notebook


SKIPPED = "already graded"      # a worker's place in the results queue, for a submission not graded again


@dataclass
class BatchSummary:
    assignment: str
    graded: int = 0
    errors: int = 0
    skipped: int = 0              # already graded, unchanged, by an earlier run
    scores: list = field(default_factory=list)
    max_score: float = 0.0
    by_hand: float = 0.0          # the points of written answers, not in any score here
    slowest: list = field(default_factory=list)   # (seconds, student), the five slowest
    folder: Path | None = None    # where the submissions were looked for, when the batch looked itself
    notebook: str = ""            # the file looked for in each student's folder
    began: float | None = None    # time.monotonic() when the first of its notebooks began to be graded
    ended: float | None = None    # ... and when the last one's result arrived
    drawn: int = 0                # notebooks whose figures were drawn after their verdicts
    drawn_at: float | None = None  # time.monotonic() when the last of them was in place
    flagged: list = field(default_factory=list)   # "student: why", for the "needs attention" lines

    @property
    def seconds(self) -> float:
        """From the first notebook's start to the last one's end: no notebook of it took longer."""
        if self.began is None:
            return 0.0
        # at least the slowest notebook: ended - began can round a hair below it (33.0 - 32.95 < 0.05)
        return max(self.ended - self.began, max((seconds for seconds, _ in self.slowest), default=0.0))

    def add(self, result: SubmissionResult, arrived: float | None = None):
        if result.status == "graded":
            self.graded += 1
        else:
            self.errors += 1
        self.scores.append(result.score)
        self.max_score = result.max_score
        self.slowest = sorted([*self.slowest, (result.seconds, result.student)], reverse=True)[:5]
        arrived = time.monotonic() if arrived is None else arrived
        self.began = min(arrived - result.seconds, self.began if self.began is not None else arrived)
        self.ended = max(arrived, self.ended if self.ended is not None else arrived)
        self.flagged += [f"{result.student}: {flag}" for flag in result.flags]

    def figures_line(self) -> str | None:
        """When the figures drawn after the verdicts were done, if there were any."""
        if not self.drawn:
            return None
        after = f", {self.drawn_at - self.ended:.1f} s after the last score" if self.ended is not None else ""
        return f"{self.assignment}: figures drawn for {self.drawn} notebook{'s' if self.drawn != 1 else ''}{after}"

    def add_skipped(self, stored: dict):
        """Count a submission an earlier run graded; its score still counts in the class's mean and median."""
        self.skipped += 1
        self.scores.append(stored["score"])

    def lines(self) -> list[str]:
        now, total = self.graded + self.errors, self.graded + self.errors + self.skipped
        if not total:
            layout = f"<student>/{self.assignment}/{self.notebook or '<notebook>'}"
            return [f"{self.assignment}: no submissions found" + (f" in {self.folder} (looked for {layout})"
                                                                   if self.folder else "")]
        if not now:
            first = f"{self.assignment}: nothing new to grade: {self.skipped} already graded, unchanged since"
        else:
            rate = f" ({now / self.seconds:.1f} notebooks per second)" if self.seconds >= 0.05 else ""
            first = f"{self.assignment}: {total} submissions in {self.seconds:.1f} s{rate}"
        lines = [first, f"  graded: {self.graded}   errors: {self.errors}"
                 + (f"   skipped, already graded: {self.skipped}" if self.skipped else "")]
        if self.scores:
            lines.append(f"  score: mean {statistics.mean(self.scores):.2f}, median {statistics.median(self.scores):.2f}"
                         f" (out of {score(self.max_score - self.by_hand)} autograded"
                         + (f"; {score(self.by_hand)} by hand)" if self.by_hand else ")"))
        if self.slowest:
            lines.append(f"  slowest, each within those {self.seconds:.1f} s: "
                         + ", ".join(f"{student} {seconds:.1f} s" for seconds, student in self.slowest[:3]))
        if self.flagged:
            lines += ["  needs attention:", *(f"    {line}" for line in self.flagged)]
        return lines


def find_submissions(course: Course, assignment: str, folder: Path | None = None) -> Iterator[SubmittedNotebook]:
    """nbgrader's layout: submitted/<student>/<assignment>/<notebook>.ipynb, students in name order. A submission
    of an assignment graded by its notebooks' own test cells (nbtests.py) is its folder, holding its notebooks."""
    root = folder or course.root / "submitted"
    several = nbgrader_assignments(course).get(assignment) if assignment not in course.assignments else None
    notebook = course.notebook(assignment) if several is None else None
    if not root.is_dir():
        return
    for student in sorted(entry.name for entry in os.scandir(root) if entry.is_dir()):
        if not student.isprintable() or student != nb.valid_text(student):  # bytes that are not UTF-8: no usable id
            logger.warning("the folder %r is not a student id (rename it); it was not graded", root / student)
            continue
        where = root / student / assignment
        if not where.is_dir():
            continue
        path = where / notebook if several is None else where if any((where / name).is_file() for name in several) \
            else None
        if several is None and not path.is_file():  # a renamed file still counts, if it is the only notebook there
            others = sorted(where.glob("*.ipynb"))
            path = others[0] if len(others) == 1 else None
        stamp = where / "timestamp.txt"
        yield SubmittedNotebook(student, path, stamp if stamp.is_file() else None, assignment=assignment)


class SandboxWorker(threading.Thread):
    """The local pipeline Pool (pipeline.Pool), one per sandbox: a thread with its own warm Sandbox (each run forked
    from its zygote), grading each job of `jobs` into `results` as (job, result); at the end (None, None), or
    (None, error) when the sandbox itself failed. The service's pool uses it too.

    The verdict first: with `keep_figures`, a result's figures are set aside (deferred.py) before it is put in
    `results`, and this worker draws them, one notebook at a time, only while no job waits in `jobs` (and at the
    end), each as (job, deferred.Drawn). So the slot is free for the next student at the verdict; a notebook's
    figures wait in `backlog` (their record on disk: the backlog holds only names) for an idle moment."""

    draw_at_end = True   # when `jobs` ends, draw what is left of the backlog before ending

    def __init__(self, course, specs, jobs, results, backlog=(), draw: bool = True):
        super().__init__(daemon=True)
        self.course, self.specs = course, specs  # filled in while the sandbox starts, before the first job
        self.jobs, self.results = jobs, results
        self.backlog: deque[Pending] = deque(backlog)   # e.g. records a killed grader left
        self.draw = draw   # False: no autograded notebook is written (no gradebook), so no figure is drawn

    def run(self):
        sandbox = None
        try:
            sandbox = Sandbox(self.course)
            sandbox.defer_figures = self.course.keep_figures
            while (job := self._next(sandbox)) is not None:
                result = self._grade(sandbox, job)
                pending = set_aside(self.course, job, result) if sandbox.defer_figures and self.draw else None
                self.results.put((job, result))
                if pending is not None:
                    self.backlog.append(pending)
            while self.backlog and self.course.keep_figures and self.draw_at_end:
                self._draw(sandbox, self.backlog.popleft())
        except BaseException as error:  # the grader itself failed: stop the batch
            self.results.put((None, error))
        finally:
            self.results.put((None, None))  # the batch need not wait for the sandbox to wind down
            if sandbox is not None:
                sandbox.close()

    def _next(self, sandbox):
        """The next job; while none waits, the figures of the backlog are drawn, a notebook at a time."""
        while True:
            try:
                return self.jobs.get_nowait()
            except queue.Empty:
                if not self.backlog or not self.course.keep_figures:
                    return self.jobs.get()
                self._draw(sandbox, self.backlog.popleft())

    def _draw(self, sandbox, pending: Pending):
        snapshots = pending.load()
        if snapshots is None:  # drawn already, or graded again since
            return
        pngs = tuple(sandbox.render(snapshots)) if self.wanted(pending.job) else None
        self.results.put((pending.job, Drawn(pending, pngs)))

    def wanted(self, job) -> bool:
        """Whether the figures of `job` are to be drawn (the service's: only the attempt that counts)."""
        return True

    def _grade(self, sandbox, job: SubmittedNotebook) -> SubmissionResult:
        spec = self.specs[job.assignment]
        if job.path is None:
            return error_result(spec, job.student, f"No {spec.notebook} was found in the submission.")
        if isinstance(spec, NbgraderSpec):
            return grade_nbgrader_submission(sandbox, self.course, spec, job.student, job.path)
        return grade_notebook(sandbox, self.course, spec, job.student, job.path,
                             other_assignments(self.specs, job.assignment))


def grade_batch(course: Course, assignment: str, db_url: str | None, workers: int = 2,
                json_path: Path | None = None, submissions: Iterable[SubmittedNotebook] | None = None,
                autograded_root: Path | None = None, progress: bool = True, on_result=None,
                regrade: bool = False, scheduler: str | None = None, on_scores=None) -> BatchSummary:
    """Grade every submission of one assignment, writing each result as it arrives; returns the closing summary.

    With `scheduler` (tcp://HOST:PORT), a Dask cluster grades instead of local sandboxes (distributed.py);
    an unreachable one raises ClusterError before anything is written.

    With a gradebook, a submission already graded unchanged is skipped unless `regrade`; the JSON report
    then holds its stored result, marked `"from_earlier_run": true`. A gradebook that cannot be opened or
    written raises GradebookError (a malformed URL before any sandbox starts), leaving no JSON report.

    The verdicts come first: once every score is in the gradebook and the JSON report is complete, `on_scores`
    is called with the summaries; the figures are drawn after (deferred.py), and this returns when they are."""
    return grade_assignments(course, [assignment], db_url, workers, json_path,
                             None if submissions is None else {assignment: submissions}, autograded_root,
                             progress, on_result, regrade, scheduler, on_scores)[0]


def grade_assignments(course: Course, assignments: list[str], db_url: str | None, workers: int = 2,
                      json_path: Path | None = None, submissions: dict[str, Iterable] | None = None,
                      autograded_root: Path | None = None, progress: bool = True, on_result=None,
                      regrade: bool = False, scheduler: str | None = None, on_scores=None) -> list[BatchSummary]:
    """`grade_batch` for several assignments in one pass: one pool of sandboxes (each started once, its
    zygote warm for every assignment), one gradebook, one JSON report; a summary per assignment. Figures a killed
    batch left to draw (deferred.pending_records) are drawn too, once every score of this batch is in."""
    if db_url:
        from .gradebook import check_url

        check_url(db_url)
    specs: dict[str, AssignmentSpec] = {}
    jobs, results = queue.Queue(maxsize=4 * workers), queue.Queue()
    if scheduler:
        from .distributed import ClusterPool

        pool = [ClusterPool(scheduler, course, jobs, results)]
    else:
        left = pending_records(course, assignments) if course.keep_figures and db_url else []
        pool = [SandboxWorker(course, specs, jobs, results, left[number::max(1, workers)], draw=bool(db_url))
                for number in range(max(1, workers))]
    for worker in pool:  # the sandboxes warm up while this thread reads the checks and opens the gradebook
        worker.start()
    writers: dict = {}
    try:
        specs.update({name: assignment_spec(course, name) for name in course.assignments})
        specs.update({name: nbgrader_spec(course, name) for name in nbgrader_assignments(course)})
        jobs_of = {name: [replace(job, assignment=name) for job in (
            submissions[name] if submissions is not None else find_submissions(course, name))]
            for name in assignments}
        summaries = {name: BatchSummary(name, max_score=specs[name].max_score,
                                         by_hand=sum(specs[name].manual.values()),
                                         folder=course.root / "submitted" if submissions is None else None,
                                         notebook=specs[name].notebook)
                     for name in assignments}
        if db_url:  # nbgrader is slow to import: only when there is a gradebook to write
            from .gradebook import GradebookWriter

            for name in assignments:
                writers[name] = GradebookWriter(db_url, course, specs[name])
        done = {name: writer.graded() for name, writer in writers.items()} if not regrade else {}
        report = _JsonReport(json_path)
    except BaseException:
        _feed([], jobs, len(pool))  # stop the workers before giving up
        for writer in writers.values():
            writer.close()
        raise
    feeder = threading.Thread(target=_feed, daemon=True, args=(
        [job for name in assignments for job in jobs_of[name]], jobs, len(pool), results,
        {name: _grading_inputs(course, name) for name in assignments}, done))
    feeder.start()
    total = sum(map(len, jobs_of.values()))
    logger.debug("grading %d submission(s) of %s on %s", total, ", ".join(assignments),
                f"the Dask cluster at {scheduler}" if scheduler else f"{len(pool)} sandbox(es)")
    bar = tqdm(total=total, desc=f"grading {assignments[0] if len(assignments) == 1 else 'every assignment'}",
               unit="nb", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    sink = BatchSink(course, specs, writers, report, summaries, autograded_root, on_result, bar, total,
                     lambda: on_scores([summaries[name] for name in assignments]) if on_scores else None)
    try:
        if not total:
            sink.scores_done()
        drain(results, sink, len(pool))
    except BaseException:
        report.discard()  # a failed batch leaves any earlier report as it was
        raise
    finally:
        bar.close()
        for writer in writers.values():
            writer.close()
    if sink.left:  # a pool ended without every verdict (cannot happen without an error): the report all the same
        report.close()
    return [summaries[name] for name in assignments]


class BatchSink:
    """The batch's pipeline Sink: each result into nbgrader's gradebook (through `save_or_explain`: the autograded
    copy in place before the grades and the fingerprint commit together, so a killed batch resumes where it
    stopped), the JSON report and the assignment's summary; a submission graded unchanged by an earlier run
    (SKIPPED) is reported from the gradebook. A pool whose grading failed stops the batch."""

    def __init__(self, course: Course, specs: dict, writers: dict, report: _JsonReport, summaries: dict,
                 autograded_root: Path | None = None, on_result=None, bar=None, total: int = 0, on_scores=None):
        self.course, self.specs, self.writers, self.report, self.summaries = course, specs, writers, report, summaries
        self.autograded_root = autograded_root or course.root / "autograded"
        self.on_result, self.bar = on_result, bar
        self.left, self.on_scores = total, on_scores   # verdicts still to come; what to call once none is

    def take(self, job: Job, result) -> None:
        if isinstance(result, Drawn):
            self._fill(job, result)
            return
        summary = self.summaries[job.assignment]
        if result is SKIPPED:
            stored = self.writers[job.assignment].stored_result(job.student)
            self.report.add_json({**stored, "from_earlier_run": True})
            summary.add_skipped(stored)
        else:
            if self.writers:
                result = save_or_explain(self.writers[job.assignment], self.specs[job.assignment], job, result,
                                         self.autograded_root)
            logger.debug("graded %s / %s: %g of %g (%s)", result.student, result.assignment, result.score,
                         result.max_score, result.status)
            self.report.add(result)
            summary.add(result)
            if self.on_result:
                self.on_result(result)
        if self.bar is not None:
            self.bar.update(1)
        self.left -= 1
        if self.left == 0:
            self.scores_done()

    def scores_done(self) -> None:
        """Every verdict is saved: the JSON report is complete, and the caller hears of it before any figure."""
        self.report.close()
        if self.bar is not None:
            self.bar.close()
        if self.on_scores:
            self.on_scores()

    def _fill(self, job: Job, drawn: Drawn) -> None:
        """Put a notebook's figures, drawn after its verdict, in its autograded copy; then its record goes."""
        spec = self.specs.get(job.assignment)
        if spec is not None:
            fill(self.autograded_root / job.student / job.assignment / spec.notebook, drawn, MAX_DISPLAY_CHARS)
        drawn.pending.done()
        summary = self.summaries.get(job.assignment)
        if summary is not None:
            summary.drawn += 1
            summary.drawn_at = time.monotonic()

    def pool_ended(self, error: BaseException | None) -> None:
        if error is not None:
            raise error


def _feed(submissions, jobs, workers, results=None, inputs=None, done=None):
    """Queue each submission with its fingerprint, or, when `done` has that fingerprint, report it skipped."""
    for job in submissions:
        job = replace(job, fingerprint=_fingerprint(inputs[job.assignment], job))
        if done and done.get(job.assignment, {}).get(job.student) == job.fingerprint:
            results.put((job, SKIPPED))
        else:
            jobs.put(job)
    for _ in range(workers):
        jobs.put(None)


def _grading_inputs(course: Course, assignment: str) -> bytes:
    """What a grade depends on besides the submission: the source notebook and the hidden checks (for an
    assignment graded by its notebooks' own test cells, its source notebooks)."""
    digest = hashlib.sha256()
    paths = (course.source_notebook(assignment), check_file(assignment, course.root)) if assignment in course.assignments else \
        sorted((course.root / "source" / assignment).glob("*.ipynb"))
    for path in paths:
        digest.update(path.read_bytes())
    return digest.digest()


def _fingerprint(inputs: bytes, job: SubmittedNotebook) -> str:
    """sha256 of the grading inputs, the submitted notebook's bytes and its timestamp file."""
    digest = hashlib.sha256(inputs)
    for path in (job.path, job.timestamp_file):
        digest.update(_file_digest(path))
    return digest.hexdigest()


def _file_digest(path: Path | None) -> bytes:
    """sha256 of b"present\0" and the file's bytes, read in pieces (a submission can be gigabytes); or a marker."""
    if path is None:
        return hashlib.sha256(b"absent").digest()
    if path.is_dir():  # a submission of several notebooks: each one's name and bytes
        digest = hashlib.sha256(b"folder\0")
        for notebook in sorted(path.glob("*.ipynb")):
            digest.update(notebook.name.encode() + b"\0" + _file_digest(notebook))
        return digest.digest()
    digest = hashlib.sha256(b"present\0")
    try:
        with open(path, "rb") as file:
            while piece := file.read(1 << 20):
                digest.update(piece)
    except OSError:
        return hashlib.sha256(b"unreadable").digest()
    return digest.digest()


def save_or_explain(writer, spec: AssignmentSpec, job: SubmittedNotebook, result: SubmissionResult,
                    autograded_root: Path, service: bool = False) -> SubmissionResult:
    """Save `result` (a batch's, or with `service` one the service's counting attempt); when the submission itself
    makes that fail (not the gradebook), save an error result that says why instead, so the batch goes on. A
    gradebook that fails (GradebookError) still stops the batch."""
    from .gradebook import GradebookError

    try:
        _save(writer, spec, job, result, autograded_root, service)
        return result
    except GradebookError:
        raise
    except Exception as error:
        logger.warning("the result of %s for %s could not be saved as it was: %s: %s", job.student, spec.name,
                       type(error).__name__, str(error)[:300])
        explained = error_result(spec, job.student, "Your notebook was graded, but its result could not be saved "
                                                    f"({type(error).__name__}). Your instructor will look at it.")
        _save(writer, spec, replace(job, path=None, timestamp_file=None), explained, autograded_root, service)
        return explained


def _save(writer, spec: AssignmentSpec, job: SubmittedNotebook, result: SubmissionResult,
          autograded_root: Path, service: bool = False):
    from nbgrader.utils import parse_utc

    submitted = None
    if job.path is not None and result.status == "graded":  # an error result has no run to show
        submitted = read_submitted(spec, job.path)
    timestamp = None
    if job.timestamp_file:
        try:
            timestamp = parse_utc(job.timestamp_file.read_text(errors="replace").strip())
        except Exception:  # an unreadable timestamp is the LMS's problem, not a reason to lose the grade
            timestamp = None
    # a batch's result goes into nbgrader's tables only if it counts over the student's attempts in the service
    counts = service or writer.counts_over_service(result.student, result.score, timestamp)
    if counts:  # in place before the grades commit, so a resumed batch skips only submissions written in full
        write_copy(writer.course_root, autograded_root / result.student / spec.name, spec, result, submitted,
                   job.timestamp_file)
    writer.save(result, submitted, timestamp, job.fingerprint, counts=counts, service=service)


def write_copy(course_root: Path, folder: Path, spec, result: SubmissionResult, submitted, timestamp_file) -> None:
    """The submission's autograded copy in `folder` (autograded.write_autograded; an nbgrader assignment's,
    nbresults.write_graded, each of its notebooks from the submitted folder)."""
    from .autograded import write_autograded

    if isinstance(spec, NbgraderSpec):
        from .nbresults import write_graded

        write_graded(folder, Path(course_root) / "source" / spec.name, result, submitted, timestamp_file)
    else:
        write_autograded(folder, spec, result, submitted, timestamp_file)


def read_submitted(spec, path: Path):
    """The submitted notebook as read, None if it cannot be; of an nbgrader assignment, the folder of its
    notebooks (each read where it is needed)."""
    if isinstance(spec, NbgraderSpec):
        return path if path.is_dir() else None
    try:
        return nb.read(path)
    except nb.NotebookError:
        return None


class _JsonReport:
    """The --json file, written one submission at a time so a batch of any size stays small in memory.

    It is written under a temporary name and renamed when complete: the file at `path` is always whole."""

    def __init__(self, path: Path | None):
        self.path = Path(path) if path else None
        self.partial = self.path.with_name(f".{self.path.name}.partial") if path else None
        self.file = open(self.partial, "w") if path else None
        self.count = 0
        if self.file:
            self.file.write("[\n")

    def add(self, result: SubmissionResult):
        self.add_json(result.to_json())

    def add_json(self, entry: dict):
        if self.file:
            self.file.write((",\n" if self.count else "") + json.dumps(entry))
            self.count += 1

    def close(self):
        if self.file:
            self.file.write("\n]\n")
            self.file.close()
            os.replace(self.partial, self.path)
            self.file = None

    def discard(self):
        """The batch failed: leave any earlier report as it was."""
        if self.file:
            self.file.close()
            self.partial.unlink(missing_ok=True)


def starting_line(workers: int, scheduler: str | None) -> str:
    """What the grader does before its first result: starting sandboxes takes seconds (tens, the first time)."""
    if scheduler:
        return f"Grading on the Dask cluster at {scheduler} ..."
    return (f"Starting {workers} sandbox{'es' if workers != 1 else ''} (a first start on this machine can take some "
            "20 s), then grading ...")
