"""An instructor's pages: the live class report, each student's attempts, extensions, regrading, whether each
counting score landed in the LMS (LTI), and the counting submissions as a zip in nbgrader's submitted/ layout."""
from __future__ import annotations

import io
import statistics
import zipfile

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file, url_for

from .auth import USER_ID, instructor_required
from .lti import lms_publications
from .policies import policy
from .store import utcnow

blueprint = Blueprint("instructor", __name__, url_prefix="/instructor")
REPORT_REFRESH_SECONDS = 10
MAX_EXTENSION_HOURS = 24 * 365


def service():
    return current_app.extensions["autograder"]


@blueprint.get("/")
@instructor_required
def overview():
    svc = service()
    attempts, batches = svc.store.attempts(), svc.store.batch_attempts()
    rows = []
    for name in svc.assignments:  # the service's attempts and the batch's graded submissions: one history
        mine = [attempt for attempt in attempts if attempt.assignment == name]
        batch = [graded for graded in batches if graded.assignment == name]
        counting = [attempt.score for attempt in mine if attempt.counts] + \
            [graded.score for graded in batch if graded.counts]
        rows.append({"assignment": name, "policy": policy(svc.course, name), "attempts": len(mine) + len(batch),
                     "students": len({attempt.student for attempt in [*mine, *batch]}),
                     "queued": sum(not attempt.done for attempt in mine),
                     "mean": statistics.mean(counting) if counting else None})
    students = sorted({attempt.student for attempt in [*attempts, *batches]} | set(_roster()))
    return render_template("instructor/overview.html", rows=rows, students=students)


@blueprint.get("/report/<assignment>")
@instructor_required
def report(assignment):
    from ..results.model import Figure, Series
    from ..present.pages import svg
    from ..present.report import build

    svc = service()
    if assignment not in svc.assignments:
        abort(404)
    built = build(svc.course, svc.course.root / "autograded", assignment)
    counting = [attempt for attempt in svc.store.attempts(assignment=assignment) if attempt.counts]
    chart = None
    if built.scores:
        histogram = built.histogram()
        chart = svg(Figure(f"Scores of {len(built.scores)} students", "points", "students", (
            Series("students", tuple(float(p) for p, _ in histogram), tuple(float(c) for _, c in histogram), "bar"),)))
    return render_template("instructor/report.html", report=built, chart=chart, refresh=REPORT_REFRESH_SECONDS,
                           mean=statistics.mean(built.scores) if built.scores else None,
                           median=statistics.median(built.scores) if built.scores else None,
                           queued=len(svc.store.attempts(assignment=assignment, status="queued")),
                           lms=lms_publications(current_app, counting))


@blueprint.get("/students/<student>")
@instructor_required
def student(student):
    from .student import assignment_state

    _known_form(student)

    states = [assignment_state(student, name) for name in service().assignments]
    lms = lms_publications(current_app, [state["counting"] for state in states if state["counting"]])
    return render_template("instructor/student.html", student=student, states=states,
                           max_hours=MAX_EXTENSION_HOURS, lms=lms)


@blueprint.get("/students/<student>/<assignment>/batch")
@instructor_required
def batch_attempt(student, assignment):
    from .student import render_batch_attempt

    _known_form(student)
    if assignment not in service().assignments:
        abort(404)
    return render_batch_attempt(student, assignment, instructor=True)


@blueprint.get("/attempts/<int:attempt_id>")
@instructor_required
def attempt(attempt_id):
    from .student import render_attempt

    return render_attempt(_attempt(attempt_id), instructor=True)


@blueprint.get("/attempts/<int:attempt_id>/status")
@instructor_required
def attempt_status(attempt_id):
    from .student import status_answer

    return status_answer(_attempt(attempt_id))


@blueprint.get("/attempts/<int:attempt_id>/notebook")
@instructor_required
def attempt_notebook(attempt_id):
    from .grading import submitted_notebook

    found = _attempt(attempt_id)
    if found.assignment not in service().course.assignments:  # an nbgrader assignment's: several notebooks
        from .student import zipped

        return zipped(submitted_notebook(service().course, found).parent,
                      f"{found.student}-attempt-{found.number}-{found.assignment}.zip", found.assignment, "*.ipynb")
    name = service().course.notebook(found.assignment)
    return send_file(submitted_notebook(service().course, found), as_attachment=True,
                     download_name=f"{found.student}-attempt-{found.number}-{name}")


@blueprint.post("/extensions")
@instructor_required
def extension():
    svc = service()
    student, assignment = request.form.get("student", ""), request.form.get("assignment", "")
    if assignment not in svc.assignments:
        abort(404)
    _known_form(student)
    try:
        hours = float(request.form.get("hours", ""))
    except ValueError:
        hours = -1.0
    if not 0 <= hours <= MAX_EXTENSION_HOURS:
        return render_template("error.html", title="Extension not saved", message=(
            f"An extension is a number of hours from 0 (none) to {MAX_EXTENSION_HOURS}.")), 400
    svc.store.set_extension(student, assignment, hours)
    return redirect(url_for("instructor.student", student=student), code=303)


@blueprint.post("/regrade")
@instructor_required
def regrade():
    """Grade again one attempt (attempt_id), one student's attempts of an assignment (student and assignment),
    or every attempt of an assignment (assignment alone)."""
    svc = service()
    form = request.form
    if form.get("attempt_id"):
        try:
            attempt_id = int(form["attempt_id"])
        except ValueError:  # "²" is a digit int() refuses; so is a number of more than 4300 digits
            abort(404)
        chosen = [_attempt(attempt_id)]
        back = url_for("instructor.attempt", attempt_id=chosen[0].id)
    elif form.get("assignment") in svc.assignments:
        if form.get("student"):
            _known_form(form["student"])
        chosen = svc.store.attempts(form.get("student") or None, form["assignment"])
        back = url_for("instructor.student", student=form["student"]) if form.get("student") else \
            url_for("instructor.report", assignment=form["assignment"])
    else:
        abort(404)
    svc.grader.regrade(chosen)
    return redirect(back, code=303)


@blueprint.get("/submissions/<assignment>.zip")
@instructor_required
def submissions_zip(assignment):
    """Every counting attempt as nbgrader's submitted/<student>/<assignment>/<notebook> with timestamp.txt."""
    from .grading import submitted_notebook

    svc = service()
    if assignment not in svc.assignments:
        abort(404)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for attempt in svc.store.attempts(assignment=assignment):
            if attempt.counts:
                notebook = submitted_notebook(svc.course, attempt)
                where = f"submitted/{attempt.student}/{assignment}"
                # an nbgrader assignment's attempt: every notebook of its folder
                for path in [notebook] if assignment in svc.course.assignments else sorted(
                        notebook.parent.glob("*.ipynb")):
                    archive.write(path, f"{where}/{path.name}")
                archive.write(notebook.parent / "timestamp.txt", f"{where}/timestamp.txt")
    buffer.seek(0)
    return send_file(buffer, as_attachment=True, mimetype="application/zip",
                     download_name=f"{assignment}-submitted-{utcnow():%Y%m%d-%H%M}.zip")


def _attempt(attempt_id: int):
    found = service().store.attempt(attempt_id)
    if found is None:
        abort(404)
    return found


def _known_form(student: str) -> None:
    """404 unless `student` has the form of a student id (auth.USER_ID): PostgreSQL refuses a NUL in a query,
    and no student has any other id."""
    if not USER_ID.fullmatch(student):
        abort(404)


def _roster() -> list[str]:
    """The students nbgrader's gradebook knows (imported with `autograder roster import`)."""
    from .gradebook_view import students

    return students(service().db_url)
