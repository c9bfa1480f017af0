"""Which LMS courses (LTI contexts) this course's grader serves, and what their launches told about each
assignment's link, in tables beside nbgrader's.

A context is (issuer, client id, deployment id, context id): one LMS course on one tool registration (Moodle lets
one registration serve every course of a site, so the context id is what tells them apart). The service serves a
context bound in course_config.py (`c.LTI.contexts`) or approved on the instructor's terminal (`autograder lti
contexts approve ID`); never one bound by whoever launches first. A launch from any other context is refused and
only noted here (when, the course's title and label), for the instructor to approve.

`autograder_lti_contexts`: every context that launched (approved or not) and a bound context's line items and
memberships URLs. `autograder_lti_resource_links`: per bound context and resource link, the assignment it opens and
its AGS line item (its grade column). Only launches from a bound context record anything. `autograder lti roster`
and `autograder lti publish` read them, as the service's publisher does; `autograder_lti_links` (one row per
assignment, from before contexts were bound) is only read to adopt its rows into a bound context whose URLs they
carry.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, UniqueConstraint, delete, inspect, \
    insert, select, text, update
from sqlalchemy.exc import IntegrityError

METADATA = MetaData()
CONTEXTS = Table(
    "autograder_lti_contexts", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),   # what `lti contexts approve ID` names
    Column("issuer", String(255), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("deployment_id", String(255), nullable=False),
    Column("context_id", String(255), nullable=False),
    Column("label", Text),                     # as the latest launch gave them (Moodle: short name, full name)
    Column("title", Text),
    Column("first_launch_at", DateTime),
    Column("last_launch_at", DateTime),
    Column("launches", Integer, nullable=False, default=0),
    Column("approved_at", DateTime),           # None: not approved (c.LTI.contexts may still bind it)
    Column("lineitems", Text),                 # a bound context's URLs, from its launches
    Column("memberships", Text),
    UniqueConstraint("issuer", "client_id", "deployment_id", "context_id"),
)
RESOURCE_LINKS = Table(
    "autograder_lti_resource_links", METADATA,
    Column("context", Integer, primary_key=True),          # CONTEXTS.id
    Column("resource_link", String(255), primary_key=True),
    Column("assignment", String(128), nullable=False),
    Column("lineitem", Text),
    Column("updated_at", DateTime, nullable=False),
)
LEGACY = Table(   # before contexts: one row per assignment, whichever launch came last (any course's)
    "autograder_lti_links", MetaData(),
    Column("assignment", String(128), primary_key=True),
    Column("lineitem", Text),
    Column("lineitems", Text),
    Column("memberships", Text),
    Column("updated_at", DateTime, nullable=False),
    Column("resource_link", Text),
)
CONTEXT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/context"
DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"


class ContextKey(NamedTuple):
    issuer: str
    client_id: str
    deployment_id: str
    context_id: str


@dataclass(frozen=True)
class Context:
    """A context as recorded (id None: bound in course_config.py, never launched yet)."""
    key: ContextKey
    id: int | None = None
    label: str | None = None
    title: str | None = None
    launches: int = 0
    first_launch_at: datetime | None = None
    last_launch_at: datetime | None = None
    approved_at: datetime | None = None
    configured: bool = False
    lineitems: str | None = None
    memberships: str | None = None

    @property
    def bound(self) -> bool:
        return self.configured or self.approved_at is not None

    @property
    def name(self) -> str:
        """How an instructor knows the LMS course: "NN101 (Neural nets)", else its context id."""
        if self.label and self.title and self.label != self.title:
            return f"{self.label} ({self.title})"
        return self.label or self.title or f"context {self.key.context_id}"


def launch_context(claims) -> ContextKey | None:
    """The context a validated id_token comes from, or None when it names none (every part must be a non-empty
    string; the client id is `aud`, or the first of a list, as pylti1p3 reads and checks it)."""
    if not isinstance(claims, dict):
        return None
    audience, context = claims.get("aud"), claims.get(CONTEXT_CLAIM)
    if isinstance(audience, list):
        audience = audience[0] if audience else None
    parts = (claims.get("iss"), audience, claims.get(DEPLOYMENT_CLAIM),
             context.get("id") if isinstance(context, dict) else None)
    if not all(isinstance(part, str) and part for part in parts):
        return None
    return ContextKey(*parts)


def is_served(key: ContextKey | None, bound) -> bool:
    """Whether a launch from `key` may go on: it is exactly one of the `bound` contexts' keys."""
    return key is not None and key in {context.key for context in bound}


def configured_contexts(settings) -> list[ContextKey]:
    """c.LTI.contexts: each a context id (on c.LTI's issuer, client id and deployment id) or a dict of the four."""
    found = []
    for entry in settings.contexts or ():
        given = entry if isinstance(entry, dict) else {"context_id": entry}
        found.append(ContextKey(str(given.get("issuer") or settings.issuer),
                                str(given.get("client_id") or settings.client_id),
                                str(given.get("deployment_id") or settings.deployment_id), str(given["context_id"])))
    return found


def create_tables(engine) -> None:
    METADATA.create_all(engine)


def _context(row, configured: set) -> Context:
    key = ContextKey(row.issuer, row.client_id, row.deployment_id, row.context_id)
    return Context(key, row.id, row.label, row.title, row.launches, row.first_launch_at, row.last_launch_at,
                   row.approved_at, key in configured, row.lineitems, row.memberships)


def contexts(engine, settings) -> list[Context]:
    """Every context that launched or that course_config.py binds, in the order they first launched."""
    configured = configured_contexts(settings)
    if not inspect(engine).has_table(CONTEXTS.name):
        rows = []
    else:
        with engine.connect() as connection:
            rows = list(connection.execute(select(CONTEXTS).order_by(CONTEXTS.c.id)))
    found = [_context(row, set(configured)) for row in rows]
    seen = {context.key for context in found}
    return found + [Context(key, configured=True) for key in configured if key not in seen]


def bound_contexts(engine, settings) -> list[Context]:
    return [context for context in contexts(engine, settings) if context.bound]


def note_launch(engine, key: ContextKey, label, title, at) -> int:
    """Count a validated launch from `key` (bound or not), with the course's label and title; returns its id."""
    strings = {"label": str(label)[:255] if label else None, "title": str(title)[:255] if title else None}
    where = ((CONTEXTS.c.issuer == key.issuer) & (CONTEXTS.c.client_id == key.client_id)
             & (CONTEXTS.c.deployment_id == key.deployment_id) & (CONTEXTS.c.context_id == key.context_id))
    for _ in range(2):  # two first launches at once: the second insert fails, and then counts on the first's row
        try:
            with engine.begin() as connection:
                row = connection.execute(select(CONTEXTS.c.id).where(where)).first()
                if row is None:
                    return connection.execute(insert(CONTEXTS).values(
                        **key._asdict(), **strings, first_launch_at=at, last_launch_at=at,
                        launches=1)).inserted_primary_key[0]
                connection.execute(update(CONTEXTS).where(CONTEXTS.c.id == row.id).values(
                    **strings, last_launch_at=at, launches=CONTEXTS.c.launches + 1))
                return row.id
        except IntegrityError:
            continue
    raise RuntimeError(f"the launch from {key} could not be noted")


def set_approved(engine, context_id: int, at) -> bool:
    """Approve (at a time) or withdraw (at None) the recorded context `context_id`; False when there is none."""
    with engine.begin() as connection:
        return connection.execute(update(CONTEXTS).where(CONTEXTS.c.id == context_id)
                                  .values(approved_at=at)).rowcount == 1


def record_link(engine, context: int, resource_link: str, assignment: str, updated_at, lineitem=None,
                lineitems=None, memberships=None) -> None:
    """Keep what a launch from the bound context `context` (its id) told: the resource link's assignment and line
    item, the context's line items and memberships URLs. A value the launch did not give stays as it was."""
    with engine.begin() as connection:
        context_urls = {name: value for name, value in (("lineitems", lineitems), ("memberships", memberships))
                        if value}
        if context_urls:
            connection.execute(update(CONTEXTS).where(CONTEXTS.c.id == context).values(**context_urls))
        key = (RESOURCE_LINKS.c.context == context) & (RESOURCE_LINKS.c.resource_link == resource_link)
        values = {"assignment": assignment, "updated_at": updated_at, **({"lineitem": lineitem} if lineitem else {})}
        if connection.execute(select(RESOURCE_LINKS.c.context).where(key)).first():
            connection.execute(update(RESOURCE_LINKS).where(key).values(**values))
        else:
            connection.execute(insert(RESOURCE_LINKS).values(context=context, resource_link=resource_link, **values))
    adopt_legacy(engine, context)


def adopt_legacy(engine, context: int) -> int:
    """Rows of the table from before contexts whose line items and memberships URLs are the context's (a launch of
    this course recorded them) become its links; the rest (another course's, or unknown) are left unused."""
    if not inspect(engine).has_table(LEGACY.name):
        return 0
    with engine.begin() as connection:
        mine = connection.execute(select(CONTEXTS).where(CONTEXTS.c.id == context)).first()
        if mine is None or not (mine.lineitems and mine.memberships):
            return 0
        columns = {column["name"] for column in inspect(connection).get_columns(LEGACY.name)}
        if "resource_link" not in columns:
            connection.execute(text(f"ALTER TABLE {LEGACY.name} ADD COLUMN resource_link TEXT"))
        adopted = 0
        for row in connection.execute(select(LEGACY)).all():
            if not (row.resource_link and row.lineitems == mine.lineitems and row.memberships == mine.memberships
                    and (not row.lineitem or within(row.lineitem, mine.lineitems))):
                continue
            key = (RESOURCE_LINKS.c.context == context) & (RESOURCE_LINKS.c.resource_link == row.resource_link)
            if connection.execute(select(RESOURCE_LINKS.c.context).where(key)).first() is None:
                connection.execute(insert(RESOURCE_LINKS).values(
                    context=context, resource_link=row.resource_link, assignment=row.assignment,
                    lineitem=row.lineitem, updated_at=row.updated_at))
            connection.execute(delete(LEGACY).where(LEGACY.c.assignment == row.assignment))
            adopted += 1
        return adopted


def within(lineitem: str, lineitems: str) -> bool:
    """Whether a line item URL is one of the line items container's (AGS: Moodle's .../COURSE/lineitems/ITEM/lineitem
    under .../COURSE/lineitems, Canvas's .../courses/ID/line_items/ITEM under .../courses/ID/line_items)."""
    item, container = urlsplit(lineitem), urlsplit(lineitems)
    return ((item.scheme, item.netloc) == (container.scheme, container.netloc)
            and item.path.startswith(container.path.rstrip("/") + "/"))


def same_service(url: str, known: str) -> bool:
    """Whether two memberships (or line items) URLs are one service: scheme, host and path equal (the query may
    differ: `rlid`, `role`, pages)."""
    first, second = urlsplit(url), urlsplit(known)
    return (first.scheme, first.netloc, first.path.rstrip("/")) == (second.scheme, second.netloc,
                                                                   second.path.rstrip("/"))


def links_of(engine, context: int) -> dict[str, dict]:
    """resource link id -> {assignment, lineitem} of a bound context."""
    if not inspect(engine).has_table(RESOURCE_LINKS.name):
        return {}
    with engine.connect() as connection:
        return {row.resource_link: {"assignment": row.assignment, "lineitem": row.lineitem}
                for row in connection.execute(select(RESOURCE_LINKS).where(RESOURCE_LINKS.c.context == context)
                                              .order_by(RESOURCE_LINKS.c.updated_at))}


class LinkError(Exception):
    """The links on record cannot say which LMS course an assignment's scores or roster belong to."""


def served_link(engine, settings, assignment: str | None = None) -> dict:
    """What launches from the bound contexts told about `assignment`'s link (the latest launched link of it):
    {context, resource_link, lineitem, lineitems, memberships}; with no assignment, the context URLs only.
    `context` is the bound Context, None when no bound context ever launched (c.LTI's URLs then serve alone).
    LinkError when links of the assignment (or, without one, URLs) are known in more than one bound context."""
    known = [context for context in bound_contexts(engine, settings) if context.id is not None
             and (context.lineitems or context.memberships or links_of(engine, context.id))]
    if assignment is not None:
        having = [(context, link_id, link) for context in known
                  for link_id, link in links_of(engine, context.id).items() if link["assignment"] == assignment]
        courses = {context.key for context, _, _ in having}
        if len(courses) > 1:
            raise LinkError(f"{assignment} has links in {len(courses)} LMS courses this grader serves ("
                            + ", ".join(sorted({context.name for context, _, _ in having}))
                            + "); publish and roster serve one course's links at a time: withdraw the others with "
                              "`autograder lti contexts withdraw ID`.")
        if having:
            context, link_id, link = having[-1]
            return {"context": context, "resource_link": link_id, "lineitem": link["lineitem"],
                    "lineitems": context.lineitems, "memberships": context.memberships}
    if len(known) > 1:
        raise LinkError("this grader serves " + ", ".join(context.name for context in known)
                        + "; publish and roster serve one LMS course at a time: withdraw the others with "
                          "`autograder lti contexts withdraw ID`.")
    context = known[0] if known else None
    return {"context": context, "resource_link": None, "lineitem": None,
            "lineitems": context.lineitems if context else None,
            "memberships": context.memberships if context else None}


def served_link_at(db_url: str, settings, assignment: str | None = None) -> dict:
    """`served_link` read from the gradebook's database (nothing recorded when there is none yet)."""
    from sqlalchemy import create_engine

    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).is_file():
        return {"context": None, "resource_link": None, "lineitem": None, "lineitems": None, "memberships": None}
    engine = create_engine(db_url)
    try:
        return served_link(engine, settings, assignment)
    finally:
        engine.dispose()


def _when(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "never"


def describe(context: Context) -> str:
    """One line of `autograder lti contexts`."""
    if context.configured:
        state = "SERVED (c.LTI.contexts)"
    elif context.approved_at:
        state = f"SERVED (approved {_when(context.approved_at)})"
    else:
        state = "not served"
    key = context.key
    number = context.id if context.id is not None else "-"
    return (f"{number:>4}  {state}  {context.name}: context id {key.context_id}, "
            f"issuer {key.issuer}, client id {key.client_id}, deployment {key.deployment_id}; "
            f"{context.launches} launch{'' if context.launches == 1 else 'es'}, last {_when(context.last_launch_at)}")


def run_contexts(args) -> int:
    """`autograder lti contexts [approve|withdraw ID]`."""
    import sys

    from sqlalchemy import create_engine

    from datetime import timezone

    from .lti import CONFIG_SECTION, LtiError, _course, load_settings

    course = _course()
    try:
        settings = load_settings(course.root)
    except LtiError as error:
        print(f"autograder lti contexts: {error}", file=sys.stderr)
        return 1
    engine = create_engine(args.db or course.db_url)
    try:
        create_tables(engine)
        if args.action != "list":
            if args.id is None:
                print(f"autograder lti contexts {args.action}: give the ID that `autograder lti contexts` lists",
                      file=sys.stderr)
                return 2
            chosen = next((c for c in contexts(engine, settings) if c.id == args.id), None)
            if chosen is None:
                print(f"autograder lti contexts: no LMS course with ID {args.id} has launched this grader; "
                      "`autograder lti contexts` lists those that did.", file=sys.stderr)
                return 1
            set_approved(engine, args.id, datetime.now(timezone.utc).replace(tzinfo=None)  # naive UTC, as nbgrader's
                         if args.action == "approve" else None)
            if args.action == "approve":
                print(f"Approved {chosen.name}: launches from it now open this course's grader (its teachers as "
                      f"instructors, its students as students), and its links and grade columns are used.")
            elif chosen.configured:
                print(f"{chosen.name} is bound in course_config.py: remove it from {CONFIG_SECTION}.contexts to "
                      "stop serving it.")
            else:
                print(f"Withdrawn: launches from {chosen.name} are refused from now on.")
        found = contexts(engine, settings)
    finally:
        engine.dispose()
    print(f"LMS courses of this grader ({course.course_id}); launches from a course not served are refused. "
          "Approve one with `autograder lti contexts approve ID`:" if found else
          "No LMS course has launched this grader yet, and course_config.py binds none: a launch from the LMS is "
          "refused and then listed here, to approve with `autograder lti contexts approve ID`.")
    for context in found:
        print(describe(context))
    return 0
