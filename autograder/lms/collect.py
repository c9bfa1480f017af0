"""`autograder collect ASSIGNMENT ARCHIVE`: an LMS's download of submissions into nbgrader's `submitted/` layout.

The archive is a zip file or a folder holding any of:
- Canvas "Download Submissions": flat files `lastfirst_12345_6789012_name.ipynb`, `lastfirst_LATE_12345_6789012_name.ipynb`
  (squashed sortable name, LATE when late, Canvas user id, submission id, the student's file name; a resubmitted
  file's name gets `-1`, `-2`, ... before its extension). Matched to the roster by Canvas user id (lms_user_id).
- Moodle "Download all submissions": `Ada Lovelace_123456_assignsubmission_file_/name.ipynb` (full name, participant
  id, plugin; older Moodle and the "no folders" option put the file name right after the last underscore).
  Matched by first and last name, since Moodle's participant id appears nowhere else.
- nbgrader's own layout, `<student>/<notebook>` or `<student>/<assignment>/<notebook>`, with `timestamp.txt` beside.

Each student's submission lands in `submitted/<student>/<assignment>/<notebook>`, written through a temporary file
and a rename. Neither LMS puts the submission time in its download (the zip's entry times are when the zip was
made), so `timestamp.txt` is written only when the archive has one. What a collected file is "as of" (its
timestamp, else the time of its entry in the archive) is kept as the file's modification time: a later collect
never replaces it with a submission from an older download.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .csvfiles import LmsFileError

logger = logging.getLogger(__name__)

CANVAS_NAME = re.compile(r"(?P<name>[^_/]*?)(?P<late>_LATE)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<file>[^/]+)")
MOODLE_NAME = re.compile(r"(?P<fullname>[^/_]+)_(?P<participant>\d+)_assignsubmission_(?P<plugin>[a-z]+)_/?(?P<file>.*)")
RESUBMISSION = re.compile(r"(?P<stem>.+)-(?P<number>\d+)(?P<extension>\.[^.]+)")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"   # nbgrader's timestamp.txt
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Member:
    """One file of the archive."""
    name: str                       # its path inside the archive, with / between folders
    size: int
    modified: float                 # POSIX time of its entry in the archive
    read: Callable[[], bytes]


@dataclass(frozen=True)
class Candidate:
    """A file that belongs to a student's submission."""
    member: Member
    student: str
    filename: str                   # the student's own file name, resubmission number removed
    version: int                    # 0, or Canvas's resubmission number
    late: bool
    timestamp: datetime | None      # when it was submitted, if the archive says

    @property
    def as_of(self) -> float:
        return self.timestamp.timestamp() if self.timestamp else self.member.modified


@dataclass
class CollectReport:
    assignment: str
    collected: list[str] = field(default_factory=list)      # students whose submission was written
    unchanged: list[str] = field(default_factory=list)      # the same submission was already there
    kept_newer: list[str] = field(default_factory=list)     # a newer submission was already there
    late: list[str] = field(default_factory=list)           # students the LMS marks late
    unmatched: list[str] = field(default_factory=list)      # "file: why", for every file not collected
    duplicates: list[str] = field(default_factory=list)     # "student: which file was kept, which not"

    @property
    def matched(self) -> int:
        return len(self.collected) + len(self.unchanged) + len(self.kept_newer)

    def lines(self) -> list[str]:
        lines = [f"{self.assignment}: collected {len(self.collected)} submission(s), {len(self.unchanged)} unchanged, "
                 f"{len(self.kept_newer)} kept (a newer one was already collected)"]
        for label, items in (("collected", self.collected), ("late (the LMS says)", self.late),
                             ("kept the newer one already collected", self.kept_newer)):
            if items:
                lines.append(f"  {label}: {', '.join(items)}")
        if self.duplicates:
            lines.append(f"  {len(self.duplicates)} student(s) with more than one file:")
            lines += [f"    {line}" for line in self.duplicates]
        if self.unmatched:
            lines.append(f"  {len(self.unmatched)} file(s) not collected:")
            lines += [f"    {line}" for line in self.unmatched]
        return lines


def archive_members(archive: Path) -> list[Member]:
    """The files of a zip archive or a folder, in name order; LmsFileError naming the archive if it cannot be read."""
    archive = Path(archive)
    if archive.is_dir():
        members = []
        for path in sorted(archive.rglob("*")):
            if path.is_file():
                stat = path.stat()
                members.append(Member(path.relative_to(archive).as_posix(), stat.st_size, stat.st_mtime,
                                      path.read_bytes))
        return members
    try:
        with zipfile.ZipFile(archive) as opened:
            infos = [info for info in opened.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise LmsFileError(f"{archive}: not a readable zip file or folder ({reason})") from None

    def reader(info):
        def read() -> bytes:
            with zipfile.ZipFile(archive) as opened:
                return opened.read(info)
        return read

    return [Member(info.filename, info.file_size, datetime(*info.date_time).timestamp(), reader(info))
            for info in sorted(infos, key=lambda info: info.filename)]


@dataclass(frozen=True)
class RosterIndex:
    """The gradebook's students, looked up the ways the LMSs name them."""
    ids: frozenset[str]
    by_lms_user: dict[str, str]
    by_name: dict[str, list[str]]

    @classmethod
    def from_gradebook(cls, db_url: str) -> "RosterIndex":
        from ..grading.gradebook import open_gradebook

        with open_gradebook(db_url) as gradebook:
            students = [(s.id, s.first_name or "", s.last_name or "", s.lms_user_id) for s in gradebook.students]
        by_name: dict[str, list[str]] = {}
        for student, first, last, _ in students:
            if first or last:
                by_name.setdefault(_name_key(f"{first} {last}"), []).append(student)
        return cls(frozenset(s[0] for s in students), {s[3]: s[0] for s in students if s[3]}, by_name)


def _name_key(name: str) -> str:
    """A full name as compared with Moodle's folder names: case, accents' composition, punctuation, spacing aside."""
    name = unicodedata.normalize("NFC", name).casefold()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in name).split())


def identify(member: Member, roster: RosterIndex, assignment: str, timestamps: dict[str, datetime]) -> Candidate | str:
    """Whose file `member` is, or a one-line reason why it belongs to no one."""
    parts = member.name.split("/")
    if (match := MOODLE_NAME.fullmatch(member.name)) is not None:
        students = roster.by_name.get(_name_key(match["fullname"]), [])
        if len(students) != 1:
            return (f"Moodle's {match['fullname']!r} is " + ("not in the gradebook's roster (run `autograder roster "
                    "import` with Moodle's grades export first)" if not students else
                    f"ambiguous: {len(students)} students of the roster have that name ({', '.join(students)})"))
        return _candidate(member, students[0], match["file"].split("/")[-1], False, None)
    if (match := CANVAS_NAME.fullmatch(parts[-1])) is not None:
        student = roster.by_lms_user.get(match["user"])
        if student is None:
            return (f"Canvas user {match['user']} is not in the gradebook's roster "
                    "(run `autograder roster import` with Canvas's gradebook export first)")
        return _candidate(member, student, match["file"], bool(match["late"]), None)
    folder = "/".join(parts[:-1])
    if len(parts) in (2, 3) and parts[0] in roster.ids and (len(parts) == 2 or parts[1] == assignment):
        return _candidate(member, parts[0], parts[-1], False, timestamps.get(folder))
    if len(parts) in (2, 3) and (len(parts) == 2 or parts[1] == assignment):
        return f"{parts[0]!r} is not a student of the gradebook's roster"
    return "named neither as Canvas nor as Moodle names submissions, nor <student>/<notebook>"


def _candidate(member, student, filename, late, timestamp) -> Candidate:
    version = 0
    if (resubmitted := RESUBMISSION.fullmatch(filename)) is not None:
        filename, version = resubmitted["stem"] + resubmitted["extension"], int(resubmitted["number"])
    return Candidate(member, student, filename, version, late, timestamp)


def collect(members: list[Member], roster: RosterIndex, assignment: str, notebook: str, submitted: Path,
            force: bool = False) -> CollectReport:
    """Write each student's newest notebook to `submitted/<student>/<assignment>/<notebook>`.

    Every other file is accounted for in the report: another file of a student, an older resubmission, a file of
    no student of the roster. An already-collected submission that is newer than the archive's is kept unless
    `force`.
    """
    report = CollectReport(assignment)
    timestamps, files = _timestamps(members, report)
    by_student: dict[str, list[Candidate]] = {}
    for member in files:
        found = identify(member, roster, assignment, timestamps)
        if isinstance(found, str):
            report.unmatched.append(f"{member.name}: {found}")
        else:
            by_student.setdefault(found.student, []).append(found)
    for student, candidates in sorted(by_student.items()):
        chosen = _choose(student, candidates, notebook, report)
        if chosen is None:
            continue
        if chosen.late:
            report.late.append(student)
        outcome = _write(chosen, submitted / student / assignment, notebook, force)
        {"written": report.collected, "unchanged": report.unchanged, "older": report.kept_newer}[outcome].append(student)
    return report


def _timestamps(members: list[Member], report: CollectReport) -> tuple[dict[str, datetime], list[Member]]:
    """The timestamp.txt files of the archive by folder, and every other file."""
    from nbgrader.utils import parse_utc

    timestamps, files = {}, []
    for member in members:
        if member.name.split("/")[-1] != "timestamp.txt":
            files.append(member)
            continue
        try:
            timestamps[member.name.rpartition("/")[0]] = parse_utc(member.read().decode("utf-8").strip())
        except Exception as error:  # dateutil raises several kinds; any of them means the same here
            report.unmatched.append(f"{member.name}: not a timestamp nbgrader can read ({error})")
    return timestamps, files


def _choose(student: str, candidates: list[Candidate], notebook: str, report: CollectReport) -> Candidate | None:
    """The student's newest notebook for this assignment; the others go into the report."""
    notebooks = [c for c in candidates if c.filename.lower().endswith(".ipynb")]
    for other in candidates:
        if other not in notebooks:
            report.unmatched.append(f"{other.member.name}: {student}'s, but not a notebook")
    named = [c for c in notebooks if c.filename == notebook]
    if not named and len({c.filename for c in notebooks}) == 1:
        named = notebooks   # one notebook, renamed by the student: it is still the submission
    for other in notebooks:
        if other not in named:
            report.unmatched.append(f"{other.member.name}: {student}'s, but the assignment's notebook is {notebook}")
    too_large = [c for c in named if c.member.size > MAX_NOTEBOOK_BYTES]
    for other in too_large:
        report.unmatched.append(f"{other.member.name}: {student}'s, but {other.member.size / 2**20:.0f} MB is too "
                                f"large for a notebook (at most {MAX_NOTEBOOK_BYTES // 2**20} MB)")
    named = [c for c in named if c not in too_large]
    if not named:
        return None
    newest = max(named, key=lambda c: (c.version, c.as_of, c.member.name))
    for other in named:
        if other is newest:
            continue
        why = ("an older resubmission" if other.version < newest.version else
               "the same resubmission number" if other.version else "another copy")
        report.duplicates.append(f"{student}: kept {newest.member.name}, not {other.member.name} ({why})")
    return newest


def _write(chosen: Candidate, folder: Path, notebook: str, force: bool) -> str:
    """"written", "unchanged" or "older" (a newer submission is already there); never half a file."""
    target, stamp = folder / notebook, folder / "timestamp.txt"
    content = chosen.member.read()
    if target.is_file():
        if target.read_bytes() == content:
            return "unchanged"
        if not force and chosen.as_of < _as_of(target, stamp):
            return "older"
    folder.mkdir(parents=True, exist_ok=True)
    pending = [(_temporary(folder, content), target)]
    if chosen.timestamp is not None:
        text = chosen.timestamp.astimezone(timezone.utc).strftime(TIMESTAMP_FORMAT) + "\n"
        pending.append((_temporary(folder, text.encode()), stamp))
    for temporary, final in pending:
        os.utime(temporary, (chosen.as_of, chosen.as_of))
        os.replace(temporary, final)
    if chosen.timestamp is None:
        stamp.unlink(missing_ok=True)  # it was the replaced submission's time
    return "written"


def _as_of(target: Path, stamp: Path) -> float:
    if stamp.is_file():
        from nbgrader.utils import parse_utc

        try:
            return parse_utc(stamp.read_text().strip()).timestamp()
        except Exception:  # an unreadable timestamp says nothing: fall back on the file's time
            pass
    return target.stat().st_mtime


def _temporary(folder: Path, content: bytes) -> Path:
    handle, name = tempfile.mkstemp(prefix=".collect.", dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def add_command(commands) -> None:
    parser = commands.add_parser("collect", help="unpack a Canvas or Moodle download of submissions into submitted/")
    parser.add_argument("assignment", metavar="ASSIGNMENT")
    parser.add_argument("archive", type=Path, metavar="ARCHIVE",
                        help="Canvas's 'Download Submissions' zip, Moodle's 'Download all submissions' zip, or a folder")
    parser.add_argument("--db", help="gradebook SQLAlchemy URL whose students are the roster (default: the course's)")
    parser.add_argument("--force", action="store_true",
                        help="replace already-collected submissions even when they are newer than the archive's")
    parser.set_defaults(run=run_collect)


def run_collect(args) -> int:
    from ..course.config import load_course

    course = load_course()
    try:
        members = archive_members(args.archive)
    except LmsFileError as error:
        logger.error("Nothing collected: %s", error)
        return 1
    roster = RosterIndex.from_gradebook(args.db or course.db_url)
    report = collect(members, roster, args.assignment, course.notebook(args.assignment), course.root / "submitted",
                     args.force)
    print("\n".join(report.lines()))
    if not report.matched:
        logger.error(f"Nothing collected from {args.archive}: no file matched a student of the roster"
                     + ("" if roster.ids else " (the gradebook has no students: run `autograder roster import` first)"))
        return 1
    print(f"  into: {course.root / 'submitted'}/<student>/{args.assignment}/{course.notebook(args.assignment)}")
    return 0
