"""`autograder_graded`: the batch's own record of each submission it graded (beside nbgrader's tables, in the same
database). Below both the gradebook writer and the service's store, which read it to count batch grades and service
attempts as one history."""
from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, MetaData, String, Table, Text, inspect, text
from sqlalchemy.exc import SQLAlchemyError

GRADED = Table(
    "autograder_graded", MetaData(),
    Column("assignment", String(128), primary_key=True),
    Column("student", String(128), primary_key=True),
    Column("fingerprint", String(64), nullable=False),   # sha256 of the submission and the grading inputs
    Column("result", Text, nullable=False),              # SubmissionResult.to_json(), as JSON text
    Column("graded_at", DateTime, nullable=False),
    Column("submitted_at", DateTime),                    # the submission's timestamp.txt, if it had one (UTC)
    Column("score", Float),                              # the result's: the service's pages read it without
    Column("max_score", Float),                          # the result (None in rows written before these columns)
)
ADDED_COLUMNS = {"submitted_at": "TIMESTAMP", "score": "FLOAT", "max_score": "FLOAT"}   # since the first version
SERVICE_FINGERPRINT = "web-attempt-"   # rows the service wrote here before its attempts kept to their own table


def create_graded_table(engine) -> None:
    """`autograder_graded` as this version writes it: created, or given the columns older versions lacked."""
    def missing():
        return [name for name in ADDED_COLUMNS if name not in {column["name"] for column in
                                                               inspect(engine).get_columns(GRADED.name)}]

    GRADED.metadata.create_all(engine)
    for name in missing():
        try:
            with engine.begin() as connection:
                connection.execute(text(f"ALTER TABLE {GRADED.name} ADD COLUMN {name} {ADDED_COLUMNS[name]}"))
        except SQLAlchemyError:  # another process added it meanwhile
            if name in missing():
                raise


def is_batch_fingerprint(fingerprint: str) -> bool:
    """Whether a row was written by a batch (rows of older versions' service attempts carry their prefix)."""
    return not fingerprint.startswith(SERVICE_FINGERPRINT)
