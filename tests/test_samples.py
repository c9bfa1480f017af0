"""The bundled sample class follows the course: samples/submitted/ holds exactly what samples/make_class.py
writes for every assignment of course_config.py, so the demo and the tests built on it grade the whole course."""
import nbformat

from course_files import ROOT
from make_class import EXPECTED, SAMPLE_CLASS, readme_table, write_class


def test_the_sample_class_covers_every_assignment(course):
    assert list(SAMPLE_CLASS) == list(course.assignments) == list(EXPECTED)
    for assignment, students in EXPECTED.items():
        assert len(students) == 12
        assert len(set(students.values())) >= 2, f"{assignment}: every sample student gets the same score"


def test_samples_submitted_is_what_make_class_writes(tmp_path):
    write_class(tmp_path)
    bundled = ROOT / "samples" / "submitted"
    files = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*") if path.is_file())
    assert files == sorted(path.relative_to(bundled) for path in bundled.rglob("*") if path.is_file()), \
        "samples/submitted/ is out of date: run `python3 samples/make_class.py` and commit the result"
    for path in files:
        if path.suffix == ".ipynb":
            made, kept = (nbformat.read(str(folder / path), as_version=4) for folder in (tmp_path, bundled))
            assert [cell.source for cell in made.cells] == [cell.source for cell in kept.cells], path
        else:
            assert (tmp_path / path).read_text() == (bundled / path).read_text(), path


def test_the_readme_s_table_gives_the_points_make_class_and_the_grader_give():
    """Was: samples/README.md said emmy_noether's 01 deserves 2 of 7 where make_class.py and the grader say 5."""
    readme = (ROOT / "samples" / "README.md").read_text()
    assert readme_table() in readme, "samples/README.md is out of date: paste `python3 samples/make_class.py --readme`"
    assert "| emmy_noether | 01-gradient-descent | mistake: update adds the gradient" in readme
    assert "| 5 / 7 |" in readme.split("| emmy_noether | 01-gradient-descent |")[1].splitlines()[0]
    assert "    python samples/" not in readme
