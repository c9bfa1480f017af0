"""The counting rule over one history: the service's attempts and the batch's graded submission alike
(history.counting_attempt), and the batch's record as the service reads it (Store.batch_attempts)."""
import json
import re
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograder.grading.history import BATCH, Graded, PolicyError, counting_attempt, counting_rule
from autograder.web.policies import policy
from autograder.web.store import Store

A1 = "01-gradient-descent"
START = datetime(2026, 10, 1)
scores = st.sampled_from([0.0, 2.5, 5.0, 7.0, 9.0])   # few values: ties between attempts are common
minutes = st.integers(0, 20)                           # few moments: attempts handed in at the same time too


@st.composite
def histories(draw):
    """Web attempts numbered 1, 2, ... in upload order, and at most one batch-graded submission at any time."""
    web, at = [], START
    for number in range(1, draw(st.integers(0, 6)) + 1):
        at += timedelta(minutes=draw(minutes))
        web.append(Graded(number, draw(scores), at, number))
    batch = [Graded(BATCH, draw(scores), START + timedelta(minutes=draw(st.integers(0, 120))), 0)] \
        if draw(st.booleans()) else []
    return draw(st.permutations(web + batch))


def handed_in(graded):
    return graded.submitted_at, graded.order


@given(histories())
def test_under_best_no_attempt_scores_more_nor_as_much_and_later(history):
    counted = counting_attempt("best", history)
    if not history:
        assert counted is None
        return
    chosen = next(graded for graded in history if graded.key == counted)
    for other in history:
        assert other.score <= chosen.score
        if other.score == chosen.score and other is not chosen:
            assert handed_in(other) < handed_in(chosen)


@given(histories())
def test_under_last_the_attempt_handed_in_last_counts_whatever_its_score(history):
    counted = counting_attempt("last", history)
    if not history:
        assert counted is None
        return
    chosen = next(graded for graded in history if graded.key == counted)
    assert all(handed_in(other) < handed_in(chosen) for other in history if other is not chosen)


@given(histories(), st.sampled_from(["best", "last"]))
def test_the_order_the_attempts_are_listed_in_does_not_matter(history, counting):
    assert counting_attempt(counting, history) == counting_attempt(counting, list(reversed(history)))


@given(st.lists(scores, min_size=1, max_size=5), scores)
def test_later_worse_web_attempts_never_replace_a_better_batch_grade_under_best(web_scores, batch_score):
    batch = Graded(BATCH, batch_score, START, 0)
    web = [Graded(number, score, START + timedelta(hours=number), number)
           for number, score in enumerate(web_scores, 1)]
    counted = counting_attempt("best", [batch, *web])
    if all(score < batch_score for score in web_scores):
        assert counted == BATCH
    else:  # as good or better, and later: the web attempt
        assert counted != BATCH
    assert counting_attempt("last", [batch, *web]) == len(web_scores)


COUNTINGS = st.sampled_from(["best", "last", "first", 3, None])   # with two a policy must refuse
POLICIES = st.dictionaries(st.sampled_from(["default", A1, "02-slopes-and-updates"]),
                           st.dictionaries(st.just("counting"), COUNTINGS, max_size=1), max_size=3)


@given(POLICIES)
def test_the_batch_counts_by_the_rule_the_service_counts_by(course, policies):
    """The gradebook (batch) reads only the counting rule, the service the whole policy: they must agree, and
    refuse a wrong rule with the same words."""
    configured = replace(course, policies=policies)
    try:
        service = policy(configured, A1).counting
    except PolicyError as error:
        with pytest.raises(PolicyError, match=re.escape(str(error))):
            counting_rule(configured, A1)
    else:
        assert counting_rule(configured, A1) == service


def test_the_issue_s_case_best_keeps_the_batch_7_last_takes_the_web_5():
    history = [Graded(BATCH, 7.0, START, 0), Graded(1, 5.0, START + timedelta(days=1), 1)]
    assert counting_attempt("best", history) == BATCH
    assert counting_attempt("last", history) == 1


def graded_row(db, student, assignment, fingerprint, score, submitted_at=None):
    db.execute("INSERT INTO autograder_graded (assignment, student, fingerprint, result, graded_at, submitted_at) "
               "VALUES (?, ?, ?, ?, ?, ?)", (assignment, student, fingerprint, json.dumps(
                   {"student": student, "assignment": assignment, "score": score, "max_score": 7.0,
                    "status": "graded", "tests": []}), "2026-10-10 10:00:00.000000", submitted_at))


def test_the_batch_s_graded_submission_counts_until_a_service_attempt_does(tmp_path):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    store = Store(url)
    with sqlite3.connect(tmp_path / "gradebook.db") as db:
        graded_row(db, "ada", "01", "a" * 64, 7.0, "2026-10-09 12:07:00.000000")
        graded_row(db, "bea", "01", "web-attempt-3", 5.0)   # the service wrote it here once: not the batch's
    ada, = store.batch_attempts()
    assert (ada.student, ada.assignment, ada.score, ada.max_score, ada.counts) == ("ada", "01", 7.0, 7.0, True)
    assert ada.submitted_at == datetime(2026, 10, 9, 12, 7)
    assert ada.result is None and store.batch_attempts(results=True)[0].result["status"] == "graded"
    with sqlite3.connect(tmp_path / "gradebook.db") as db:  # as the batch writes it now: the score in its column
        db.execute("UPDATE autograder_graded SET score = 6.5, max_score = 7 WHERE student = 'ada'")
    assert (store.batch_attempts()[0].score, store.batch_attempts()[0].max_score) == (6.5, 7.0)
    with sqlite3.connect(tmp_path / "gradebook.db") as db:
        db.execute("UPDATE autograder_graded SET score = 7, max_score = 7 WHERE student = 'ada'")
    attempt_id = store.reserve_attempt("ada", "01", 1, START, False)
    attempt = store.acknowledge(attempt_id)
    store.finish(attempt, "graded", 5.0, 7.0, None)        # the batch's 7 still counts
    assert store.batch_attempts("ada", "01")[0].counts
    store.finish(attempt, "graded", 7.5, 7.0, attempt_id)  # regraded higher: the web attempt counts now
    assert not store.batch_attempts("ada", "01")[0].counts
    assert store.batch_attempts("bea") == []
    store.close()


def test_a_gradebook_from_before_the_submitted_at_column_is_read_with_its_graded_time(tmp_path):
    with sqlite3.connect(tmp_path / "gradebook.db") as db:
        db.execute("CREATE TABLE autograder_graded (assignment VARCHAR(128) NOT NULL, student VARCHAR(128) NOT NULL, "
                   "fingerprint VARCHAR(64) NOT NULL, result TEXT NOT NULL, graded_at DATETIME NOT NULL, "
                   "PRIMARY KEY (assignment, student))")
        db.execute("INSERT INTO autograder_graded VALUES ('01', 'ada', ?, ?, '2026-10-10 10:00:00.000000')",
                   ("b" * 64, json.dumps({"score": 6.0, "max_score": 7.0})))
    store = Store(f"sqlite:///{tmp_path / 'gradebook.db'}")
    ada, = store.batch_attempts()
    assert (ada.score, ada.submitted_at, ada.counts) == (6.0, datetime(2026, 10, 10, 10), True)
    store.close()
