"""Which of a student's files are which notebook of an nbgrader assignment (nbtests.submission_files), as
`autograder grade ps1 PATH` sorts them before grading: no sandbox, so fast."""
import shutil
from pathlib import Path

from autograder.course.config import load_course
from autograder.grading.nbtests import nbgrader_spec, submission_files

PS1 = Path(__file__).parent / "data" / "nbgrader_ps1"


def test_notebooks_are_known_by_name_else_by_their_cells_and_the_rest_is_named(tmp_path):
    root = tmp_path / "course"
    shutil.copytree(PS1 / "source", root / "source")
    (root / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'ps1course'\n")
    course = load_course(root)
    mine = tmp_path / "mine"
    mine.mkdir()
    hacker = PS1 / "submitted" / "hacker" / "ps1"
    shutil.copy(hacker / "problem1.ipynb", mine / "problem1.ipynb")
    shutil.copy(hacker / "problem1.ipynb", mine / "problem1 (1).ipynb")  # a second copy of problem1
    shutil.copy(hacker / "problem2.ipynb", mine / "renamed.ipynb")      # problem2, told by its cells
    for other in ("jupyter.png", "timestamp.txt"):                      # the assignment's own files
        shutil.copy(hacker / other, mine / other)
    (mine / "notes.txt").write_text("to do")
    (mine / "broken.ipynb").write_text("{")
    files = sorted(mine.iterdir())
    found, ignored = submission_files(course, nbgrader_spec(course, "ps1"), files)
    assert found == {"problem1.ipynb": mine / "problem1.ipynb", "problem2.ipynb": mine / "renamed.ipynb"}
    assert sorted(path.name for path in ignored) == ["broken.ipynb", "notes.txt", "problem1 (1).ipynb"]
