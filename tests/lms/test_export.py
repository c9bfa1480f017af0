"""`autograder export`: every format parsed the way its importer reads it, every score checked against the gradebook."""
import csv
import os
import shutil
import subprocess
import sys
import warnings

import pytest
from lms_files import CLASS, Person, canvas_csv, moodle_csv
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning

from autograder.grading.grade import assignment_spec
from autograder.grading.gradebook import record_assignment
from autograder.lms.csvfiles import LmsFileError, write_table
from autograder.lms.export import canvas_table, moodle_table, nbgrader_export, plain_table, read_grades
from autograder.lms.roster import import_roster, read_roster
from course_files import ASSIGNMENTS

GRADED = ["01-gradient-descent", "02-slopes-and-updates", "04-linear-regression"]   # 03 is not graded yet
CANVAS_IDS = {assignment: 9001 + number for number, assignment in enumerate(ASSIGNMENTS)}


def fill_scores(db_url: str, course) -> None:
    """Real nbgrader submissions: every student but one submits each graded assignment; points follow a pattern,
    01's written answer gets a manual score, one submission carries a late penalty."""
    warnings.filterwarnings("ignore", category=SAWarning, module="nbgrader.api")  # as autograder/grading/gradebook.py
    for assignment in GRADED:
        record_assignment(db_url, course, assignment_spec(course, assignment))
    with Gradebook(db_url) as gradebook:
        students = sorted(s.id for s in gradebook.students)
        for number, student in enumerate(students):
            for assignment in GRADED:
                if number == 2 and assignment == "02-slopes-and-updates":
                    continue   # never submitted
                submission = gradebook.update_or_create_submission(assignment, student)
                for notebook in submission.notebooks:
                    for index, grade in enumerate(sorted(notebook.grades, key=lambda g: g.name)):
                        if grade.cell.cell_type == "markdown":
                            grade.manual_score = 1.5 if number % 2 == 0 else None
                            grade.needs_manual_grade = grade.manual_score is None
                        else:
                            grade.auto_score = grade.max_score if (index + number) % 3 else 0.0
                            grade.needs_manual_grade = False   # as nbgrader autograde leaves a passing code cell
                    if number == 1 and assignment == "02-slopes-and-updates":
                        notebook.late_submission_penalty = 1.0
        gradebook.db.commit()


@pytest.fixture(scope="module")
def gradebooks(course, tmp_path_factory, empty_gradebook):
    """Two graded gradebooks, one whose roster came from Canvas, one from Moodle (plus a student of neither)."""
    folder = tmp_path_factory.mktemp("export")
    urls = {}
    for lms, data in (("canvas", canvas_csv()), ("moodle", moodle_csv())):
        shutil.copy(empty_gradebook, folder / f"{lms}.db")
        urls[lms] = f"sqlite:///{folder / lms}.db"
        (folder / f"{lms}.csv").write_bytes(data)
        import_roster(urls[lms], read_roster(folder / f"{lms}.csv"))
        with Gradebook(urls[lms]) as gradebook:
            gradebook.add_student("walkin", first_name="Walk", last_name="In")
        fill_scores(urls[lms], course)
    return urls


def expected(db_url: str) -> dict:
    """(student, assignment) -> the score nbgrader's own objects give, for every submission."""
    scores = {}
    with Gradebook(db_url) as gradebook:
        for student in gradebook.students:
            for assignment in GRADED:
                try:
                    submission = gradebook.find_submission(assignment, student.id)
                except MissingEntry:
                    continue
                scores[student.id, assignment] = max(0.0, submission.score - submission.late_submission_penalty)
    return scores


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def cell(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def export(course, tmp_path, name, table):
    header, rows, left_out = table
    return read_csv(write_table(tmp_path / name, header, rows)), left_out


def test_scores_include_manual_points_and_late_penalties(course, gradebooks):
    grades = read_grades(gradebooks["canvas"], list(course.assignments))
    with Gradebook(gradebooks["canvas"]) as gradebook:
        ada = gradebook.find_submission("01-gradient-descent", "103")   # student number 0: manual 1.5
        auto = sum(g.auto_score or 0 for n in ada.notebooks for g in n.grades)
        late = gradebook.find_submission("02-slopes-and-updates", "alovelace")   # number 1: 1 point late penalty
        raw = sum(g.auto_score or 0 for n in late.notebooks for g in n.grades)
    assert grades.score("103", "01-gradient-descent") == auto + 1.5
    assert grades.score("alovelace", "02-slopes-and-updates") == raw - 1.0
    assert grades.score("aturing", "02-slopes-and-updates") is None   # never submitted
    assert grades.scores == expected(gradebooks["canvas"])
    assert grades.needs_manual_grade == [(s, "01-gradient-descent") for s in ("alovelace", "edc", "walkin")]


def test_canvas_csv_as_canvas_imports_it(course, gradebooks, tmp_path):
    grades = read_grades(gradebooks["canvas"], list(course.assignments))
    rows, left_out = export(course, tmp_path, "canvas.csv", canvas_table(grades, CANVAS_IDS))
    columns = list(rows[0])
    assert columns[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    titles = [f"{a} ({CANVAS_IDS[a]})" for a in course.assignments]
    assert columns[5:] == titles
    points = rows[0]
    assert points["Student"] == "    Points Possible"
    assert [points[t] for t in titles] == [  # 01: 7 autograded + 2 by hand, 9; 03 not graded yet
        f"{assignment_spec(course, a).max_score:g}" if a in GRADED else "" for a in course.assignments]
    assert points["01-gradient-descent (9001)"] == "9"
    scores = expected(gradebooks["canvas"])
    by_canvas_id = {p.canvas_id: p for p in CLASS}
    with Gradebook(gradebooks["canvas"]) as gradebook:
        student_of = {s.lms_user_id: s.id for s in gradebook.students if s.lms_user_id}
    assert sorted(row["ID"] for row in rows[1:]) == sorted(by_canvas_id)
    for row in rows[1:]:
        person, student = by_canvas_id[row["ID"]], student_of[row["ID"]]
        assert row["Student"] == person.sortable
        for assignment, title in zip(course.assignments, titles):
            assert row[title] == cell(scores.get((student, assignment)))
    assert left_out == ["walkin"]


def test_canvas_csv_keeps_the_rosters_students_and_columns(course, gradebooks, tmp_path):
    newcomer = Person("Emmy", "Noether", "106", "S1006", "enoether", "", "")
    (tmp_path / "roster.csv").write_bytes(canvas_csv([CLASS[3], newcomer, CLASS[0]]))
    roster = read_roster(tmp_path / "roster.csv")
    grades = read_grades(gradebooks["canvas"], list(course.assignments))
    rows, left_out = export(course, tmp_path, "canvas.csv", canvas_table(grades, CANVAS_IDS,
                                                                         [s.identity for s in roster.students]))
    assert [(r["Student"], r["ID"], r["SIS User ID"], r["SIS Login ID"], r["Section"]) for r in rows[1:]] == [
        (p.sortable, p.canvas_id, p.sis_user_id, p.login, p.section) for p in (CLASS[3], newcomer, CLASS[0])]
    assert rows[2]["01-gradient-descent (9001)"] == ""   # in Canvas, not in the gradebook
    assert rows[1]["01-gradient-descent (9001)"] == cell(expected(gradebooks["canvas"])["kgodel", "01-gradient-descent"])
    assert sorted(left_out) == ["103", "aturing", "edc", "walkin"]


def test_canvas_needs_the_assignment_ids(course, gradebooks):
    grades = read_grades(gradebooks["canvas"], list(course.assignments))
    with pytest.raises(LmsFileError, match=r"c.Autograder.canvas_assignment_ids .* for: 03-backpropagation"):
        canvas_table(grades, {**CANVAS_IDS, "03-backpropagation": 0})


@pytest.mark.parametrize("identifier, column", [("email", "Email address"), ("idnumber", "ID number")])
def test_moodle_csv_identifies_each_student_and_has_every_score(course, gradebooks, tmp_path, identifier, column):
    grades = read_grades(gradebooks["moodle"], list(course.assignments))
    rows, left_out = export(course, tmp_path, "moodle.csv", moodle_table(grades, identifier))
    assert list(rows[0]) == ["First name", "Last name", column, *course.assignments]
    people = {p.email if identifier == "email" else p.id_number: p for p in CLASS}
    with Gradebook(gradebooks["moodle"]) as gradebook:
        # the roster import made each student's id from the ID number, else the email's name
        student_of = {(s.email if identifier == "email" else s.id): s.id for s in gradebook.students}
    scores = expected(gradebooks["moodle"])
    assert sorted(row[column] for row in rows) == sorted(key for key in people if key)
    for row in rows:
        assert (row["First name"], row["Last name"]) == (people[row[column]].first, people[row[column]].last)
        for assignment in course.assignments:
            assert row[assignment] == cell(scores.get((student_of[row[column]], assignment)))
    assert left_out == (["walkin"] if identifier == "email" else ["grace.hopper", "walkin"])


def test_moodle_feedback_columns_name_each_exercises_points(course, gradebooks, tmp_path):
    grades = read_grades(gradebooks["moodle"], list(course.assignments))
    rows, _ = export(course, tmp_path, "moodle.csv", moodle_table(grades, "email", with_feedback=True))
    assert list(rows[0])[3:5] == ["01-gradient-descent", "01-gradient-descent feedback"]
    ada = next(row for row in rows if row["Email address"] == "ada.lovelace@uni.example")
    with Gradebook(gradebooks["moodle"]) as gradebook:
        wanted = {g.name: f"{cell(g.score)}/{cell(g.max_score)}"
                  for n in gradebook.find_submission("01-gradient-descent", "S1001").notebooks for g in n.grades}
    parts = dict(part.rsplit(" ", 1) for part in ada["01-gradient-descent feedback"].split("; "))
    assert parts == wanted and len(parts) == 5
    assert ada["03-backpropagation feedback"] == ""
    waiting = [row for row in rows if "to be graded" in row["01-gradient-descent feedback"]]
    assert len(waiting) == 2  # the students whose written answer nobody has graded: said so, not "0/2"
    for row in waiting:
        assert ("learning_rate_too_large: to be graded by your instructor, not counted yet"
                in row["01-gradient-descent feedback"].split("; "))
        assert "learning_rate_too_large 0/2" not in row["01-gradient-descent feedback"]


def test_moodle_feedback_carries_the_graders_comment(course, gradebooks, tmp_path):
    copy = tmp_path / "moodle.db"
    shutil.copy(gradebooks["moodle"][len("sqlite:///"):], copy)
    with Gradebook(f"sqlite:///{copy}") as gradebook:  # as formgrader stores the instructor's comment
        gradebook.find_comment("learning_rate_too_large", "gradient_descent", "01-gradient-descent",
                               "S1001").manual_comment = "Right idea; say why it diverges. "
        gradebook.db.commit()
    grades = read_grades(f"sqlite:///{copy}", list(course.assignments))
    assert grades.feedback["S1001", "01-gradient-descent"].endswith(
        "; check_max_stable_learning_rate 0/1; learning_rate_too_large 1.5/2 (Right idea; say why it diverges.)")


def test_plain_csv_has_every_student_score_and_total(course, gradebooks, tmp_path):
    grades = read_grades(gradebooks["canvas"], list(course.assignments))
    rows, _ = export(course, tmp_path, "grades.csv", plain_table(grades))
    scores = expected(gradebooks["canvas"])
    assert list(rows[0]) == ["student", *course.assignments, "total"]
    assert sorted(row["student"] for row in rows) == sorted(["alovelace", "aturing", "103", "kgodel", "edc", "walkin"])
    for row in rows:
        assert [row[a] for a in course.assignments] == [cell(scores.get((row["student"], a))) for a in course.assignments]
        assert float(row["total"]) == pytest.approx(sum(scores.get((row["student"], a), 0) for a in GRADED))


@pytest.mark.slow
def test_nbgrader_export_is_nbgraders_own_csv(course, gradebooks, tmp_path):
    path = nbgrader_export(course.root, gradebooks["canvas"], tmp_path / "out" / "nbgrader.csv")
    rows = read_csv(path)
    scores = expected(gradebooks["canvas"])
    assert {(row["student_id"], row["assignment"]) for row in rows} == {
        (s, a) for s in ["alovelace", "aturing", "103", "kgodel", "edc", "walkin"] for a in GRADED}
    for row in rows:
        assert float(row["score"]) == pytest.approx(scores.get((row["student_id"], row["assignment"]), 0.0))
    assert sorted(os.listdir(tmp_path / "out")) == ["nbgrader.csv"]


def test_cli_writes_canvas_csv_with_the_configured_ids(course, course_copy, gradebooks, tmp_path):
    config = course_copy / "course_config.py"
    text = config.read_text()
    for assignment, canvas_id in CANVAS_IDS.items():
        text = text.replace(f'    "{assignment}": 0,', f'    "{assignment}": {canvas_id},')
    config.write_text(text)
    env = {**os.environ, "AUTOGRADER_COURSE_ROOT": str(course_copy)}
    done = subprocess.run([sys.executable, "-m", "autograder", "export", "--format", "canvas", "--db",
                           gradebooks["canvas"], "--to", str(tmp_path / "canvas.csv")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "left out, no Canvas user id (import Canvas's roster): walkin" in done.stderr
    assert "still need manual grading" in done.stderr
    rows = read_csv(tmp_path / "canvas.csv")
    assert rows[1]["04-linear-regression (9004)"] == cell(expected(gradebooks["canvas"])[
        {p.canvas_id: s for p, s in zip(CLASS, ["alovelace", "aturing", "103", "kgodel", "edc"])}[rows[1]["ID"]],
        "04-linear-regression"])


def test_cli_refuses_canvas_without_ids_and_writes_nothing(course_copy, gradebooks, tmp_path):
    env = {**os.environ, "AUTOGRADER_COURSE_ROOT": str(course_copy)}
    done = subprocess.run([sys.executable, "-m", "autograder", "export", "--format", "canvas", "--db",
                           gradebooks["canvas"], "--to", str(tmp_path / "canvas.csv")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert "Nothing exported" in done.stderr and "canvas_assignment_ids" in done.stderr
    assert not (tmp_path / "canvas.csv").exists()


@pytest.mark.parametrize("lms", ["moodle", "canvas"])
def test_cli_refuses_an_export_with_no_student_and_writes_nothing(course_copy, empty_gradebook, tmp_path, lms):
    """Was: a file with the header alone and exit 0, which the LMS imports as nothing."""
    shutil.copy(empty_gradebook, tmp_path / "empty.db")
    configured = (course_copy / "course_config.py").read_text()
    for assignment, canvas_id in CANVAS_IDS.items():
        configured = configured.replace(f'    "{assignment}": 0,', f'    "{assignment}": {canvas_id},')
    (course_copy / "course_config.py").write_text(configured)
    done = subprocess.run([sys.executable, "-m", "autograder", "export", "--format", lms, "--db",
                           f"sqlite:///{tmp_path / 'empty.db'}", "--to", str(tmp_path / "out.csv")],
                          capture_output=True, text=True,
                          env={**os.environ, "AUTOGRADER_COURSE_ROOT": str(course_copy)})
    assert done.returncode == 1, done.stdout
    assert done.stderr.partition(" ERROR autograder.lms.export: ")[2].startswith(f"Nothing exported: the gradebook sqlite:///{tmp_path / 'empty.db'} has no "
                                  "students yet. Grade first (autograder grade)")
    assert not (tmp_path / "out.csv").exists()


def test_cli_refuses_a_canvas_export_where_no_student_has_a_canvas_id(course_copy, gradebooks, tmp_path):
    configured = (course_copy / "course_config.py").read_text()
    for assignment, canvas_id in CANVAS_IDS.items():
        configured = configured.replace(f'    "{assignment}": 0,', f'    "{assignment}": {canvas_id},')
    (course_copy / "course_config.py").write_text(configured)
    done = subprocess.run([sys.executable, "-m", "autograder", "export", "--format", "canvas", "--db",
                           gradebooks["moodle"], "--to", str(tmp_path / "canvas.csv")],
                          capture_output=True, text=True,
                          env={**os.environ, "AUTOGRADER_COURSE_ROOT": str(course_copy)})
    assert done.returncode == 1, done.stdout
    assert "Nothing exported: none of the 6 students of the gradebook has a Canvas user id" in done.stderr
    assert "walkin" in done.stderr
    assert not (tmp_path / "canvas.csv").exists()
