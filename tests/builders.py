"""Submitted notebooks for tests: the instructor's solution with some cells changed, added or removed."""
import nbformat

from autograder.course import notebook as nb


def solution(course, assignment):
    return nbformat.read(str(course.source_notebook(assignment)), as_version=4)


def release(course, assignment):
    return nbformat.read(str(course.release_notebook(assignment)), as_version=4)


def cell_index(notebook, grade_id):
    return next(i for i, cell in enumerate(notebook.cells) if nb.grade_id(cell) == grade_id)


def replaced(notebook, grade_id, source):
    """The notebook with the cell `grade_id` holding `source` instead."""
    changed = nbformat.from_dict(notebook)
    changed.cells[cell_index(changed, grade_id)].source = source
    return changed


def inserted(notebook, after_grade_id, source):
    """The notebook with a new code cell (as a student adds one) right after the cell `after_grade_id`."""
    changed = nbformat.from_dict(notebook)
    changed.cells.insert(cell_index(changed, after_grade_id) + 1, nbformat.v4.new_code_cell(source))
    return changed


def write(notebook, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))
    return path
