"""The service's policies in course_config.py: defaults, overrides, their edges, and clear errors."""
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from autograder.web.policies import Policy, PolicyError, check_policies, policy

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
