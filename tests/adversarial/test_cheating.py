"""Cheating inside the rules of Python: fake numbers, monkeypatched NumPy, builtins and checks, tampered nbgrader
metadata, deleted and duplicated cells. Each earns exactly what its honest part earns, and is told why."""
import pytest

from catalogue import A1
from expectations import cell_text, earns_honest_points, output

pytestmark = pytest.mark.slow  # reads one real batch per assignment (sandboxes, nbgrader's gradebook)


# fake equality and fake numbers: what crosses into the grader is plain data, so an object that agrees with
# everything arrives as "an object of type X"

def test_float_subclass_whose_eq_is_always_true_earns_nothing(hostile_batch):
    result = earns_honest_points(hostile_batch, "fake_float_eq", lost={"df"})
    # a float subclass crosses as the float it is, so its __eq__ never runs: judged by its value
    assert "df(5) returned 0, but 4 was expected." in output(result, "check_df")


def test_numpy_scalar_subclass_arrives_as_its_plain_value(hostile_batch):
    result = earns_honest_points(hostile_batch, "fake_numpy_scalar", lost={"df"})
    assert "df(5) returned 0, but 4 was expected." in output(result, "check_df")


def test_object_with_array_interface_cannot_fetch_the_reference(hostile_batch):
    result = earns_honest_points(hostile_batch, "fake_array_interface", lost={"df"})
    assert "reference: unavailable ModuleNotFoundError" in cell_text(result, "reference:")
    assert "returned an object of type Sneaky" in output(result, "check_df")


def test_always_equal_numbers_and_arrays_earn_nothing_in_01(hostile_batch):
    # df is judged at its own check cell, before the cell redefining it: only gradient_descent is the fake one
    result = earns_honest_points(hostile_batch, "fake_equality_01", lost={"gradient_descent"})
    assert "an object of type AlwaysEqualArray" in output(result, "check_gradient_descent")


def test_always_equal_arrays_earn_nothing_in_02(hostile_batch):
    result = earns_honest_points(hostile_batch, "fake_equality_02", lost={"train"})
    assert "AlwaysEqualArray" in output(result, "check_train")


def test_always_equal_gradients_earn_nothing_in_03(hostile_batch):
    result = earns_honest_points(hostile_batch, "fake_equality_03", lost={"numerical_gradient"})
    assert "AlwaysEqualArray" in output(result, "check_numerical_gradient")


def test_always_equal_floats_earn_nothing_in_04_and_fit_only_what_its_own_code_earns(hostile_batch):
    # fit is re-checked with the reference sse_gradient (a mistake is charged once), so its weight and bias are
    # right; its history still comes from the fake sse, defined after sse's own check had passed: half its checks
    result = earns_honest_points(hostile_batch, "fake_equality_04", lost={"sse_gradient", "fit"}, earns={"fit": 1.5})
    assert "returned (0, 0), but" in output(result, "check_sse_gradient")  # judged as the plain numbers they are
    assert "`fit` was checked with a correct `sse_gradient` in place of yours" in output(result, "check_fit")


def test_hardcoded_worked_example_values_fail_on_unseen_inputs(hostile_batch):
    result = earns_honest_points(hostile_batch, "hardcoded_worked_values_04", lost={"fit"})
    assert "fit(np.array(" in output(result, "check_fit")


# monkeypatching: the student's process is not the grader's

def test_monkeypatched_numpy_and_builtins_fool_no_check_in_01(hostile_batch):
    result = earns_honest_points(hostile_batch, "monkeypatch_numpy_builtins_01", lost={"df"})
    assert "It looks like you dropped the factor 2" in output(result, "check_df")


def test_monkeypatched_numpy_and_builtins_fool_no_check_in_02(hostile_batch):
    # train is right: re-checked with the reference update_weights, it loses nothing for update_weights' mistake
    result = earns_honest_points(hostile_batch, "monkeypatch_numpy_builtins_02", lost={"update_weights"})
    assert "update_weights(np.array(" in output(result, "check_update_weights")
    assert "`train` is right when `update_weights` is right" in output(result, "check_train")


def test_replaced_visible_check_helper_passes_visibly_but_not_hidden(hostile_batch):
    result = earns_honest_points(hostile_batch, "monkeypatch_check_helper", lost={"df"})
    assert "✓ df(5) = 4, as expected." in cell_text(result, "df(5)")  # the student's fake verdict...
    assert "It looks like you flipped the sign" in output(result, "check_df")  # ...and the grader's


def test_faked_pytest_assertion_error_and_hidden_entry_point_change_nothing(hostile_batch):
    result = earns_honest_points(hostile_batch, "monkeypatch_pytest_assert", lost={"max_stable_learning_rate"})
    assert "patched pytest" in cell_text(result, "patched pytest")
    assert "max_stable_learning_rate is 0.5, which is too small." in output(result, "check_max_stable_learning_rate")


# tampered nbgrader metadata, deleted and duplicated cells: points and checks come from the source notebook

def test_raised_points_and_a_bonus_cell_change_no_score(hostile_batch):
    result = earns_honest_points(hostile_batch, "raised_points")
    assert result.max_score == hostile_batch.control(A1).max_score == 9
    assert "bonus" not in [test.name for test in result.tests]


def test_swapped_grade_ids_run_each_check_where_its_cell_stands(hostile_batch):
    # the cell labelled check_gradient_descent now stands above gradient_descent, so its checks run too early
    result = earns_honest_points(hostile_batch, "swapped_grade_ids", lost={"gradient_descent"})
    assert "`gradient_descent` could not be checked: it is not defined" in output(result, "check_gradient_descent")


def test_solution_cell_turned_into_markdown_defines_nothing(hostile_batch):
    result = earns_honest_points(hostile_batch, "solution_cell_as_markdown", lost={"df"})
    assert "`df` could not be checked: it is not defined" in output(result, "check_df")


def test_check_cell_turned_into_markdown_still_gets_the_hidden_checks(hostile_batch):
    result = earns_honest_points(hostile_batch, "check_cell_as_markdown")
    assert output(result, "check_gradient_descent_update") == "All 3 checks passed."


def test_edited_locked_cells_are_restored_from_the_source(hostile_batch):
    result = earns_honest_points(hostile_batch, "edited_locked_cells", lost={"df"})
    assert "The check cell under this exercise failed: df(5) returned 2, but 4 was expected" in output(result,
                                                                                                  "check_df")
    assert "all good" not in "".join(text for text, _ in result.cell_outputs.values())


def test_tampered_checksums_and_an_unlocked_emptied_check_cell_change_nothing(hostile_batch):
    result = earns_honest_points(hostile_batch, "tampered_checksums", lost={"df"})
    assert "The check cell under this exercise failed: df(5) returned -4," in output(result, "check_df")


def test_deleted_cells_cost_only_the_exercise_they_held(hostile_batch):
    result = earns_honest_points(hostile_batch, "deleted_cells", lost={"df"})
    assert "`df` could not be checked: it is not defined anywhere in your notebook" in output(result, "check_df")


def test_duplicated_cells_are_judged_at_the_check_cell_of_the_source(hostile_batch):
    # the copy of check_df above df fails there; df is judged after the real check_df, by then defined right
    result = earns_honest_points(hostile_batch, "duplicated_cells")
    assert output(result, "check_df") == "All 2 checks passed."
