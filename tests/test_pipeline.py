"""The pipeline's contracts, without sandboxes: a pool hands each job's result on once, in whatever order results
complete, and `drain` gives each to the sink exactly once; the batch's sink writes each into its JSON report once."""
import json
import queue
import tempfile
import threading
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.grading.batch import SKIPPED, BatchSink, BatchSummary, _JsonReport
from autograder.results.model import error_result
from autograder.grading.pipeline import STOP, Job, drain, other_assignments
from autograder.course.spec import AssignmentSpec, Exercise

SPECS = {name: AssignmentSpec(name, f"{name}.ipynb", (Exercise(f"{name}_ex", "ex", ("f",), 2.0),), {}, {},
                              frozenset({f"{name}_ex"})) for name in ("01", "02", "03")}


class FakePool(threading.Thread):
    """A pool as pipeline.Pool describes it: its share of the jobs, in the order they `complete`; then (None, None),
    or (None, error) first when its grading failed."""

    def __init__(self, completed: list, results: queue.Queue, failure: BaseException | None = None):
        super().__init__(daemon=True)
        self.completed, self.results, self.failure = completed, results, failure

    def run(self):
        for job in self.completed:
            self.results.put((job, error_result(SPECS[job.assignment], job.student, f"graded {job.key}")))
        if self.failure is not None:
            self.results.put((None, self.failure))
        self.results.put((None, None))


class Recorder:
    def __init__(self):
        self.taken, self.errors = [], []

    def take(self, job, result):
        self.taken.append((job.key, result.reason))

    def pool_ended(self, error):
        self.errors.append(error)


def jobs(count: int) -> list[Job]:
    return [Job(f"student{index}", Path(f"s{index}.ipynb"), None, assignment=f"0{index % 3 + 1}", key=index)
            for index in range(count)]


def shares(count: int):
    """The jobs dealt to 1-3 pools, each pool completing its share in some order."""
    return st.integers(1, 3).flatmap(lambda pools: st.tuples(
        st.lists(st.integers(0, pools - 1), min_size=count, max_size=count),
        st.permutations(range(count))).map(lambda dealt: [[index for index in dealt[1] if dealt[0][index] == pool]
                                                          for pool in range(pools)]))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 12).flatmap(shares))
def test_each_jobs_result_reaches_the_sink_once_whatever_the_completion_order(dealt):
    every = jobs(sum(map(len, dealt)))
    results, sink = queue.Queue(), Recorder()
    pools = [FakePool([every[index] for index in share], results) for share in dealt]
    for pool in pools:
        pool.start()
    drain(results, sink, len(pools))
    assert sorted(sink.taken) == [(job.key, f"graded {job.key}") for job in every]
    assert sink.errors == [None] * len(pools)


def test_drain_stops_at_stop_while_pools_run_on():
    results, sink = queue.Queue(), Recorder()
    first, second = jobs(2)
    for item in [(first, error_result(SPECS["02"], "s", "graded 0")), (None, None), (STOP, None),
                 (second, error_result(SPECS["03"], "s", "graded 1"))]:
        results.put(item)
    drain(results, sink)
    assert sink.taken == [(0, "graded 0")] and sink.errors == [None]
    assert results.qsize() == 1


def batch_sink(folder: Path, on_result=None) -> tuple[BatchSink, _JsonReport, dict]:
    report = _JsonReport(folder / "report.json")
    summaries = {name: BatchSummary(name, max_score=spec.max_score) for name, spec in SPECS.items()}
    return BatchSink(None, SPECS, {}, report, summaries, folder / "autograded", on_result), report, summaries


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10).flatmap(shares))
def test_the_batch_sink_reports_each_submission_once_whatever_the_completion_order(dealt):
    every = jobs(sum(map(len, dealt)))
    with tempfile.TemporaryDirectory() as folder:
        told = []
        sink, report, summaries = batch_sink(Path(folder), told.append)
        results = queue.Queue()
        pools = [FakePool([every[index] for index in share], results) for share in dealt]
        for pool in pools:
            pool.start()
        drain(results, sink, len(pools))
        report.close()
        written = json.loads((Path(folder) / "report.json").read_text())
    assert sorted((entry["student"], entry["reason"]) for entry in written) == sorted(
        (job.student, f"graded {job.key}") for job in every)
    assert sorted(result.student for result in told) == sorted(job.student for job in every)
    assert {name: summary.errors for name, summary in summaries.items()} == {
        name: sum(job.assignment == name for job in every) for name in SPECS}


def test_a_pool_whose_grading_failed_stops_the_batch_sink(tmp_path):
    results = queue.Queue()
    sink, report, _ = batch_sink(tmp_path)
    pool = FakePool(jobs(2), results, failure=RuntimeError("the sandbox failed"))
    pool.start()
    try:
        drain(results, sink, 1)
    except RuntimeError as error:
        assert str(error) == "the sandbox failed"
    else:
        raise AssertionError("the batch went on after its pool failed")
    finally:
        report.discard()
    assert report.count == 2 and not (tmp_path / "report.json").exists()


def test_skipped_is_not_a_result():
    assert SKIPPED != error_result(SPECS["01"], "s", "x")


def test_other_assignments_are_every_other_in_the_course_order():
    assert [spec.name for spec in other_assignments(SPECS, "02")] == ["01", "03"]
    assert [spec.name for spec in other_assignments(SPECS, "04")] == ["01", "02", "03"]


def test_a_job_carries_its_key_beside_its_fingerprint():
    job = Job("ada", Path("a.ipynb"), None, "f" * 64, "01", key=7)
    assert (job.key, job.fingerprint) == (7, "f" * 64)
    assert Job("ada", None, None).key == ""
