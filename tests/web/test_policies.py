"""The service's policies in course_config.py: defaults, overrides, their edges, and clear errors."""
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from autograder.grading.history import PolicyError
from autograder.web.policies import Policy, check_policies, policy

A1, A2 = "01-gradient-descent", "02-slopes-and-updates"


def with_policies(course, policies):
    return replace(course, policies=policies)


def test_an_assignment_takes_the_defaults_then_the_course_default_then_its_own(course):
    configured = with_policies(course, {"default": {"attempts": 4, "counting": "last"},
                                        A1: {"attempts": 2, "due": "2026-12-15 23:59:00 UTC"}})
    assert policy(configured, A1) == Policy(due=datetime(2026, 12, 15, 23, 59), attempts=2, counting="last")
    assert policy(configured, A2) == Policy(attempts=4, counting="last")
    assert policy(with_policies(course, None), A2) == Policy()


def test_what_a_student_sees_changes_exactly_at_the_due_date_plus_their_extension():
    rule = Policy(due=datetime(2026, 12, 15, 12, 0), before_due="score", after_due="full")
    assert rule.visibility(datetime(2026, 12, 15, 11, 59, 59, 999999)) == "score"
    assert rule.visibility(datetime(2026, 12, 15, 12, 0)) == "full"
    assert rule.visibility(datetime(2026, 12, 15, 12, 0), timedelta(hours=1)) == "score"
    assert rule.visibility(datetime(2026, 12, 15, 13, 0), timedelta(hours=1)) == "full"
    assert Policy().visibility(datetime(2100, 1, 1)) == "worked example"  # no due date: always before it


@pytest.mark.parametrize("policies, says", [
    ({"01-gradient-desent": {}}, "names '01-gradient-desent', which is not an assignment"),
    ({A1: {"tries": 3}}, "unknown key(s) tries"),
    ({A1: {"attempts": 0}}, "attempts must be a whole number of at least 1, not 0"),
    ({A1: {"attempts": 2.5}}, "attempts must be a whole number"),
    ({A1: {"minutes_between": -1}}, "minutes_between must be a number of minutes, 0 or more"),
    ({A1: {"before_due": "everything"}}, "before_due must be one of 'score', 'worked example', 'full'"),
    ({"default": {"counting": "first"}}, "counting must be 'best' or 'last', not 'first'"),
    ({A1: {"due": "next friday"}}, "due 'next friday' is not a date"),
])
def test_a_wrong_policy_is_named_with_what_is_allowed(course, policies, says):
    with pytest.raises(PolicyError) as raised:
        check_policies(with_policies(course, policies))
    assert says in str(raised.value)


def test_the_best_attempt_is_chosen_after_nbgraders_late_penalty(tmp_path):
    from autograder.course.config import load_course
    from autograder.web.grading import GradingService
    from autograder.grading.history import BATCH
    from autograder.web.store import Attempt, BatchAttempt, Store
    from served import ONE_ASSIGNMENT_CONFIG, make_course

    due = datetime(2026, 11, 20, 17, 0)
    root = make_course(tmp_path / "course", ONE_ASSIGNMENT_CONFIG + f"""
c.Autograder.policies = {{"{A1}": {{"due": "{due:%Y-%m-%d %H:%M:%S} UTC"}}}}
c.LateSubmissionPlugin.penalty_method = "zero"
""")
    db_url = f"sqlite:///{root / 'gradebook.db'}"
    store = Store(db_url)
    grader = GradingService(load_course(root), db_url, store)
    try:
        def attempt(number, uploaded_at, score=None):
            return Attempt(number, "ada", A1, number, "done" if score else "queued", uploaded_at, None, None, score,
                           9.0, uploaded_at > due, False)

        on_time = attempt(1, due - timedelta(minutes=1), score=3.0)
        assert grader._counting(attempt(2, due + timedelta(seconds=1), None), 7.0, [on_time]) == 1  # 7 late is 0
        assert grader._counting(attempt(2, due, None), 7.0, [on_time]) == 2  # at the due date: on time
        late_batch = BatchAttempt("ada", A1, due + timedelta(seconds=1), due, 9.0, 9.0, True)
        assert grader._counting(attempt(2, due - timedelta(seconds=9), None), 2.0, [on_time], late_batch) == 1
        on_time_batch = BatchAttempt("ada", A1, due, due, 9.0, 9.0, True)
        assert grader._counting(attempt(2, due - timedelta(seconds=9), None), 2.0, [on_time], on_time_batch) == BATCH
        store.set_extension("ada", A1, 1)
        assert grader._counting(attempt(2, due + timedelta(minutes=59), None), 7.0, [on_time]) == 2
        assert grader._counting(attempt(2, due + timedelta(minutes=61), None), 7.0, [on_time]) == 1
    finally:
        grader._close_writers()
        store.close()
