"""A PostgreSQL gradebook: two graders writing at once, resuming, regrading, nbgrader's export, and bad
--db URLs. The server is real: started once for this file on 127.0.0.1 and stopped at its end."""
import csv
import socket
import subprocess
import sys

import pytest
from nbgrader.api import Gradebook
from sqlalchemy import create_engine, text

import autograder.grading.batch as batch
from autograder.grading.gradebook import GradebookError
from course_files import copy_course
from postgres_server import PostgresServer, free_port
from random_submissions import write_submissions

pytestmark = pytest.mark.slow  # a PostgreSQL server

A1, A2 = "01-gradient-descent", "02-slopes-and-updates"
NOTEBOOKS = {A1: "gradient_descent", A2: "slopes_and_updates"}


def grade(*args, cwd):
    return subprocess.run([sys.executable, "-m", "autograder", "grade", *args, "--no-progress"], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def postgres():
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="module")
def two_graders(postgres, tmp_path_factory):
    """12 students' 01 and 02, graded by two `autograder grade` processes started together on one database."""
    root = copy_course(tmp_path_factory.mktemp("postgres") / "course")
    expected = write_submissions(root, [A1, A2], n_students=12, seed=11)
    url = postgres.url("gradebook")
    graders = [subprocess.Popen([sys.executable, "-m", "autograder", "grade", assignment, "--db", url,
                                 "--workers", "1", "--no-progress"], cwd=root, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for assignment in (A1, A2)]
    try:
        outputs = [grader.communicate(timeout=300) for grader in graders]
    finally:
        for grader in graders:
            if grader.poll() is None:
                grader.kill()
                grader.wait()
    for grader, (out, err) in zip(graders, outputs):
        assert grader.returncode == 0, err[-3000:]
    return root, url, expected, [out for out, _ in outputs]


def scores_in(url):
    """Each submission's score to 4 places, as expected_points gives it: the database sums the cells' floats
    (1.6667 + 3.0 is 4.6667000000000005)."""
    with Gradebook(url) as gradebook:
        return {assignment: {submission.student.id: round(submission.score, 4) for submission in
                             gradebook.find_assignment(assignment).submissions} for assignment in (A1, A2)}


def test_two_graders_at_once_lose_nothing(two_graders):
    _, url, expected, outputs = two_graders
    assert "graded: 12   errors: 0" in outputs[0] and "graded: 12   errors: 0" in outputs[1]
    assert scores_in(url) == expected
    with Gradebook(url) as gradebook:
        assert sorted(student.id for student in gradebook.students) == sorted(expected[A1])
        for assignment in (A1, A2):
            for student in expected[assignment]:
                notebook = gradebook.find_submission_notebook(NOTEBOOKS[assignment], assignment, student)
                assert all(grade.auto_score is not None for grade in notebook.grades
                           if grade.cell.name.startswith("check_"))
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM submitted_assignment")).scalar() == 24
        assert connection.execute(text("SELECT count(*) FROM autograder_graded")).scalar() == 24
    engine.dispose()


def test_summary_hides_the_password(two_graders, postgres):
    _, _, _, outputs = two_graders
    assert f"gradebook: postgresql://postgres:***@127.0.0.1:{postgres.port}/gradebook" in outputs[0]
    assert postgres.password not in outputs[0] + outputs[1]


def test_resume_skips_and_regrade_regrades_on_postgres(two_graders):
    root, url, expected, _ = two_graders
    resumed = grade(A1, "--db", url, cwd=root)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "graded: 0   errors: 0   skipped, already graded: 12" in resumed.stdout
    regraded = grade(A1, "--db", url, "--regrade", cwd=root)
    assert regraded.returncode == 0, regraded.stderr[-3000:]
    assert "graded: 12   errors: 0\n" in regraded.stdout
    assert scores_in(url) == expected
    with Gradebook(url) as gradebook:
        assert len(gradebook.find_assignment(A1).submissions) == 12


def test_nbgrader_export_reads_the_postgres_gradebook(two_graders):
    root, url, expected, _ = two_graders
    done = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--db", url, "--to", "grades.csv"],
                          cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(root / "grades.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    exported = {A1: {}, A2: {}}
    for row in rows:
        exported[row["assignment"]][row["student_id"]] = round(float(row["raw_score"]), 4)
    assert exported == expected


def closed_port() -> int:
    port = free_port()
    with socket.socket() as probe:  # nothing listens there
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    return port


def test_unreachable_database_is_one_clear_message_and_writes_nothing(course_copy):
    write_submissions(course_copy, [A1], n_students=2, seed=3)
    port = closed_port()
    done = grade(A1, "--db", f"postgresql://grader:hush-hush@127.0.0.1:{port}/gradebook", "--json", "report.json",
                 cwd=course_copy)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"autograder grade failed: cannot open the gradebook postgresql://grader:***@127.0.0.1:{port}/gradebook: "
        f'connection failed: connection to server at "127.0.0.1", port {port} failed: Connection refused')
    assert "Traceback" not in done.stderr
    assert "hush-hush" not in done.stdout + done.stderr
    assert sorted(path.name for path in course_copy.iterdir()) == [
        "course_config.py", "hidden", "nbgrader_config.py", "release", "source", "submitted"]


def test_sqlite_gradebook_in_a_missing_folder_is_a_clear_message(course_copy):
    write_submissions(course_copy, [A1], n_students=1, seed=3)
    done = grade(A1, "--db", f"sqlite:///{course_copy}/no/such/folder/gradebook.db", cwd=course_copy)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"autograder grade failed: cannot open the gradebook sqlite:///{course_copy}/no/such/folder/gradebook.db: "
        "unable to open database file")
    assert "Traceback" not in done.stderr
    assert not (course_copy / "autograded").exists()


@pytest.mark.parametrize("url, message", [
    ("gradebook.db", "--db 'gradebook.db' is not a database URL"),
    ("postgres://grader:hush-hush@db/gradebook",
     "--db 'postgres://***@db/gradebook': SQLAlchemy knows no database 'postgres' (write postgresql://, not postgres://)"),
    ("postgresql+nodriver://db/gradebook", "--db 'postgresql+nodriver://db/gradebook': SQLAlchemy knows no database"),
], ids=["no-scheme", "postgres-alias", "unknown-driver"])
def test_malformed_url_is_refused_before_grading(course_copy, url, message):
    write_submissions(course_copy, [A1], n_students=1, seed=3)
    done = grade(A1, "--db", url, cwd=course_copy)
    assert done.returncode == 2
    assert done.stderr.startswith(f"autograder grade: {message}")
    assert "hush-hush" not in done.stderr
    assert not (course_copy / "autograded").exists() and not (course_copy / "gradebook.db").exists()


def test_malformed_url_starts_no_sandbox(course, monkeypatch):
    started = []
    monkeypatch.setattr(batch, "Sandbox", lambda course: started.append(course))
    with pytest.raises(GradebookError, match="is not a database URL"):
        batch.grade_batch(course, A1, "not a url", submissions=[])
    assert started == []


def test_the_services_sessions_and_ids_out_of_range_on_postgres(postgres):
    """The service's store on PostgreSQL: a session ends with its link's revocation or by itself, and attempt ids
    past an Integer column's range (PostgreSQL refuses them in a query) are attempts that do not exist."""
    from datetime import timedelta

    from autograder.web.store import MAX_ID, Store

    store = Store(postgres.url("service"))
    try:
        link = store.add_link("ada", "student", 1)
        by_link = store.start_session("ada", "student", "link", {"link": link.id}, timedelta(days=14), link.id)
        by_lms = store.start_session("ada", "student", "lti", {"context": "c-7"}, timedelta(days=14))
        assert store.session(by_link).expires_at == link.expires_at  # never beyond its link
        assert store.revoke_links(user_id="ada") == 1
        assert store.session(by_link) is None and store.session(by_lms).extra == {"context": "c-7"}
        assert store.end_sessions(session_id=by_lms) == 1 and store.session(by_lms) is None
        assert [store.attempt(attempt_id) for attempt_id in (MAX_ID, MAX_ID + 1, 2 ** 63, 2 ** 64)] == [None] * 4
    finally:
        store.close()


def test_an_lti_state_or_nonce_holding_a_nul_is_unknown_on_postgres(postgres):
    """PostgreSQL refuses a NUL in a query's text: the launch cache answers "not set" for such a key (a forged state),
    not the database-unavailable page, and still finds the keys it set."""
    from sqlalchemy import create_engine

    from autograder.web.lti import CACHE, DatabaseCache

    engine = create_engine(postgres.url("lti_cache"))
    try:
        CACHE.metadata.create_all(engine)
        cache = DatabaseCache(engine)
        cache.set("state:abc", {"ok": True}, timeout=60)
        assert cache.get("state:a\x00bc") is None and cache.pop("nonce:\x00") is False
        assert cache.get("state:abc") == {"ok": True} and cache.pop("state:abc") is True
    finally:
        engine.dispose()
