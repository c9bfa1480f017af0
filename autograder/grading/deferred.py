"""Figures drawn after the verdict: a submission's score and messages are saved first, its figures later.

While a submission runs, each figure its cells display is kept as a snapshot (pickled inside the sandbox; the
grader holds it as opaque text and never unpickles it). Before the verdict goes to the pipeline's sink, the worker
takes the snapshots out of the result into a record on disk (`set_aside`), and the result keeps a numbered
placeholder for each; the autograded notebook shows the placeholder. When no grading job waits, the worker has a
fresh sandbox child draw the snapshots at the lowest priority (`Sandbox.render`) and sends the PNGs on as a `Drawn`
result; the sink puts them in place of the placeholders (`fill`) and removes the record. A grader killed in
between leaves the record, and the next batch draws it (`pending_records`): the score was committed before.

A record's name carries a token that its placeholders carry too, so a record never fills a notebook graded again
since, and a record is written once and removed once, never changed.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from .pipeline import Job

logger = logging.getLogger(__name__)

KEY = "autograder_figure"   # the metadata of a placeholder output: {"id": "TOKEN:NUMBER", "text": the figure's text}
PENDING_TEXT = "(This figure is drawn after grading; it appears here once drawn.)"
FAILED_TEXT = "(This figure could not be drawn after grading.)"
NOT_DRAWN_TEXT = "(This figure was not drawn: another attempt counts.)"


@dataclass(frozen=True)
class Pending:
    """A submission's figures left to draw: the job they belong to and their record on disk."""
    job: Job
    path: Path

    @property
    def token(self) -> str:
        return self.path.name.rsplit(".", 2)[-2]

    def load(self) -> list[str] | None:
        """The snapshots, or None when the record is gone (drawn, or replaced by a newer grading) or unreadable."""
        try:
            snapshots = json.loads(self.path.read_text(encoding="utf-8"))["figures"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("the figures left to draw in %s cannot be read (%s); they are not drawn", self.path, error)
            return None
        return [item for item in snapshots if type(item) is str] if type(snapshots) is list else None

    def done(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Drawn:
    """A pipeline result that follows a verdict: the PNGs (base64, or None for one that could not be drawn) of
    the figures its run left to draw, by number; `pngs` None when they were not drawn on purpose."""
    pending: Pending
    pngs: tuple | None


def records_folder(course) -> Path:
    return course.root / ".autograder-cache" / "figures"


def _stem(course, job: Job) -> tuple[Path, str]:
    if job.key != "":   # the service's attempt
        return records_folder(course) / "attempts", str(job.key)
    return records_folder(course) / job.assignment, quote(job.student, safe="").replace(".", "%2E")


def set_aside(course, job: Job, result) -> Pending | None:
    """Take `result`'s figure snapshots out of it into a record (written before the verdict is saved), leaving a
    placeholder for each ({"pending": "TOKEN:NUMBER", "text/plain"}); None when it has none."""
    token, snapshots = secrets.token_hex(8), []
    for index, displays in result.cell_displays.items():
        if any("figure" in display for display in displays):
            kept = []
            for display in displays:
                if "figure" in display:
                    kept.append({"pending": f"{token}:{len(snapshots)}", "text/plain": display["text/plain"]})
                    snapshots.append(display["figure"])
                else:
                    kept.append(display)
            result.cell_displays[index] = tuple(kept)
    if not snapshots:
        return None
    folder, stem = _stem(course, job)
    path = folder / f"{stem}.{token}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for older in folder.glob(f"{stem}.*.json"):  # an earlier grading's: its placeholders are being replaced
            older.unlink(missing_ok=True)
        temporary = folder / f".{path.name}.partial"
        temporary.write_text(json.dumps({"student": job.student, "assignment": job.assignment, "key": job.key,
                                         "figures": snapshots}), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:  # e.g. a read-only course folder: the verdict matters, the figures are left out
        logger.warning("the figures of %s / %s are not kept: %s", job.student, job.assignment, error)
        for index, displays in result.cell_displays.items():
            result.cell_displays[index] = tuple(display for display in displays if "pending" not in display)
        return None
    return Pending(job, path)


def pending_records(course, assignments=None, attempts: bool = False) -> list[Pending]:
    """The records a killed grader left: of `assignments` (the batch's), or with `attempts` the service's."""
    folders = [records_folder(course) / "attempts"] if attempts else \
        [records_folder(course) / name for name in assignments or ()]
    found = []
    for folder in folders:
        for path in sorted(folder.glob("*.*.json")) if folder.is_dir() else ():
            stem = path.name.rsplit(".", 2)[0]
            assignment = folder.name
            if attempts:
                try:
                    record = json.loads(path.read_text(encoding="utf-8"))
                    job = Job(str(record["student"]), None, None, assignment=str(record["assignment"]),
                              key=int(stem))
                except (OSError, ValueError, KeyError, TypeError):
                    logger.warning("%s is not a record of figures to draw; it is left as it is", path)
                    continue
            else:
                job = Job(unquote(stem), None, None, assignment=assignment)
            found.append(Pending(job, path))
    return found


def placeholder(display: dict) -> dict:
    """The autograded notebook's output for a figure not drawn yet."""
    return {"output_type": "display_data", "data": {"text/plain": f"{display['text/plain']}\n{PENDING_TEXT}"},
            "metadata": {KEY: {"id": display["pending"], "text": display["text/plain"]}}}


def fill(notebook: Path, drawn: Drawn, max_chars: int) -> int:
    """Put the drawn figures in place of their placeholders in the autograded `notebook` (atomically); how many
    placeholders it had. Figures past `max_chars` of PNG in the notebook, and those not drawn, say so instead."""
    try:
        data = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    prefix, found = f"{drawn.pending.token}:", 0
    used = sum(len(output.get("data", {}).get("image/png", "")) for cell in data.get("cells", ())
               for output in cell.get("outputs", ()) if isinstance(output.get("data"), dict))
    for cell in data.get("cells", ()):
        outputs = cell.get("outputs", ())
        for position, output in enumerate(outputs):
            mark = output.get("metadata", {}).get(KEY) if isinstance(output.get("metadata"), dict) else None
            if not isinstance(mark, dict) or not str(mark.get("id", "")).startswith(prefix):
                continue
            found += 1
            number = int(mark["id"][len(prefix):])
            png = drawn.pngs[number] if drawn.pngs is not None and number < len(drawn.pngs) else None
            text = str(mark.get("text", ""))
            if png is not None and used + len(png) <= max_chars:
                used += len(png)
                outputs[position] = {"output_type": "display_data", "data": {"image/png": png, "text/plain": text},
                                     "metadata": {}}
            else:
                outputs[position] = {"output_type": "display_data", "metadata": {}, "data": {
                    "text/plain": f"{text}\n{NOT_DRAWN_TEXT if drawn.pngs is None else FAILED_TEXT}"}}
    if found:
        temporary = notebook.with_name(f".{notebook.name}.partial")
        temporary.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(temporary, notebook)
    return found
