"""Fixtures of the LMS tests: fresh nbgrader gradebooks, one holding a Canvas roster."""
import shutil
from pathlib import Path

import pytest

from lms_files import canvas_csv


@pytest.fixture(scope="session")
def empty_gradebook(tmp_path_factory) -> Path:
    """A fresh nbgrader gradebook, made once: nbgrader asks a subprocess for its alembic version (seconds)."""
    from nbgrader.api import Gradebook

    path = tmp_path_factory.mktemp("template") / "gradebook.db"
    Gradebook(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def db_url(tmp_path, empty_gradebook) -> str:
    """A gradebook of its own for each test: a copy of the fresh one."""
    shutil.copy(empty_gradebook, tmp_path / "gradebook.db")
    return f"sqlite:///{tmp_path / 'gradebook.db'}"


@pytest.fixture
def roster_db(tmp_path, db_url) -> str:
    """A gradebook holding CLASS, imported from Canvas's export (ids: login, else SIS user id, else Canvas id)."""
    from autograder.lms.roster import import_roster, read_roster

    path = tmp_path / "canvas_roster.csv"
    path.write_bytes(canvas_csv())
    import_roster(db_url, read_roster(path))
    return db_url
