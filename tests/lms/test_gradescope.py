"""`autograder gradescope`: the zip, its setup.sh, and run_autograder grading real submissions laid out as on
Gradescope (the root moved to a temporary folder with AUTOGRADER_GRADESCOPE_ROOT)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.grading.grade import assignment_spec
from autograder.course.config import load_course
from builders import replaced, solution, write
from venvs import venv_with_these_packages

ROOT = Path(__file__).resolve().parents[2]

A1, A2, A3, A4 = "01-gradient-descent", "02-slopes-and-updates", "03-backpropagation", "04-linear-regression"
AUTOGRADED_POINTS = {A1: 7, A2: 9, A3: 12, A4: 8}
WRITTEN_POINTS = {A1: 2, A2: 0, A3: 0, A4: 0}   # answers graded by hand (formgrader)
WRITTEN = "learning_rate_too_large"
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
TOP_LEVEL_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
                  "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
             "visibility", "extra_data"}


def build(assignment, folder, *options, cwd=ROOT):
    """`autograder gradescope` as an instructor runs it; returns the zip."""
    output = folder / f"{assignment}.zip"
    done = subprocess.run([sys.executable, "-m", "autograder", "gradescope", assignment, "--output", str(output),
                           *options], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return output


def unpack(archive, root):
    """What Gradescope does with the zip: unpack it into <root>/source, keeping the files' permissions."""
    with zipfile.ZipFile(archive) as opened:
        for info in opened.infolist():
            path = Path(opened.extract(info, root / "source"))
            path.chmod((info.external_attr >> 16) & 0o777)
    return root


@pytest.fixture(scope="module")
def zips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zips")
    return {assignment: build(assignment, folder) for assignment in AUTOGRADED_POINTS}


@pytest.fixture(scope="module")
def gradescope(tmp_path_factory, zips):
    """grade(assignment, {file name: notebook or text}) -> results.json, run by run_autograder for real."""
    def grade(assignment, files, archive=None, python=sys.executable, users=None):
        root = unpack(archive or zips[assignment], tmp_path_factory.mktemp("run") / "autograder")
        if users is not None:  # who submitted, as Gradescope writes it
            (root / "submission_metadata.json").write_text(json.dumps({"id": 1, "users": users}))
        for name, content in files.items():
            if isinstance(content, str):
                (root / "submission").mkdir(parents=True, exist_ok=True)
                (root / "submission" / name).write_text(content)
            else:
                write(content, root / "submission" / name)
        env = {**os.environ, "AUTOGRADER_GRADESCOPE_ROOT": str(root), "AUTOGRADER_GRADESCOPE_PYTHON": python}
        done = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return json.loads((root / "results" / "results.json").read_text())
    return grade


@pytest.fixture(scope="module")
def correct(gradescope):
    """results.json of each assignment's instructor solution, submitted under its own name."""
    return {assignment: gradescope(assignment, {load_course(ROOT).notebook(assignment): solution_of(assignment)})
            for assignment in AUTOGRADED_POINTS}


def assert_valid(results, assignment):
    """results.json as Gradescope's specification defines it, with the course's autograded points."""
    assert set(results) <= TOP_LEVEL_KEYS
    assert isinstance(results["score"], float)
    assert isinstance(results["execution_time"], (int, float)) and results["execution_time"] >= 0
    assert isinstance(results["output"], str)
    assert results["visibility"] in VISIBILITIES and results["stdout_visibility"] in VISIBILITIES
    assert isinstance(results["tests"], list) and results["tests"]
    for test in results["tests"]:
        assert set(test) <= TEST_KEYS
        assert isinstance(test["name"], str) and isinstance(test["output"], str) and test["output"]
        assert test["visibility"] in VISIBILITIES
        if "max_score" in test:
            assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
            assert 0 <= test["score"] <= test["max_score"]
            assert test["status"] == ("passed" if test["score"] == test["max_score"] else "failed")
        elif test["name"].startswith("Written answer"):  # not graded yet: no points, no verdict, not a 0
            assert "score" not in test and "status" not in test
            assert "to be graded by your instructor" in test["output"].casefold()
        else:
            assert test["status"] in ("passed", "failed")
    scored = [test for test in results["tests"] if "max_score" in test]
    assert results["score"] == sum(test["score"] for test in scored)
    written = [test for test in results["tests"] if test["name"].startswith("Written answer")]
    assert len(written) == (1 if WRITTEN_POINTS[assignment] else 0)
    assert sum(test["max_score"] for test in scored if test not in written) == AUTOGRADED_POINTS[assignment]


def scores(results):
    return {test["name"]: test["score"] for test in results["tests"] if "max_score" in test}


@pytest.mark.slow
def test_zip_holds_the_scripts_at_its_root_and_only_this_assignments_files(zips):
    with zipfile.ZipFile(zips[A2]) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    assert {(infos[name].external_attr >> 16) & 0o777 for name in ("setup.sh", "run_autograder")} == {0o755}
    names = set(infos)
    assert {"course/course_config.py", "course/nbgrader_config.py", "course/pyproject.toml",
            "course/source/02-slopes-and-updates/slopes_and_updates.ipynb",
            "course/hidden/test_02_slopes_and_updates.py", "course/autograder/engine/sandbox.py"} <= names
    assert [name for name in names if "hidden/" in name] == ["course/hidden/test_02_slopes_and_updates.py"]
    assert not [name for name in names if name.startswith("course/source/") and A2 not in name]
    assert not [name for name in names if name.endswith(".db") or "__pycache__" in name
                or name.split("/")[1:2] in (["submitted"], ["autograded"], ["release"], ["samples"], ["tests"])]


@pytest.mark.slow
def test_scripts_are_valid_bash_and_setup_installs_the_packed_copy(zips, tmp_path):
    root = unpack(zips[A1], tmp_path / "autograder")
    for script in ("setup.sh", "run_autograder"):
        assert subprocess.run(["bash", "-n", str(root / "source" / script)]).returncode == 0
    setup = (root / "source" / "setup.sh").read_text()
    assert "apt-get install" in setup and "bubblewrap" in setup
    assert 'pip install --quiet --disable-pip-version-check "$SOURCE/course"' in setup


@pytest.fixture(scope="module")
def throwaway_python():
    """A virtual environment that sees this machine's packages, outside /tmp (the sandbox mounts a fresh /tmp)."""
    folder = Path(tempfile.mkdtemp(prefix="autograder-gradescope-venv-", dir="/var/tmp"))
    try:
        # pip comes from this machine's packages, into the venv (no --without-pip: that would copy pip in, slowly)
        yield venv_with_these_packages(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_setup_sh_installs_the_zips_package_into_the_chosen_python(zips, tmp_path, throwaway_python, gradescope):
    root = unpack(zips[A1], tmp_path / "autograder")
    env = {**{key: value for key, value in os.environ.items() if key != "PYTHONPATH"},  # the install alone decides
           "AUTOGRADER_GRADESCOPE_PYTHON": str(throwaway_python)}
    done = subprocess.run(["bash", str(root / "source" / "setup.sh")], cwd="/", env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "autograder installed for 01-gradient-descent" in done.stdout
    where = subprocess.run([str(throwaway_python), "-c", "import autograder, pathlib; p = pathlib.Path(autograder."
                            "__file__).parent; print(p); print(sorted(f.name for f in p.rglob('test_*.py')))"],
                           cwd="/", env=env, capture_output=True, text=True, check=True).stdout.splitlines()
    assert where[0].startswith(str(throwaway_python.parent.parent))
    assert where[1] == "[]"  # the hidden checks stay in the zip's course folder, out of the installed package
    # this machine's own install is untouched: still the editable checkout
    mine = subprocess.run([sys.executable, "-c", "import autograder; print(autograder.__file__)"], cwd="/",
                          capture_output=True, text=True, check=True).stdout.strip()
    assert mine == str(ROOT / "autograder" / "__init__.py")
    results = gradescope(A1, {"gradient_descent.ipynb": solution_of(A1)}, python=str(throwaway_python))
    assert_valid(results, A1)
    assert results["score"] == 7


def solution_of(assignment):
    return solution(load_course(ROOT), assignment)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [A1, A2, A3, A4])
def test_a_correct_notebook_gets_every_autograded_point(correct, course, assignment):
    results = correct[assignment]
    assert_valid(results, assignment)
    assert results["score"] == AUTOGRADED_POINTS[assignment]
    assert all(test["status"] == "passed" for test in results["tests"] if "status" in test)  # written: not yet
    assert list(scores(results)) == [exercise.name for exercise in assignment_spec(course, assignment).exercises]


@pytest.mark.slow
def test_one_exercise_per_test_hidden_until_published_check_cells_visible(correct):
    results = correct[A1]
    assert [(test["name"], test.get("max_score"), test["visibility"]) for test in results["tests"]] == [
        ("df: the check cell in your notebook", None, "visible"), ("df", 1.0, "after_published"),
        ("gradient_descent_update: the check cell in your notebook", None, "visible"),
        ("gradient_descent_update", 2.0, "after_published"),
        ("gradient_descent: the check cell in your notebook", None, "visible"),
        ("gradient_descent", 3.0, "after_published"),
        ("max_stable_learning_rate: the check cell in your notebook", None, "visible"),
        ("max_stable_learning_rate", 1.0, "after_published"), (f"Written answer ({WRITTEN})", None, "after_published")]
    assert results["tests"][0]["output"].startswith("\N{CHECK MARK} df(5) = 4, as expected.")
    assert results["tests"][-1]["output"] == ("To be graded by your instructor (2 points); "
                                              "not counted in this score yet.")
    assert results["score"] == 7.0
    assert "Your score: 7 of 7 points so far; 2 more points to be graded by your instructor." in results["output"]
    assert "shown when your instructor publishes the grades" in results["output"]


@pytest.mark.slow
def test_a_known_mistake_loses_exactly_that_exercises_points(gradescope):
    wrong_df = replaced(solution_of(A1), "df", "def df(x):\n    return x - 3\n")
    results = gradescope(A1, {"gradient_descent.ipynb": wrong_df})
    assert_valid(results, A1)
    assert scores(results) == {"df": 0.0, "gradient_descent_update": 2.0, "gradient_descent": 3.0,
                               "max_stable_learning_rate": 1.0}
    assert results["score"] == 6
    df = next(test for test in results["tests"] if test["name"] == "df")
    assert "It looks like you dropped the factor 2" in df["output"] and df["status"] == "failed"
    check_cell = results["tests"][0]
    assert (check_cell["status"], check_cell["visibility"]) == ("failed", "visible")


@pytest.mark.slow
def test_a_mistake_in_backpropagation_loses_its_two_points(gradescope):
    plus = ("def backprop_weight_update(weights, gradients, learning_rate):\n"
            "    return {key: np.asarray(weights[key], dtype=float) + learning_rate * np.asarray(gradients[key])\n"
            "            for key in weights}\n")
    results = gradescope(A3, {"backpropagation.ipynb": replaced(solution_of(A3), "backprop_weight_update", plus)})
    assert_valid(results, A3)
    assert results["score"] == 10
    assert [name for name, score in scores(results).items() if score == 0] == ["backprop_weight_update"]


@pytest.mark.slow
def test_broken_json_gets_zero_with_a_kind_specific_message(gradescope):
    results = gradescope(A1, {"gradient_descent.ipynb": '{"cells": [{"cell_type": "code", '})
    assert_valid(results, A1)
    assert results["score"] == 0
    assert "The notebook could not be opened" in results["output"]
    assert "not a readable notebook (JSONDecodeError" in results["output"]
    assert "download a fresh copy of the notebook and copy your code into it" in results["output"]
    assert all(test["score"] == 0 for test in results["tests"])


@pytest.mark.slow
def test_the_only_notebook_is_graded_whatever_its_name(gradescope):
    results = gradescope(A4, {"my work (1).ipynb": solution_of(A4), "notes.txt": "hello"})
    assert_valid(results, A4)
    assert results["score"] == 8
    assert "Graded my work (1).ipynb, the only notebook in your submission" in results["output"]


@pytest.mark.slow
def test_several_notebooks_none_with_the_right_name_get_a_clear_message(gradescope):
    results = gradescope(A2, {"a.ipynb": solution_of(A2), "b.ipynb": solution_of(A2)})
    assert_valid(results, A2)
    assert results["score"] == 0
    assert "Your submission has 2 notebooks (a.ipynb, b.ipynb) and none is named slopes_and_updates.ipynb" \
        in results["output"]


@pytest.mark.slow
def test_an_empty_submission_gets_zero_and_says_what_to_upload(gradescope):
    results = gradescope(A2, {})
    assert_valid(results, A2)
    assert results["output"].startswith("No notebook was found in your submission. "
                                        "Please upload slopes_and_updates.ipynb.")


@pytest.mark.slow
def test_another_assignments_notebook_is_named(gradescope):
    results = gradescope(A2, {"slopes_and_updates.ipynb": solution_of(A1)})
    assert_valid(results, A2)
    assert results["score"] == 0
    assert "This is the notebook of 01-gradient-descent (gradient_descent.ipynb)" in results["output"]


@pytest.mark.slow
def test_a_grader_crash_still_writes_a_valid_result(gradescope, zips, tmp_path):
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(zips[A4]) as source, zipfile.ZipFile(broken, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "course/autograder/engine/sandbox.py":
                content += b"\nraise RuntimeError('the sandbox module is broken')\n"
            target.writestr(info, content)
    results = gradescope(A4, {"linear_regression.ipynb": solution_of(A4)}, archive=broken)
    assert_valid(results, A4)
    assert results["score"] == 0
    assert "The autograder failed while grading your notebook" in results["output"]
    assert "This is not a problem with your work" in results["output"]


@pytest.mark.slow
def test_a_grader_that_cannot_even_start_still_leaves_a_results_json(zips, tmp_path):
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(zips[A1]) as source, zipfile.ZipFile(broken, "w") as target:
        for info in source.infolist():
            broken_module = info.filename == "course/autograder/lms/gradescope.py"
            target.writestr(info, b"def broken(:\n" if broken_module else source.read(info))
    root = unpack(broken, tmp_path / "autograder")
    done = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "AUTOGRADER_GRADESCOPE_ROOT": str(root)})
    assert done.returncode == 0 and "SyntaxError" in done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert (results["score"], results["tests"], results["visibility"]) == (0.0, [], "visible")
    assert results["output"].startswith("The autograder could not start, so your notebook was not graded.")


@pytest.mark.slow
def test_visibility_comes_from_the_option_else_the_course_config(tmp_path, course_copy, gradescope):
    archive = build(A1, tmp_path, "--visibility", "after_due_date", "--check-cell-visibility", "hidden")
    results = gradescope(A1, {"gradient_descent.ipynb": solution_of(A1)}, archive=archive)
    assert {(("max_score" in test or test["name"].startswith("Written answer")), test["visibility"])
            for test in results["tests"]} == {(True, "after_due_date"), (False, "hidden")}
    assert "shown after the due date" in results["output"]
    with open(course_copy / "course_config.py", "a") as config:
        config.write('\nc.Gradescope.visibility = "visible"\n')
    (tmp_path / "configured").mkdir()
    with zipfile.ZipFile(build(A1, tmp_path / "configured", cwd=course_copy)) as archive:
        settings = json.loads(archive.read("course/gradescope.json"))
    assert (settings["visibility"], settings["check_cell_visibility"]) == ("visible", "visible")


def test_a_bad_visibility_in_the_course_config_is_refused_naming_the_file(tmp_path, course_copy):
    course = course_copy
    with open(course / "course_config.py", "a") as config:
        config.write('\nc.Gradescope.visibility = "later"\n')
    done = subprocess.run([sys.executable, "-m", "autograder", "gradescope", A1, "--output", str(tmp_path / "x.zip")],
                          cwd=course, capture_output=True, text=True)
    assert done.returncode == 2
    assert f"{course / 'course_config.py'}: c.Gradescope.visibility is 'later'" in done.stderr
    assert not (tmp_path / "x.zip").exists()


def hand_grade(db, student, email, score, comment):
    """A submission of 01 whose written answer the instructor graded in formgrader (nbgrader's API, as it does)."""
    from sqlalchemy.exc import SAWarning

    from autograder.grading.gradebook import open_gradebook, record_assignment

    course = load_course(ROOT)
    record_assignment(db, course, assignment_spec(course, A1))
    notebook = course.notebook(A1).removesuffix(".ipynb")
    with open_gradebook(db) as gradebook, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own autoflush warnings, as in autograde
        gradebook.update_or_create_student(student, email=email)
        gradebook.update_or_create_submission(A1, student)
        grade = gradebook.find_grade(WRITTEN, notebook, A1, student)
        grade.manual_score, grade.needs_manual_grade = score, False
        gradebook.find_comment(WRITTEN, notebook, A1, student).manual_comment = comment
        gradebook.db.commit()


@pytest.mark.slow
def test_a_written_answer_graded_in_the_gradebook_counts_with_the_graders_comment(gradescope, tmp_path, db_url):
    db = db_url
    hand_grade(db, "ada_lovelace", "Ada.Lovelace@example.org", 1.5, "Right idea; say why it diverges.")
    done = subprocess.run([sys.executable, "-m", "autograder", "gradescope", A1, "--output", str(tmp_path / "a.zip"),
                           "--db", db], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "(7 autograded points and 2 for written answers;" in done.stdout
    assert "It packs 1 written answer graded by hand in the gradebook, of 1 student;" in done.stdout
    users = [{"email": "ada.lovelace@EXAMPLE.org", "id": 4711, "name": "Ada Lovelace", "sid": "x1"}]
    results = gradescope(A1, {"gradient_descent.ipynb": solution_of(A1)}, archive=tmp_path / "a.zip", users=users)
    assert_valid(results, A1)
    written = results["tests"][-1]
    assert written == {"name": f"Written answer ({WRITTEN})", "score": 1.5, "max_score": 2.0, "status": "failed",
                       "output": "Written answer: graded by your instructor, 1.5 of 2 points. "
                                 "Comment: Right idea; say why it diverges.", "visibility": "after_published"}
    assert results["score"] == 8.5
    assert "to be graded" not in results["output"] and "so far" not in results["output"]


def test_hand_grades_reach_only_the_gradescope_user_they_belong_to(tmp_path, db_url):
    from autograder.lms.gradescope import _hand_grades_of, packed_hand_grades

    db = db_url
    hand_grade(db, "s123", "", 2.0, "")
    hand_grade(db, "bo", "bo@example.org", 0.5, "Say which way it moves.")
    packed = tmp_path / "hand_grades.json"
    packed.write_text(json.dumps({"students": packed_hand_grades(db, A1)}))

    def grades(*users):
        return {key: (grade.score, grade.comment) for key, grade in _hand_grades_of(packed, list(users)).items()}
    assert grades({"email": "BO@example.org", "sid": "s123"}) == {WRITTEN: (0.5, "Say which way it moves.")}
    assert grades({"email": "other@example.org", "sid": "s123"}) == {WRITTEN: (2.0, "")}  # by student id
    assert grades({"email": "other@example.org", "sid": "s12"}, {"email": "", "id": 5}) == {}
    assert grades({"name": "group"}, {"email": "bo@example.org"}) == {WRITTEN: (0.5, "Say which way it moves.")}
    assert _hand_grades_of(tmp_path / "absent.json", [{"email": "bo@example.org"}]) == {}
    assert packed_hand_grades(f"sqlite:///{tmp_path / 'none.db'}", A1) == []


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                        max_size=3), max_leaves=12)
USERS = st.lists(st.dictionaries(st.sampled_from(["email", "sid", "id", "name"]),
                                 JSON_VALUES | st.sampled_from(["a@b.c", "A@B.C", "x1"])) | JSON_VALUES, max_size=3)


@settings(max_examples=80, deadline=None)
@given(JSON_VALUES | st.builds(lambda users: {"users": users}, USERS | JSON_VALUES))
def test_any_submission_metadata_gives_a_list_of_users_and_no_crash(tmp_path_factory, metadata):
    from autograder.lms.gradescope import _hand_grades_of, _users

    root = tmp_path_factory.mktemp("meta")
    (root / "submission_metadata.json").write_text(json.dumps(metadata))
    users = _users(root)
    assert isinstance(users, list) and all(isinstance(user, dict) for user in users)
    packed = root / "hand_grades.json"
    packed.write_text(json.dumps({"students": [{"id": "x1", "email": "a@b.c", "grades": {WRITTEN: {"score": 1}}}]}))
    found = _hand_grades_of(packed, users)
    assert found == {} or set(found) == {WRITTEN}


def test_one_point_left_to_grade_is_singular_and_a_hand_grade_of_0_counts_as_graded(course):
    from autograder.results.model import SubmissionResult, TestResult
    from autograder.grading.gradebook import HandGrade
    from autograder.lms.gradescope import results_json

    spec = assignment_spec(course, A1)
    settings = {"visibility": "after_published", "check_cell_visibility": "visible"}

    def graded(hand_grades):
        tests = [TestResult(e.grade_id, float(e.points), e.points, "The check passed.") for e in spec.exercises]
        tests += [TestResult(name, 0.0, 1.0, "Written answer: to be graded by your instructor.", manual=True,
                             pending=True) for name in ("answer_a", "answer_b")]
        return results_json(SubmissionResult("ada", A1, 7.0, 9.0, "graded", tests=tests), spec, settings,
                            hand_grades=hand_grades)

    results = graded({"answer_b": HandGrade(1.0, "")})
    written = {test["name"]: test for test in results["tests"] if test["name"].startswith("Written answer")}
    assert written["Written answer (answer_a)"]["output"] == ("To be graded by your instructor (1 point); "
                                                             "not counted in this score yet.")
    assert (written["Written answer (answer_b)"]["score"], written["Written answer (answer_b)"]["output"]) == (
        1.0, "Written answer: graded by your instructor, 1 of 1 point.")
    assert results["score"] == 8.0
    assert "Your score: 8 of 8 points so far; 1 more point to be graded by your instructor." in results["output"]

    results = graded({"answer_a": HandGrade(0.0, "No answer given."), "answer_b": HandGrade(0.5, "")})
    written = [test for test in results["tests"] if test["name"].startswith("Written answer")]
    assert [(test["score"], test["max_score"], test["status"]) for test in written] == [
        (0.0, 1.0, "failed"), (0.5, 1.0, "failed")]
    assert written[0]["output"].endswith("0 of 1 point. Comment: No answer given.")
    assert results["score"] == 7.5 and "so far" not in results["output"] and "to be graded" not in results["output"]


def test_a_gradebook_that_cannot_be_read_is_named_without_its_password_and_no_zip_is_written(tmp_path, monkeypatch,
                                                                                             capsys):
    from autograder.cli import main

    monkeypatch.setenv("AUTOGRADER_COURSE_ROOT", str(ROOT))
    (tmp_path / "notes.db").write_text("not a database")
    for url, shown in ((f"sqlite:///{tmp_path / 'notes.db'}", f"sqlite:///{tmp_path / 'notes.db'}"),
                       ("postgresql://grader:secret@127.0.0.1:1/course", "postgresql://grader:***@127.0.0.1:1/course")):
        assert main(["gradescope", A1, "--db", url, "--output", str(tmp_path / "x.zip")]) == 2
        err = capsys.readouterr().err
        assert ("autograder gradescope: cannot read the written answers' hand grades from the gradebook "
                f"{shown} (") in err
        assert "secret" not in err and not (tmp_path / "x.zip").exists()
