"""Checking an uploaded notebook before it costs an attempt, and storing it before it is acknowledged."""
from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from ..course import notebook as nb
from ..grading.grade import AssignmentSpec

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"   # nbgrader's timestamp.txt


class Refused(Exception):
    """An upload that is not graded, and costs no attempt; the message tells the student what to do."""


def check_notebook(data: bytes, spec: AssignmentSpec, others: list[AssignmentSpec], scratch: Path) -> None:
    """Raise Refused unless `data` is a notebook of `spec`'s assignment with at least one cell."""
    if not data.strip():
        raise Refused(f"The file is empty. Please upload your saved {spec.notebook}.")
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=scratch, suffix=".ipynb") as file:
        file.write(data)
        file.flush()
        try:
            notebook = nb.read(Path(file.name))
        except nb.NotebookError as error:
            why = f" (it is nested more than {nb.MAX_DEPTH} levels deep)" if isinstance(error, nb.NestedTooDeep) else ""
            raise Refused(f"This file is not a Jupyter notebook that can be read{why}. Please upload {spec.notebook} "
                          "as Jupyter saves it (File > Save, then choose the .ipynb file).") from None
    if not notebook.cells:
        raise Refused(f"This notebook has no cells. Please upload your saved {spec.notebook}.")
    ids = {nb.grade_id(cell) for cell in notebook.cells} - {None}
    shared = set().union(*(spec.grade_ids & other.grade_ids for other in others))
    if ids & (spec.grade_ids - shared):
        return
    for other in others:
        if ids & (other.grade_ids - shared):
            raise Refused(f"This is the notebook of {other.name} ({other.notebook}), not of {spec.name}. "
                          f"Please upload {spec.notebook} here, or this one on {other.name}'s page.")
    raise Refused(f"This notebook has none of the exercises of {spec.name}. Please download {spec.notebook} "
                  "from this page, copy your code into it and upload that.")


def without_submit_key(data: bytes) -> bytes:
    """`data`, a notebook that check_notebook accepted, without the submit key in its metadata: the attempt's
    folder never holds it (nb.read drops it too, for notebooks that come from elsewhere)."""
    import json

    notebook = json.loads(data)
    if not nb.without_submit_key(notebook):
        return data
    return (json.dumps(notebook, indent=1) + "\n").encode()  # ASCII: a lone surrogate stays an escape


def store_upload(attempt_folder: Path, notebook_name: str, data: bytes, uploaded_at: datetime) -> None:
    """Write the notebook and its timestamp into `attempt_folder`/submitted, durably (on disk before the upload
    is acknowledged), replacing whatever an upload killed before its acknowledgement left there."""
    if attempt_folder.exists():
        shutil.rmtree(attempt_folder)
    folder = attempt_folder / "submitted"
    folder.mkdir(parents=True)
    _write_durably(folder / notebook_name, data)
    _write_durably(folder / "timestamp.txt", f"{uploaded_at.strftime(TIMESTAMP_FORMAT)}\n".encode())
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _write_durably(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.partial")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
