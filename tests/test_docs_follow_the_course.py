"""The documentation's table of the course (docs/index.md) is the course: its assignments, notebooks and points as course_config.py and the
source notebooks have them, so an added assignment or a changed point cannot go unnoticed."""
from autograder.course import notebook as nb
from course_files import ROOT


def course_table(course) -> list[str]:
    """The rows of the "The course" table of docs/index.md, read from the configuration and the source notebooks."""
    rows = ["| assignment | notebook | exercises (points) |", "| --- | --- | --- |"]
    for assignment, notebook in course.assignments.items():
        parts = []
        for cell in nb.read(course.source_notebook(assignment)).cells:
            points = nb.nbgrader_meta(cell).get("points")
            if nb.is_autograder_test(cell):
                parts.append(f"`{nb.hidden_call(cell.source).exercise}` ({points:g})")
            elif nb.is_solution(cell) and points is not None:
                parts.append(f"written answer ({points:g}, by hand)")
        rows.append(f"| `{assignment}` | `{notebook}` | {', '.join(parts)} |")
    return rows


def test_the_documented_course_table_lists_every_assignment_with_its_points(course):
    page = (ROOT / "docs" / "index.md").read_text()
    start = page.index("| assignment | notebook | exercises (points) |")
    table = page[start:page.index("\n\n", start)].splitlines()
    expected = course_table(course)
    assert table == expected, "docs/index.md's course table should read:\n" + "\n".join(expected)
