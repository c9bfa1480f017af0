"""Reaching outside the sandbox: reading hidden checks, the source, other students' and course files; writing
outside; the network; killing the grader; forging the messages the sandbox sends the grader."""
import os
import re
from pathlib import Path

import pytest

from expectations import cell_errors, cell_text, digest, earns_honest_points, everything_said, output

pytestmark = pytest.mark.slow  # sandboxes and real batches


# reading what a student must not read: each attack would earn a point if it could read its target

def test_hidden_checks_can_be_neither_read_nor_imported(hostile_batch):
    result = earns_honest_points(hostile_batch, "read_hidden_checks", lost={"df"})
    printed = cell_text(result, "cannot read")
    assert f"cannot read {hostile_batch.targets.hidden_checks} FileNotFoundError" in printed
    assert "import autograder.hidden: ModuleNotFoundError" in printed
    assert "df(5) returned 0, but 4 was expected" in output(result, "check_df")


def test_hidden_checks_source_and_gradebook_are_not_found_by_guessing_paths(hostile_batch):
    result = earns_honest_points(hostile_batch, "read_hidden_checks_variants")
    printed = cell_text(result, "working in")
    assert "/work/main/autograder/hidden/*.py -> nothing" in printed
    assert "cannot open: FileNotFoundError" in printed
    assert "import autograder ->" in printed and "def reference_df" not in everything_said(result)


def test_another_students_answers_cannot_be_copied(hostile_batch):
    result = earns_honest_points(hostile_batch, "read_other_student", lost={"max_stable_learning_rate"})
    assert "cannot read the other student's answers: FileNotFoundError" in cell_text(result, "other student")
    assert "max_stable_learning_rate is 0.5" in output(result, "check_max_stable_learning_rate")


def test_the_source_notebook_and_its_folder_cannot_be_read(hostile_batch):
    result = earns_honest_points(hostile_batch, "read_source", lost={"df"})
    printed = cell_text(result, "no source notebook")
    assert "no secret: FileNotFoundError" in printed and "no source notebook: FileNotFoundError" in printed


def test_course_config_gradebook_and_the_machines_files_cannot_be_read(hostile_batch):
    result = earns_honest_points(hostile_batch, "read_course_files")
    printed = cell_text(result, "course_config.py ->")
    assert printed.count("-> FileNotFoundError") == 3  # course_config.py, gradebook.db, nbgrader_config.py
    assert "/proc/1/environ -> PermissionError" in printed and "-> b'" not in printed  # nothing read at all


def test_no_secret_reaches_any_output_report_autograded_copy_or_the_gradebook(hostile_batch):
    root = hostile_batch.course.root
    texts = [everything_said(result) for result in hostile_batch.results.values()]
    texts += [str(report) for report in hostile_batch.json_reports.values()]
    texts += [path.read_text(errors="replace") for path in (root / "autograded").rglob("*") if path.is_file()]
    texts.append((root / "gradebook.db").read_bytes().decode(errors="replace"))
    for secret in hostile_batch.secrets:
        assert not any(secret in text for text in texts), f"{secret} leaked"


# writing outside the sandbox

def test_nothing_is_written_outside_the_sandbox(hostile_batch):
    targets = hostile_batch.targets
    result = earns_honest_points(hostile_batch, "write_outside")
    printed = cell_text(result, "could not write")
    assert "WROTE" not in printed and "OPENED THE HIDDEN CHECKS FOR WRITING" not in printed
    assert printed.count("could not write") == 6
    assert not (targets.course_root / "escaped.txt").exists() and not (targets.outside / "escaped.txt").exists()
    assert not Path("/tmp/escaped-from-adversarial-suite.txt").exists()
    assert b"written by a student notebook" not in targets.gradebook.read_bytes()


def test_course_files_and_other_submissions_are_unchanged(hostile_batch):
    assert {path: digest(path) for path in hostile_batch.digests_before} == hostile_batch.digests_before


# the network

def test_no_connection_leaves_the_sandbox(hostile_batch):
    result = earns_honest_points(hostile_batch, "network")
    printed = cell_text(result, "no connection to")
    assert "CONNECTED" not in printed and "RESOLVED" not in printed
    assert f"no connection to ('127.0.0.1', {hostile_batch.targets.port})" in printed
    assert hostile_batch.connections == []  # the test's own TCP and abstract unix listeners never heard a thing


def test_a_graded_function_that_phones_home_is_still_graded_on_its_value(hostile_batch):
    earns_honest_points(hostile_batch, "network_in_graded_function")
    assert hostile_batch.connections == []


# killing the grader

def test_signals_for_the_zygote_pid_1_and_the_grader_are_refused(hostile_batch):
    result = earns_honest_points(hostile_batch, "kill_the_grader")
    printed = cell_text(result, "refused parent")
    assert "signalled" not in printed
    assert re.search(r"refused parent \d+ SIGKILL PermissionError", printed)
    assert "refused pid 1 1 SIGKILL PermissionError" in printed
    assert f"refused grader {os.getpid()} SIGKILL" in printed  # that number means nothing in the sandbox
    assert any("ended the Python process" in note for note in result.notes)  # killpg(0) killed only itself
    assert os.getpid() == hostile_batch.targets.grader_pid


def test_killing_the_parent_in_the_middle_of_the_notebook_is_refused(hostile_batch):
    result = earns_honest_points(hostile_batch, "kill_parent")
    assert "PermissionError" in cell_errors(result)


# forging the sandbox's messages: student code shares the process that talks to the grader

def test_a_forged_sandbox_error_does_not_stop_the_batch(hostile_batch):
    result = earns_honest_points(hostile_batch, "forged_sandbox_error")
    assert any(note.startswith("Cell 16 interfered with the grader (it wrote on the grader's connection); it was "
                               "skipped and the notebook run again without it.") for note in result.notes)


def test_forged_checkpoints_and_cell_results_are_refused(hostile_batch):
    result = earns_honest_points(hostile_batch, "forged_protocol")
    assert any("Cell 16 interfered with the grader" in note for note in result.notes)
    assert "o" * 1000 not in everything_said(result)


def test_forged_heartbeats_do_not_keep_an_endless_cell_alive(hostile_batch):
    result = earns_honest_points(hostile_batch, "forged_keepalive")
    assert any("Cell 16 interfered with the grader" in note for note in result.notes)
    assert result.seconds < 15


def test_an_oversized_message_is_refused_unread(hostile_batch):
    result = earns_honest_points(hostile_batch, "forged_oversized_message")
    assert any("Cell 16 interfered with the grader" in note for note in result.notes)
    assert hostile_batch.rss_growth_mb < 1000  # parsing it would have taken the grader over 3 GB

