"""What an LMS answers is untrusted input: any JSON in a result or a member is read without an exception, and
only a real number on a positive scale ever counts as a score held."""
from hypothesis import example, given, settings
from hypothesis import strategies as st

from autograder.lms.ags import StudentScore, held_fractions
from autograder.lms.nrps import is_learner, member_key, refusal
from autograder.lms.settings import MATCHES

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3), max_leaves=8)


@settings(max_examples=100, deadline=None)
@given(result=st.dictionaries(st.sampled_from(["resultScore", "resultMaximum", "userId", "comment"]), json_values),
       item_maximum=st.none() | st.floats(min_value=0.001, max_value=1e6))
def test_any_result_is_read_as_fractions_of_real_numbers_only(result, item_maximum):
    readings = held_fractions(result, item_maximum)
    given_score = result.get("resultScore")
    if not isinstance(given_score, (int, float)) or isinstance(given_score, bool):
        assert readings == []
    assert all(isinstance(reading, float) or isinstance(reading, int) for reading in readings)


@given(score=st.floats(min_value=0, max_value=100), maximum=st.floats(min_value=0.5, max_value=100),
       item_maximum=st.floats(min_value=0.5, max_value=100))
def test_a_score_on_the_line_items_scale_is_read_as_the_fraction_sent(score, maximum, item_maximum):
    held = {"resultScore": score * item_maximum / maximum, "resultMaximum": maximum}  # as Moodle answers
    assert any(abs(f - score / maximum) <= 1e-9 * max(1, score) for f in held_fractions(held, item_maximum))


@settings(max_examples=100, deadline=None)
@given(member=st.dictionaries(st.sampled_from(["user_id", "email", "lis_person_sourcedid", "ext_user_username",
                                               "roles", "status", "name"]), json_values),
       match=st.sampled_from(sorted(MATCHES)))
def test_any_member_is_matched_or_refused_without_an_exception(member, match):
    member = {**member, "user_id": "u-1"}
    assert isinstance(member_key(member, match), str)
    assert is_learner(member) in (True, False)
    score = StudentScore("ann", "u-1", 1.0, 2.0, 0.0, (), "ann@uni.edu")
    why = refusal(score, {"u-1": member}, match)
    assert why is None or "nothing was posted" in why


@settings(max_examples=100, deadline=None)
@given(query=st.lists(st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=8)), max_size=4),
       link=st.text(min_size=1, max_size=30))
def test_a_link_roster_url_asks_for_that_resource_link_once_and_keeps_the_rest_of_the_query(query, link):
    from urllib.parse import parse_qsl, urlencode, urlsplit

    from autograder.lms.nrps import link_memberships_url

    url = link_memberships_url("https://lms.test/context/1/memberships?" + urlencode(query), link)
    asked = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    assert [value for name, value in asked if name == "rlid"] == [link]
    assert [pair for pair in asked if pair[0] != "rlid"] == [pair for pair in query if pair[0] != "rlid"]
    assert urlsplit(url).path == "/context/1/memberships"


BOUND = ("https://lms.test", "autograder-tool", "deployment-1", "context-1")
CONTEXT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/context"
DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
near = st.sampled_from(list(BOUND) + ["context-2", "deployment-2", "https://other.lms", "", " context-1", "CONTEXT-1"])


@settings(max_examples=150, deadline=None)
@example(claims={"iss": BOUND[0], "aud": BOUND[1], DEPLOYMENT_CLAIM: BOUND[2], CONTEXT_CLAIM: {"id": BOUND[3]}})
@example(claims={"iss": BOUND[0], "aud": [BOUND[1], "x"], DEPLOYMENT_CLAIM: BOUND[2], CONTEXT_CLAIM: {"id": BOUND[3]}})
@example(claims={"iss": BOUND[0], "aud": ["x", BOUND[1]], DEPLOYMENT_CLAIM: BOUND[2], CONTEXT_CLAIM: {"id": BOUND[3]}})
@example(claims={"iss": BOUND[0], "aud": BOUND[1], DEPLOYMENT_CLAIM: BOUND[2], CONTEXT_CLAIM: {"id": "context-9"}})
@given(claims=st.fixed_dictionaries({}, optional={
    "iss": near | json_values, "aud": near | st.lists(near, max_size=3) | json_values,
    DEPLOYMENT_CLAIM: near | json_values,
    CONTEXT_CLAIM: st.fixed_dictionaries({}, optional={"id": near | json_values, "label": json_values}) | json_values}))
def test_a_launch_is_served_only_from_exactly_a_bound_lms_course(claims):
    """Any claims (a validated token's, with whatever an LMS put in them): served only when issuer, client id (aud,
    or the first of a list, as pylti1p3 checks it), deployment id and context id are each exactly the bound one's."""
    from autograder.lms.links import Context, ContextKey, is_served, launch_context

    launched_only = Context(ContextKey("https://lms.test", "autograder-tool", "deployment-1", "context-9"), id=2)
    bound = [Context(ContextKey(*BOUND), configured=True), launched_only]
    audience = claims.get("aud")
    client = audience[0] if isinstance(audience, list) and audience else audience
    context = claims.get(CONTEXT_CLAIM)
    sent = (claims.get("iss"), client, claims.get(DEPLOYMENT_CLAIM), context.get("id") if isinstance(context, dict)
            else None)
    served = is_served(launch_context(claims), [c for c in bound if c.bound])
    assert served == (sent == BOUND)
