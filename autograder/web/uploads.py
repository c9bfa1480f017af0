"""Checking an uploaded notebook before it costs an attempt, and storing it before it is acknowledged."""
from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from ..course import notebook as nb
from ..grading.grade import AssignmentSpec
from ..course.spec import NbgraderSpec

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


def check_nbgrader_notebooks(files: list[tuple[str, bytes]], spec: NbgraderSpec, scratch: Path) -> dict[str, bytes]:
    """Notebook name -> the uploaded file that is that notebook of `spec`'s assignment (told by its graded cells,
    not by its file name, which a browser's download may have changed); raise Refused for a file that is none of
    them, cannot be read, or is a second copy of one."""
    if len(files) > len(spec.notebooks):  # one file too many is a second copy or a stranger: say so before reading
        raise Refused(f"You chose {len(files)} files, but {spec.name} has {len(spec.notebooks)} notebooks "
                      f"({spec.notebook}). Please choose each of them once: a notebook you leave out is taken from "
                      "your latest attempt.")
    ids = {name: {cell.grade_id for cell in spec.cells if cell.notebook == Path(name).stem} for name in spec.notebooks}
    found: dict[str, bytes] = {}
    for filename, data in files:
        shown = nb.valid_text(filename)[:100]
        if not data.strip():
            raise Refused(f"The file {shown} is empty. Please upload your saved notebooks ({spec.notebook}).")
        scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=scratch, suffix=".ipynb") as file:
            file.write(data)
            file.flush()
            try:
                notebook = nb.read(Path(file.name))
            except nb.NotebookError:
                raise Refused(f"The file {shown} is not a Jupyter notebook that can be read. Please upload the "
                              "notebooks as Jupyter saves them (File > Save, then choose the .ipynb files).") from None
        submitted = {nb.grade_id(cell) for cell in notebook.cells} - {None}
        name = next((name for name in spec.notebooks if submitted & ids[name]), None)
        if name is None:
            raise Refused(f"The file {shown} is none of the notebooks of {spec.name} ({spec.notebook}). Please "
                          "upload those, with your work in them.")
        if name in found:
            raise Refused(f"Two of the files are {name}. Please upload each notebook once.")
        found[name] = data
    return found


def without_submit_key(data: bytes) -> bytes:
    """`data`, a notebook that check_notebook accepted, without the submit key in its metadata: the attempt's
    folder never holds it (nb.read drops it too, for notebooks that come from elsewhere)."""
    import json

    notebook = json.loads(data)
    if not nb.without_submit_key(notebook):
        return data
    return (json.dumps(notebook, indent=1) + "\n").encode()  # ASCII: a lone surrogate stays an escape


def store_upload(attempt_folder: Path, notebooks: dict[str, bytes], uploaded_at: datetime) -> None:
    """Write the notebooks (file name -> bytes) and the timestamp into `attempt_folder`/submitted, durably (on disk
    before the upload is acknowledged), replacing whatever an upload killed before its acknowledgement left there."""
    if attempt_folder.exists():
        shutil.rmtree(attempt_folder)
    folder = attempt_folder / "submitted"
    folder.mkdir(parents=True)
    for name, data in notebooks.items():
        _write_durably(folder / name, data)
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
