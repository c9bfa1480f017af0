"""Outside a course folder a command says it found no course, names the folder it looked in, and exits 2 (was:
it graded the package's own checkout, made a gradebook there, reported "0 submissions" and exited 0)."""
import pytest

from autograder.cli import main
from course_files import ROOT


@pytest.fixture
def outside(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTOGRADER_COURSE_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", [["grade", "01-gradient-descent"], ["export", "--format", "moodle"],
                                     ["new", "05-momentum"], ["serve", "links", "--student", "ada"]])
def test_a_command_outside_a_course_folder_is_refused_naming_the_folder(outside, capsys, command):
    assert main(command) == 2
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err == (f"autograder {command[0]}: no course found: there is no course_config.py in {outside} "
                           "or any folder above it. Run the command in your course folder (the one holding "
                           "course_config.py), or set AUTOGRADER_COURSE_ROOT to it.\n")
    assert list(outside.iterdir()) == []


def test_a_course_root_variable_naming_a_folder_without_a_course_is_refused(outside, capsys, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_COURSE_ROOT", str(outside))
    assert main(["grade", "01-gradient-descent"]) == 2
    assert f"AUTOGRADER_COURSE_ROOT is {outside}, which has no course_config.py" in capsys.readouterr().err


def test_a_course_root_variable_naming_an_nbgrader_course_finds_it(outside, monkeypatch):
    """An nbgrader course as it is (nbgrader_config.py and source/, no course_config.py) is a course for
    AUTOGRADER_COURSE_ROOT as it is for the working directory; nbgrader_config.py alone is not."""
    from autograder.course.config import NoCourse, course_folder

    (outside / "nbgrader_config.py").write_text("c = get_config()\n")
    monkeypatch.setenv("AUTOGRADER_COURSE_ROOT", str(outside))
    with pytest.raises(NoCourse, match="nor nbgrader_config.py with a source/ folder"):
        course_folder()
    (outside / "source").mkdir()
    assert course_folder() == outside.resolve()
    monkeypatch.delenv("AUTOGRADER_COURSE_ROOT")
    assert course_folder(outside / "source") == outside.resolve()


def test_a_subfolder_of_a_course_finds_the_course(outside, capsys, monkeypatch):
    monkeypatch.chdir(ROOT / "source")
    assert main(["grade", "no-such-assignment"]) == 2
    assert capsys.readouterr().err.startswith("Unknown assignment 'no-such-assignment'")


def test_the_course_read_follows_the_course_root_variable(outside, monkeypatch):
    """load_course() reads the course AUTOGRADER_COURSE_ROOT names now, not the first one a process read (the service's
    `lti publish` of an nbgrader course, run in the same process as another course, was refused as unknown)."""
    from autograder.course.config import load_course

    (outside / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'elsewhere'\n")
    (outside / "source").mkdir()
    monkeypatch.setenv("AUTOGRADER_COURSE_ROOT", str(ROOT))
    assert load_course().root == ROOT.resolve()
    monkeypatch.setenv("AUTOGRADER_COURSE_ROOT", str(outside))
    assert (load_course().root, load_course().course_id) == (outside.resolve(), "elsewhere")
