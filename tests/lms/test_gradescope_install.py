"""The course's hidden checks belong to the course, never to the package: the wheel holds none (student code can read
the installed package's files), grading from a plain (non-editable) install finds the course's, and the Gradescope
zip built from that install grades as `autograder grade` does; with no check file, no zip is written."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from course_files import ROOT, copy_course
from make_class import EXPECTED
from venvs import venv_with_these_packages

A1 = "01-gradient-descent"
NOTEBOOK = "gradient_descent.ipynb"
STUDENTS = ("ada_lovelace", "barbara_liskov", "john_von_neumann")  # sample students: right, and two kinds of wrong
SAMPLES = ROOT / "samples" / "submitted"


def clean_env(**extra) -> dict:
    """This machine's environment without a path to the code under test: the install alone decides."""
    return {**{key: value for key, value in os.environ.items()
               if key not in ("PYTHONPATH", "AUTOGRADER_COURSE_ROOT")}, **extra}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel pip builds from a copy of this repository's project files, the course's hidden/ folder beside them
    as in the repository (a wheel that picked it up would show it)."""
    project = tmp_path_factory.mktemp("project")
    for name in ("autograder", "hidden"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    built = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "--wheel-dir", str(built), str(project)],
                   check=True, env=clean_env(), cwd="/")
    return next(built.glob("autograder-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel):
    """A virtual environment holding the wheel in its site-packages (not editable), outside /tmp: the sandbox mounts a
    fresh /tmp, so the grading Python must live elsewhere."""
    folder = Path(tempfile.mkdtemp(prefix="autograder-installed-", dir="/var/tmp"))
    try:
        python = venv_with_these_packages(folder)  # the dependencies: this Python's, even run from a venv
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "--disable-pip-version-check", str(wheel)], check=True, env=clean_env(), cwd="/")
        yield python
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder of its own, with its hidden checks, its sample submissions of A1 and nothing of the package."""
    root = copy_course(tmp_path_factory.mktemp("course") / "course")
    for student in STUDENTS:
        shutil.copytree(SAMPLES / student / A1, root / "submitted" / student / A1)
    return root


@pytest.mark.slow
def test_the_wheel_holds_no_hidden_check(wheel):
    with zipfile.ZipFile(wheel) as opened:
        names = opened.namelist()
    assert "autograder/checking/checks.py" in names and "autograder/lms/gradescope.py" in names
    hidden = {path.name for path in (ROOT / "hidden").glob("test_*.py")}
    assert len(hidden) == 4
    assert [name for name in names if name.rpartition("/")[2] in hidden or "hidden/" in name] == []


@pytest.mark.slow
def test_the_install_is_a_copy_of_the_package_in_the_environment(installed):
    where = subprocess.run([str(installed), "-c", "import autograder; print(autograder.__file__)"], cwd="/",
                           env=clean_env(), capture_output=True, text=True, check=True).stdout.strip()
    assert where == str(installed.parent.parent / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
                        / "site-packages" / "autograder" / "__init__.py")


@pytest.mark.slow
def test_a_zip_built_from_a_plain_install_grades_as_autograder_grade(installed, course, tmp_path):
    archive = tmp_path / "a1.zip"
    built = subprocess.run([str(installed), "-m", "autograder", "gradescope", A1, "--output", str(archive)],
                           cwd=course, env=clean_env(), capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    with zipfile.ZipFile(archive) as opened:
        assert ([name for name in opened.namelist() if "hidden/" in name]
                == ["course/hidden/test_01_gradient_descent.py"])
        packed = opened.read("course/hidden/test_01_gradient_descent.py")
    assert packed == (course / "hidden" / "test_01_gradient_descent.py").read_bytes()

    graded = subprocess.run([str(installed), "-m", "autograder", "grade", A1, "--json", str(tmp_path / "grade.json"),
                             "--no-progress", "--workers", "1"], cwd=course, env=clean_env(), capture_output=True,
                            text=True)
    assert graded.returncode == 0, graded.stderr[-3000:]
    expected = {result["student"]: result["score"] for result in json.loads((tmp_path / "grade.json").read_text())}
    assert expected == {student: EXPECTED[A1][student] for student in STUDENTS}  # 7, 2.6667 and 6 points

    on_gradescope = {}
    for student in STUDENTS:
        root = tmp_path / student / "autograder"
        with zipfile.ZipFile(archive) as opened:
            for info in opened.infolist():
                path = Path(opened.extract(info, root / "source"))
                path.chmod((info.external_attr >> 16) & 0o777)
        (root / "submission").mkdir()
        shutil.copy(course / "submitted" / student / A1 / NOTEBOOK, root / "submission" / NOTEBOOK)
        done = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, capture_output=True, text=True,
                              env=clean_env(AUTOGRADER_GRADESCOPE_ROOT=str(root),
                                            AUTOGRADER_GRADESCOPE_PYTHON=str(installed)), timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        on_gradescope[student] = json.loads((root / "results" / "results.json").read_text())["score"]
    assert on_gradescope == expected


@pytest.mark.slow
def test_without_its_check_file_no_zip_is_written(installed, course, tmp_path):
    course_without = tmp_path / "course"
    shutil.copytree(course, course_without, ignore=shutil.ignore_patterns("submitted"))
    (course_without / "hidden" / "test_01_gradient_descent.py").unlink()
    done = subprocess.run([str(installed), "-m", "autograder", "gradescope", A1, "--output",
                           str(tmp_path / "a1.zip")], cwd=course_without, env=clean_env(), capture_output=True,
                          text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert (f"ERROR autograder.lms.gradescope: autograder gradescope: the hidden checks of {A1} are not at "
            f"{course_without / 'hidden' / 'test_01_gradient_descent.py'}: without them every "
            "submission would score 0, so no zip was written.\n") in done.stderr
    assert not list(tmp_path.glob("a1.zip*"))


def test_the_zip_packs_the_courses_own_checks_wherever_it_is_run_from(tmp_path, monkeypatch):
    from autograder.course.config import load_course
    from autograder.lms.gradescope import packed_files

    root = copy_course(tmp_path / "course")
    own = root / "hidden" / "test_01_gradient_descent.py"
    own.write_text((ROOT / "hidden" / own.name).read_text() + "# this course's own version\n")
    monkeypatch.chdir(ROOT)  # another course's folder: what counts is the course the zip is built for
    files = packed_files(load_course(root), A1)
    assert [(name, path) for name, path in files.items() if "/hidden/" in name] == [
        ("course/hidden/test_01_gradient_descent.py", own)]
