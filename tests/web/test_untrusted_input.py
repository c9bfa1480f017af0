"""Property-based tests of what the service parses from strangers: uploaded files and sign-in tokens."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.course import notebook as nb
from autograder.grading.grade import assignment_spec
from autograder.web.uploads import Refused, check_notebook
from served import A1

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=20)


@pytest.fixture(scope="module")
def specs(course):
    return assignment_spec(course, A1), [assignment_spec(course, name) for name in course.assignments if name != A1]


@pytest.fixture(scope="module")
def release_cells(course):
    return json.loads(course.release_notebook(A1).read_text())["cells"]


def outcome(data: bytes, specs, scratch) -> str:
    """"accepted" or the refusal's message; anything else raised fails the test."""
    spec, others = specs
    try:
        check_notebook(data, spec, others, scratch)
        return "accepted"
    except Refused as refused:
        return str(refused)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000) | json_values.map(lambda value: json.dumps(value).encode()))
def test_any_file_is_accepted_only_if_it_is_a_notebook_of_the_assignment(specs, tmp_path, data):
    said = outcome(data, specs, tmp_path)
    if said == "accepted":
        notebook = json.loads(data)
        assert {cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") for cell in notebook["cells"]} \
            & specs[0].grade_ids
    else:
        assert said.startswith(("The file is empty", "This file is not a Jupyter notebook", "This notebook has",
                                "This is the notebook of"))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keep=st.lists(st.booleans(), min_size=1, max_size=60), junk=json_values, where=st.integers(0, 59))
def test_a_damaged_release_notebook_gets_an_answer_never_an_error(specs, release_cells, tmp_path, keep, junk, where):
    cells = [cell for cell, kept in zip(release_cells, keep * 60) if kept]
    if cells:
        cells[where % len(cells)] = {**cells[where % len(cells)], "metadata": junk}
    data = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}).encode()
    said = outcome(data, specs, tmp_path)
    kept_ids = {nb.grade_id(cell) for cell in cells if isinstance(cell["metadata"], dict)
                and isinstance(cell["metadata"].get("nbgrader"), dict)}
    spec, others = specs
    own = spec.grade_ids - set().union(*(other.grade_ids for other in others))  # not "imports", say
    if kept_ids & own:
        assert said == "accepted"
    else:
        assert said.startswith(("This notebook has", "This file is not a Jupyter notebook"))


@pytest.fixture
def client(server):
    return server.app.test_client()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"),
                     min_size=1, max_size=200))
@pytest.mark.slow
def test_no_made_up_token_signs_anyone_in(client, token):
    response = client.get(f"/signin/{token}")
    assert response.status_code in (403, 404)
    assert "session=" not in response.headers.get("Set-Cookie", "") or "user_id" not in response.text
    assert client.get("/assignments").status_code == 401
