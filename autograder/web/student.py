"""A student's pages: their assignments, the release notebook, uploads, result pages and history.

Every view reads the signed-in student from the session and looks things up under that id only: another
student's attempt id is answered 404, exactly as an attempt that does not exist."""
from __future__ import annotations

import threading
from collections import defaultdict
from datetime import timedelta

from flask import Blueprint, abort, current_app, jsonify, make_response, redirect, render_template, request, send_file, \
    url_for

from .auth import current_user, sign_in, sign_out, student_required, user_for_token
from .policies import policy
from .store import AttemptTaken, utcnow

blueprint = Blueprint("student", __name__)
LONG_POLL_SECONDS = 20
LONG_POLLS_AT_ONCE = 96       # of the server's 128 threads: the rest always serve uploads and pages
_long_polls = threading.BoundedSemaphore(LONG_POLLS_AT_ONCE)
_upload_locks: defaultdict = defaultdict(threading.Lock)   # one upload at a time per student and assignment


def service():
    return current_app.extensions["autograder"]


@blueprint.get("/")
def home():
    user = current_user()
    if user is None:
        return render_template("signin.html", reason="")
    return redirect(url_for("instructor.overview" if user.is_instructor else "student.assignments"))


@blueprint.get("/signin/<token>")
def signin_link(token):
    link, why = user_for_token(token)
    if link is None:
        return render_template("signin.html", reason=why), 403
    sign_in(link.user_id, link.role, "link", link=link.id)
    return redirect(url_for("student.home"))


@blueprint.post("/signout")
def signout():
    sign_out()
    return render_template("signin.html", reason="You are signed out.")


@blueprint.get("/assignments")
@student_required
def assignments():
    student = current_user().user_id
    rows = [assignment_state(student, name) for name in service().assignments if released(name)]
    return render_template("student/assignments.html", rows=rows)


def released(assignment: str) -> bool:
    """Whether students can work on `assignment`: it is the course's, released, and the service can grade it."""
    svc = service()
    course = svc.course  # read again if course_config.py or release/ changed
    if assignment in svc.grader.specs and several_notebooks(assignment):  # an nbgrader assignment, as it is
        return all((course.root / "release" / assignment / name).is_file()
                   for name in svc.grader.specs[assignment].notebooks)
    return assignment in course.assignments and assignment in svc.grader.specs and \
        course.release_notebook(assignment).is_file()


RETRY_PREPARING = 5   # seconds a reader is asked to wait while a release is being made (it takes a few)


def preparing_message(assignment: str, sent: bool) -> str:
    """What a student is told who asks for `assignment` while the service makes its release; `sent`: the request
    carried a notebook."""
    return (f"{assignment} is being prepared: the service has just started and is getting its notebooks ready, which "
            "takes a few seconds. Please try again in a moment." +
            (" Nothing was sent for grading, and no attempt was used." if sent else ""))


class BeingPrepared(Exception):
    """A request for an assignment whose release the service is still making as it starts (an nbgrader course's:
    GradingService.preparing): answered 503 with Retry-After (app._error_pages), not 404."""

    def __init__(self, assignment: str):
        super().__init__(assignment)
        self.assignment = assignment


def require_release(assignment: str) -> None:
    """Return when students can work on `assignment`; BeingPrepared while the service is making its release; else
    a 404."""
    if released(assignment):
        return
    if assignment in service().grader.preparing:
        raise BeingPrepared(assignment)
    abort(404)


def several_notebooks(assignment: str) -> bool:
    """Whether `assignment` is an nbgrader course's, graded by its notebooks' own test cells (spec.NbgraderSpec)."""
    from ..course.spec import NbgraderSpec

    return isinstance(service().grader.specs.get(assignment), NbgraderSpec)


def notebook_names(assignment: str) -> str:
    """The file name of the assignment's notebook, or the names of its several notebooks."""
    spec = service().grader.specs.get(assignment)
    return spec.notebook if spec is not None else service().course.notebook(assignment)


@blueprint.get("/assignments/<assignment>")
@student_required
def assignment(assignment):
    return _assignment_page(assignment)


@blueprint.get("/assignments/<assignment>/release")
@student_required
def release(assignment):
    """The release notebook, with a new submit key of this student in its metadata (api.py): submitting from
    JupyterLab, a kernel or a terminal needs nothing else."""
    import io
    import json

    course = service().course
    require_release(assignment)
    if request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
        # another site's page cannot make keys (a new key replaces the oldest beyond store.SUBMIT_KEYS_LIVE): the
        # download starts from this service's own page, or from the address bar
        return redirect(url_for("student.assignment", assignment=assignment), code=303)
    key = new_submit_key(assignment)
    stamp = {"service": request.url_root.rstrip("/"), "assignment": assignment, "key": key}
    if several_notebooks(assignment):  # each notebook submits itself: the others are the latest attempt's
        return zipped(course.root / "release" / assignment, f"{assignment}.zip", assignment, stamp=stamp)
    notebook = json.loads(course.release_notebook(assignment).read_text(encoding="utf-8"))
    notebook.setdefault("metadata", {})["autograder"] = stamp
    response = send_file(io.BytesIO((json.dumps(notebook, indent=1, ensure_ascii=False) + "\n").encode()),
                         as_attachment=True, download_name=course.notebook(assignment),
                         mimetype="application/x-ipynb+json")
    response.headers["Cache-Control"] = "no-store"  # it carries a key: no shared cache keeps a copy
    return response


def zipped(folder, download_name: str, inside: str, pattern: str = "*", stamp: dict | None = None):
    """The files of `folder` matching `pattern` (an nbgrader assignment's release: its notebooks and other files;
    an attempt's notebooks) as one zip file, under the folder `inside`; with `stamp`, each notebook carries it in
    its metadata (a release's submit key, as a one-notebook release carries it)."""
    import io
    import json
    import zipfile

    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob(pattern)):
            if not path.is_file() or any(part.startswith(".") for part in path.relative_to(folder).parts):
                continue
            name = f"{inside}/{path.relative_to(folder)}"
            if stamp is not None and path.suffix == ".ipynb":
                notebook = json.loads(path.read_text(encoding="utf-8"))
                notebook.setdefault("metadata", {})["autograder"] = stamp
                archive.writestr(name, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
            else:
                archive.write(path, name)
    data.seek(0)
    response = send_file(data, as_attachment=True, download_name=download_name, mimetype="application/zip")
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/assignments/<assignment>/key")
@student_required
def submit_key(assignment):
    """A new submit key, shown once, for a notebook that has none (one not downloaded from here): the one answer
    that holds it is this POST's, which no cache keeps, so no page a browser fetches again shows it."""
    require_release(assignment)
    key = pasted_key(request.url_root, new_submit_key(assignment))
    response = make_response(render_template("student/key.html", assignment=assignment, key=key))
    response.headers["Cache-Control"] = "no-store"
    return response


def pasted_key(service_url: str, key: str) -> str:
    """`key` as a student pastes it into a notebook that has none: "ag1.<the service's URL, base64url>.<key>", one
    string that says where to submit as well (visible_check._pasted_key and the labextension read it)."""
    import base64

    where = base64.urlsafe_b64encode(service_url.rstrip("/").encode()).decode().rstrip("=")
    return f"ag1.{where}.{key}"  # ag1: the format's first version


def new_submit_key(assignment: str) -> str:
    """A new submit key of the signed-in student for `assignment`; it ends with their sign-in link, if any."""
    user = current_user()
    link = service().store.link(user.extra["link"]) if user.via == "link" and user.extra.get("link") else None
    return service().store.add_submit_key(user.user_id, assignment, link.expires_at if link else None)


@blueprint.post("/assignments/<assignment>/attempts")
@student_required
def upload(assignment):
    require_release(assignment)
    if any(request.form.getlist("notebook")):  # a file whose name Werkzeug cannot read (ending in a backslash)
        return _assignment_page(assignment, "The service could not read the name of a file you chose (a name "
                                "ending in a backslash \\ does that). Please give it the notebook's own name "
                                f"({notebook_names(assignment)}) and submit again. No attempt was used.", 400)
    chosen = [file for file in request.files.getlist("notebook") if file.filename]
    if not chosen:
        return _assignment_page(assignment, "Please choose your notebook file first, then press Submit.", 400)
    try:
        attempt = take_attempt(current_user().user_id, assignment, [(file.filename, file.read()) for file in chosen]
                               if several_notebooks(assignment) else chosen[0].read())
    except NotTaken as refused:
        return _assignment_page(assignment, refused.message, refused.status)
    return redirect(url_for("student.attempt", attempt_id=attempt.id), code=303)


class NotTaken(Exception):
    """A notebook that costs no attempt: `message` tells the student why, `status` is the HTTP answer's."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status


def take_attempt(student: str, assignment: str, data: bytes | list[tuple[str, bytes]]):
    """Check `data`, a notebook of `student` for `assignment` (of an nbgrader assignment, one or several of its
    notebooks as (file name, bytes)), against the policy (attempts left, minutes between) and the limits, store it
    and queue it for grading: the acknowledged Attempt, or NotTaken. Every way of submitting (the page's upload,
    api.py's endpoint) goes through here."""
    from ..grading.pipeline import other_assignments
    from .grading import numbered_folder
    from .uploads import Refused, check_nbgrader_notebooks, check_notebook, store_upload, without_submit_key

    svc = service()
    with _upload_locks[(student, assignment)]:
        state = assignment_state(student, assignment)
        if state["grading"]:
            raise NotTaken(f"Your attempt {state['grading'].number} is still being graded. Please wait for its "
                           "result before you submit again; this upload was not counted.", 409)
        if state["left"] <= 0:
            raise NotTaken(f"You have used all {state['policy'].attempts} attempts for this assignment; this "
                           "upload was not graded.", 409)
        if state["next_at"] is not None:
            raise NotTaken(f"You can submit again from {state['next_at']:%H:%M} UTC "
                           f"({state['policy'].minutes_between:g} minutes after your last attempt); this upload "
                           "was not counted.", 429)
        spec = svc.grader.specs[assignment]
        others = list(other_assignments(svc.grader.specs, assignment))
        scratch = svc.course.root / "service" / "incoming"
        try:
            if several_notebooks(assignment):
                files = check_nbgrader_notebooks(data if isinstance(data, list) else [("notebook", data)], spec,
                                                 scratch)
            else:
                check_notebook(data, spec, others, scratch)
                files = {spec.notebook: data}
        except Refused as refused:
            raise NotTaken(f"{refused} No attempt was used.", 400) from None
        now = utcnow()
        number = max((attempt.number for attempt in state["attempts"]), default=0) + 1
        due = state["due"]
        try:
            attempt_id = svc.store.reserve_attempt(student, assignment, number, now, due is not None and now > due)
        except AttemptTaken:  # another server process on the same database took this number
            raise NotTaken("Another upload of this assignment arrived at the same moment; this one was not "
                           "counted.", 409) from None
        if several_notebooks(assignment):  # a notebook not uploaded now: the one of the latest attempt that had it
            files |= {name: latest for name in spec.notebooks if name not in files and
                      (latest := _latest_notebook(student, assignment, name, state["attempts"])) is not None}
        try:
            store_upload(numbered_folder(svc.course, student, assignment, number),
                         {name: without_submit_key(notebook) for name, notebook in files.items()}, now)
        except OSError:
            svc.store.drop_unacknowledged(attempt_id)
            raise NotTaken("Your notebook could not be saved on the server (its disk may be full). No attempt was "
                           "used; please try again later.", 503) from None
        attempt = svc.store.acknowledge(attempt_id)  # from here on, it is graded whatever happens
        svc.grader.enqueue(attempt)
    return attempt


def _latest_notebook(student: str, assignment: str, name: str, attempts) -> bytes | None:
    """The notebook `name` of the student's latest attempt that submitted it, if any."""
    from .grading import numbered_folder

    for attempt in sorted(attempts, key=lambda attempt: attempt.number, reverse=True):
        path = numbered_folder(service().course, student, assignment, attempt.number) / "submitted" / name
        if path.is_file():
            return path.read_bytes()
    return None


@blueprint.get("/attempts/<int:attempt_id>")
@student_required
def attempt(attempt_id):
    found = _own_attempt(attempt_id)
    return render_attempt(found, instructor=False)


@blueprint.get("/attempts/<int:attempt_id>/status")
@student_required
def attempt_status(attempt_id):
    return status_answer(_own_attempt(attempt_id))


def status_answer(found):
    """The attempt's state as JSON; with ?wait=SECONDS (at most LONG_POLL_SECONDS), answered as soon as it is
    graded or when the time is up: the result page learns of its result at once, with one request."""
    found = waited(found)
    return jsonify(done=found.done, score=found.score, max_score=found.max_score)


def waited(found):
    """`found` as it is once graded, or when the request's ?wait=SECONDS (at most LONG_POLL_SECONDS) is up."""
    try:
        seconds = min(max(float(request.args.get("wait", 0)), 0.0), LONG_POLL_SECONDS)
    except ValueError:
        seconds = 0.0
    if not found.done and seconds and _long_polls.acquire(blocking=False):
        try:
            found = service().grader.wait_graded(found.id, lambda: service().store.attempt(found.id), seconds) \
                or found
        finally:
            _long_polls.release()
    return found


@blueprint.get("/attempts/<int:attempt_id>/notebook")
@student_required
def attempt_notebook(attempt_id):
    from .grading import submitted_notebook

    found = _own_attempt(attempt_id)
    if several_notebooks(found.assignment):
        return zipped(submitted_notebook(service().course, found).parent, f"attempt-{found.number}-"
                      f"{found.assignment}.zip", found.assignment, "*.ipynb")
    return send_file(submitted_notebook(service().course, found), as_attachment=True,
                     download_name=f"attempt-{found.number}-{service().course.notebook(found.assignment)}")


def _own_attempt(attempt_id: int):
    found = service().store.attempt(attempt_id)
    if found is None or found.student != current_user().user_id:
        abort(404)
    return found


@blueprint.get("/assignments/<assignment>/batch")
@student_required
def batch_attempt(assignment):
    if assignment not in service().assignments:
        abort(404)
    return render_batch_attempt(current_user().user_id, assignment, instructor=False)


def _assignment_page(assignment: str, message: str = "", status: int = 200):
    require_release(assignment)
    state = assignment_state(current_user().user_id, assignment)
    return render_template("student/assignment.html", state=state, message=message,
                           max_mb=current_app.config["AUTOGRADER_MAX_UPLOAD"] / 1024 / 1024), status


def assignment_state(student: str, assignment: str) -> dict:
    """What a student's pages say of one assignment: policy, due date with extension, attempts, score so far."""
    svc = service()
    rule = policy(svc.course, assignment)
    extension = svc.store.extension(student, assignment)
    attempts = svc.store.attempts(student, assignment)
    batch = next(iter(svc.store.batch_attempts(student, assignment, results=True)), None)
    grading = next((attempt for attempt in attempts if not attempt.done), None)
    counting = next((attempt for attempt in attempts if attempt.counts), None)
    next_at = None
    if attempts and rule.minutes_between:
        next_at = max(attempt.uploaded_at for attempt in attempts) + timedelta(minutes=rule.minutes_between)
        next_at = next_at if next_at > utcnow() else None
    scores = standings(attempts)
    batch_standing = batch_standing_of(batch)
    standing = scores.get(counting.id) if counting else batch_standing if batch and batch.counts else None
    # a batch's graded submission is an attempt of the same history; it uses none of the service's attempts
    return {"assignment": assignment, "notebook": notebook_names(assignment), "policy": rule,
            "several": several_notebooks(assignment),
            "due": rule.due_for(extension), "extension": extension, "attempts": attempts,
            "used": len(attempts), "left": rule.attempts - len(attempts), "grading": grading,
            "counting": counting, "standings": scores, "standing": standing, "batch": batch,
            "batch_standing": batch_standing, "next_at": next_at, "visibility": rule.visibility(utcnow(), extension)}


def batch_standing_of(batch):
    """What the batch's graded submission counts for (results.counted), as `standings` for the service's."""
    from ..results.model import SubmissionResult
    from .results import counted

    if batch is None:
        return None
    return counted(SubmissionResult.from_json(batch.result), _marks(batch.student, batch.assignment)
                   if batch.counts else None, batch.counts)


def render_batch_attempt(student: str, assignment: str, instructor: bool):
    """The result page of the submission `autograder grade` graded, as an attempt's (render_attempt)."""
    from ..results.model import SubmissionResult
    from ..present.view import Shown
    from .results import result_view

    svc = service()
    batch = next(iter(svc.store.batch_attempts(student, assignment, results=True)), None)
    if batch is None:
        abort(404)
    rule = policy(svc.course, assignment)
    shown = Shown() if instructor else rule.shown(utcnow(), svc.store.extension(student, assignment))
    marks = _marks(student, assignment) if batch.counts else None
    result = SubmissionResult.from_json(batch.result)
    view = result_view(result, shown, ("batch", student, assignment, batch.graded_at), marks, batch.counts)
    history = svc.store.attempts(student, assignment)
    return render_template("student/batch.html", batch=batch, view=view, history=history,
                           standings=standings(history), instructor=instructor, policy=rule, flags=result.flags)


def standings(attempts) -> dict:
    """Attempt id -> what each graded attempt counts for (results.counted): the one score every page shows."""
    from .grading import stored_result
    from .results import counted

    found = {}
    for attempt in attempts:
        result = stored_result(service().course, attempt) if attempt.done else None
        if result is not None:
            found[attempt.id] = counted(result, gradebook_marks(attempt) if attempt.counts else None, attempt.counts)
    return found


def render_attempt(found, instructor: bool):
    """The result page of an attempt: pending (refreshing itself) until graded, then the feedback (and, to an
    instructor, why the grader flagged it)."""
    from .grading import stored_result

    svc = service()
    rule = policy(svc.course, found.assignment)
    view = attempt_view(found, instructor)
    history = svc.store.attempts(found.student, found.assignment)
    batch = next(iter(svc.store.batch_attempts(found.student, found.assignment, results=True)), None)
    result = stored_result(svc.course, found) if instructor and found.done else None
    return render_template("student/attempt.html", attempt=found, view=view, history=history,
                           standings=standings(history), instructor=instructor, policy=rule,
                           flags=result.flags if result is not None else (),
                           several=several_notebooks(found.assignment),
                           other_batch=batch, other_batch_standing=batch_standing_of(batch))


def attempt_view(found, instructor: bool):
    """The ResultView of a graded attempt under what its policy shows now (everything to an instructor); None
    while it is not graded, or when its result cannot be read."""
    from ..present.view import Shown
    from .grading import stored_result
    from .results import result_view

    if not found.done:
        return None
    svc = service()
    result = stored_result(svc.course, found)
    if result is None:
        return None
    rule = policy(svc.course, found.assignment)
    shown = Shown() if instructor else rule.shown(utcnow(), svc.store.extension(found.student, found.assignment))
    marks = gradebook_marks(found) if found.counts else None
    return result_view(result, shown, (found.id, found.finished_at), marks, found.counts)


def gradebook_marks(found):
    """What nbgrader's gradebook adds to the counting attempt: hand grades given in formgrader, the late penalty."""
    return _marks(found.student, found.assignment)


def _marks(student: str, assignment: str):
    from .gradebook_view import counting_marks

    spec = service().grader.specs.get(assignment)
    notebooks = spec.notebooks if several_notebooks(assignment) else (service().course.notebook(assignment),)
    return counting_marks(service().db_url, assignment, student, notebooks)
