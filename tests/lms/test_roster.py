"""`autograder roster import`: Canvas and Moodle gradebook exports into nbgrader's students, all or nothing."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lms_files import CLASS, Person, canvas_csv, moodle_csv, student_ids

from autograder.lms.csvfiles import LmsFileError
from autograder.lms.roster import import_roster, read_roster

CANVAS_IDS = {"alovelace": ("Ada", "Lovelace", "alovelace@uni.example", "101"),
              "aturing": ("Alan", "Turing", None, "102"),
              "103": ("Grace", "Hopper", None, "103"),
              "kgodel": ("Kurt", "Gödel", None, "104"),
              "edc": ("Émilie", "du Châtelet", None, "105")}
# Moodle's export has no Moodle user id: lms_user_id stays empty (ID number and email are no AGS user ids)
MOODLE_IDS = {"S1001": ("Ada", "Lovelace", "ada.lovelace@uni.example", None),
              "S1002": ("Alan", "Turing", "alan.turing@uni.example", None),
              "grace.hopper": ("Grace", "Hopper", "grace.hopper@uni.example", None),
              "S1004": ("Kurt", "Gödel", "kurt.godel@uni.example", None),
              "S1005": ("Émilie", "du Châtelet", "emilie.chatelet@uni.example", None)}


def write(tmp_path, name, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_canvas_export_gives_each_student_login_else_sis_else_canvas_id(tmp_path, db_url):
    roster = read_roster(write(tmp_path, "grades.csv", canvas_csv()))
    report = import_roster(db_url, roster)
    assert roster.lms == "canvas"
    assert student_ids(db_url) == CANVAS_IDS
    assert sorted(report.added) == sorted(CANVAS_IDS)


def test_canvas_points_possible_row_and_test_student_are_not_students(tmp_path):
    roster = read_roster(write(tmp_path, "grades.csv", canvas_csv()))
    assert len(roster.students) == len(CLASS)
    assert [s.lms_user_id for s in roster.students] == [p.canvas_id for p in CLASS]   # not 999, the test student


def test_moodle_export_gives_id_number_else_email_name(tmp_path, db_url):
    roster = read_roster(write(tmp_path, "moodle.csv", moodle_csv()))
    import_roster(db_url, roster)
    assert roster.lms == "moodle"
    assert student_ids(db_url) == MOODLE_IDS


def test_moodle_older_surname_column_is_understood(tmp_path):
    roster = read_roster(write(tmp_path, "moodle.csv", moodle_csv(last_name="Surname")))
    assert [s.last_name for s in roster.students] == [p.last for p in CLASS]


@pytest.mark.parametrize("separator", [";", "\t", ":"])
def test_moodle_with_semicolons_tabs_or_colons(tmp_path, db_url, separator):
    import_roster(db_url, read_roster(write(tmp_path, "moodle.csv", moodle_csv(separator=separator))))
    assert student_ids(db_url) == MOODLE_IDS


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp1252", "latin-1"])
def test_any_common_encoding_keeps_accented_names(tmp_path, db_url, encoding):
    import_roster(db_url, read_roster(write(tmp_path, "grades.csv", canvas_csv(encoding=encoding))))
    assert student_ids(db_url)["kgodel"][1] == "Gödel"
    assert student_ids(db_url)["edc"][:2] == ("Émilie", "du Châtelet")


def test_reimport_adds_newcomers_updates_names_and_deletes_no_one(tmp_path, db_url):
    import_roster(db_url, read_roster(write(tmp_path, "first.csv", canvas_csv(CLASS[:3]))))
    renamed = Person("Alan M.", "Turing", "102", "S1002", "aturing", "S1002", "")
    later = [CLASS[0], renamed, CLASS[3]]   # Hopper left the course's export; Gödel is new
    report = import_roster(db_url, read_roster(write(tmp_path, "later.csv", canvas_csv(later))))
    students = student_ids(db_url)
    assert sorted(students) == sorted(["alovelace", "aturing", "103", "kgodel"])
    assert students["aturing"][0] == "Alan M."
    assert (report.added, report.updated, report.unchanged, report.kept) == (["kgodel"], ["aturing"], ["alovelace"], 1)


def test_configured_id_columns_choose_the_student_id(tmp_path, db_url):
    roster = read_roster(write(tmp_path, "grades.csv", canvas_csv()), {"canvas": ["ID"]})
    import_roster(db_url, roster)
    assert sorted(student_ids(db_url)) == ["101", "102", "103", "104", "105"]


def test_cli_reads_the_id_choice_from_course_config(course_copy, tmp_path, db_url):
    config = course_copy / "course_config.py"
    config.write_text(config.read_text().replace('"canvas": ["SIS Login ID", "SIS User ID", "ID"]',
                                                 '"canvas": ["SIS User ID", "ID"]'))
    path = write(tmp_path, "grades.csv", canvas_csv())
    db = db_url
    done = subprocess.run([sys.executable, "-m", "autograder", "roster", "import", str(path), "--db", db],
                          capture_output=True, text=True, env={**os.environ, "AUTOGRADER_COURSE_ROOT": str(course_copy)})
    assert done.returncode == 0, done.stderr
    assert "added 5" in done.stdout
    assert sorted(student_ids(db)) == ["103", "S1001", "S1002", "S1004", "S1005"]


def test_duplicate_student_names_both_lines_and_writes_nothing(tmp_path, roster_db):
    before = student_ids(roster_db)
    twin = Person("Ada", "Lovelace", "106", "S1006", "alovelace@other.example", "", "")
    newcomer = Person("Emmy", "Noether", "107", "S1007", "enoether", "", "")
    path = write(tmp_path, "grades.csv", canvas_csv([*CLASS, twin, newcomer]))
    with pytest.raises(LmsFileError) as error:
        import_roster(roster_db, read_roster(path))
    assert f"{path}, line 8: student id 'alovelace' again (first on line 3)" in str(error.value)
    assert student_ids(roster_db) == before   # not even the valid newcomer


def test_a_student_without_any_id_names_the_line(tmp_path, roster_db):
    nameless = Person("Nobody", "Known", "108", "", "", "", "")
    path = write(tmp_path, "grades.csv", canvas_csv([*CLASS, nameless], test_student=False))
    with pytest.raises(LmsFileError, match=r"grades.csv, line 8: Known, Nobody"):
        read_roster(path, {"canvas": ["SIS Login ID", "SIS User ID"]})


def test_an_id_that_cannot_be_a_folder_is_refused(tmp_path):
    odd = Person("Eve", "Dropper", "109", "../eve", "", "", "")
    path = write(tmp_path, "grades.csv", canvas_csv([odd]))
    with pytest.raises(LmsFileError, match=r"line 3: Dropper, Eve: '../eve' cannot be a student id"):
        read_roster(path, {"canvas": ["SIS User ID"]})


def test_a_known_lms_user_under_another_id_is_refused_and_nothing_written(tmp_path, roster_db):
    before = student_ids(roster_db)
    path = write(tmp_path, "grades.csv", canvas_csv())
    with pytest.raises(LmsFileError, match=r"line 4: Alan Turing \(LMS user id 102\) is student 'aturing'"):
        import_roster(roster_db, read_roster(path, {"canvas": ["ID"]}))
    assert student_ids(roster_db) == before


def test_a_file_from_neither_lms_names_the_file_and_its_columns(tmp_path):
    path = write(tmp_path, "class.csv", b"name,mail\nAda,ada@uni.example\n")
    with pytest.raises(LmsFileError, match=r"class.csv: neither a Canvas .* its columns are: name, mail"):
        read_roster(path)


@pytest.mark.parametrize("content", [b"", b"\r\n\r\n"])
def test_an_empty_file_is_named(tmp_path, content):
    path = write(tmp_path, "empty.csv", content)
    with pytest.raises(LmsFileError, match=r"empty.csv: the file is empty"):
        read_roster(path)


def test_an_unreadable_file_is_named(tmp_path):
    with pytest.raises(LmsFileError, match=r"missing.csv: cannot be read"):
        read_roster(tmp_path / "missing.csv")


def test_a_row_longer_than_the_header_is_named(tmp_path):
    path = write(tmp_path, "grades.csv", canvas_csv(extra_rows=[["Extra, Row", "110", "", "", "", "", "", "", "", "x"]]))
    with pytest.raises(LmsFileError, match=r"grades.csv, line 9: 10 cells but the header has 9 columns"):
        read_roster(path)


def test_cli_failure_leaves_the_gradebook_unchanged_and_exits_1(course_copy, tmp_path, roster_db):
    before = student_ids(roster_db)
    path = write(tmp_path, "grades.csv", moodle_csv([*CLASS, CLASS[1]]))
    done = subprocess.run([sys.executable, "-m", "autograder", "roster", "import", str(path), "--db", roster_db],
                          capture_output=True, text=True, env={**os.environ, "AUTOGRADER_COURSE_ROOT": str(course_copy)})
    assert done.returncode == 1
    assert "gradebook is unchanged" in done.stderr and "line 7: student id 'S1002' again" in done.stderr
    assert student_ids(roster_db) == before


def test_moodle_import_keeps_id_numbers_apart_and_clears_an_id_number_used_as_lms_user_id(tmp_path, db_url):
    from nbgrader.api import Gradebook

    from autograder.grading.gradebook import open_gradebook
    from autograder.lms.roster import id_numbers

    with Gradebook(db_url) as gradebook:   # as an earlier version's import left it: ID number, email as LTI ids
        gradebook.add_student("S1001", lms_user_id="S1001")
        gradebook.add_student("grace.hopper", lms_user_id="grace.hopper@uni.example")
        gradebook.add_student("S1002", lms_user_id="4")   # a Moodle user id, recorded by `autograder lti roster`
    report = import_roster(db_url, read_roster(write(tmp_path, "moodle.csv", moodle_csv())))
    assert sorted(report.cleared) == ["S1001", "grace.hopper"]
    assert {s: ids[3] for s, ids in student_ids(db_url).items()} == {
        "S1001": None, "S1002": "4", "grace.hopper": None, "S1004": None, "S1005": None}
    with open_gradebook(db_url) as gradebook:
        assert id_numbers(gradebook.db) == {"S1001": "S1001", "S1002": "S1002", "S1004": "S1004", "S1005": "S1005"}
