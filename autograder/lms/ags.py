"""`autograder lti publish ASSIGNMENT`: every student's score from the gradebook to the LMS, by LTI 1.3
Assignment and Grade Services (AGS 2.0), for `autograder lti publish` and the service's publication of an attempt.

How a publish goes:
1. the tool asks the platform's token URL for an access token (OAuth 2 client credentials, the client
   authenticated by an RS256 JWT signed with the tool's private key, RFC 7523);
2. the assignment's line item (the LMS grade column) is the one of its LMS link, as launches of the link from the
   LMS course this grader serves told it (lms/links.py; a line item of another course is refused), else the one
   `c.LTI.lineitems` names, else the line item of the context's `c.LTI.lineitems_url` whose resourceId is the
   assignment (created if missing);
3. with `c.LTI.memberships_url` set, the course's members are fetched (Names and Role Provisioning Services) and a
   student whose `lms_user_id` is not a member, or is a member known by another email / ID number / login, is
   refused before anything is posted;
4. one Score is POSTed per student with a submission, to `<line item>/scores`, addressed by the student's
   `lms_user_id` in nbgrader's gradebook; a written answer still to be graded by hand is sent as
   `c.LTI.pending_manual` says ("FullyGraded" with the autograded points so far, or "PendingManual");
5. each score is read back from the line item's result service (`<line item>/results?user_id=...`): a student
   counts as published only when the LMS holds the score sent (Moodle, for one, drops the score of a
   PendingManual post and keeps "-").

Every publish re-posts every score with a fresh timestamp. AGS platforms keep the latest score per line item
and user, so a second publish leaves the platform with exactly the same scores (no local state to drift).
A 409 means the platform holds a score with a later timestamp than this machine's clock (another publisher,
or a clock that is behind): the student is reported as skipped, the gradebook still holds the score.
Any student whose score did not reach the platform makes the exit status 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..results.scores import fraction
from .platform import (LINEITEM_CONTAINER_TYPE, LINEITEM_READ_SCOPE, LINEITEM_SCOPE, LINEITEM_TYPE, MEMBERSHIP_SCOPE,
                       RESULT_CONTAINER_TYPE, RESULT_SCOPE, SCORE_SCOPE, SCORE_TYPE, MalformedAnswer, PlatformClient,
                       Unreachable, describe, json_body, service_url)
from .settings import CONFIG_SECTION, LtiError, LtiSettings, read_private_key


@dataclass(frozen=True)
class StudentScore:
    """One student's submission of the assignment, as the gradebook has it now."""
    student: str
    user_id: str | None          # nbgrader's lms_user_id: the LTI user id on the platform
    score: float
    max_score: float
    pending_manual: float        # points of answers still to be graded by hand
    parts: tuple                 # (exercise name, score, max score) per graded cell; score None: not graded yet
    remarks: tuple = ()          # (cell name, the grader's comment) for each hand-graded cell with a comment
    email: str | None = None     # the gradebook's, to check the LMS member of `user_id` is this student
    hand_graded: bool = False    # some answer has a hand grade already

    def grading_progress(self, pending_as: str = "FullyGraded") -> str:
        """AGS gradingProgress: FullyGraded, or `pending_as` while a written answer waits for a hand grade."""
        return pending_as if self.pending_manual else "FullyGraded"

    def comment(self) -> str:
        """A short note for the student: the points, what the score counts while a written answer waits for its
        hand grade (it is not a 0), each exercise, and the grader's comments."""
        from ..present.view import headline

        parts = ", ".join(f"{name}: to be graded by your instructor" if score is None else
                          f"{name} {fraction(score, top)}" for name, score, top in self.parts)
        text = f"{headline(self.score, self.max_score, self.pending_manual)}. {parts}"
        return text + ("." if self.remarks else "") + "".join(f" Comment on {name}: {remark}"
                                                               for name, remark in self.remarks)


def gradebook_scores(db_url: str, assignment: str, names: dict[str, str]) -> tuple[list[StudentScore], list[str]]:
    """Every submission of `assignment` in the gradebook (sorted by student), and the students without one.

    `names` maps a grade cell's id to the exercise name shown in the comment. Missing gradebook or
    assignment raise LtiError.
    """
    from ..grading.gradebook import lms_score, open_gradebook  # first: it makes nbgrader's import fast
    from nbgrader.api import MissingEntry  # noqa: I001

    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).is_file():
        raise LtiError(f"There is no gradebook at {db_url[len('sqlite:///'):]}: grade the assignment first "
                       f"(`autograder grade {assignment}`) or name the gradebook with --db.")
    with open_gradebook(db_url) as gradebook:
        try:
            gradebook.find_assignment(assignment)
        except MissingEntry:
            raise LtiError(f"The gradebook {db_url} has no assignment {assignment!r}: "
                           f"grade it first (`autograder grade {assignment}`).") from None
        scores = []
        for submission in gradebook.assignment_submissions(assignment):
            grades = [grade for notebook in submission.notebooks for grade in notebook.grades]
            # not graded yet: no hand grade and no autograde (nbgrader counts it as 0; the student is told it waits)
            waiting = {grade.id for grade in grades if grade.manual_score is None and grade.auto_score is None}
            scores.append(StudentScore(
                student=submission.student.id, user_id=submission.student.lms_user_id or None,
                email=submission.student.email or None,
                score=lms_score(submission), max_score=float(submission.max_score),
                pending_manual=sum(float(grade.max_score) for grade in grades if grade.id in waiting),
                parts=tuple((names.get(grade.name, grade.name), None if grade.id in waiting else float(grade.score),
                             float(grade.max_score)) for grade in grades),
                remarks=tuple((names.get(comment.name, comment.name), comment.manual_comment.strip())
                              for notebook in submission.notebooks for comment in notebook.comments
                              if (comment.manual_comment or "").strip()),
                hand_graded=any(grade.manual_score is not None for grade in grades)))
        submitted = {score.student for score in scores}
        absent = sorted(student.id for student in gradebook.students if student.id not in submitted)
    return sorted(scores, key=lambda score: score.student), absent


def exercise_names(course, assignment: str) -> dict[str, str]:
    """grade cell id -> the name a student's comment gives it."""
    from ..grading.grade import assignment_spec

    spec = assignment_spec(course, assignment)
    return {exercise.grade_id: exercise.name for exercise in spec.exercises} | \
        {grade_id: "written answer" for grade_id in spec.manual}


def find_or_create_lineitem(client: PlatformClient, container_url: str, assignment: str, max_score: float) -> str:
    """The URL of the context's line item whose resourceId is `assignment`; created when there is none."""
    url, params = container_url, {"resource_id": assignment}
    while url:
        response = client.request("GET", url, headers={"Accept": LINEITEM_CONTAINER_TYPE}, params=params)
        if response.status_code != 200:
            raise LtiError(f"Cannot list the line items at {url}: {describe(response)}.")
        for item in json_body(response, list):
            if isinstance(item, dict) and item.get("resourceId") == assignment and item.get("id"):
                return item["id"]
        url, params = response.links.get("next", {}).get("url"), None
    created = {"label": assignment, "scoreMaximum": max_score, "resourceId": assignment}
    response = client.request("POST", container_url, json=created,
                              headers={"Content-Type": LINEITEM_TYPE, "Accept": LINEITEM_TYPE})
    if response.status_code not in (200, 201):
        raise LtiError(f"Cannot create the line item {assignment!r} at {container_url}: {describe(response)}.")
    created = json_body(response, dict)
    if not created.get("id"):
        raise LtiError(f"The platform created the line item {assignment!r} at {container_url} without an id.")
    return created["id"]



@dataclass
class PublishReport:
    assignment: str
    lineitem: str = ""
    pending_as: str = "FullyGraded"
    published: list[StudentScore] = field(default_factory=list)    # the LMS holds the score sent (read back)
    dropped: list[tuple[StudentScore, str]] = field(default_factory=list)  # accepted, but the LMS holds another
    unverified: list[tuple[str, str]] = field(default_factory=list)  # accepted; reading it back failed
    failed: list[tuple[str, str]] = field(default_factory=list)    # (student, why): the platform failed, or not sent
    refused: list[tuple[str, str]] = field(default_factory=list)   # (student, why): refused by this tool or the LMS
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (student, why): the platform has a newer score
    absent: list[str] = field(default_factory=list)                # in the gradebook, no submission: nothing sent
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.refused or self.skipped or self.dropped or self.unverified)

    def lines(self) -> list[str]:
        total = sum(map(len, (self.published, self.dropped, self.unverified, self.failed, self.refused,
                              self.skipped)))
        lines = [f"{self.assignment}: published {len(self.published)} of {total} students' scores"
                 + (f" to {self.lineitem}" if self.lineitem else "")]
        lines += self.notes
        if self.dropped:
            lines.append(f"DROPPED by the LMS ({len(self.dropped)}): it accepted the score, but holds another:")
            lines += [f"  {score.student}: {why}" for score, why in self.dropped]
            pending = [score for score, _ in self.dropped if score.grading_progress(self.pending_as) != "FullyGraded"]
            if pending and len(pending) == len(self.dropped):
                lines.append(f"The LMS dropped every score sent as {self.pending_as} ({len(pending)}): set "
                             f"{CONFIG_SECTION}.pending_manual = 'FullyGraded' to send the autograded points so far, "
                             "and publish again.")
        if self.unverified:
            lines.append(f"SENT, NOT CONFIRMED ({len(self.unverified)}): the LMS accepted the score, but reading "
                         "it back failed; publish again:")
            lines += [f"  {student}: {why}" for student, why in self.unverified]
        if self.failed:
            lines.append(f"NOT published ({len(self.failed)}), the gradebook still has them; fix and publish again:")
            lines += [f"  {student}: {why}" for student, why in self.failed]
        if self.refused:
            lines.append(f"REFUSED ({len(self.refused)}), nothing of theirs is on the LMS; fix what is said and "
                         "publish again:")
            lines += [f"  {student}: {why}" for student, why in self.refused]
        if self.skipped:
            lines.append(f"SKIPPED ({len(self.skipped)}): the platform holds a newer score; nothing was lost:")
            lines += [f"  {student}: {why}" for student, why in self.skipped]
        if self.absent:
            lines.append(f"no submission, nothing sent ({len(self.absent)}): {', '.join(self.absent)}")
        return lines


class _Clock:
    """ISO 8601 UTC timestamps with microseconds, strictly increasing even within one clock tick."""

    def __init__(self):
        self.last = datetime.min.replace(tzinfo=timezone.utc)

    def now(self) -> str:
        self.last = max(datetime.now(timezone.utc), self.last + timedelta(microseconds=1))
        return self.last.isoformat(timespec="microseconds")


def publish_scopes(settings: LtiSettings, assignment: str) -> tuple[str, ...]:
    """The scopes a publish of `assignment` asks the platform for."""
    scopes = [SCORE_SCOPE]
    if not settings.lineitems.get(assignment):
        scopes.append(LINEITEM_SCOPE)
    if settings.verify:
        scopes += [RESULT_SCOPE, LINEITEM_READ_SCOPE]
    if settings.memberships_url:
        scopes.append(MEMBERSHIP_SCOPE)
    return tuple(dict.fromkeys(scopes))


def publish(settings: LtiSettings, assignment: str, scores: list[StudentScore], absent: list[str]) -> PublishReport:
    """Post every score to the assignment's line item and read it back; every student ends in exactly one list.

    Raises LtiError before anything is posted when the key, the token, the line item or the roster is not to
    be had.
    """
    from .nrps import fetch_members, refusal

    settings.require("client_id", "token_url")
    lineitem = settings.lineitems.get(assignment)
    if not lineitem and not settings.lineitems_url:
        raise LtiError(f"{settings.config_file}: no line item for {assignment!r}. Set "
                       f"{CONFIG_SECTION}.lineitems[{assignment!r}] to its line item URL, or "
                       f"{CONFIG_SECTION}.lineitems_url to the course's line items URL.")
    report = PublishReport(assignment, absent=list(absent), pending_as=settings.pending_manual)
    key = read_private_key(settings.private_key_path)
    if not scores:
        return report
    client = PlatformClient(settings, key, publish_scopes(settings, assignment))
    try:
        client.token()
        members = None
        if settings.memberships_url:
            members = {member["user_id"]: member for member in fetch_members(client, settings.memberships_url)}
        else:
            report.notes.append(f"(membership not checked: set {CONFIG_SECTION}.memberships_url to the LMS's "
                                "Names and Role Provisioning Services URL)")
        sendable = []
        for score in scores:
            why = refusal(score, members, settings.roster_match)
            if why:
                report.refused.append((score.student, why))
            else:
                sendable.append(score)
        if not sendable:  # a grade column is made only for scores that will be in it
            return report
        if not lineitem:
            top = max((score.max_score for score in scores), default=0.0)
            lineitem = find_or_create_lineitem(client, settings.lineitems_url, assignment, top)
        report.lineitem = lineitem
        item_maximum = _lineitem_maximum(client, lineitem) if settings.verify else None
        url, clock, stopped, failing_in_a_row = service_url(lineitem, "scores"), _Clock(), None, 0
        for score in sendable:
            if stopped:
                report.failed.append((score.student, f"not sent: {stopped}"))
                continue
            try:
                outcome = _post_score(client, url, score, clock, settings.pending_manual)
            except LtiError as error:  # the token is gone for good: the rest would fail the same way
                stopped = str(error)
                report.failed.append((score.student, stopped))
                continue
            if outcome is None:
                failing_in_a_row = 0
                if not settings.verify:
                    report.published.append(score)
                    continue
                try:
                    _read_back(client, lineitem, score, item_maximum, settings.pending_manual, report)
                except LtiError as error:
                    stopped = str(error)
                    report.unverified.append((score.student, stopped))
                continue
            kind, why, platform_failed = outcome
            getattr(report, kind).append((score.student, why))
            failing_in_a_row = failing_in_a_row + 1 if platform_failed else 0
            if failing_in_a_row >= max(1, settings.give_up_after):
                stopped = (f"the platform failed for {failing_in_a_row} students in a row "
                           f"({CONFIG_SECTION}.give_up_after); publish again when it works")
    finally:
        client.close()
    return report


def _post_score(client: PlatformClient, url: str, score: StudentScore, clock: _Clock, pending_as: str):
    """POST one Score: None when the platform accepted it, else (report list, why, whether the platform failed).

    LtiError when the tool has no usable token."""
    def body():
        return {"userId": score.user_id, "scoreGiven": score.score, "scoreMaximum": score.max_score,
                "comment": score.comment(), "timestamp": clock.now(),
                "activityProgress": "Completed", "gradingProgress": score.grading_progress(pending_as)}
    try:
        response = client.request("POST", url, json=body, headers={"Content-Type": SCORE_TYPE})
    except MalformedAnswer as error:  # Moodle's answer to a user id that is no Moodle user id
        return "failed", f"{error}; is {score.user_id!r} the LMS's user id? (`autograder lti roster`)", True
    except Unreachable as error:
        return "failed", str(error), True
    if response.status_code in (200, 201, 202, 204):
        return None
    if response.status_code == 409:
        why = (f"{describe(response)} (its timestamp is later than this machine's clock: another publisher, "
               "or a clock running behind)")
        return "skipped", why, False
    retried = response.status_code >= 500 or response.status_code == 429
    if not retried:
        return "refused", f"the LMS refused the score: {describe(response)}", False
    return "failed", f"{describe(response)} after {1 + client.settings.retries} attempts", True


def _lineitem_maximum(client: PlatformClient, lineitem: str) -> float | None:
    """The line item's scoreMaximum (the scale of its results), or None when the platform does not say."""
    try:
        response = client.request("GET", lineitem, headers={"Accept": LINEITEM_TYPE})
    except Unreachable:
        return None
    if response.status_code != 200:
        return None
    try:
        maximum = response.json().get("scoreMaximum")
    except (ValueError, AttributeError):
        return None
    return float(maximum) if isinstance(maximum, (int, float)) and maximum > 0 else None


def _read_back(client: PlatformClient, lineitem: str, score: StudentScore, item_maximum: float | None,
               pending_as: str, report: PublishReport) -> None:
    """Put `score` into report.published when the line item's result for its user is the score sent."""
    url = service_url(lineitem, "results")
    try:
        response = client.request("GET", url, params={"user_id": score.user_id},
                                  headers={"Accept": RESULT_CONTAINER_TYPE})
    except Unreachable as error:
        report.unverified.append((score.student, str(error)))
        return
    if response.status_code != 200:
        report.unverified.append((score.student, f"GET {url}: {describe(response)}"))
        return
    try:
        results = [r for r in response.json() if isinstance(r, dict) and str(r.get("userId")) == score.user_id]
    except (ValueError, TypeError):
        report.unverified.append((score.student, f"GET {url} did not answer with a JSON list"))
        return
    progress = score.grading_progress(pending_as)
    readings = held_fractions(results[0] if results else None, item_maximum, zero_if_empty=progress == "FullyGraded")
    sent = f"sent {fraction(score.score, score.max_score)} as {progress}"
    if not readings:
        report.dropped.append((score, f"{sent}; the LMS holds no score for {score.user_id}"))
    elif any(abs(held - score.score / score.max_score) <= 1e-5 for held in readings):
        report.published.append(score)
    else:
        held = fraction(readings[-1] * score.max_score, score.max_score)
        report.dropped.append((score, f"{sent}; the LMS holds {held}"))


def held_fractions(result: dict | None, item_maximum: float | None, zero_if_empty: bool = False) -> list[float]:
    """The fraction of the maximum an AGS Result holds, read each way it can be read; [] when it holds none.

    AGS puts resultScore on the scale of resultMaximum; Moodle puts it on the line item's scale and fills
    resultMaximum with the maximum sent, so both readings are given (the line item's last).
    Moodle lists a score of 0 without resultScore: `zero_if_empty` reads such a result as 0.
    """
    if result is None:
        return []
    given = result.get("resultScore")
    if given is None and zero_if_empty:
        return [0.0]
    if not isinstance(given, (int, float)) or isinstance(given, bool):
        return []
    maximum = result.get("resultMaximum", 1)
    readings = [given / maximum] if isinstance(maximum, (int, float)) and maximum > 0 else []
    return readings + ([given / item_maximum] if item_maximum else [])

