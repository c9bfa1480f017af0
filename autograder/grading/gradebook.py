"""Writing results into nbgrader's own gradebook (any SQLAlchemy URL), as `nbgrader autograde` does.

The assignment's cells are recorded with nbgrader's own preprocessors, so `nbgrader formgrader`,
`export` and `generate_feedback` see exactly what they would after `generate_assignment` and
`autograde`. Regrading updates the student's existing submission: grades are replaced, manual
scores an instructor already gave are kept, nothing is duplicated.

Beside nbgrader's tables (which nbgrader's tools ignore), the table `autograder_graded` records,
in the same transaction as a submission's grades, the fingerprint of what was graded and the full
result: a batch killed at any moment resumes by skipping exactly what committed.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Column, DateTime, Float, MetaData, String, Table, Text, bindparam, create_engine, delete, \
    event, insert, inspect, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, SAWarning, SQLAlchemyError

from ..course import notebook as nb
from ..course.config import CONFIG_FILE, Course, config_file
from .grade import AssignmentSpec
from ..results.model import SubmissionResult
from ..course.spec import NbgraderSpec
from .graded import GRADED, create_graded_table
from .history import ATTEMPTS, BATCH, EXTENSIONS, Graded, counting_attempt, counting_rule

# nbgrader's import chain reaches jsonschema, which compiles a grammar for the "iri" string format (about
# 0.9 s) if rfc3987_syntax is installed; no notebook or gradebook schema uses that format.
sys.modules.setdefault("rfc3987_syntax", None)



@lru_cache(maxsize=None)
def alembic_head() -> str:
    """The alembic revision nbgrader stamps on a new gradebook, read from nbgrader's own migration scripts.

    nbgrader asks a subprocess (`alembic heads`: 3 s, a whole interpreter start) for the same answer each
    time it creates a gradebook; `install_fast_alembic_head` makes it ask this function instead."""
    import nbgrader
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(nbgrader.__file__).parent / "alembic"))
    return ScriptDirectory.from_config(config).get_current_head()


def install_fast_alembic_head() -> None:
    import nbgrader.api

    nbgrader.api.get_alembic_version = alembic_head


def open_gradebook(db_url: str):
    """nbgrader's own Gradebook at `db_url`, opened without the slow paths above (for the LMS verbs)."""
    install_fast_alembic_head()
    from nbgrader.api import Gradebook

    return Gradebook(db_url)


@dataclass(frozen=True)
class HandGrade:
    """An instructor's grade of one written answer, as formgrader stored it in nbgrader's gradebook."""
    score: float | None   # None: not graded yet
    comment: str = ""


def hand_grades(db_url: str, assignment: str) -> dict[str, dict[str, HandGrade]]:
    """student -> grade id -> HandGrade, for every submission of `assignment` that has a hand-graded cell; {} when
    there is no gradebook or no such assignment in it (nothing graded by hand yet)."""
    from nbgrader.api import MissingEntry

    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).is_file():
        return {}
    grades: dict[str, dict[str, HandGrade]] = {}
    with open_gradebook(db_url) as gradebook:
        try:
            submissions = gradebook.assignment_submissions(assignment)
        except MissingEntry:
            return {}
        for submission in submissions:
            for notebook in submission.notebooks:
                graded = notebook_hand_grades(notebook)
                if graded:
                    grades.setdefault(submission.student.id, {}).update(graded)
    return grades


def notebook_hand_grades(notebook) -> dict[str, HandGrade]:
    """grade id -> HandGrade of one nbgrader SubmittedNotebook, for each cell an instructor graded by hand."""
    comments = {comment.name: comment.manual_comment or "" for comment in notebook.comments}
    return {grade.name: HandGrade(float(grade.manual_score), comments.get(grade.name, "").strip())
            for grade in notebook.grades if grade.manual_score is not None}


def lms_score(submission) -> float:
    """The score an LMS gets for a submitted assignment: nbgrader's score less its late penalty, never below 0."""
    return max(0.0, float(submission.score) - float(submission.late_submission_penalty))


SETUP_LOCK = 0x6E626772  # PostgreSQL advisory lock key: one grader at a time creates tables and assignments
SAVE_ATTEMPTS = 3         # a concurrent grader adding the same student makes one save fail; the retry finds it


class GradebookError(RuntimeError):
    """The gradebook cannot be opened or written; the message names it without its password."""


def safe_url(db_url: str) -> str:
    """The URL as it may be shown: the password, if any, replaced by ***."""
    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<malformed URL>"


def check_url(db_url: str) -> None:
    """Raise GradebookError unless `db_url` is a SQLAlchemy URL whose database driver is installed here."""
    try:
        make_url(db_url).get_dialect().import_dbapi()
    except NoSuchModuleError:  # a subclass of ArgumentError: first
        hint = " (write postgresql://, not postgres://)" if db_url.startswith("postgres:") else ""
        raise GradebookError(f"--db {_masked(db_url)}: SQLAlchemy knows no database "
                             f"{db_url.split(':', 1)[0]!r}{hint}") from None
    except ArgumentError:
        raise GradebookError(f"--db {_masked(db_url)} is not a database URL; examples: sqlite:///gradebook.db, "
                             "postgresql://user:password@host:5432/gradebook") from None
    except ImportError as error:
        raise GradebookError(f"--db {safe_url(db_url)}: its database driver is not installed ({error})") from None


def _masked(value: str) -> str:
    """A string that failed to parse as a URL, with anything that looks like user:password@ hidden."""
    return repr(re.sub(r"//[^/@]*@", "//***@", value))


def record_assignment(db_url: str, course: Course, spec: AssignmentSpec | NbgraderSpec) -> None:
    """Make the gradebook know the assignment, its notebook and cells, as generate_assignment records them."""
    if _recorded(db_url, spec):
        return
    if isinstance(spec, NbgraderSpec):  # nbgrader's own release step records its cells and released checksums
        _generate_assignment(db_url, course, spec.name)
        return
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import ClearOutput, ClearSolutions, ComputeChecksums, SaveCells
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_FILE, path=str(course.root)).load_config()
    source = nb.read(course.source_notebook(spec.name))
    resources = {"nbgrader": {"notebook": Path(spec.notebook).stem, "assignment": spec.name, "db_url": db_url}}
    with Gradebook(db_url) as gradebook:
        gradebook.update_or_create_assignment(spec.name)
    for step in (ClearSolutions(config=config), ClearOutput(config=config), ComputeChecksums(config=config),
                 SaveCells(config=config)):
        source, resources = step.preprocess(source, resources)


def _recorded(db_url: str, spec: AssignmentSpec | NbgraderSpec) -> bool:
    """Whether the gradebook already has this notebook (or these notebooks) with the source's graded cells and
    points."""
    from nbgrader.api import Gradebook, MissingEntry

    if isinstance(spec, NbgraderSpec):
        wanted = {(cell.notebook, cell.grade_id): cell.points for cell in spec.cells}
        stems = [Path(name).stem for name in spec.notebooks]
    else:
        cells = {exercise.grade_id: exercise.points for exercise in spec.exercises} | dict(spec.manual)
        wanted = {(Path(spec.notebook).stem, name): points for name, points in cells.items()}
        stems = [Path(spec.notebook).stem]
    recorded = {}
    with Gradebook(db_url) as gradebook:
        for stem in stems:
            try:
                notebook = gradebook.find_notebook(stem, spec.name)
            except MissingEntry:
                return False
            cells = (*notebook.grade_cells, *notebook.task_cells) if isinstance(spec, NbgraderSpec) else \
                notebook.grade_cells
            recorded.update({(stem, cell.name): cell.max_score for cell in cells})
    return recorded == wanted


def _generate_assignment(db_url: str, course: Course, assignment: str) -> None:
    """`nbgrader generate_assignment` of an nbgrader course's assignment into the gradebook at `db_url` (it writes
    release/<assignment>/ too, as nbgrader's own release does)."""
    import subprocess

    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force",
                           f"--CourseDirectory.db_url={db_url}"], cwd=course.root, capture_output=True, text=True)
    if done.returncode != 0:
        raise GradebookError(f"nbgrader generate_assignment {assignment} failed: {done.stderr[-2000:]}")


@contextmanager
def _setup_lock(db_url: str):
    """Hold PostgreSQL's advisory lock while tables and the assignment are created: two graders starting
    on one database would otherwise race in CREATE TABLE and in recording the assignment's cells."""
    if make_url(db_url).get_backend_name() != "postgresql":
        yield
        return
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SETUP_LOCK})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SETUP_LOCK})
    finally:
        engine.dispose()


def _stamp_alembic(gradebook) -> None:
    """Finish what nbgrader's first open does after creating its tables, if a kill came in between."""
    if "alembic_version" in inspect(gradebook.engine).get_table_names():
        return
    gradebook.db.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
    gradebook.db.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": alembic_head()})
    gradebook.db.commit()


def _write_ahead(gradebook) -> None:
    """SQLite only: a write-ahead log, synced at checkpoints rather than at every commit (several per
    submission). A killed grader still loses nothing committed; readers such as formgrader are unaffected."""
    if gradebook.engine.dialect.name != "sqlite":
        return

    def configure(connection, _record):
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")

    gradebook.db.commit()
    event.listen(gradebook.engine, "connect", configure)
    gradebook.engine.dispose()  # connections opened before the listener reconnect with it


def _new_id() -> str:
    return uuid.uuid4().hex  # as nbgrader.api.new_uuid


@dataclass(frozen=True)
class _NotebookLayout:
    id: str
    name: str
    grade_cells: dict[str, str]    # cell name -> id: the cells a submission has a Grade row for
    comment_cells: dict[str, str]  # cell name -> id: the cells it has a Comment row for
    tasks: frozenset = frozenset()  # the names of its task cells: graded by hand as a whole, never scored here


@dataclass(frozen=True)
class _AssignmentLayout:
    """What nbgrader recorded of the assignment, which every submission mirrors (see Gradebook.add_submission)."""
    assignment_id: str
    duedate: datetime | None
    notebooks: tuple[_NotebookLayout, ...]

    @classmethod
    def read(cls, gradebook, name: str) -> _AssignmentLayout:
        assignment = gradebook.find_assignment(name)
        notebooks = tuple(_NotebookLayout(
            notebook.id, notebook.name,
            {cell.name: cell.id for cell in (*notebook.grade_cells, *notebook.task_cells)},
            {cell.name: cell.id for cell in (*notebook.solution_cells, *notebook.task_cells)},
            frozenset(cell.name for cell in notebook.task_cells))
            for notebook in assignment.notebooks)
        return cls(assignment.id, assignment.duedate, notebooks)

    def notebook(self, name: str) -> _NotebookLayout:
        return next(notebook for notebook in self.notebooks if notebook.name == name)


class GradebookWriter:
    """One open gradebook; `save` records one graded submission and its fingerprint in one transaction."""

    def __init__(self, db_url: str, course: Course, spec: AssignmentSpec):
        from nbgrader.api import Gradebook, InvalidEntry

        install_fast_alembic_head()
        # nbgrader's update_or_create_submission trips SQLAlchemy's autoflush warnings; autograde shows them too
        warnings.filterwarnings("ignore", category=SAWarning, module="nbgrader.api")
        check_url(db_url)
        os.environ.setdefault("PGCONNECT_TIMEOUT", "10")  # libpq: an unreachable server fails in seconds
        self.db_url, self.spec, self.course, self.course_root = db_url, spec, course, course.root
        self.notebook_id = Path(spec.notebook).stem
        # the notebooks a result scores: an nbgrader assignment's several, each test result naming its own
        self._scored = {Path(name).stem for name in spec.notebooks} if isinstance(spec, NbgraderSpec) else \
            {self.notebook_id}
        self._plugin = None  # the late submission plugin nbgrader's configuration names, once one is needed
        self.gradebook = None
        try:
            with _setup_lock(db_url):
                self.gradebook = Gradebook(db_url)
                _stamp_alembic(self.gradebook)
                create_graded_table(self.gradebook.engine)
                ATTEMPTS.create(self.gradebook.engine, checkfirst=True)  # the service's attempts: one history
                record_assignment(db_url, course, spec)
            _write_ahead(self.gradebook)
            self._released_checksums = {(stem, cell.name): cell.checksum for stem in self._scored for cell in
                                        self.gradebook.find_notebook(stem, spec.name).source_cells}
            self._layout = _AssignmentLayout.read(self.gradebook, spec.name)
            self.gradebook.db.rollback()  # end the read transaction: SQLite must not stay locked for readers
        except (SQLAlchemyError, InvalidEntry) as error:
            if self.gradebook is not None:
                self.gradebook.close()
            raise GradebookError(f"cannot open the gradebook {safe_url(db_url)}: {_reason(error, db_url)}") from error

    def graded(self) -> dict[str, str]:
        """Student -> fingerprint of each submission of this assignment whose grades are committed."""
        from nbgrader.api import Assignment, SubmittedAssignment

        try:
            present = set(self.gradebook.db.scalars(
                select(SubmittedAssignment.student_id).join(Assignment).where(Assignment.name == self.spec.name)))
            rows = self.gradebook.db.execute(select(GRADED.c.student, GRADED.c.fingerprint)
                                             .where(GRADED.c.assignment == self.spec.name))
            graded = {student: fingerprint for student, fingerprint in rows if student in present}
            self.gradebook.db.rollback()  # end the read transaction: SQLite must not stay locked for readers
            return graded
        except SQLAlchemyError as error:
            raise self._failed("reading what was graded", error) from error

    def stored_result(self, student: str) -> dict:
        """The result committed with `student`'s grades, as SubmissionResult.to_json() gave it."""
        try:
            stored = self.gradebook.db.scalar(select(GRADED.c.result).where(
                GRADED.c.assignment == self.spec.name, GRADED.c.student == student))
            self.gradebook.db.rollback()
        except SQLAlchemyError as error:
            raise self._failed(f"reading the result of {student}", error) from error
        return json.loads(stored)

    def counts_over_service(self, student: str, score: float, timestamp: datetime | None) -> bool:
        """Whether a batch result of `score` handed in at `timestamp` is the attempt that counts under the
        assignment's counting policy (history.counting_rule), over the student's graded attempts in the service."""
        try:
            where = (ATTEMPTS.c.student == student) & (ATTEMPTS.c.assignment == self.spec.name)
            attempts = self.gradebook.db.execute(select(ATTEMPTS).where(where, ATTEMPTS.c.status == "done")).all()
            hours = self.gradebook.db.scalar(select(EXTENSIONS.c.hours).where(
                EXTENSIONS.c.student == student, EXTENSIONS.c.assignment == self.spec.name)) \
                if attempts and inspect(self.gradebook.engine).has_table(EXTENSIONS.name) else None
            self.gradebook.db.rollback()
        except SQLAlchemyError as error:
            raise self._failed(f"reading the service attempts of {student}", error) from error
        if not attempts:
            return True
        extension = timedelta(hours=hours) if hours else None
        handed_in = timestamp or datetime.now(timezone.utc).replace(tzinfo=None)

        def graded(key, score, at, order):
            return Graded(key, score - (self.late_penalty(student, score, at, extension) or 0.0), at, order)

        history = [graded(row.id, row.score or 0.0, row.uploaded_at, row.number) for row in attempts]
        history.append(graded(BATCH, score, handed_in, 0))
        return counting_attempt(counting_rule(self.course, self.spec.name), history) == BATCH

    def save(self, result: SubmissionResult, submitted, timestamp: datetime | None = None,
             fingerprint: str = "", *, counts: bool = True, service: bool = False) -> None:
        """Record `result`, in one commit: a batch's (`service` False) as its graded submission with this
        fingerprint, and, when it `counts`, as the student's grades in nbgrader's tables, in place of any service
        attempt's; a service attempt's (`service` True) as the student's grades only (its own table says
        which attempt that is). Either all of it is committed or none of it."""
        from nbgrader.api import InvalidEntry

        for attempt in range(SAVE_ATTEMPTS):
            try:
                self._save(result, submitted, timestamp, fingerprint, counts or service, not service)
                return
            except (IntegrityError, InvalidEntry) as error:
                self.gradebook.db.rollback()
                if attempt == SAVE_ATTEMPTS - 1:
                    raise self._failed(f"saving the grades of {result.student}", error) from error
                time.sleep(0.05 * (attempt + 1))
            except SQLAlchemyError as error:
                self.gradebook.db.rollback()
                raise self._failed(f"saving the grades of {result.student}", error) from error

    def _save(self, result, submitted, timestamp, fingerprint, grades_too: bool, batch: bool):
        connection = self.gradebook.db.connection()
        if grades_too:
            self._save_grades(connection, result, submitted, timestamp)
        if batch:
            if grades_too:  # the batch's submission counts now, not any of the service's attempts
                connection.execute(update(ATTEMPTS).where(
                    ATTEMPTS.c.student == result.student, ATTEMPTS.c.assignment == self.spec.name).values(counts=False))
            where = (GRADED.c.assignment == self.spec.name) & (GRADED.c.student == result.student)
            connection.execute(delete(GRADED).where(where))
            connection.execute(insert(GRADED).values(
                assignment=self.spec.name, student=result.student, fingerprint=fingerprint,
                result=json.dumps(result.to_json()), graded_at=datetime.now(timezone.utc).replace(tzinfo=None),
                submitted_at=timestamp, score=result.score, max_score=result.max_score))
        self.gradebook.db.commit()

    def _save_grades(self, connection, result, submitted, timestamp):
        """nbgrader's rows for the submission, written as `update_or_create_submission` and autograde's
        SaveAutoGrades and AssignLatePenalties write them, in SQL statements rather than through nbgrader's
        ORM (which cost 18 ms a submission, more than grading some notebooks)."""
        from nbgrader.api import Comment, Grade, Student, SubmittedAssignment, SubmittedNotebook

        students, submissions, notebooks = Student.__table__, SubmittedAssignment.__table__, SubmittedNotebook.__table__
        grades, comments = Grade.__table__, Comment.__table__
        if connection.execute(select(students.c.id).where(students.c.id == result.student)).first() is None:
            connection.execute(insert(students).values(id=result.student))
        submission = connection.execute(select(submissions.c.id, submissions.c.timestamp, submissions.c.extension).where(
            submissions.c.assignment_id == self._layout.assignment_id,
            submissions.c.student_id == result.student)).first()
        if submission is None:
            submission_id, extension = _new_id(), None
            connection.execute(insert(submissions).values(id=submission_id, assignment_id=self._layout.assignment_id,
                                                          student_id=result.student, timestamp=timestamp))
            existing = {}
        else:
            submission_id, extension = submission.id, submission.extension
            if timestamp:
                connection.execute(update(submissions).where(submissions.c.id == submission_id)
                                   .values(timestamp=timestamp))
            timestamp = timestamp or submission.timestamp
            existing = dict(connection.execute(select(notebooks.c.notebook_id, notebooks.c.id)
                                               .where(notebooks.c.assignment_id == submission_id)).all())
        for layout in self._layout.notebooks:  # as add_submission: every notebook of the assignment, every cell
            notebook_id = existing.get(layout.id)
            if notebook_id is None:
                notebook_id = _new_id()
                connection.execute(insert(notebooks).values(id=notebook_id, assignment_id=submission_id,
                                                            notebook_id=layout.id, flagged=False))
                graded_rows, comment_rows = {}, {}
            else:
                graded_rows = {row.cell_id: row for row in connection.execute(
                    select(grades.c.id, grades.c.cell_id, grades.c.auto_score, grades.c.manual_score,
                           grades.c.extra_credit)
                    .where(grades.c.notebook_id == notebook_id))}
                comment_rows = {row.cell_id: row.id for row in connection.execute(
                    select(comments.c.id, comments.c.cell_id).where(comments.c.notebook_id == notebook_id))}
            scored = layout.name in self._scored
            scores = self._grade_values(result, self._submitted(submitted, layout.name), layout) if scored else {}
            comment_texts = self._comment_values(self._submitted(submitted, layout.name), layout) if scored else {}
            new_grades, changed_grades, total = [], [], 0.0
            for name, cell_id in layout.grade_cells.items():
                row = graded_rows.get(cell_id)
                manual, extra = (row.manual_score, row.extra_credit) if row is not None else (None, None)
                auto = scores.get(name, row.auto_score if row is not None else None)
                values = {"auto_score": auto, "needs_manual_grade": manual is not None or auto is None}
                if row is None:
                    new_grades.append({"id": _new_id(), "notebook_id": notebook_id, "cell_id": cell_id, **values})
                elif name in scores:
                    changed_grades.append({"grade_id": row.id, **values})
                total += (manual if manual is not None else auto or 0.0) + (extra or 0.0)
            if new_grades:
                connection.execute(insert(grades), new_grades)
            if changed_grades:
                connection.execute(update(grades).where(grades.c.id == bindparam("grade_id")), changed_grades)
            new_comments, changed_comments = [], []
            for name, cell_id in layout.comment_cells.items():
                text = comment_texts.get(name)
                if cell_id not in comment_rows:
                    new_comments.append({"id": _new_id(), "notebook_id": notebook_id, "cell_id": cell_id,
                                         "auto_comment": text})
                elif name in comment_texts:
                    changed_comments.append({"comment_id": comment_rows[cell_id], "auto_comment": text})
            if new_comments:
                connection.execute(insert(comments), new_comments)
            if changed_comments:
                connection.execute(update(comments).where(comments.c.id == bindparam("comment_id")), changed_comments)
            if scored:
                penalty = self.late_penalty(result.student, total, timestamp, extension)
                connection.execute(update(notebooks).where(notebooks.c.id == notebook_id)
                                   .values(late_submission_penalty=penalty))

    def _submitted(self, submitted, notebook: str):
        """Of what was submitted, the notebook named `notebook` (of an nbgrader assignment's, read from the folder
        that holds them); None if it cannot be read."""
        if not isinstance(self.spec, NbgraderSpec):
            return submitted
        try:
            return nb.read(submitted / f"{notebook}.ipynb") if submitted is not None else None
        except nb.NotebookError:
            return None

    def _grade_values(self, result, submitted, layout: _NotebookLayout) -> dict[str, float | None]:
        """Grade cell name -> auto_score: the points of each check; for a written answer, None (to be graded
        by hand) unless it was left as released, which autograde scores 0 as nbgrader does; a task, none."""
        tests = {test.name.removeprefix(f"{test.notebook}/"): test for test in result.tests  # "stem/id": a shared id
                 if (test.notebook or self.notebook_id) == layout.name}
        return {name: (0.0 if self._unchanged(submitted, name, layout.name) else None) if test.manual else test.score
                for name, test in tests.items() if name not in layout.tasks}

    def _comment_values(self, submitted, layout: _NotebookLayout) -> dict[str, str | None]:
        """As nbgrader: an answer left as released says so."""
        return {name: "No response." if self._unchanged(submitted, name, layout.name) else None
                for name in layout.comment_cells if name not in layout.tasks}

    def late_penalty(self, student: str, score: float, timestamp, extension) -> float | None:
        """AssignLatePenalties' rule: None on time; late, the configured plugin's penalty, within 0 and the score."""
        duedate = self._layout.duedate
        if timestamp is None or duedate is None:
            return None
        seconds_late = max(0.0, (timestamp - (duedate + extension if extension is not None else duedate))
                           .total_seconds())
        if seconds_late <= 0:
            return None
        penalty = self._late_plugin().late_submission_penalty(student, score, seconds_late)
        return None if penalty is None else min(max(penalty, 0), score)

    def _late_plugin(self):
        if self._plugin is None:
            from nbgrader.preprocessors import AssignLatePenalties
            from traitlets.config.loader import PyFileConfigLoader

            config = PyFileConfigLoader(config_file(self.course_root), path=str(self.course_root)).load_config()
            assigner = AssignLatePenalties(config=config)
            assigner.init_plugin()
            self._plugin = assigner.plugin_inst
        return self._plugin

    def _unchanged(self, submitted, grade_id, notebook: str) -> bool:
        """Whether the student left the cell `grade_id` as it was released (or deleted it)."""
        cells = [cell for cell in (submitted.cells if submitted else []) if nb.grade_id(cell) == grade_id]
        return not cells or _checksum(cells[0]) == self._released_checksums.get((notebook, grade_id))

    def _failed(self, doing: str, error: Exception) -> GradebookError:
        return GradebookError(f"the gradebook {safe_url(self.db_url)} failed while {doing}: "
                              f"{_reason(error, self.db_url)}")

    def close(self):
        self.gradebook.close()


def _reason(error: Exception, db_url: str) -> str:
    """The database's own first line about `error`, never the password."""
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    reason = lines[0] if lines else type(error).__name__
    password = make_url(db_url).password
    return reason.replace(password, "***") if password else reason


def _checksum(cell) -> str | None:
    """nbgrader's checksum of a submitted cell; None when its metadata is too broken to compute one."""
    from nbgrader import utils

    try:
        return utils.compute_checksum(cell)
    except (KeyError, AttributeError, TypeError, ValueError):
        return None
