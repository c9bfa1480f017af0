"""`autograder lti publish`: scores from nbgrader's gradebook to a real LTI 1.3 platform on 127.0.0.1
(tests/lms/lti_platform.py), through its token endpoint and AGS score service."""
import json
import shutil
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from lti_platform import INSTRUCTOR, LtiPlatform
from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning

from autograder.cli import main
from autograder.grading.grade import assignment_spec
from autograder.grading.gradebook import record_assignment
from autograder.lms.settings import create_key_pair, public_jwk, read_private_key

A1 = "01-gradient-descent"
AUTO = ["check_df", "check_gradient_descent_update", "check_gradient_descent", "check_max_stable_learning_rate"]
WRITTEN = "learning_rate_too_large"   # 2 points, graded by hand
# student -> (LTI user id, auto scores in AUTO's order, written answer: manual score, "pending" or "unanswered")
CLASS = {
    "ann": ("u-ann", [1, 2, 3, 1], 2.0),
    "bob": ("u-bob", [0, 2, 3, 1], "pending"),
    "cy": ("u-cy", [0, 0, 0, 0], "unanswered"),
    "dee": ("u-dee", [0, 0, 3, 1], 1.5),
}
# what the platform must end with: LTI user id -> (scoreGiven, scoreMaximum, gradingProgress)
EXPECTED = {"u-ann": (9, 9, "FullyGraded"), "u-bob": (6, 9, "FullyGraded"),
            "u-cy": (0, 9, "FullyGraded"), "u-dee": (5.5, 9, "FullyGraded")}


def add_submission(db_url, student, lti_id, auto, written):
    """A graded submission written with nbgrader's own API, as after autograding (and hand grading)."""
    with Gradebook(db_url) as gradebook, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own autoflush warnings, as in autograde
        gradebook.update_or_create_student(student, lms_user_id=lti_id)
        submission = gradebook.update_or_create_submission(A1, student)
        grades = {grade.name: grade for notebook in submission.notebooks for grade in notebook.grades}
        for name, points in zip(AUTO, auto):
            grades[name].auto_score, grades[name].needs_manual_grade = float(points), False
        answer = grades[WRITTEN]
        if written == "pending":
            answer.auto_score, answer.needs_manual_grade = None, True
        elif written == "unanswered":
            answer.auto_score, answer.needs_manual_grade = 0.0, False
        else:
            answer.auto_score, answer.manual_score, answer.needs_manual_grade = None, written, False
        gradebook.db.commit()


@pytest.fixture(scope="module")
def graded_template(tmp_path_factory, course):
    """A gradebook of 01 with CLASS's submissions and a student (eve) who submitted nothing."""
    path = tmp_path_factory.mktemp("lti") / "gradebook.db"
    db_url = f"sqlite:///{path}"
    record_assignment(db_url, course, assignment_spec(course, A1))
    for student, (lti_id, auto, written) in CLASS.items():
        add_submission(db_url, student, lti_id, auto, written)
    with Gradebook(db_url) as gradebook:
        gradebook.update_or_create_student("eve", lms_user_id="u-eve")
    return path


@pytest.fixture(scope="module")
def tool_key(tmp_path_factory):
    """A test-only key pair of the tool, made at test time: (private key file, its public JWK)."""
    path = tmp_path_factory.mktemp("keys") / "tool.pem"
    return path, public_jwk(create_key_pair(path))


@pytest.fixture
def platform(tool_key):
    platform = LtiPlatform(tool_key[1]).start()
    yield platform
    platform.stop()


class Course:
    """A throwaway course whose course_config.py registers the tool on `platform`."""

    def __init__(self, root: Path, db: Path, platform: LtiPlatform, key: Path):
        self.root, self.db, self.platform, self.key = root, db, platform, key
        self.lineitem = platform.add_lineitem("Gradient descent", 9)

    def configure(self, **overrides):
        settings = {"issuer": self.platform.issuer, "client_id": self.platform.client_id,
                    "deployment_id": self.platform.deployment_id, "token_url": self.platform.token_url,
                    "private_key": str(self.key), "lineitems": {A1: self.lineitem}, "contexts": ["context-1"],
                    "retry_delay": 0.01, "timeout": 5} | overrides
        text = (self.root / "course_config.py").read_text()
        text += "".join(f"\nc.LTI.{name} = {value!r}" for name, value in settings.items())
        (self.root / "course_config.py").write_text(text + "\n")

    def publish(self, capsys, *extra):
        status = main(["lti", "publish", A1, "--db", f"sqlite:///{self.db}", *extra])
        out, err = capsys.readouterr()
        return status, out, err


@pytest.fixture
def lti_course(course_copy, tmp_path, monkeypatch, graded_template, platform, tool_key):
    root = course_copy
    db = tmp_path / "gradebook.db"
    shutil.copy(graded_template, db)
    monkeypatch.setenv("AUTOGRADER_COURSE_ROOT", str(root))
    course = Course(root, db, platform, tool_key[0])
    course.configure()
    return course


def recorded(platform, lineitem):
    return {user: (score["scoreGiven"], score["scoreMaximum"], score["gradingProgress"])
            for (item, user), score in platform.scores.items() if item == lineitem}


def test_publish_posts_every_students_gradebook_score(lti_course, capsys):
    status, out, err = lti_course.publish(capsys)
    assert (status, err) == (0, "")
    assert recorded(lti_course.platform, lti_course.lineitem) == EXPECTED
    assert "published 4 of 4 students' scores" in out
    assert "no submission, nothing sent (1): eve" in out


def test_each_score_has_a_comment_progress_and_a_timestamp_with_time_zone(lti_course, capsys):
    lti_course.publish(capsys)
    bob = lti_course.platform.scores[(lti_course.lineitem, "u-bob")]
    assert bob["comment"] == ("6 of 7 points so far; 2 more points to be graded by your instructor. df 0/1, "
                              "gradient_descent_update 2/2, gradient_descent 3/3, max_stable_learning_rate 1/1, "
                              "written answer: to be graded by your instructor")
    assert lti_course.platform.scores[(lti_course.lineitem, "u-dee")]["comment"] == (
        "5.5 of 9 points. df 0/1, gradient_descent_update 0/2, gradient_descent 3/3, max_stable_learning_rate 1/1, "
        "written answer 1.5/2")
    assert lti_course.platform.scores[(lti_course.lineitem, "u-cy")]["comment"].endswith(", written answer 0/2")
    assert bob["activityProgress"] == "Completed"
    stamp = datetime.fromisoformat(bob["timestamp"])
    assert stamp.utcoffset() == timedelta(0) and abs(datetime.now(timezone.utc) - stamp) < timedelta(minutes=1)


def test_second_publish_leaves_the_platform_with_the_same_scores(lti_course, capsys):
    first_status, _, _ = lti_course.publish(capsys)
    first = recorded(lti_course.platform, lti_course.lineitem)
    second_status, _, _ = lti_course.publish(capsys)
    assert (first_status, second_status) == (0, 0)
    assert recorded(lti_course.platform, lti_course.lineitem) == first == EXPECTED
    assert sorted(user for user, status in lti_course.platform.score_posts if status == 200) == \
        sorted(list(EXPECTED) * 2)  # re-posted with later timestamps, accepted, nothing else changed
    assert len(lti_course.platform.lineitems) == 1


def test_refused_token_is_renewed_once_and_publishing_goes_on(lti_course, capsys):
    lti_course.platform.revoke_after = 1  # the first token stops working after one score
    status, _, err = lti_course.publish(capsys)
    assert (status, err) == (0, "")
    assert recorded(lti_course.platform, lti_course.lineitem) == EXPECTED
    assert lti_course.platform.token_requests == [200, 200]
    assert [s for _, s in lti_course.platform.score_posts] == [200, 200, 200, 200]  # the read-back met the 401


def test_persistent_server_error_is_retried_reported_and_fails_the_run(lti_course, capsys):
    lti_course.platform.fail["u-bob"] = 1000
    status, out, _ = lti_course.publish(capsys)
    assert status == 1
    assert lti_course.platform.score_posts.count(("u-bob", 503)) == 4  # the first attempt and 3 retries
    assert recorded(lti_course.platform, lti_course.lineitem) == {u: v for u, v in EXPECTED.items() if u != "u-bob"}
    assert "published 3 of 4 students' scores" in out
    assert "  bob: HTTP 503 Service Unavailable: {\"error\": \"service unavailable\"} after 4 attempts" in out


def test_a_passing_server_error_is_retried_until_published(lti_course, capsys):
    lti_course.platform.fail["u-cy"] = 2
    status, _, _ = lti_course.publish(capsys)
    assert status == 0
    assert recorded(lti_course.platform, lti_course.lineitem) == EXPECTED
    assert [s for user, s in lti_course.platform.score_posts if user == "u-cy"] == [503, 503, 200]


def test_a_timeout_is_retried_with_a_later_timestamp(lti_course, capsys):
    lti_course.configure(timeout=0.5)
    lti_course.platform.delay["u-ann"] = 1.5  # recorded, but the answer comes too late
    status, out, _ = lti_course.publish(capsys)
    assert status == 0, out
    ann = [score for item, score in lti_course.platform.accepted if score["userId"] == "u-ann"]
    assert len(ann) == 2 and ann[0]["timestamp"] < ann[1]["timestamp"]
    assert recorded(lti_course.platform, lti_course.lineitem) == EXPECTED


def test_token_refused_for_the_wrong_key_gives_one_message_and_posts_nothing(lti_course, capsys, tmp_path):
    other = tmp_path / "other.pem"
    create_key_pair(other)
    lti_course.configure(private_key=str(other))
    status, out, err = lti_course.publish(capsys)
    assert (status, out) == (1, "")
    assert err.count("\n") == 1 and "The platform refused the access token request" in err
    assert "HTTP 401" in err and str(other) in err
    assert lti_course.platform.token_requests == [401] and lti_course.platform.score_posts == []


def test_missing_key_file_is_named_and_nothing_is_sent(lti_course, capsys, tmp_path):
    missing = tmp_path / "nowhere" / "key.pem"
    lti_course.configure(private_key=str(missing))
    status, _, err = lti_course.publish(capsys)
    assert status == 1
    assert f"The tool's private key {missing} does not exist" in err
    assert lti_course.platform.token_requests == [] and lti_course.platform.score_posts == []


def test_student_without_lti_user_id_is_reported_and_fails_the_run(lti_course, capsys):
    add_submission(f"sqlite:///{lti_course.db}", "fay", None, [1, 2, 3, 1], 2.0)
    status, out, _ = lti_course.publish(capsys)
    assert status == 1
    assert recorded(lti_course.platform, lti_course.lineitem) == EXPECTED
    assert "  fay: no LMS user id in the gradebook: record them with `autograder lti roster`" in out
    assert "published 4 of 5 students' scores" in out


def test_newer_score_on_the_platform_is_reported_as_skipped(lti_course, capsys):
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    held = {"userId": "u-dee", "scoreGiven": 8.0, "scoreMaximum": 9.0, "timestamp": future,
            "activityProgress": "Completed", "gradingProgress": "FullyGraded"}
    lti_course.platform.scores[(lti_course.lineitem, "u-dee")] = held
    status, out, _ = lti_course.publish(capsys)
    assert status == 1
    assert lti_course.platform.scores[(lti_course.lineitem, "u-dee")] == held
    assert "SKIPPED (1): the platform holds a newer score" in out
    assert "  dee: HTTP 409" in out
    assert {u: v for u, v in recorded(lti_course.platform, lti_course.lineitem).items() if u != "u-dee"} == \
        {u: v for u, v in EXPECTED.items() if u != "u-dee"}


def test_line_item_is_found_by_resource_id_or_created_once(lti_course, capsys):
    lti_course.configure(lineitems={}, lineitems_url=lti_course.platform.lineitems_url)
    assert lti_course.publish(capsys)[0] == 0
    assert lti_course.publish(capsys)[0] == 0
    created = [item for item in lti_course.platform.lineitems.values() if item.get("resourceId") == A1]
    assert len(created) == 1 and created[0]["scoreMaximum"] == 9 and created[0]["label"] == A1
    assert recorded(lti_course.platform, created[0]["id"]) == EXPECTED


def test_dry_run_shows_the_scores_and_contacts_nobody(lti_course, capsys):
    status, out, _ = lti_course.publish(capsys, "--dry-run")
    assert status == 0
    assert ("bob -> u-bob: 6/9 FullyGraded: 6 of 7 points so far; 2 more points to be graded by your "
            "instructor.") in out
    assert lti_course.platform.token_requests == [] and lti_course.platform.score_posts == []


def test_keys_command_makes_a_private_key_whose_public_jwk_the_platform_accepts(lti_course, capsys, tmp_path):
    path = tmp_path / "new" / "tool.pem"
    assert main(["lti", "keys", "--private-key", str(path)]) == 0
    out = capsys.readouterr().out
    jwk = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    assert path.stat().st_mode & 0o777 == 0o600 and "PRIVATE" not in out
    assert main(["lti", "keys", "--private-key", str(path)]) == 0  # an existing key is shown, never replaced
    assert json.loads(next(line for line in capsys.readouterr().out.splitlines() if line.startswith("{"))) == jwk
    platform = LtiPlatform(jwk).start()
    try:
        course = Course(lti_course.root, lti_course.db, platform, path)
        course.configure()
        assert course.publish(capsys)[0] == 0
        assert recorded(platform, course.lineitem) == EXPECTED
    finally:
        platform.stop()


def test_token_refused_even_when_new_stops_publishing_and_reports_everyone(lti_course, capsys):
    lti_course.platform.disable_after = 1  # after ann's score, no token is good any more
    status, out, _ = lti_course.publish(capsys)
    assert status == 1
    assert recorded(lti_course.platform, lti_course.lineitem) == {"u-ann": EXPECTED["u-ann"]}
    assert lti_course.platform.token_requests == [200, 200]
    assert "published 0 of 4 students' scores" in out
    assert "SENT, NOT CONFIRMED (1)" in out and "  ann: The platform refuses the tool's access token" in out
    assert "  bob: not sent: The platform refuses the tool's access token" in out
    assert "  dee: not sent: " in out


def test_unset_registration_is_named_before_anything_is_sent(lti_course, capsys):
    lti_course.configure(client_id="", lineitems={})
    status, out, err = lti_course.publish(capsys)
    assert (status, out) == (1, "")
    assert "set c.LTI.client_id" in err and str(lti_course.root / "course_config.py") in err
    assert lti_course.platform.token_requests == []


# ---------------------------------------------------------------- scores that land: read back, pending manual
def test_pending_manual_scores_dropped_by_a_moodle_like_platform_are_detected(lti_course, capsys):
    lti_course.configure(pending_manual="PendingManual")
    lti_course.platform.moodle_like = True  # keeps scoreGiven only when FullyGraded, as Moodle's scores.php
    status, out, _ = lti_course.publish(capsys)
    assert status == 1
    assert lti_course.platform.scores[(lti_course.lineitem, "u-bob")]["scoreGiven"] is None
    assert "published 3 of 4 students' scores" in out
    assert "DROPPED by the LMS (1): it accepted the score, but holds another:" in out
    assert "  bob: sent 6/9 as PendingManual; the LMS holds no score for u-bob" in out
    assert ("The LMS dropped every score sent as PendingManual (1): set c.LTI.pending_manual = 'FullyGraded'"
            in out)


def test_by_default_a_pending_written_answer_is_sent_fully_graded_with_the_points_so_far(lti_course, capsys):
    lti_course.platform.moodle_like = True
    status, out, _ = lti_course.publish(capsys)
    assert status == 0, out
    assert recorded(lti_course.platform, lti_course.lineitem)["u-bob"] == (6, 9, "FullyGraded")
    assert "published 4 of 4 students' scores" in out
    results = [path for method, path in lti_course.platform.requests if path.endswith("/results")]
    assert len(results) == 4  # every score read back


def test_once_the_written_answer_is_graded_by_hand_the_lms_gets_its_points_and_the_graders_comment(lti_course,
                                                                                                    capsys):
    lti_course.configure(pending_manual="PendingManual")
    lti_course.publish(capsys)
    bob = lti_course.platform.scores[(lti_course.lineitem, "u-bob")]
    assert (bob["scoreGiven"], bob["gradingProgress"]) == (6, "PendingManual")
    assert "2 more points to be graded by your instructor" in bob["comment"]
    with Gradebook(f"sqlite:///{lti_course.db}") as gradebook:  # what formgrader does when the instructor grades it
        notebook = "gradient_descent"
        grade = gradebook.find_grade(WRITTEN, notebook, A1, "bob")
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        gradebook.find_comment(WRITTEN, notebook, A1, "bob").manual_comment = " Half right: why does it diverge? "
        gradebook.db.commit()
    status, out, _ = lti_course.publish(capsys)
    assert status == 0 and "published 4 of 4 students' scores" in out
    bob = lti_course.platform.scores[(lti_course.lineitem, "u-bob")]
    assert (bob["scoreGiven"], bob["scoreMaximum"], bob["gradingProgress"]) == (7, 9, "FullyGraded")
    assert bob["comment"] == ("7 of 9 points. df 0/1, gradient_descent_update 2/2, gradient_descent 3/3, "
                              "max_stable_learning_rate 1/1, written answer 1/2. "
                              "Comment on written answer: Half right: why does it diverge?")


def test_the_comment_says_one_point_in_the_singular_and_names_each_waiting_answer():
    from autograder.lms.ags import StudentScore

    score = StudentScore("ann", "u-ann", 7.5, 9.0, 1.0, (("df", 1.0, 1.0), ("written answer", 0.5, 1.0),
                                                        ("written answer", None, 1.0)),
                         remarks=(("written answer", "Say why."),), hand_graded=True)
    assert score.comment() == ("7.5 of 8 points so far; 1 more point to be graded by your instructor. df 1/1, "
                               "written answer 0.5/1, written answer: to be graded by your instructor. "
                               "Comment on written answer: Say why.")
    assert StudentScore("bo", None, 1.0, 1.0, 0.0, (("df", 1.0, 1.0),)).comment() == "1 of 1 point. df 1/1"


def test_a_score_the_platform_holds_differently_is_not_counted_published(lti_course, capsys, monkeypatch):
    original = lti_course.platform._results

    def halved(handler, lineitem, query):
        status, results, media = original(handler, lineitem, query)
        return status, [r | {"resultScore": r["resultScore"] / 2} if r.get("userId") == "u-dee" else r
                        for r in results], media
    monkeypatch.setattr(lti_course.platform, "_results", halved)
    status, out, _ = lti_course.publish(capsys)
    assert status == 1
    assert "  dee: sent 5.5/9 as FullyGraded; the LMS holds 2.75/9" in out
    assert "published 3 of 4 students' scores" in out


def test_a_platform_that_grants_no_result_scope_stops_the_publish_before_posting(lti_course, capsys):
    from autograder.lms.platform import LINEITEM_READ_SCOPE, SCORE_SCOPE

    lti_course.platform.grant = {SCORE_SCOPE, LINEITEM_READ_SCOPE}
    status, out, err = lti_course.publish(capsys)
    assert (status, out) == (1, "")
    assert "without https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly" in err
    assert "or set c.LTI.verify = False" in err
    assert lti_course.platform.score_posts == []
    lti_course.configure(verify=False)
    assert lti_course.publish(capsys)[0] == 0
    assert recorded(lti_course.platform, lti_course.lineitem) == EXPECTED


# ---------------------------------------------------------------- bad answers from the platform
def test_a_malformed_status_line_is_reported_once_and_not_retried(lti_course, capsys):
    lti_course.platform.malformed["u-ann"] = 1
    status, out, _ = lti_course.publish(capsys)
    assert status == 1
    assert [s for user, s in lti_course.platform.score_posts if user == "u-ann"] == [0]  # one attempt
    assert "  ann: POST " in out and "the platform answered with a malformed HTTP status line" in out
    assert "(not retried)" in out
    assert {u: v for u, v in recorded(lti_course.platform, lti_course.lineitem).items()} == \
        {u: v for u, v in EXPECTED.items() if u != "u-ann"}


def test_a_platform_failing_for_several_students_in_a_row_is_given_up_on(lti_course, capsys):
    lti_course.configure(give_up_after=2)
    for user in EXPECTED:
        lti_course.platform.fail[user] = 1000
    status, out, _ = lti_course.publish(capsys)
    assert status == 1
    assert [user for user, _ in lti_course.platform.score_posts] == ["u-ann"] * 4 + ["u-bob"] * 4
    assert "  cy: not sent: the platform failed for 2 students in a row (c.LTI.give_up_after)" in out
    assert "  dee: not sent: the platform failed for 2 students in a row" in out


# ---------------------------------------------------------------- the roster from the LMS (NRPS)
def set_emails(db, emails):
    with Gradebook(f"sqlite:///{db}") as gradebook:
        for student, email in emails.items():
            gradebook.update_or_create_student(student, email=email)


def lms_user_ids(db):
    with Gradebook(f"sqlite:///{db}") as gradebook:
        return {s.id: s.lms_user_id for s in gradebook.students}


def test_a_student_whose_lms_user_id_is_another_member_is_refused_before_posting(lti_course, capsys):
    platform = lti_course.platform
    lti_course.configure(memberships_url=platform.memberships_url)
    set_emails(lti_course.db, {"ann": "ann@uni.edu", "bob": "bob@uni.edu", "dee": "dee@uni.edu"})
    platform.add_member("u-ann", "Ann A", email="ann@uni.edu")
    platform.add_member("u-bob", "Zed Z", email="zed@uni.edu")   # u-bob is somebody else on the LMS
    platform.add_member("u-dee", "Dee D", email="DEE@uni.edu")
    status, out, _ = lti_course.publish(capsys)                 # cy (u-cy) is no member at all
    assert status == 1
    assert {user for user, _ in platform.score_posts} == {"u-ann", "u-dee"}
    assert ("  bob: LMS user id 'u-bob' belongs to Zed Z (email address zed@uni.edu) on the LMS, not to this "
            "student (email address bob@uni.edu); nothing was posted.") in out
    assert "  cy: LMS user id 'u-cy' is not an active member of the course on the LMS; nothing was posted." in out
    assert "published 2 of 4 students' scores" in out
    assert "REFUSED (2), nothing of theirs is on the LMS; fix what is said and publish again:" in out


def test_roster_records_each_students_lms_user_id_from_paged_members(lti_course, capsys):
    platform = lti_course.platform
    lti_course.configure(memberships_url=platform.memberships_url)
    set_emails(lti_course.db, {"ann": "ann@uni.edu", "bob": "bob@uni.edu", "cy": "cy@uni.edu", "dee": "dee@uni.edu"})
    platform.page_size = 2
    platform.add_member("17", "Ann A", email="Ann@Uni.edu")
    platform.add_member("18", "Bob B", email="bob@uni.edu")
    platform.add_member("2", "Teach T", email="teach@uni.edu", roles=(INSTRUCTOR,))
    platform.add_member("19", "Cy C", email="cy@uni.edu")
    platform.add_member("20", "Gil G", email="gil@uni.edu")    # on the LMS, not yet in the gradebook
    platform.add_member("21", "Dee D", email="dee@uni.edu", status="Inactive")
    platform.add_member("u-ann", "Hal H", email="hal@uni.edu")  # the LMS gives ann's old id to hal
    status = main(["lti", "roster", "--db", f"sqlite:///{lti_course.db}"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert lms_user_ids(lti_course.db) == {"ann": "17", "bob": "18", "cy": "19", "dee": "u-dee", "eve": "u-eve",
                                           "gil": "20", "hal": "u-ann"}
    assert [path for _, path in platform.requests if path.endswith("/memberships")] == ["/context/1/memberships"] * 4
    assert "The LMS lists 7 members of the course, 5 of them students (matched by email)" in out
    assert "  in the gradebook, not a student of the course on the LMS (2): dee, eve" in out
    assert "2 added to the gradebook" in out


def test_roster_without_the_configured_identifier_gives_one_message_and_writes_nothing(lti_course, capsys):
    platform = lti_course.platform
    lti_course.configure(memberships_url=platform.memberships_url, roster_match="id_number")
    platform.add_member("17", "Ann A", email="ann@uni.edu")
    platform.add_member("18", "Bob B", email="bob@uni.edu")
    before = lms_user_ids(lti_course.db)
    status = main(["lti", "roster", "--db", f"sqlite:///{lti_course.db}"])
    out, err = capsys.readouterr()
    assert (status, out) == (1, "")
    assert err.count("\n") == 1
    assert "The LMS's roster gives no ID number (lis_person_sourcedid) for any of its 2 students" in err
    assert "nothing was recorded" in err
    assert lms_user_ids(lti_course.db) == before


def test_roster_matched_by_id_number_then_publish_reaches_the_right_students(lti_course, capsys):
    platform = lti_course.platform
    lti_course.configure(memberships_url=platform.memberships_url, roster_match="id_number")
    platform.moodle_like = True
    for number, student in enumerate(["ann", "bob", "cy", "dee"], start=31):
        platform.add_member(str(number), student.title(), sourcedid=student)
    assert main(["lti", "roster", "--db", f"sqlite:///{lti_course.db}"]) == 0
    capsys.readouterr()
    status, out, _ = lti_course.publish(capsys)
    assert status == 0, out
    assert "published 4 of 4 students' scores" in out
    by_name = {"31": "u-ann", "32": "u-bob", "33": "u-cy", "34": "u-dee"}
    assert {by_name[user]: held for user, held in recorded(platform, lti_course.lineitem).items()} == EXPECTED


def record_launch(db, assignment, resource_link, context=1, **told):
    """What a launch of `assignment`'s link from the platform's `context` tells the service, recorded as the service
    records a launch from a context it serves."""
    from sqlalchemy import create_engine

    from autograder.lms.links import ContextKey, create_tables, note_launch, record_link
    from lti_platform import CONTEXTS

    engine = create_engine(f"sqlite:///{db}")
    create_tables(engine)
    context_id, label, title = CONTEXTS[context]
    key = ContextKey(LtiPlatform.issuer, LtiPlatform.client_id, LtiPlatform.deployment_id, context_id)
    noted = note_launch(engine, key, label, title, datetime.now())
    record_link(engine, noted, resource_link, assignment, datetime.now(), **told)
    engine.dispose()
    return noted


def test_a_links_table_from_before_contexts_gives_its_rows_to_the_served_course_whose_urls_they_carry(tmp_path):
    from sqlalchemy import create_engine, text

    from autograder.lms.links import ContextKey, create_tables, note_launch, record_link, served_link
    from autograder.lms.settings import LtiSettings

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    ours, theirs = "https://lms/c/1", "https://lms/c/2"
    with engine.begin() as connection:   # the table as the service made it before resource link ids, then contexts
        connection.execute(text("CREATE TABLE autograder_lti_links (assignment VARCHAR(128) PRIMARY KEY, lineitem TEXT,"
                                " lineitems TEXT, memberships TEXT, updated_at DATETIME NOT NULL)"))
        connection.execute(text(f"INSERT INTO autograder_lti_links VALUES ('01', '{ours}/li/1', '{ours}/li', "
                                f"'{ours}/members', '2026-01-01 00:00:00')"))
        connection.execute(text("ALTER TABLE autograder_lti_links ADD COLUMN resource_link TEXT"))
        connection.execute(text("UPDATE autograder_lti_links SET resource_link = 'rl-1'"))
        connection.execute(text(f"INSERT INTO autograder_lti_links VALUES ('02', '{theirs}/li/5', '{theirs}/li', "
                                f"'{theirs}/members', '2026-01-01 00:00:00', 'rl-5')"))   # moved there by NN102
    settings = LtiSettings(Path("course_config.py"), issuer="iss", client_id="c", deployment_id="d", contexts=["1"])
    create_tables(engine)
    assert served_link(engine, settings, "01")["lineitem"] is None     # nothing served has launched yet
    context = note_launch(engine, ContextKey("iss", "c", "d", "1"), "NN101", "Neural nets", datetime.now())
    record_link(engine, context, "rl-3", "03", datetime.now(), lineitems=f"{ours}/li", memberships=f"{ours}/members")
    assert {name: served_link(engine, settings, name)["lineitem"] for name in ("01", "02", "03")} == {
        "01": f"{ours}/li/1", "02": None, "03": None}
    assert served_link(engine, settings, "01")["resource_link"] == "rl-1"
    assert served_link(engine, settings, "02")["memberships"] == f"{ours}/members"
    engine.dispose()


def test_roster_of_an_assignment_lists_the_members_of_its_link_only(lti_course, capsys):
    platform = lti_course.platform
    lti_course.configure(memberships_url=platform.memberships_url)
    set_emails(lti_course.db, {"ann": "ann@uni.edu", "bob": "bob@uni.edu", "cy": "cy@uni.edu", "dee": "dee@uni.edu"})
    platform.page_size = 1
    for user, name in [("17", "Ann A"), ("18", "Bob B"), ("19", "Cy C")]:
        platform.add_member(user, name, email=name.split()[0].lower() + "@uni.edu")
    platform.link_members["rl-7"] = {"17", "18"}            # cy is in the course, not in this activity's group
    record_launch(lti_course.db, A1, resource_link="rl-7", memberships=platform.memberships_url)
    status = main(["lti", "roster", A1, "--db", f"sqlite:///{lti_course.db}"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert lms_user_ids(lti_course.db) == {"ann": "17", "bob": "18", "cy": "u-cy", "dee": "u-dee", "eve": "u-eve"}
    asked = [path for _, path in platform.requests if "memberships" in path]
    assert asked == ["/context/1/memberships"] * 2
    assert "The LMS lists 2 members of the LMS link of 01-gradient-descent, 2 of them students" in out
    assert "  in the gradebook, not a student of the LMS link of 01-gradient-descent on the LMS (3): cy, dee, eve" \
        in out


def test_roster_of_an_assignment_keeps_the_memberships_urls_own_query(lti_course, capsys):
    platform = lti_course.platform
    lti_course.configure(memberships_url=platform.memberships_url + "?role=Learner&rlid=old")
    set_emails(lti_course.db, {"ann": "ann@uni.edu"})
    platform.add_member("17", "Ann A", email="ann@uni.edu")
    platform.link_members["rl-7"] = {"17"}
    record_launch(lti_course.db, A1, resource_link="rl-7")
    assert main(["lti", "roster", A1, "--db", f"sqlite:///{lti_course.db}"]) == 0
    assert platform.membership_queries == [{"role": "Learner", "rlid": "rl-7"}]


def test_roster_of_an_assignment_never_launched_says_what_to_do(lti_course, capsys):
    platform = lti_course.platform
    lti_course.configure(memberships_url=platform.memberships_url)
    platform.add_member("17", "Ann A", email="ann@uni.edu")
    before = lms_user_ids(lti_course.db)
    status = main(["lti", "roster", A1, "--db", f"sqlite:///{lti_course.db}"])
    out, err = capsys.readouterr()
    assert (status, out) == (1, "")
    assert err.count("\n") == 1 and err.endswith(
        " ERROR autograder.lms.lti_cli: autograder lti roster: No launch of 01-gradient-descent from the LMS is on "
        "record, so its link on the LMS is not known yet. Open the assignment's activity once from the LMS (as instructor or "
        "student) while `autograder serve` runs, then run this again; or use `autograder lti roster "
        "--context` for every member of the course.\n")
    assert platform.requests == [] and lms_user_ids(lti_course.db) == before


def test_roster_with_context_lists_every_member_of_the_course_at_the_url_a_launch_told(lti_course, capsys):
    platform = lti_course.platform
    set_emails(lti_course.db, {"cy": "cy@uni.edu"})
    platform.add_member("19", "Cy C", email="cy@uni.edu")
    platform.link_members["rl-7"] = set()
    record_launch(lti_course.db, A1, resource_link="rl-7", memberships=platform.memberships_url)  # c.LTI has none
    assert main(["lti", "roster", "--context", "--db", f"sqlite:///{lti_course.db}"]) == 0
    assert lms_user_ids(lti_course.db)["cy"] == "19"
    assert [path for _, path in platform.requests] == ["/token", "/context/1/memberships"]


def test_publish_uses_the_line_item_a_launch_of_the_link_recorded(lti_course, capsys):
    platform = lti_course.platform
    lti_course.configure(lineitems={}, lineitems_url=platform.lineitems_url)
    platform.add_lineitem("01 by resource id", 9, resource_id=A1)     # what the resourceId lookup would find
    launched = platform.add_lineitem("Week 1 activity", 9, resource_link="rl-7")
    record_launch(lti_course.db, A1, resource_link="rl-7", lineitem=launched, lineitems=platform.lineitems_url)
    status, out, _ = lti_course.publish(capsys)
    assert status == 0, out
    assert recorded(platform, launched) == EXPECTED
    assert {item for item, _ in platform.accepted} == {launched}
    assert f"published 4 of 4 students' scores to {launched}" in out
    assert not [path for method, path in platform.requests if path == "/context/1/lineitems"]  # no lookup, no create


def test_dry_run_names_the_line_item_a_launch_recorded(lti_course, capsys):
    launched = lti_course.platform.add_lineitem("Week 1 activity", 9, resource_link="rl-7")
    record_launch(lti_course.db, A1, resource_link="rl-7", lineitem=launched)
    status, out, _ = lti_course.publish(capsys, "--dry-run")
    assert status == 0 and out.startswith(f"To {launched}:\n")


# ---------------------------------------------------------------- registration
def test_config_prints_every_value_an_lms_administrator_pastes(lti_course, capsys):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    lti_course.configure(tool_url="https://grader.uni.edu/")
    assert main(["lti", "config"]) == 0
    out = capsys.readouterr().out
    assert "Initiate login URL (OpenID Connect login):  https://grader.uni.edu/lti/login" in out
    assert "Redirection URI(s):                        https://grader.uni.edu/lti/launch" in out
    assert "Public keyset (JWKS) URL:                  https://grader.uni.edu/lti/jwks.json" in out
    assert "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly" in out
    pem = out[out.index("-----BEGIN PUBLIC KEY-----"):out.index("-----END PUBLIC KEY-----") + 24]
    jwk = json.loads(next(line for line in out.splitlines() if line.startswith('{"kty"')))
    assert jwk == public_jwk(read_private_key(lti_course.key))
    assert load_pem_public_key(pem.encode()).public_numbers().e == 65537
    canvas = json.loads(out[out.index("Paste JSON):\n") + len("Paste JSON):\n"):out.index("\n\nThen copy")])
    assert canvas["oidc_initiation_url"] == "https://grader.uni.edu/lti/login"
    assert canvas["public_jwk_url"] == "https://grader.uni.edu/lti/jwks.json"
    assert {p["placement"] for p in canvas["extensions"][0]["settings"]["placements"]} >= {"assignment_selection"}


# ---------------------------------------------------------------- only the served LMS course's URLs
def logged(stderr: str) -> str:
    """A command's error message as it wrote it, without the log line's time, level and logger."""
    return stderr.partition(" ERROR autograder.lms.lti_cli: ")[2]


def test_publish_refuses_a_line_item_of_another_lms_course_and_sends_nothing(lti_course, capsys):
    platform = lti_course.platform
    record_launch(lti_course.db, A1, "rl-1", lineitems=platform.lineitems_url, memberships=platform.memberships_url)
    foreign = platform.context_url(2) + "/lineitems/1"
    lti_course.configure(lineitems={A1: foreign})
    status, out, err = lti_course.publish(capsys)
    assert (status, out) == (1, "")
    assert logged(err) == (f"autograder lti publish: The line item {foreign} (c.LTI.lineitems['{A1}']) is not one of NN101 "
                   f"(Neural nets), the LMS course this grader serves (its line items are under "
                   f"{platform.lineitems_url}); nothing was sent. Correct c.LTI.lineitems, or open the assignment's "
                   "activity once from that course.\n")
    assert platform.requests == []


def test_publish_refuses_a_line_items_or_memberships_url_of_another_lms_course(lti_course, capsys):
    platform = lti_course.platform
    record_launch(lti_course.db, A1, "rl-1", lineitems=platform.lineitems_url, memberships=platform.memberships_url)
    for setting, url in (("lineitems_url", "/lineitems"), ("memberships_url", "/memberships")):
        lti_course.configure(lineitems={}, **{setting: platform.context_url(2) + url})
        status, out, err = lti_course.publish(capsys)
        assert (status, out) == (1, "") and f"c.LTI.{setting} {platform.context_url(2)}{url} is not the" in err
        assert "nothing was sent" in err
        lti_course.configure(**{setting: ""})
    assert platform.requests == []


def test_publish_uses_the_served_courses_link_not_another_courses(lti_course, capsys):
    from sqlalchemy import create_engine

    from autograder.lms.links import set_approved

    platform = lti_course.platform
    lti_course.configure(lineitems={})
    ours = platform.add_lineitem("Week 1", 9, resource_link="rl-1")
    record_launch(lti_course.db, A1, "rl-1", lineitem=ours, lineitems=platform.lineitems_url)
    other = record_launch(lti_course.db, A1, "rl-2", context=2, lineitem=platform.context_url(2) + "/lineitems/1",
                          lineitems=platform.context_url(2) + "/lineitems")   # recorded while NN102 was approved
    engine = create_engine(f"sqlite:///{lti_course.db}")
    set_approved(engine, other, datetime.now())
    status, out, err = lti_course.publish(capsys)
    assert status == 1 and logged(err).startswith(f"autograder lti publish: {A1} has links in 2 LMS courses this grader serves")
    set_approved(engine, other, None)                      # withdrawn: its link is no longer used
    engine.dispose()
    status, out, _ = lti_course.publish(capsys)
    assert status == 0 and f"published 4 of 4 students' scores to {ours}" in out
    assert {item for item, _ in platform.accepted} == {ours}


def test_roster_refuses_a_memberships_url_of_another_lms_course(lti_course, capsys):
    platform = lti_course.platform
    record_launch(lti_course.db, A1, "rl-1", memberships=platform.memberships_url)
    before = lms_user_ids(lti_course.db)
    foreign = platform.context_url(2) + "/memberships"
    status = main(["lti", "roster", "--context", "--url", foreign, "--db", f"sqlite:///{lti_course.db}"])
    assert status == 1
    assert logged(capsys.readouterr().err) == (
        f"autograder lti roster: --url {foreign} is not the roster of NN101 (Neural nets), the LMS course this grader "
        f"serves ({platform.memberships_url}); nothing was fetched or recorded.\n")
    lti_course.configure(memberships_url=foreign)
    assert main(["lti", "roster", A1, "--db", f"sqlite:///{lti_course.db}"]) == 1
    assert f"c.LTI.memberships_url {foreign} is not the roster of NN101" in capsys.readouterr().err
    assert platform.requests == [] and lms_user_ids(lti_course.db) == before


def test_a_publish_refusing_every_student_makes_no_grade_column(lti_course, capsys):
    platform = lti_course.platform
    lti_course.configure(lineitems={}, lineitems_url=platform.lineitems_url, memberships_url=platform.memberships_url)
    platform.add_member("u-other", "Someone Else", email="else@uni.edu")   # none of the gradebook's students
    items = dict(platform.lineitems)
    status, out, _ = lti_course.publish(capsys)
    assert status == 1 and "REFUSED (4)" in out and "published 0 of 4" in out
    assert platform.lineitems == items and platform.score_posts == []
    assert not [method for method, path in platform.requests if method == "POST" and path == "/context/1/lineitems"]


def test_contexts_lists_the_lms_courses_that_launched_and_approves_one(lti_course, capsys):
    from sqlalchemy import create_engine

    from autograder.lms.links import bound_contexts
    from autograder.lms.settings import load_settings

    record_launch(lti_course.db, A1, "rl-1")
    record_launch(lti_course.db, A1, "rl-2", context=2)
    db = ["--db", f"sqlite:///{lti_course.db}"]
    assert main(["lti", "contexts", *db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("   1  SERVED (c.LTI.contexts)  NN101 (Neural nets): context id context-1, issuer "
                               "https://lms.test, client id autograder-tool, deployment deployment-1; 1 launch, last ")
    assert lines[2].startswith("   2  not served  NN102 (Another course): context id context-2,")
    assert main(["lti", "contexts", "approve", "2", *db]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Approved NN102 (Another course): launches from it now open this course's grader")
    assert "   2  SERVED (approved " in out
    engine = create_engine(f"sqlite:///{lti_course.db}")
    assert [c.name for c in bound_contexts(engine, load_settings(lti_course.root))] == ["NN101 (Neural nets)",
                                                                                       "NN102 (Another course)"]
    assert main(["lti", "contexts", "withdraw", "2", *db]) == 0
    assert "Withdrawn: launches from NN102 (Another course) are refused from now on." in capsys.readouterr().out
    assert [c.name for c in bound_contexts(engine, load_settings(lti_course.root))] == ["NN101 (Neural nets)"]
    assert main(["lti", "contexts", "approve", "9", *db]) == 1
    assert "no LMS course with ID 9 has launched this grader" in capsys.readouterr().err
    engine.dispose()
