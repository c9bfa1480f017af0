"""Using up the machine: process and memory bombs, endless loops in cells and in graded functions, huge output,
exiting in the middle. Each is stopped, the rest of the notebook still counts, and nothing is left running."""
import re

import pytest

from expectations import leftover_processes, printed_uids
from expectations import cell_errors, cell_text, earns_honest_points, output

pytestmark = pytest.mark.slow  # reads one real batch per assignment (sandboxes, nbgrader's gradebook)


def test_process_bomb_is_refused_at_the_process_limit_and_cleaned_up(hostile_batch):
    result = earns_honest_points(hostile_batch, "fork_bomb_shown")
    assert "fork refused after 31 children" in cell_text(result, "fork refused")
    (uid,) = printed_uids(result)
    assert leftover_processes(uid) == []


def test_process_bomb_after_the_functions_costs_nothing(hostile_batch):
    result = earns_honest_points(hostile_batch, "fork_bomb")
    assert "Resource temporarily unavailable" in cell_text(result, "fork refused")


def test_processes_forked_by_a_graded_function_do_not_outlive_it(hostile_batch):
    result = earns_honest_points(hostile_batch, "fork_in_graded_function")
    (uid,) = printed_uids(result)
    assert leftover_processes(uid) == []


def test_memory_bomb_in_a_cell_is_stopped(hostile_batch):
    result = earns_honest_points(hostile_batch, "memory_bomb")
    # whichever limit it meets first: the memory limit, or its processor-time budget (zeroing 512 MB takes a while)
    assert cell_errors(result) in (["MemoryError"], ["CellTimeout"])


def test_memory_bomb_in_a_graded_function_costs_only_that_exercise(hostile_batch):
    result = earns_honest_points(hostile_batch, "memory_bomb_in_function", lost={"numerical_gradient"})
    # whichever limit it meets first in its check cell: the memory limit, or the cell's time budget
    said = output(result, "check_numerical_gradient")
    assert "raised MemoryError" in said or "CellTimeout: the cell ran longer than" in said, said


def test_endless_cell_is_stopped_and_the_rest_still_runs(hostile_batch):
    result = earns_honest_points(hostile_batch, "endless_loop_cell")
    assert any(re.fullmatch(r"Cell \d+ ran longer than [\d.]+ m?s and was stopped \(no cell of your instructor's "
                            r"solution needs more than [\d.]+ m?s\): look for a loop that never ends\. The cells "
                            r"after it still ran\.(?: It begins with `[^`]*`\.)?", note) for note in result.notes), result.notes


def test_endless_cell_that_swallows_the_timeout_is_killed_and_skipped(hostile_batch):
    result = earns_honest_points(hostile_batch, "endless_loop_swallowing_timeout")
    assert any(note.startswith("Cell 21 did not finish and had to be stopped; it was skipped and the notebook run "
                               "again without it. It begins with `") for note in result.notes)


def test_endless_loop_in_a_function_the_hidden_checks_call_in_01(hostile_batch):
    result = earns_honest_points(hostile_batch, "endless_loop_in_function_01", lost={"gradient_descent"})
    assert re.search(r"gradient_descent\(.*\) did not finish within [\d.]+ m?s and was stopped \((your instructor's "
                     r"solution needs|it had already run out of time once)[^)]+\)\. Look for a loop that never ends\.",
                     output(result, "check_gradient_descent"))


def test_endless_loop_in_a_function_the_hidden_checks_call_in_02(hostile_batch):
    result = earns_honest_points(hostile_batch, "endless_loop_in_function_02", lost={"train"})
    message = output(result, "check_train")  # stopped at its budget, or at the floor once its loop ran out of time
    assert "train(" in message and ("did not finish within" in message or "had already run out of time once" in message)


def test_endless_loop_in_a_helper_costs_the_exercises_that_call_it(hostile_batch):
    result = earns_honest_points(hostile_batch, "endless_loop_in_helper_03", lost={"forward", "backprop"})
    assert "forward(np.array(" in output(result, "check_forward") and "did not finish within" in output(
        result, "check_forward")


def test_endless_callbacks_into_the_grader_are_stopped_by_the_call_time_limit(hostile_batch):
    result = earns_honest_points(hostile_batch, "endless_callbacks", lost={"gradient_descent"})
    assert re.search(r"did not finish within [\d.]+ m?s and was stopped \([^)]+\)\. Look for a loop that never ends\.",
                     output(result, "check_gradient_descent"))
    assert result.seconds < 20  # each call is held to its budget + grace, however many callbacks it makes


def test_huge_output_is_cut_at_the_output_limit(hostile_batch):
    result = earns_honest_points(hostile_batch, "huge_output")
    kept = sum(len(text) for text, _ in result.cell_outputs.values())
    assert kept <= hostile_batch.course.max_output_kb * 1024
    assert cell_text(result, "xxxxxxxxxx").startswith("x" * 1000)


def test_a_million_printed_lines_are_stopped_and_cut(hostile_batch):
    result = earns_honest_points(hostile_batch, "huge_output_variants")
    assert sum(len(text) for text, _ in result.cell_outputs.values()) <= hostile_batch.course.max_output_kb * 1024


def test_a_result_too_large_to_check_is_refused_by_the_sandbox_itself(hostile_batch):
    result = earns_honest_points(hostile_batch, "huge_result", lost={"df"})
    assert "MB of data, more than the 8 MB that can be checked" in output(
        result, "check_df")
    assert result.notes == []  # refused politely: the notebook's process carried on


def test_sys_exit_in_a_cell_ends_only_that_cell(hostile_batch):
    result = earns_honest_points(hostile_batch, "sys_exit")
    assert "SystemExit" in cell_errors(result) and result.notes == []


def test_raise_system_exit_in_a_cell_ends_only_that_cell(hostile_batch):
    result = earns_honest_points(hostile_batch, "raise_system_exit")
    assert "SystemExit" in cell_errors(result)


def test_os_exit_in_a_cell_is_skipped_and_the_notebook_rerun(hostile_batch):
    result = earns_honest_points(hostile_batch, "os_exit")
    assert any("ended the Python process (exit, os._exit, a crash or too much memory); it was skipped" in note
               for note in result.notes)


def test_system_exit_in_a_graded_function_fails_that_exercise(hostile_batch):
    result = earns_honest_points(hostile_batch, "system_exit_in_graded_function", lost={"df"})
    assert "df(5) raised SystemExit: 0" in output(result, "check_df")


def test_sys_exit_in_fit_fails_fit_only(hostile_batch):
    result = earns_honest_points(hostile_batch, "sys_exit_in_graded_function_04", lost={"fit"})
    assert "raised SystemExit: no fitting today" in output(result, "check_fit")


def test_os_exit_in_a_graded_function_fails_that_exercise_and_the_rest_is_graded_in_a_rerun(hostile_batch):
    result = earns_honest_points(hostile_batch, "os_exit_in_graded_function", lost={"df"})
    assert "ended the Python process instead of returning a value" in output(result, "check_df")
