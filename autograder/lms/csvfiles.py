"""CSV files as LMSs write them: any common encoding and separator in, one well-formed file out.

Canvas writes UTF-8 (often with a byte-order mark); Moodle writes UTF-8 with commas, semicolons, tabs or colons,
depending on the teacher's choice and locale; a file opened and saved in a spreadsheet comes back in
cp1252 or latin-1. `read_table` accepts all of these; `write_table` writes UTF-8 through a temporary
file, so a reader never sees half a file.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

SEPARATORS = ",;\t:"   # Moodle's plain-text export offers comma, semicolon, tab and colon


class LmsFileError(Exception):
    """A file from (or for) an LMS that cannot be used; the message names the file and, if known, the row."""


@dataclass(frozen=True)
class Table:
    path: Path
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]   # (line number in the file, column -> stripped value)
    encoding: str
    separator: str


def decode(data: bytes, path: Path) -> tuple[str, str]:
    """The text of `data` and the encoding it was in: UTF-8 (with or without BOM), else cp1252, else latin-1."""
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise LmsFileError(f"{path}: cannot be decoded as text")  # latin-1 decodes any bytes: unreachable


def read_table(path: Path) -> Table:
    """Every row of a CSV file under its header row; blank lines are dropped, cells are stripped.

    Raises LmsFileError naming the file when it cannot be read, is empty, or has a row longer than its header.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise LmsFileError(f"{path}: cannot be read ({error.strerror or error})") from None
    text, encoding = decode(data, path)
    if not text.strip():
        raise LmsFileError(f"{path}: the file is empty")
    first_line = text.lstrip("\r\n").splitlines()[0]
    # the header decides: the separator that splits it into the most columns (Sniffer guesses wrong on short files)
    separator = max(SEPARATORS, key=lambda sep: len(next(csv.reader([first_line], delimiter=sep))))
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
        records = [(reader.line_num, record) for record in reader]
    except csv.Error as error:
        raise LmsFileError(f"{path}: not a readable CSV file ({error})") from None
    records = [(line, record) for line, record in records if any(cell.strip() for cell in record)]
    header = [cell.strip() for cell in records[0][1]]
    rows = []
    for line, record in records[1:]:
        if len(record) > len(header) and any(cell.strip() for cell in record[len(header):]):
            raise LmsFileError(f"{path}, line {line}: {len(record)} cells but the header has {len(header)} columns")
        rows.append((line, {column: (record[i].strip() if i < len(record) else "") for i, column in enumerate(header)}))
    return Table(path, header, rows, encoding, separator)


def write_table(path: Path, header: list[str], rows: list[list], separator: str = ",") -> Path:
    """Write a UTF-8 CSV file atomically (a temporary file beside it, then a rename); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file, delimiter=separator)
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
