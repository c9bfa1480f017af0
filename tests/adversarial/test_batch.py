"""The batch as a whole: every hostile submission graded, none stopping the batch, the honest controls handed
out after them graded in full, and the catalogue as large and as varied as the issue asks."""
import pytest

from catalogue import CONTROL, HOSTILE

pytestmark = pytest.mark.slow  # reads one real batch per assignment (sandboxes, nbgrader's gradebook)


def test_the_catalogue_covers_every_family_across_every_assignment(hostile_batch):
    assert len(HOSTILE) >= 25
    assert {hostile.assignment for hostile in HOSTILE} == set(hostile_batch.course.assignments)


def test_every_submission_was_graded_and_none_ended_the_batch(hostile_batch):
    for assignment, summary in hostile_batch.summaries.items():
        students = sorted({hostile.student for hostile in HOSTILE if hostile.assignment == assignment} | {CONTROL})
        assert sorted(result["student"] for result in hostile_batch.json_reports[assignment]) == students
        assert (summary.graded, summary.errors) == (len(students), 0)
    assert len(hostile_batch.finished) == len(HOSTILE) + len(hostile_batch.course.assignments)


def test_the_honest_controls_handed_out_last_get_full_marks(hostile_batch):
    for assignment in hostile_batch.course.assignments:
        students = sorted(student for done_in, student in hostile_batch.finished if done_in == assignment)
        assert students[-1] == CONTROL  # the batch hands out submissions in name order: the control last
        control = hostile_batch.control(assignment)
        assert control.score == sum(hostile_batch.honest_points(assignment).values()), control.tests
        assert control.notes == []


def test_the_gradebook_holds_every_score_as_graded(hostile_batch):
    from nbgrader.api import Gradebook

    with Gradebook(hostile_batch.course.db_url) as gradebook:
        for (assignment, student), result in hostile_batch.results.items():
            submission = gradebook.find_submission(assignment, student)
            assert (submission.score, submission.max_score) == (result.score, result.max_score), student
