"""What LTI launches told about each assignment's link on the LMS, kept in `autograder_lti_links` beside nbgrader's
tables: the resource link id (for the link's roster, NRPS `?rlid=`), the link's AGS line item (its grade column),
and the context's line items and memberships URLs. The service records them at each launch (web/lti.py);
`autograder lti roster ASSIGNMENT` and `autograder lti publish` read them, as the service's publisher does.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, inspect, insert, select, text, update

METADATA = MetaData()
LINKS = Table(
    "autograder_lti_links", METADATA,
    Column("assignment", String(128), primary_key=True),
    Column("lineitem", Text),
    Column("lineitems", Text),
    Column("memberships", Text),
    Column("updated_at", DateTime, nullable=False),
    Column("resource_link", Text),
)
FIELDS = ("resource_link", "lineitem", "lineitems", "memberships")


def create_table(engine) -> None:
    """The table, with every column (one made before resource link ids were kept gets that column)."""
    METADATA.create_all(engine)
    if not _has_resource_link(engine):
        with engine.begin() as connection:
            connection.execute(text(f"ALTER TABLE {LINKS.name} ADD COLUMN resource_link TEXT"))


def _has_resource_link(engine) -> bool:
    return "resource_link" in {column["name"] for column in inspect(engine).get_columns(LINKS.name)}


def record_link(engine, assignment: str, updated_at, **values) -> None:
    """Keep what a launch of `assignment`'s link told (FIELDS); a value the launch did not give stays as it was."""
    given = {name: value for name, value in values.items() if name in FIELDS and value}
    with engine.begin() as connection:
        if connection.execute(select(LINKS.c.assignment).where(LINKS.c.assignment == assignment)).first():
            connection.execute(update(LINKS).where(LINKS.c.assignment == assignment)
                               .values(updated_at=updated_at, **given))
        else:
            connection.execute(insert(LINKS).values(assignment=assignment, updated_at=updated_at, **given))


def recorded_links(engine) -> dict[str, dict]:
    """assignment -> {resource_link, lineitem, lineitems, memberships} as the latest launches told them."""
    if not inspect(engine).has_table(LINKS.name):
        return {}
    if not _has_resource_link(engine):
        create_table(engine)
    with engine.connect() as connection:
        return {row.assignment: {name: getattr(row, name) for name in FIELDS}
                for row in connection.execute(select(LINKS))}


def recorded_link(db_url: str, assignment: str | None = None) -> dict:
    """What launches told about `assignment`'s link, read from the gradebook's database ({} when nothing); with no
    assignment, the latest launch's context URLs (line items, memberships), the same for every link of a course."""
    from sqlalchemy import create_engine

    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).is_file():
        return {}
    engine = create_engine(db_url)
    try:
        links = recorded_links(engine)
    finally:
        engine.dispose()
    if assignment is not None:
        return links.get(assignment, {})
    return {name: next((link[name] for link in links.values() if link[name]), None)
            for name in ("lineitems", "memberships")}
