"""`autograder collect`: Canvas and Moodle downloads of submissions into nbgrader's submitted/ layout."""
import os
import subprocess
import sys
from datetime import datetime

import pytest
from lms_files import CLASS, Person, canvas_member, moodle_csv, moodle_member, notebook_bytes, write_zip

from autograder.grading.batch import find_submissions
from autograder.lms.collect import RosterIndex, archive_members, collect
from autograder.lms.csvfiles import LmsFileError
from autograder.lms.roster import import_roster, read_roster

ASSIGNMENT, NOTEBOOK = "01-gradient-descent", "gradient_descent.ipynb"
ADA, ALAN, GRACE, KURT, EMILIE = CLASS


def run_collect(archive, db_url, submitted, force=False):
    return collect(archive_members(archive), RosterIndex.from_gradebook(db_url), ASSIGNMENT, NOTEBOOK, submitted, force)


def collected(submitted, student):
    return (submitted / student / ASSIGNMENT / NOTEBOOK).read_bytes()


@pytest.fixture
def moodle_db(tmp_path, db_url):
    path = tmp_path / "moodle_roster.csv"
    path.write_bytes(moodle_csv())
    import_roster(db_url, read_roster(path))
    return db_url


def test_canvas_zip_lands_in_nbgrader_layout_by_canvas_user_id(tmp_path, roster_db):
    archive = write_zip(tmp_path / "submissions.zip", {
        canvas_member(ADA, NOTEBOOK): notebook_bytes("ada"),
        canvas_member(GRACE, NOTEBOOK, late=True): notebook_bytes("grace"),
    })
    report = run_collect(archive, roster_db, tmp_path / "submitted")
    assert report.collected == ["103", "alovelace"]
    assert collected(tmp_path / "submitted", "alovelace") == notebook_bytes("ada")
    assert collected(tmp_path / "submitted", "103") == notebook_bytes("grace")
    assert report.late == ["103"]
    assert not report.unmatched and not report.duplicates
    # Canvas's zip does not say when a file was submitted: no invented timestamp
    assert not (tmp_path / "submitted" / "alovelace" / ASSIGNMENT / "timestamp.txt").exists()


def test_collected_submissions_are_what_autograder_grade_finds(course, tmp_path, roster_db):
    archive = write_zip(tmp_path / "submissions.zip", {canvas_member(ALAN, NOTEBOOK): notebook_bytes("alan")})
    run_collect(archive, roster_db, tmp_path / "submitted")
    found = list(find_submissions(course, ASSIGNMENT, tmp_path / "submitted"))
    assert [(job.student, job.path.read_bytes()) for job in found] == [("aturing", notebook_bytes("alan"))]


def test_canvas_resubmissions_keep_the_newest_and_report_the_rest(tmp_path, roster_db):
    archive = write_zip(tmp_path / "submissions.zip", {
        canvas_member(KURT, NOTEBOOK): notebook_bytes("first"),
        canvas_member(KURT, "gradient_descent-1.ipynb"): notebook_bytes("second"),
        canvas_member(KURT, "gradient_descent-2.ipynb", late=True): notebook_bytes("third"),
    })
    report = run_collect(archive, roster_db, tmp_path / "submitted")
    assert collected(tmp_path / "submitted", "kgodel") == notebook_bytes("third")
    assert report.late == ["kgodel"]
    assert sorted(report.duplicates) == sorted([
        f"kgodel: kept {canvas_member(KURT, 'gradient_descent-2.ipynb', late=True)}, "
        f"not {canvas_member(KURT, NOTEBOOK)} (an older resubmission)",
        f"kgodel: kept {canvas_member(KURT, 'gradient_descent-2.ipynb', late=True)}, "
        f"not {canvas_member(KURT, 'gradient_descent-1.ipynb')} (an older resubmission)"])


def test_unknown_names_and_other_files_are_reported_by_file_name(tmp_path, roster_db):
    stranger = Person("Stu", "Dent", "4242", "", "", "", "")
    archive = write_zip(tmp_path / "submissions.zip", {
        canvas_member(ADA, NOTEBOOK): notebook_bytes("ada"),
        canvas_member(ADA, "notes.pdf"): b"%PDF-1.4",
        canvas_member(stranger, NOTEBOOK): notebook_bytes("stranger"),
        "README.txt": b"hello",
    })
    report = run_collect(archive, roster_db, tmp_path / "submitted")
    assert report.collected == ["alovelace"]
    assert report.unmatched == [
        "README.txt: named neither as Canvas nor as Moodle names submissions, nor <student>/<notebook>",
        f"{canvas_member(stranger, NOTEBOOK)}: Canvas user 4242 is not in the gradebook's roster "
        "(run `autograder roster import` with Canvas's gradebook export first)",
        f"{canvas_member(ADA, 'notes.pdf')}: alovelace's, but not a notebook"]


def test_a_renamed_notebook_is_collected_but_two_unknown_ones_are_not(tmp_path, roster_db):
    archive = write_zip(tmp_path / "submissions.zip", {
        canvas_member(ADA, "my_gd.ipynb"): notebook_bytes("ada"),
        canvas_member(ALAN, "scratch.ipynb"): notebook_bytes("alan 1"),
        canvas_member(ALAN, "draft.ipynb"): notebook_bytes("alan 2"),
    })
    report = run_collect(archive, roster_db, tmp_path / "submitted")
    assert report.collected == ["alovelace"]
    assert collected(tmp_path / "submitted", "alovelace") == notebook_bytes("ada")
    assert sorted(report.unmatched) == sorted(
        f"{canvas_member(ALAN, name)}: aturing's, but the assignment's notebook is {NOTEBOOK}"
        for name in ("scratch.ipynb", "draft.ipynb"))


@pytest.mark.parametrize("folders", [True, False])
def test_moodle_zip_is_matched_by_full_name(tmp_path, moodle_db, folders):
    archive = write_zip(tmp_path / "moodle.zip", {
        moodle_member(EMILIE, NOTEBOOK, participant="700001", folders=folders): notebook_bytes("emilie"),
        moodle_member(GRACE, NOTEBOOK, participant="700002", folders=folders): notebook_bytes("grace"),
    })
    report = run_collect(archive, moodle_db, tmp_path / "submitted")
    assert report.collected == ["S1005", "grace.hopper"]
    assert collected(tmp_path / "submitted", "S1005") == notebook_bytes("emilie")


def test_moodle_name_shared_by_two_students_is_reported_as_ambiguous(tmp_path, db_url):
    twin = Person("Alan", "Turing", "", "", "", "S2002", "alan.turing2@uni.example")
    roster = tmp_path / "moodle_roster.csv"
    roster.write_bytes(moodle_csv([*CLASS, twin]))
    import_roster(db_url, read_roster(roster))
    archive = write_zip(tmp_path / "moodle.zip", {
        moodle_member(ALAN, NOTEBOOK, participant="700003"): notebook_bytes("which alan?"),
        moodle_member(ADA, NOTEBOOK, participant="700004"): notebook_bytes("ada"),
    })
    report = run_collect(archive, db_url, tmp_path / "submitted")
    assert report.collected == ["S1001"]
    assert report.unmatched == [f"{moodle_member(ALAN, NOTEBOOK, participant='700003')}: Moodle's 'Alan Turing' is "
                                "ambiguous: 2 students of the roster have that name (S1002, S2002)"]
    assert not (tmp_path / "submitted" / "S1002").exists()


def test_plain_folder_in_nbgrader_layout_keeps_its_timestamp(tmp_path, roster_db):
    folder = tmp_path / "exchange"
    (folder / "aturing" / ASSIGNMENT).mkdir(parents=True)
    (folder / "aturing" / ASSIGNMENT / NOTEBOOK).write_bytes(notebook_bytes("alan"))
    (folder / "aturing" / ASSIGNMENT / "timestamp.txt").write_text("2026-11-20 14:03:00.000000 UTC\n")
    (folder / "kgodel").mkdir()
    (folder / "kgodel" / NOTEBOOK).write_bytes(notebook_bytes("kurt"))
    report = run_collect(folder, roster_db, tmp_path / "submitted")
    assert report.collected == ["aturing", "kgodel"]
    stamp = tmp_path / "submitted" / "aturing" / ASSIGNMENT / "timestamp.txt"
    assert stamp.read_text() == "2026-11-20 14:03:00.000000 UTC\n"
    assert collected(tmp_path / "submitted", "kgodel") == notebook_bytes("kurt")


def test_an_older_download_never_replaces_a_newer_collected_submission(tmp_path, roster_db):
    submitted = tmp_path / "submitted"
    newer = write_zip(tmp_path / "newer.zip", {canvas_member(ADA, NOTEBOOK): notebook_bytes("v2")},
                      date_time=(2026, 11, 21, 9, 0, 0))
    older = write_zip(tmp_path / "older.zip", {canvas_member(ADA, NOTEBOOK): notebook_bytes("v1")},
                      date_time=(2026, 11, 20, 9, 0, 0))
    assert run_collect(newer, roster_db, submitted).collected == ["alovelace"]
    report = run_collect(older, roster_db, submitted)
    assert report.kept_newer == ["alovelace"] and collected(submitted, "alovelace") == notebook_bytes("v2")
    assert run_collect(newer, roster_db, submitted).unchanged == ["alovelace"]
    assert run_collect(older, roster_db, submitted, force=True).collected == ["alovelace"]
    assert collected(submitted, "alovelace") == notebook_bytes("v1")


def test_a_newer_download_replaces_the_collected_submission_and_its_stale_timestamp(tmp_path, roster_db):
    submitted = tmp_path / "submitted"
    folder = submitted / "alovelace" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).write_bytes(notebook_bytes("v1"))
    (folder / "timestamp.txt").write_text("2026-11-19 10:00:00.000000 UTC\n")
    newer = write_zip(tmp_path / "newer.zip", {canvas_member(ADA, NOTEBOOK): notebook_bytes("v2")})
    assert run_collect(newer, roster_db, submitted).collected == ["alovelace"]
    assert collected(submitted, "alovelace") == notebook_bytes("v2")
    assert sorted(os.listdir(folder)) == [NOTEBOOK]   # no stale timestamp, no temporary file left
    assert os.stat(folder / NOTEBOOK).st_mtime == datetime(2026, 11, 20, 14, 3).timestamp()


def test_an_unreadable_archive_names_the_file(tmp_path):
    bad = tmp_path / "submissions.zip"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(LmsFileError, match=r"submissions.zip: not a readable zip file or folder"):
        archive_members(bad)


def cli(course_copy, db_url, *args):
    return subprocess.run([sys.executable, "-m", "autograder", "collect", ASSIGNMENT, *map(str, args), "--db", db_url],
                          capture_output=True, text=True, env={**os.environ, "AUTOGRADER_COURSE_ROOT": str(course_copy)})


def test_cli_collects_into_the_course_and_exits_0_despite_unmatched_files(course_copy, tmp_path, roster_db):
    archive = write_zip(tmp_path / "submissions.zip", {canvas_member(ADA, NOTEBOOK): notebook_bytes("ada"),
                                                       "stray.txt": b"?"})
    done = cli(course_copy, roster_db, archive)
    assert done.returncode == 0, done.stderr
    assert "collected: alovelace" in done.stdout and "stray.txt: named neither" in done.stdout
    assert collected(course_copy / "submitted", "alovelace") == notebook_bytes("ada")


@pytest.mark.parametrize("content", [b"not a zip", None])
def test_cli_exits_1_when_nothing_could_be_collected(course_copy, tmp_path, roster_db, content):
    archive = tmp_path / "submissions.zip"
    if content is None:
        write_zip(archive, {"stray.txt": b"?"})
    else:
        archive.write_bytes(content)
    done = cli(course_copy, roster_db, archive)
    assert done.returncode == 1
    assert "Nothing collected" in done.stderr and str(archive) in done.stderr
    assert not (course_copy / "submitted").exists()
