"""The service's own state, in tables beside nbgrader's in the gradebook's database (nbgrader ignores them).

`autograder_attempts` is also the grading queue: an upload first takes its attempt number (status
"receiving"), is written to disk, and only then is acknowledged (status "queued", committed); it becomes
"done" only after its results and, when it counts, its gradebook rows are written. A server that restarts
grades every attempt not "done" again, so an acknowledged upload is graded exactly once whatever moment the
server was killed.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, create_engine, delete, event, insert, select, \
    update
from sqlalchemy.engine import make_url

from ..grading.history import ATTEMPTS, EXTENSIONS, HISTORY

METADATA = MetaData()
LINKS = Table(
    "autograder_links", METADATA,
    Column("id", String(32), primary_key=True),          # random: the signed token carries it
    Column("user_id", String(128), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
)
SESSIONS = Table(
    "autograder_sessions", METADATA,
    # the SHA-256 of the session id the browser's cookie holds: a copy of this table signs no one in
    Column("key", String(64), primary_key=True),
    Column("user_id", String(128), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("via", String(16), nullable=False),           # "link" or "lti"
    Column("link_id", String(32), index=True),           # the sign-in link it came from: revoking that ends it
    Column("extra", Text, nullable=False),               # JSON: what the sign-in wanted back (LTI: its launch)
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("ended_at", DateTime),                        # signed out, or revoked
)
SUBMIT_KEYS = Table(
    "autograder_submit_keys", METADATA,
    # the SHA-256 of the key a downloaded notebook carries in its metadata (api.py): a copy of this table submits
    # nothing; a key is its student's for one assignment of this service's course, until it expires, is revoked
    # (`serve revoke`) or is replaced: at most SUBMIT_KEYS_LIVE per student and assignment are in force
    Column("key", String(64), primary_key=True),
    Column("student", String(128), nullable=False, index=True),
    Column("assignment", String(128), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Column("expires_at", DateTime),                      # NULL in rows of the first version: created_at + lifetime
)
SUBMIT_KEYS_LIVE = 5     # submit keys in force per student and assignment: a new one replaces the oldest beyond
SUBMIT_KEY_DAYS = 180    # a submit key's lifetime (a term, with its resits), never beyond the sign-in link's
MAX_ID = 2 ** 31 - 1   # the largest id an Integer column holds in PostgreSQL (SQLite's go to 2**63 - 1)


def utcnow() -> datetime:
    """Naive UTC, as nbgrader stores times."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class Attempt:
    id: int
    student: str
    assignment: str
    number: int
    status: str
    uploaded_at: datetime
    finished_at: datetime | None
    outcome: str | None
    score: float | None
    max_score: float | None
    late: bool
    counts: bool

    @property
    def done(self) -> bool:
        return self.status == "done"


@dataclass(frozen=True)
class BatchAttempt:
    """The submission `autograder grade` graded for a student (the gradebook's `autograder_graded` row): an attempt
    of the same history as the service's; it counts when no service attempt does (`Store.finish`)."""
    student: str
    assignment: str
    submitted_at: datetime     # the submission's timestamp.txt, else when it was graded (UTC)
    graded_at: datetime
    score: float
    max_score: float
    counts: bool
    result: dict | None = None  # SubmissionResult.to_json(), when asked for


@dataclass(frozen=True)
class Link:
    id: str
    user_id: str
    role: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class Session:
    user_id: str
    role: str
    via: str
    extra: dict = field(default_factory=dict)
    expires_at: datetime | None = None


@dataclass(frozen=True)
class SubmitKey:
    student: str
    assignment: str


class AttemptTaken(Exception):
    """Another upload of the same student and assignment took this attempt number first."""


def engine_for(db_url: str):
    """An engine on the gradebook's database; SQLite waits for a writer instead of failing at once."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(db_url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def write_ahead(connection, _record):  # as gradebook.py: readers never wait for the grader's writes
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
        return engine
    os.environ.setdefault("PGCONNECT_TIMEOUT", "10")
    return create_engine(db_url, pool_pre_ping=True)


class Store:
    """The service tables; every method is one short transaction, safe from any thread."""

    def __init__(self, db_url: str):
        from ..grading.graded import create_graded_table

        self.engine = engine_for(db_url)
        HISTORY.create_all(self.engine)  # the attempts and extensions: one history with the batch's
        METADATA.create_all(self.engine)
        _add_expires_column(self.engine)
        create_graded_table(self.engine)  # the batch's graded submissions: attempts of the same history

    def close(self):
        self.engine.dispose()

    # attempts

    def attempts(self, student: str | None = None, assignment: str | None = None,
                 status: str | None = None) -> list[Attempt]:
        query = select(ATTEMPTS).order_by(ATTEMPTS.c.student, ATTEMPTS.c.assignment, ATTEMPTS.c.number)
        if student is not None:
            query = query.where(ATTEMPTS.c.student == student)
        if assignment is not None:
            query = query.where(ATTEMPTS.c.assignment == assignment)
        if status is not None:
            query = query.where(ATTEMPTS.c.status == status)
        with self.engine.connect() as connection:
            return [Attempt(**row._mapping) for row in connection.execute(query)]

    def attempt(self, attempt_id: int) -> Attempt | None:
        """The attempt, or None; an id no id column holds (below 1, above MAX_ID: SQLite raises OverflowError
        from 2**63, PostgreSQL an error from 2**31) is one that does not exist."""
        if not 0 < attempt_id <= MAX_ID:
            return None
        with self.engine.connect() as connection:
            row = connection.execute(select(ATTEMPTS).where(ATTEMPTS.c.id == attempt_id)).first()
        return Attempt(**row._mapping) if row else None

    def reserve_attempt(self, student: str, assignment: str, number: int, uploaded_at: datetime,
                        late: bool) -> int:
        """Take attempt `number` for an upload being received; AttemptTaken if another upload has it."""
        from sqlalchemy.exc import IntegrityError

        try:
            with self.engine.begin() as connection:
                return connection.execute(insert(ATTEMPTS).values(
                    student=student, assignment=assignment, number=number, status="receiving",
                    uploaded_at=uploaded_at, late=late, counts=False)).inserted_primary_key[0]
        except IntegrityError:
            raise AttemptTaken(f"{student} {assignment} attempt {number}") from None

    def acknowledge(self, attempt_id: int) -> Attempt:
        """The upload's notebook is on disk: queue it for grading. From here on it is graded, whatever happens."""
        with self.engine.begin() as connection:
            connection.execute(update(ATTEMPTS).where(ATTEMPTS.c.id == attempt_id).values(status="queued"))
        return self.attempt(attempt_id)

    def drop_unacknowledged(self, attempt_id: int | None = None) -> None:
        """Forget one upload that was never acknowledged, or (at start) every one a killed server left."""
        where = ATTEMPTS.c.status == "receiving"
        if attempt_id is not None:
            where &= ATTEMPTS.c.id == attempt_id
        with self.engine.begin() as connection:
            connection.execute(ATTEMPTS.delete().where(where))

    def requeue(self, attempt_ids: list[int]) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(ATTEMPTS).where(ATTEMPTS.c.id.in_(attempt_ids)).values(status="queued"))

    def batch_attempts(self, student: str | None = None, assignment: str | None = None,
                       results: bool = False) -> list[BatchAttempt]:
        """What `autograder grade` graded (with each full result if `results`), each counting unless a service
        attempt of its student and assignment does. Rows the service itself wrote there before it kept to its
        own table are not batch attempts."""
        from ..grading.graded import GRADED, is_batch_fingerprint

        columns = [column for column in GRADED.c if column.name != "result"]
        query = select(*columns, *([GRADED.c.result] if results else [])).order_by(GRADED.c.student,
                                                                                  GRADED.c.assignment)
        if student is not None:
            query = query.where(GRADED.c.student == student)
        if assignment is not None:
            query = query.where(GRADED.c.assignment == assignment)
        counted = select(ATTEMPTS.c.student, ATTEMPTS.c.assignment).where(ATTEMPTS.c.counts.is_(True))
        found = []
        with self.engine.connect() as connection:
            taken = {tuple(row) for row in connection.execute(counted)}
            for row in connection.execute(query):
                if not is_batch_fingerprint(row.fingerprint):
                    continue
                result = json.loads(row.result) if results else None
                if row.score is None:  # written before the score had a column of its own
                    result = result or json.loads(connection.scalar(select(GRADED.c.result).where(
                        GRADED.c.assignment == row.assignment, GRADED.c.student == row.student)))
                score, max_score = (row.score, row.max_score) if row.score is not None else \
                    (result["score"], result["max_score"])
                found.append(BatchAttempt(row.student, row.assignment, row.submitted_at or row.graded_at,
                                          row.graded_at, float(score), float(max_score),
                                          (row.student, row.assignment) not in taken, result if results else None))
        return found

    def finish(self, attempt: Attempt, outcome: str, score: float, max_score: float, counting_id: int | None):
        """Mark `attempt` graded and `counting_id` the one attempt of its student and assignment that counts
        (None: none of the service's; the batch's graded submission, if any, then counts)."""
        with self.engine.begin() as connection:
            connection.execute(update(ATTEMPTS).where(ATTEMPTS.c.id == attempt.id).values(
                status="done", outcome=outcome, score=score, max_score=max_score, finished_at=utcnow()))
            same = (ATTEMPTS.c.student == attempt.student) & (ATTEMPTS.c.assignment == attempt.assignment)
            connection.execute(update(ATTEMPTS).where(same).values(counts=ATTEMPTS.c.id == counting_id))

    # sign-in links

    def add_link(self, user_id: str, role: str, days: float) -> Link:
        now = utcnow()
        link = Link(secrets.token_hex(16), user_id, role, now, now + timedelta(days=days), None)
        with self.engine.begin() as connection:
            connection.execute(insert(LINKS).values(**link.__dict__))
        return link

    def link(self, link_id: str) -> Link | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(LINKS).where(LINKS.c.id == link_id)).first()
        return Link(**row._mapping) if row else None

    def revoke_links(self, link_id: str | None = None, user_id: str | None = None) -> int:
        """Revoke one link, or every link of a user; returns how many were still valid."""
        where = LINKS.c.revoked_at.is_(None)
        where &= (LINKS.c.id == link_id) if link_id is not None else (LINKS.c.user_id == user_id)
        with self.engine.begin() as connection:
            revoked = [row.id for row in connection.execute(select(LINKS.c.id).where(where))]
            connection.execute(update(LINKS).where(LINKS.c.id.in_(revoked)).values(revoked_at=utcnow()))
            # the sessions signed in with them end with them, in the same transaction
            connection.execute(update(SESSIONS).where(SESSIONS.c.link_id.in_(revoked), SESSIONS.c.ended_at.is_(None))
                               .values(ended_at=utcnow()))
        return len(revoked)

    # sessions

    def start_session(self, user_id: str, role: str, via: str, extra: dict, lifetime: timedelta,
                      link_id: str | None = None) -> str:
        """A new session; returns its id (the cookie's secret, kept here only as a hash). It lasts `lifetime`,
        and never beyond the expiry of the link it came from. Sessions long over are forgotten here."""
        now = utcnow()
        expires = now + lifetime
        session_id = secrets.token_urlsafe(32)
        with self.engine.begin() as connection:
            if link_id is not None:
                link_expires = connection.scalar(select(LINKS.c.expires_at).where(LINKS.c.id == link_id))
                expires = min(expires, link_expires or now)
            over = (SESSIONS.c.expires_at <= now) | SESSIONS.c.ended_at.is_not(None)
            connection.execute(delete(SESSIONS).where(over))
            connection.execute(insert(SESSIONS).values(
                key=_session_key(session_id), user_id=user_id, role=role, via=via, link_id=link_id,
                extra=json.dumps(extra), created_at=now, expires_at=expires))
        return session_id

    def session(self, session_id: str) -> Session | None:
        """The session, if it has neither ended nor expired."""
        with self.engine.connect() as connection:
            row = connection.execute(select(SESSIONS).where(SESSIONS.c.key == _session_key(session_id))).first()
        if row is None or row.ended_at is not None or row.expires_at <= utcnow():
            return None
        return Session(row.user_id, row.role, row.via, json.loads(row.extra), row.expires_at)

    def end_sessions(self, session_id: str | None = None, user_id: str | None = None) -> int:
        """End one session (sign-out), or every session of a user (`serve revoke`); returns how many were open."""
        where = SESSIONS.c.ended_at.is_(None)
        where &= (SESSIONS.c.key == _session_key(session_id)) if session_id is not None else \
            (SESSIONS.c.user_id == user_id)
        with self.engine.begin() as connection:
            return connection.execute(update(SESSIONS).where(where).values(ended_at=utcnow())).rowcount

    # submit keys (a downloaded notebook's, for submitting from where the student works: api.py)

    def add_submit_key(self, student: str, assignment: str, not_after: datetime | None = None) -> str:
        """A new submit key of `student` for `assignment`; returns the key (kept here only as a hash). It lasts
        SUBMIT_KEY_DAYS, never beyond `not_after` (the sign-in link's expiry). The table stays bounded: keys over
        (expired, revoked) are forgotten, and the student's oldest keys of `assignment` beyond SUBMIT_KEYS_LIVE
        with them."""
        key, now, lifetime = secrets.token_urlsafe(32), utcnow(), timedelta(days=SUBMIT_KEY_DAYS)
        expires = min(now + lifetime, not_after or now + lifetime)
        with self.engine.begin() as connection:
            over = SUBMIT_KEYS.c.revoked_at.is_not(None) | (SUBMIT_KEYS.c.expires_at <= now) | \
                (SUBMIT_KEYS.c.expires_at.is_(None) & (SUBMIT_KEYS.c.created_at <= now - lifetime))
            connection.execute(delete(SUBMIT_KEYS).where(over))
            same = (SUBMIT_KEYS.c.student == student) & (SUBMIT_KEYS.c.assignment == assignment)
            kept = [row.key for row in connection.execute(select(SUBMIT_KEYS.c.key).where(same).order_by(
                SUBMIT_KEYS.c.created_at.desc()).limit(SUBMIT_KEYS_LIVE - 1))]
            connection.execute(delete(SUBMIT_KEYS).where(same & SUBMIT_KEYS.c.key.not_in(kept)))
            connection.execute(insert(SUBMIT_KEYS).values(key=_session_key(key), student=student, assignment=assignment,
                                                          created_at=now, expires_at=expires))
        return key

    def submit_key(self, key: str) -> SubmitKey | None:
        """Whose `key` is, if it is one this service gave and it is in force (not revoked, replaced or expired)."""
        with self.engine.connect() as connection:
            row = connection.execute(select(SUBMIT_KEYS).where(SUBMIT_KEYS.c.key == _session_key(key))).first()
        if row is None or row.revoked_at is not None:
            return None
        expires = row.expires_at or row.created_at + timedelta(days=SUBMIT_KEY_DAYS)
        return SubmitKey(row.student, row.assignment) if utcnow() < expires else None

    def revoke_submit_keys(self, student: str) -> int:
        """Revoke every submit key of `student` (`serve revoke --user`); returns how many were valid."""
        where = (SUBMIT_KEYS.c.student == student) & SUBMIT_KEYS.c.revoked_at.is_(None)
        with self.engine.begin() as connection:
            return connection.execute(update(SUBMIT_KEYS).where(where).values(revoked_at=utcnow())).rowcount

    # extensions

    def extension(self, student: str, assignment: str) -> timedelta:
        with self.engine.connect() as connection:
            hours = connection.scalar(select(EXTENSIONS.c.hours).where(
                EXTENSIONS.c.student == student, EXTENSIONS.c.assignment == assignment))
        return timedelta(hours=hours or 0)

    def extensions(self, student: str) -> dict[str, timedelta]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(EXTENSIONS.c.assignment, EXTENSIONS.c.hours)
                                      .where(EXTENSIONS.c.student == student))
            return {assignment: timedelta(hours=hours) for assignment, hours in rows}

    def set_extension(self, student: str, assignment: str, hours: float) -> None:
        where = (EXTENSIONS.c.student == student) & (EXTENSIONS.c.assignment == assignment)
        with self.engine.begin() as connection:
            connection.execute(EXTENSIONS.delete().where(where))
            if hours > 0:
                connection.execute(insert(EXTENSIONS).values(student=student, assignment=assignment, hours=hours,
                                                             granted_at=utcnow()))


def _add_expires_column(engine) -> None:
    """The submit keys' `expires_at`, which the table's first version lacked."""
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import SQLAlchemyError

    if "expires_at" in {column["name"] for column in inspect(engine).get_columns(SUBMIT_KEYS.name)}:
        return
    try:
        with engine.begin() as connection:
            connection.execute(text(f"ALTER TABLE {SUBMIT_KEYS.name} ADD COLUMN expires_at TIMESTAMP"))
    except SQLAlchemyError:  # another process added it meanwhile
        if "expires_at" not in {column["name"] for column in inspect(engine).get_columns(SUBMIT_KEYS.name)}:
            raise


def _session_key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()
