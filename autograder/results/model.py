"""The result of grading: each hidden check's verdict (CheckResult, with its figures), each exercise's
(TestResult) and the submission's (SubmissionResult), and their JSON. Below every stage: it imports only the
standard library and results/, so grading, the pages, the service and the LMS all read the same model."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import scores


def bounded(text: str, limit: int = 2000) -> str:
    """A message of at most about `limit` characters (a student's value can make one megabytes long)."""
    return text if len(text) <= limit else text[:limit] + f" … ({len(text) - limit:,} more characters left out)"


@dataclass(frozen=True)
class Series:
    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    style: str = "line"   # "line", "path" (points joined in order), "curve" (a thin background line) or "bar"


@dataclass(frozen=True)
class Figure:
    title: str
    x_label: str
    y_label: str
    series: tuple[Series, ...]

    def to_json(self) -> dict:
        return {"title": self.title, "x_label": self.x_label, "y_label": self.y_label,
                "series": [{"label": s.label, "x": list(s.x), "y": list(s.y), "style": s.style} for s in self.series]}

    @classmethod
    def from_json(cls, data: dict) -> "Figure":
        return cls(data["title"], data["x_label"], data["y_label"],
                   tuple(Series(s["label"], tuple(s["x"]), tuple(s["y"]), s["style"]) for s in data["series"]))


@dataclass(frozen=True)
class CheckResult:
    check: str      # the test function's name
    exercise: str
    passed: bool
    message: str    # empty when passed; written for the student when not
    mistake: str | None = None        # the known mistake it recognised, e.g. "dropped the factor 2"
    figures: tuple[Figure, ...] = ()
    weight: float = 1.0               # its share of the exercise's points, relative to the exercise's other checks


def earned(checks, points: float) -> float:
    """The points `checks` earn: the exercise's points split over its checks by weight."""
    total = sum(check.weight for check in checks)
    if not total:
        return 0.0
    return round(points * sum(check.weight for check in checks if check.passed) / total, 4)


@dataclass
class TestResult:
    name: str          # the autograded cell's grade id
    score: float
    max_score: float
    output: str
    manual: bool = False
    checks: tuple[CheckResult, ...] = ()   # each hidden check's verdict, the mistake it named, its figures
    visible_failed: bool = False           # the check cell's own (visible) checks failed
    helpers: tuple[str, ...] = ()          # wrong helpers replaced by their references for the checks that count
    pending: bool = False                  # a written answer not graded by hand yet: not counted, not 0
    notebook: str = ""                     # of an nbgrader assignment's several notebooks, the test cell's (its stem)

    def to_json(self) -> dict:
        return {"name": self.name, "score": self.score, "max_score": self.max_score, "output": self.output,
                **({"notebook": self.notebook} if self.notebook else {}),
                **({"manual": True} if self.manual else {}),
                **({"visible_failed": True} if self.visible_failed else {}),
                **({"helpers": list(self.helpers)} if self.helpers else {}),
                **({"pending": True} if self.pending else {}),
                **({"checks": [_check_json(check) for check in self.checks]} if self.checks else {})}

    @classmethod
    def from_json(cls, data: dict) -> "TestResult":
        checks = tuple(CheckResult(c["name"], c.get("exercise", ""), c["passed"], c.get("message", ""), c.get("mistake"),
                                   tuple(Figure.from_json(f) for f in c.get("figures", ())), c.get("weight", 1.0))
                       for c in data.get("checks", ()))
        return cls(data["name"], data["score"], data["max_score"], data["output"], data.get("manual", False),
                   checks, data.get("visible_failed", False), tuple(data.get("helpers", ())),
                   data.get("pending", False), data.get("notebook", ""))

    def check_lines(self) -> list[tuple[str, bool, float]]:
        """Each hidden check as (its name in words, passed, the points it is worth): partial credit, check by check."""
        total = sum(check.weight for check in self.checks)
        return [(check.check.removeprefix("test_").replace("_", " "), check.passed,
                 round(self.max_score * check.weight / total, 4) if total else 0.0) for check in self.checks]


def _check_json(check: CheckResult) -> dict:
    return {"name": check.check, "exercise": check.exercise, "passed": check.passed,
            **({"message": check.message} if check.message else {}),
            **({"mistake": check.mistake} if check.mistake else {}),
            **({"weight": check.weight} if check.weight != 1 else {}),
            **({"figures": [figure.to_json() for figure in check.figures]} if check.figures else {})}


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    score: float
    max_score: float
    status: str                           # "graded" or "error"
    reason: str = ""                      # why, when status is "error"
    tests: list[TestResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # what went wrong while running the notebook
    seconds: float = 0.0
    peak_memory_mb: float = 0.0           # the largest resident memory the student's code reached
    cell_outputs: dict = field(default_factory=dict)  # cell index -> (output text, error or None)
    cell_displays: dict = field(default_factory=dict)  # cell index -> the figures it displayed, for formgrader
    flags: list[str] = field(default_factory=list)   # why the instructor should look at it (the "needs attention")
    missing: list[str] = field(default_factory=list)  # an nbgrader assignment's notebooks not handed in (file names)
    # an nbgrader assignment's notebooks as graded here (nbtests.NotebookGrade), for their autograded copies; not JSON
    notebooks: list = field(default_factory=list, repr=False, compare=False)

    def to_json(self) -> dict:
        return {"student": self.student, "assignment": self.assignment, "score": self.score,
                "max_score": self.max_score, "status": self.status,
                **({"reason": self.reason} if self.status == "error" else {}),
                "notes": self.notes, "seconds": round(self.seconds, 3),
                "peak_memory_mb": round(self.peak_memory_mb, 1),
                "cell_errors": self.cell_errors(),
                **({"flags": self.flags} if self.flags else {}),
                **({"missing": self.missing} if self.missing else {}),
                "tests": [test.to_json() for test in self.tests]}

    @property
    def pending_points(self) -> float:
        """Points of written answers your instructor has not graded yet: left out of the score, not counted as 0."""
        return sum(test.max_score for test in self.tests if test.pending)

    def headline(self) -> str:
        """The score in words, e.g. "7 of 7 points so far; 2 more points to be graded by your instructor"."""
        pending = self.pending_points
        if not pending:
            return scores.points(self.score, self.max_score)
        return (f"{scores.points(self.score, self.max_score - pending)} so far; {scores.count(pending, 'more point')} "
                "to be graded by your instructor")

    def cell_errors(self) -> list[dict]:
        """The cells that raised, in notebook order: 1-based cell number, error type and (shortened) text."""
        return [{"cell": index + 1, "type": str(error.get("type"))[:100], "text": str(error.get("text", ""))[:300]}
                for index, (_, error) in sorted(self.cell_outputs.items()) if error][:MAX_CELL_ERRORS]

    @classmethod
    def from_json(cls, data: dict) -> "SubmissionResult":
        """The result `to_json` described (without the cells' outputs, which it leaves out)."""
        return cls(data["student"], data["assignment"], data["score"], data["max_score"], data["status"],
                   data.get("reason", ""), [TestResult.from_json(test) for test in data["tests"]],
                   list(data.get("notes", ())), data.get("seconds", 0.0), data.get("peak_memory_mb", 0.0),
                   {error["cell"] - 1: ("", {"type": error["type"], "text": error["text"]})
                    for error in data.get("cell_errors", ())}, flags=list(data.get("flags", ())),
                   missing=list(data.get("missing", ())))


MAX_NOTES, MAX_CELL_ERRORS = 20, 50   # with `bounded` messages, these bound the size of a result


def error_result(spec, student, reason) -> SubmissionResult:
    if hasattr(spec, "error_tests"):  # an nbgrader assignment's (course.spec.NbgraderSpec): cells of several notebooks
        return SubmissionResult(student, spec.name, 0.0, spec.max_score, "error", reason, spec.error_tests(reason))
    tests = [TestResult(e.grade_id, 0.0, e.points, reason) for e in spec.exercises]
    tests += [TestResult(grade_id, 0.0, points, reason, manual=True) for grade_id, points in spec.manual.items()]
    return SubmissionResult(student, spec.name, 0.0, spec.max_score, "error", reason, tests)
