"""Grading reads the hidden checks of the course it grades, whatever the working directory (issue 23: course content
is found through the course). Each test grades a copy of the course whose check file wants df(x) = 2 (x - 4), from
the repository's own course folder (another course, whose checks want 2 (x - 3)), without AUTOGRADER_COURSE_ROOT."""
import pytest

from autograder.authoring.lint import lint_source
from autograder.checking.checks import run_fairly
from autograder.course.config import load_course
from autograder.engine.submission import local_submission
from autograder.grading.batch import _grading_inputs, grade_batch
from autograder.grading.distributed import course_fingerprint
from autograder.grading.grade import assignment_spec
from autograder.grading.pipeline import Job
from autograder.results.model import earned
from builders import solution, write
from course_files import ROOT, copy_course

A1 = "01-gradient-descent"
RIGHT, CHANGED = "    return 2 * (x - 3)\n", "    return 2 * (x - 4)\n"


@pytest.fixture
def changed(tmp_path, monkeypatch):
    root = copy_course(tmp_path / "elsewhere")
    checks = root / "hidden" / "test_01_gradient_descent.py"
    text = checks.read_text()
    assert text.count(RIGHT) == 1  # reference_df's body: the reference every check of df compares with
    checks.write_text(text.replace(RIGHT, CHANGED))
    monkeypatch.delenv("AUTOGRADER_COURSE_ROOT", raising=False)
    monkeypatch.chdir(ROOT)
    return load_course(root)


def no_rebind(functions):
    return False


def test_the_checks_run_are_those_of_the_course_graded(changed, course):
    submission = local_submission({"df": lambda x: 2 * (x - 3)})
    here, _ = run_fairly(A1, "df", submission, "ann", (), no_rebind, course.root)
    there, _ = run_fairly(A1, "df", submission, "ann", (), no_rebind, changed.root)
    assert earned(here, 1.0) == 1.0
    assert earned(there, 1.0) == 0.0 and there[0].message.startswith("df(")


def test_a_broken_check_file_of_the_course_graded_stops_grading_before_it_starts(changed):
    (changed.root / "hidden" / "test_01_gradient_descent.py").write_text("def broken(:\n")
    with pytest.raises(SyntaxError):
        assignment_spec(changed, A1)


def test_the_batch_and_the_cluster_fingerprint_the_checks_of_the_course_graded(changed, course):
    # a changed check file must regrade on resume (the batch) and refuse a worker with other checks (Dask)
    assert _grading_inputs(changed, A1) != _grading_inputs(course, A1)
    assert course_fingerprint(changed, A1) != course_fingerprint(course, A1)


@pytest.mark.slow  # one sandbox
def test_a_batch_of_the_course_graded_earns_what_its_own_checks_give(changed, course, tmp_path):
    path = write(solution(course, A1), tmp_path / "ann.ipynb")
    results = []
    grade_batch(changed, A1, None, workers=1, submissions=[Job("ann", path, None)], progress=False,
                on_result=results.append)
    df = next(test for test in results[0].tests if test.name == "check_df")
    assert df.score == 0.0 < df.max_score and "df(" in df.output


def test_release_lints_the_check_file_of_the_course_released(changed):
    (changed.root / "hidden" / "test_01_gradient_descent.py").unlink()
    problems = lint_source(changed.source_notebook(A1), A1, changed.root)
    assert problems[0].startswith(f"{changed.root / 'hidden' / 'test_01_gradient_descent.py'}: no hidden-check file")


def test_a_course_whose_checks_are_still_in_autograder_hidden_is_told_to_move_them(tmp_path):
    """A course made before the checks moved into the course's hidden/ keeps them in autograder/hidden/: every
    command says where they must go, not a FileNotFoundError; a course with no check file at all is told how to
    start one."""
    import shutil

    from autograder.checking.checks import NoCheckFile, load_checks

    (tmp_path / "autograder").mkdir()
    shutil.copytree(ROOT / "hidden", tmp_path / "autograder" / "hidden")
    with pytest.raises(NoCheckFile, match=r"move that folder to hidden/ .*`git mv autograder/hidden hidden`"):
        load_checks("01-gradient-descent", tmp_path)
    shutil.rmtree(tmp_path / "autograder")
    with pytest.raises(NoCheckFile, match=r"hidden checks are not at .*test_01_gradient_descent\.py\. Write them"):
        load_checks("01-gradient-descent", tmp_path)
    shutil.copytree(ROOT / "hidden", tmp_path / "hidden")
    assert list(load_checks("01-gradient-descent", tmp_path))[0] == "df"  # the course's first exercise
