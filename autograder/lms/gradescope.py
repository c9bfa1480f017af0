"""`autograder gradescope`: a Gradescope autograder zip for one assignment, and what runs inside it.

The zip holds `setup.sh` and `run_autograder` at its root and, under `course/`, this package, the course's
configuration, the assignment's source notebook (for the points) and only its own hidden checks. On
Gradescope, `run_autograder` runs `python3 -m autograder.lms.gradescope`, which grades the submitted notebook
with the same sandboxed engine as `autograder grade` and writes `results/results.json` in Gradescope's format:
one test per exercise (hidden checks, shown `after_published` unless configured otherwise), one per check
cell (the verdict the student already saw in Jupyter, `visible`), one per written answer, and the notes for the
whole submission. A written answer counts once the instructor has graded it in formgrader: the zip packs the
gradebook's hand grades of the assignment (`hand_grades.json`, matched to the Gradescope user by email or
student id), so rebuilding the zip after hand grading and regrading on Gradescope brings them in. Until then the
answer is "to be graded by your instructor", left out of the score rather than counted as 0.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import time
import traceback
import zipfile
from pathlib import Path

from ..results import scores

logger = logging.getLogger(__name__)

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
DEFAULT_VISIBILITY = "after_published"
DEFAULT_CHECK_CELL_VISIBILITY = "visible"
ROOT_VARIABLE = "AUTOGRADER_GRADESCOPE_ROOT"
SETTINGS_FILE = "gradescope.json"
HAND_GRADES_FILE = "hand_grades.json"
COURSE_FOLDER = "course"

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root on Ubuntu, while it builds the autograder image: it installs bubblewrap
# (the grading sandbox) and the course's autograder package from this zip's own copy of the course.
# AUTOGRADER_GRADESCOPE_PYTHON picks another Python (a virtual environment, say); the default is python3.
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${AUTOGRADER_GRADESCOPE_PYTHON:-python3}"
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
"$PYTHON" -m pip --version >/dev/null 2>&1 || missing+=(python3 python3-pip)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
# Ubuntu 24.04 marks its Python as externally managed; this image exists only to grade, so install anyway
PIP_BREAK_SYSTEM_PACKAGES=1 "$PYTHON" -m pip install --quiet --disable-pip-version-check "$SOURCE/course"
(cd / && "$PYTHON" -c "import autograder.lms.gradescope") && echo "autograder installed for {assignment}"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission: it grades the notebook in $ROOT/submission and writes
# $ROOT/results/results.json. AUTOGRADER_GRADESCOPE_ROOT replaces /autograder (to try it elsewhere).
ROOT="${AUTOGRADER_GRADESCOPE_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_GRADESCOPE_PYTHON:-python3}"
COURSE="$ROOT/source/course"
mkdir -p "$ROOT/results"
rm -f "$ROOT/results/results.json"
# run from the packed course, so its own copy of the package and of the hidden checks is the one graded with
(cd "$COURSE" && AUTOGRADER_COURSE_ROOT="$COURSE" AUTOGRADER_GRADESCOPE_ROOT="$ROOT" \\
  "$PYTHON" -m autograder.lms.gradescope)
if [ ! -s "$ROOT/results/results.json" ]; then  # Python itself failed: the student still gets a result
  cat > "$ROOT/results/results.json" <<'EOF'
{"score": 0.0, "visibility": "visible", "stdout_visibility": "hidden", "tests": [],
 "output": "The autograder could not start, so your notebook was not graded. This is not a problem with your work: please tell your instructor."}
EOF
fi
exit 0
"""


def add_command(commands):
    parser = commands.add_parser("gradescope", help="build a Gradescope autograder zip for one assignment")
    parser.add_argument("assignment", metavar="ASSIGNMENT")
    parser.add_argument("--output", type=Path, metavar="ZIP",
                        help="where to write the zip (default: ./<ASSIGNMENT>-gradescope.zip)")
    parser.add_argument("--visibility", choices=VISIBILITIES,
                        help="when students see the hidden checks' results and their total score (default: "
                             "c.Gradescope.visibility in course_config.py, else after_published)")
    parser.add_argument("--db", help="the gradebook whose hand grades of written answers the zip packs "
                                     "(default: the course's)")
    parser.add_argument("--check-cell-visibility", choices=VISIBILITIES,
                        help="when students see their check cells' verdicts, which Jupyter showed them already "
                             "(default: c.Gradescope.check_cell_visibility, else visible)")
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..course.config import load_course

    course = load_course()
    output = args.output or Path(f"{args.assignment}-gradescope.zip")
    try:
        course_check_file(course, args.assignment)  # first: without it, reading the assignment fails less clearly
        settings = gradescope_settings(course, args.assignment, args.visibility, args.check_cell_visibility)
        graded_by_hand = packed_hand_grades(args.db or course.db_url, args.assignment)
        names = build_zip(course, args.assignment, output, settings, graded_by_hand)
    except (ValueError, OSError, LookupError) as error:  # a bad setting, a missing or unreadable course file
        logger.error("autograder gradescope: %s", error)
        return 2
    written = sum(settings.get("written_answers", {}).values())
    print(f"wrote {output}: {len(names)} files for {args.assignment} "
          f"({scores.score(settings['max_score'])} autograded points"
          + (f" and {scores.score(written)} for written answers" if written else "")
          + f"; hidden checks {settings['visibility']}, check cells {settings['check_cell_visibility']})")
    if written:
        from ..results.scores import count

        graded = sum(len(student["grades"]) for student in graded_by_hand)
        print(f"It packs {count(graded, 'written answer')} graded by hand in the gradebook, of "
              f"{count(len(graded_by_hand), 'student')}; after grading more in formgrader, build and upload it "
              "again, then regrade all submissions on Gradescope.")
    print("Upload it as the assignment's autograder on Gradescope (Programming Assignment, Ubuntu 22.04 or newer).")
    return 0


def gradescope_settings(course, assignment: str, visibility: str | None = None,
                        check_cell_visibility: str | None = None) -> dict:
    """What run_autograder needs besides the course: visibilities (option, else course_config.py's
    c.Gradescope section, else the defaults) and the other assignments' cell ids, to recognise a notebook
    submitted to the wrong assignment without packing their notebooks or checks."""
    from traitlets.config.loader import PyFileConfigLoader

    from ..course import notebook as nb
    from ..course.config import CONFIG_FILE
    from ..grading.grade import assignment_spec

    configured = PyFileConfigLoader(CONFIG_FILE, path=str(course.root)).load_config().Gradescope
    chosen = {"visibility": visibility or configured.get("visibility", DEFAULT_VISIBILITY),
              "check_cell_visibility": check_cell_visibility or configured.get("check_cell_visibility",
                                                                               DEFAULT_CHECK_CELL_VISIBILITY)}
    for key, value in chosen.items():
        if value not in VISIBILITIES:
            raise ValueError(f"{course.root / CONFIG_FILE}: c.Gradescope.{key} is {value!r}; "
                             f"it must be one of {', '.join(VISIBILITIES)}")
    spec = assignment_spec(course, assignment)
    others = {}
    for name in course.assignments:
        if name != assignment:
            cells = nb.read(course.source_notebook(name)).cells
            others[name] = {"notebook": course.notebook(name),
                            "grade_ids": sorted(filter(None, map(nb.grade_id, cells)))}
    return {"assignment": assignment, "notebook": spec.notebook, **chosen,
            "max_score": sum(exercise.points for exercise in spec.exercises),
            "exercises": [{"name": exercise.name, "points": exercise.points} for exercise in spec.exercises],
            "written_answers": dict(spec.manual),
            "other_assignments": others}


def packed_hand_grades(db_url: str, assignment: str) -> list[dict]:
    """The gradebook's hand grades of `assignment`'s written answers, each student's with the id and email that
    match them to a Gradescope user; [] without a gradebook or hand grades."""
    from sqlalchemy.exc import SQLAlchemyError

    from ..grading.gradebook import hand_grades, open_gradebook, safe_url

    try:
        graded = hand_grades(db_url, assignment)
        if not graded:
            return []
        with open_gradebook(db_url) as gradebook:
            emails = {student.id: student.email or "" for student in gradebook.students}
    except SQLAlchemyError as error:  # a gradebook server that is down, say: no zip without the hand grades
        raise ValueError(f"cannot read the written answers' hand grades from the gradebook {safe_url(db_url)} "
                         f"({type(error).__name__}): check that it is reachable and is nbgrader's gradebook, or name "
                         "another with --db") from None
    return [{"id": student, "email": emails.get(student, ""),
             "grades": {grade_id: {"score": grade.score, "comment": grade.comment}
                        for grade_id, grade in grades.items()}}
            for student, grades in sorted(graded.items())]


def packed_files(course, assignment: str) -> dict[str, Path]:
    """Name in the zip -> file on disk: the package, this assignment's hidden checks (the course's, found as every
    grader finds them, whether the package is installed editable from the course or not), the configuration and
    source/<assignment>/. Never submissions, gradebooks or other assignments' checks."""
    root, package = course.root, Path(__file__).resolve().parent.parent
    files = {f"{COURSE_FOLDER}/{name}": root / name for name in ("course_config.py", "nbgrader_config.py")}
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        files[f"{COURSE_FOLDER}/autograder/{path.relative_to(package).as_posix()}"] = path
    files[packed_check_file(assignment)] = course_check_file(course, assignment)
    source = course.source_notebook(assignment).parent
    for path in sorted(source.rglob("*")):
        if path.is_file() and ".ipynb_checkpoints" not in path.parts and "__pycache__" not in path.parts:
            files[f"{COURSE_FOLDER}/{path.relative_to(root).as_posix()}"] = path
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"cannot build the Gradescope zip, missing: {', '.join(missing)}")
    return files


def course_check_file(course, assignment: str) -> Path:
    """`assignment`'s hidden check file, as the course holds it; ValueError when there is none."""
    from ..checking.checks import check_file

    path = check_file(assignment, course.root)
    if not path.is_file():
        raise ValueError(f"the hidden checks of {assignment} are not at {path}: without them every submission would "
                         "score 0, so no zip was written.")
    return path


def packed_check_file(assignment: str) -> str:
    """The name in the zip of `assignment`'s hidden checks: where check_file finds them in the unpacked course."""
    from ..checking.checks import check_file_name
    from ..course.config import hidden_checks_folder

    return (hidden_checks_folder(Path(COURSE_FOLDER)) / check_file_name(assignment)).as_posix()


def pyproject(files: dict[str, Path]) -> str:
    """A pyproject.toml installing the packed package with the dependencies of the one installed here
    (read from its metadata, so a zip can be built from any kind of install)."""
    from importlib.metadata import requires, version

    dependencies = [line for line in requires("autograder") or () if "extra ==" not in line]
    packages = sorted({name[len(COURSE_FOLDER) + 1:].rsplit("/", 1)[0].replace("/", ".")
                       for name in files if name.startswith(f"{COURSE_FOLDER}/autograder/")})
    return "\n".join([
        "[build-system]", 'requires = ["setuptools>=68"]', 'build-backend = "setuptools.build_meta"', "",
        "[project]", 'name = "autograder"', f"version = {json.dumps(version('autograder'))}",
        'requires-python = ">=3.10"', f"dependencies = {json.dumps(dependencies)}", "",
        "[tool.setuptools]", f"packages = {json.dumps(packages)}", ""])


def build_zip(course, assignment: str, output: Path, settings: dict, graded_by_hand: list[dict] = ()) -> list[str]:
    """Write the autograder zip (setup.sh and run_autograder at its root, executable); returns its names.
    The zip appears whole or not at all. `graded_by_hand` (packed_hand_grades) goes in beside the settings,
    outside the installed package."""
    files = packed_files(course, assignment)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            _add_file(archive, "setup.sh", SETUP_SH.replace("{assignment}", assignment), 0o755)
            _add_file(archive, "run_autograder", RUN_AUTOGRADER, 0o755)
            _add_file(archive, f"{COURSE_FOLDER}/{SETTINGS_FILE}", json.dumps(settings, indent=1) + "\n", 0o644)
            _add_file(archive, f"{COURSE_FOLDER}/pyproject.toml", pyproject(files), 0o644)
            _add_file(archive, f"{COURSE_FOLDER}/{HAND_GRADES_FILE}",
                      json.dumps({"students": list(graded_by_hand)}, indent=1) + "\n", 0o644)
            for name, path in files.items():
                _add_file(archive, name, path.read_bytes(), 0o644)
            names = archive.namelist()
        if packed_check_file(assignment) not in names:  # every student would score 0: refuse rather than write it
            raise ValueError(f"the zip for {assignment} would not hold its hidden checks "
                             f"({packed_check_file(assignment)}), so no zip was written.")
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return names


def _add_file(archive: zipfile.ZipFile, name: str, content, mode: int):
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o100000 | mode) << 16  # a regular file with these permissions, as unzip restores them
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, content)


def find_notebook(folder: Path, notebook: str) -> tuple[Path | None, str]:
    """The submitted notebook: the exact name (anywhere in the submission), else the only .ipynb there.
    Returns (path, "") or (None, a message for the student saying what was found)."""
    found = sorted(path for path in folder.rglob("*.ipynb")
                   if path.is_file() and ".ipynb_checkpoints" not in path.parts) if folder.is_dir() else []
    exact = [path for path in found if path.name == notebook]
    if exact:
        return min(exact, key=lambda path: len(path.parts)), ""
    if len(found) == 1:
        return found[0], ""
    if not found:
        return None, f"No notebook was found in your submission. Please upload {notebook}."
    listed = ", ".join(str(path.relative_to(folder)) for path in found)
    return None, (f"Your submission has {len(found)} notebooks ({listed}) and none is named {notebook}, so it "
                  f"is not clear which one to grade. Please upload {notebook} alone, or rename yours to {notebook}.")


def results_json(result, spec, settings: dict, submitted=None, remarks: tuple[str, ...] = (),
                 hand_grades: dict | None = None) -> dict:
    """Gradescope's results.json for one graded SubmissionResult: one test per exercise (hidden checks), one
    per check cell (visible checks), one per written answer, the student-facing notes on top.

    `hand_grades` (grade id -> gradebook.HandGrade) are the instructor's grades of this student's written answers:
    a graded answer is a test with its points and the grader's comment, counted in the score; one not graded
    yet is a test without points ("to be graded by your instructor"), left out of the score, not counted as 0."""
    from ..course import notebook as nb
    from ..results.wording import with_hand_grades
    from ..results.scores import count
    from ..present.view import build

    hidden, visible = settings["visibility"], settings["check_cell_visibility"]
    if result.status == "graded":
        result = with_hand_grades(result, hand_grades or {})
    shown = {exercise.anchor: exercise for exercise in build(result).exercises}  # Gradescope hides by its settings
    by_grade_id = {exercise.grade_id: exercise for exercise in spec.exercises}
    cells = {nb.grade_id(cell): index for index, cell in enumerate(submitted.cells)} if submitted is not None else {}
    tests = []
    for test in result.tests:
        if test.manual:
            tests.append(_written_answer_test(test, result.status, hidden))
            continue
        exercise = by_grade_id.get(test.name)
        if exercise is None:
            continue
        if result.status == "graded":
            tests.append(_check_cell_test(exercise, cells.get(exercise.grade_id), result.cell_outputs, visible))
        if result.status == "graded":  # the check cell's own test above says what the check cell said
            output = "\n".join([*(f"- {message.sentence()}" for message in shown[test.name].messages
                                  if message.source != "check cell"),
                                *(f"{'passed' if check.passed else 'failed'}: {check.name} "
                                  f"({count(check.points, 'point')})" for check in shown[test.name].check_lines)]) \
                or f"{scores.points(test.score, test.max_score)}."  # its message is said under another test
        else:
            output = "Not graded: see the message about the whole submission."
        tests.append({"name": exercise.name, "score": float(test.score), "max_score": float(test.max_score),
                      "status": "passed" if test.score >= test.max_score else "failed",
                      "output": output, "visibility": hidden})
    lines = list(remarks)
    if result.status == "error":
        lines.append(result.reason)
    if result.notes:
        lines.append("While running your notebook:")
        lines += [f"- {note}" for note in result.notes]
    score = float(round(sum(test["score"] for test in tests if "score" in test), 4))
    lines += _score_lines(result, score)
    lines += _when_shown(hidden)
    return {"score": score, "execution_time": round(result.seconds, 1), "output": "\n".join(lines),
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def _written_answer_test(test, status: str, visibility: str) -> dict:
    """A written answer: its hand grade and the grader's comment once graded; until then, no points at all
    (Gradescope would show "0.0 / 2.0"), and the output says why."""
    from ..results.scores import count

    name = f"Written answer ({test.name})"
    if status == "graded" and test.pending:
        return {"name": name, "output": f"To be graded by your instructor ({count(test.max_score, 'point')}); "
                                        "not counted in this score yet.", "visibility": visibility}
    output = test.output if status == "graded" else "Not graded: see the message about the whole submission."
    return {"name": name, "score": float(test.score), "max_score": float(test.max_score),
            "status": "passed" if test.score >= test.max_score else "failed", "output": output,
            "visibility": visibility}


def _score_lines(result, score: float) -> list[str]:
    """What the score counts, said plainly when a written answer is left out of it for now."""
    from ..present.view import headline

    pending = result.pending_points if result.status == "graded" else 0.0
    if not pending:
        return []
    return [f"Your score: {headline(score, result.max_score, pending)}."]


def _check_cell_test(exercise, index: int | None, cell_outputs: dict, visibility: str) -> dict:
    """The check cell's verdict as the student saw it in Jupyter: no points of its own, nothing hidden."""
    name = f"{exercise.name}: the check cell in your notebook"
    if index is None:
        status, output = "failed", "The check cell of this exercise is missing from your notebook."
    elif index not in cell_outputs:
        status, output = "failed", "The check cell did not run (the time limit for the notebook was reached first)."
    else:
        from ..results.wording import check_cell_verdict

        text, error = cell_outputs[index]
        failure, _ = check_cell_verdict(text, error)
        if failure:
            status, output = "failed", failure
        else:
            status, output = "passed", text.strip() or "The check cell ran without a complaint."
    return {"name": name, "status": status, "output": output, "visibility": visibility}


def _when_shown(visibility: str) -> list[str]:
    return {"after_published": ["The results of the hidden checks, and your score, are shown when your "
                                "instructor publishes the grades."],
            "after_due_date": ["The results of the hidden checks, and your score, are shown after the due date."],
            "hidden": ["The results of the hidden checks are not shown here."]}.get(visibility, [])


def failure_json(settings: dict, message: str) -> dict:
    """A valid results.json with score 0 and `message`, for a submission that could not be graded at all;
    it needs only the zip's settings, so it works even when the grading engine cannot be imported."""
    tests = [{"name": exercise["name"], "score": 0.0, "max_score": float(exercise["points"]), "status": "failed",
              "output": message, "visibility": settings.get("visibility", DEFAULT_VISIBILITY)}
             for exercise in settings.get("exercises", ())]
    return {"score": 0.0, "output": message, "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def grade_submission(root: Path) -> dict:
    """Grade what Gradescope put in `root`/submission into `root`/results/results.json; whatever happens, a valid
    one. Returns what it holds."""
    started = time.monotonic()
    settings = {}
    try:
        settings = json.loads((root / "source" / COURSE_FOLDER / SETTINGS_FILE).read_text())
        return _grade_submission(root, settings, started)
    except Exception:  # the grader failed, not the student: say so kindly, keep the details for the instructor
        traceback.print_exc(file=sys.stdout)
        results = failure_json(settings, "The autograder failed while grading your notebook, so it got no points "
                               "for now. This is not a problem with your work: please tell your instructor, who "
                               "can see what went wrong.")
        results["execution_time"] = round(time.monotonic() - started, 1)
        write_results(results_file(root), results)
        return results


def results_file(root: Path) -> Path:
    return root / "results" / "results.json"


class ResultsFile:
    """The Gradescope runner's pipeline Sink (pipeline.Sink): the submission's result as results_json says it (the
    one result view, view.build, under the zip's visibility settings), written whole to results.json."""

    def __init__(self, path: Path, spec, settings: dict, remarks: tuple[str, ...] = (), hand_grades: dict | None = None,
                 started: float | None = None):
        self.path, self.spec, self.settings, self.remarks, self.hand_grades = path, spec, settings, remarks, hand_grades
        self.started = time.monotonic() if started is None else started
        self.written: dict | None = None

    def take(self, job, result) -> None:
        from ..course import notebook as nb
        from ..engine.sandbox import isolation
        from ..grading.deferred import Drawn

        if isinstance(result, Drawn):  # figures drawn after the verdict: results.json shows none
            return
        submitted = None
        if job.path is not None:
            print(f"{job.path}: {scores.score(result.score)} points ({result.status}); "
                  f"isolation: {isolation()}, python: {sys.executable}")
            try:
                submitted = nb.read(job.path)
            except nb.NotebookError:
                pass
        results = results_json(result, self.spec, self.settings, submitted, self.remarks, self.hand_grades)
        results["execution_time"] = round(time.monotonic() - self.started, 1)
        write_results(self.path, results)
        self.written = results

    def pool_ended(self, error: BaseException | None) -> None:
        if error is not None:  # the sandbox failed, not the notebook: grade_submission says so
            raise error


def _grade_submission(root: Path, settings: dict, started: float) -> dict:
    """One job through the pipeline, as `autograder grade` and the service grade: a warm local sandbox
    (batch.SandboxWorker) as the pool, drained into a ResultsFile."""
    import queue

    from ..grading.batch import SandboxWorker
    from ..course.config import load_course
    from ..grading.grade import AssignmentSpec, assignment_spec
    from ..results.model import error_result
    from ..grading.pipeline import Job, drain

    # results.json shows no figure of the student's: none is kept, so none waits to be drawn after the verdict
    course = dataclasses.replace(load_course(root / "source" / COURSE_FOLDER), keep_figures=False)
    spec = assignment_spec(course, settings["assignment"])
    student = _student_id(root)
    path, problem = find_notebook(root / "submission", spec.notebook)
    remarks = () if path is None or path.name == spec.notebook else (
        f"Graded {path.name}, the only notebook in your submission (the assignment's notebook is {spec.notebook}).",)
    sink = ResultsFile(results_file(root), spec, settings, remarks,
                       _hand_grades_of(root / "source" / COURSE_FOLDER / HAND_GRADES_FILE, _users(root)), started)
    job = Job(student, path, None, assignment=spec.name)
    if path is None:  # nothing to run: the sink says what was found instead
        sink.take(job, error_result(spec, student, problem))
        return sink.written
    # the zip holds only this assignment's checks: the others are known by their notebook and grade ids
    specs = {**{name: AssignmentSpec(name, other["notebook"], (), {}, {}, frozenset(other["grade_ids"]))
                for name, other in settings["other_assignments"].items()}, spec.name: spec}
    jobs, results = queue.Queue(), queue.Queue()
    jobs.put(job)
    jobs.put(None)
    pool = SandboxWorker(course, specs, jobs, results)
    pool.start()
    try:
        drain(results, sink, pools=1)
    finally:
        pool.join()
    return sink.written


def _users(root: Path) -> list[dict]:
    """The submitting Gradescope users (several for a group), as submission_metadata.json lists them."""
    try:
        users = json.loads((root / "submission_metadata.json").read_text()).get("users") or []
    except (OSError, ValueError, AttributeError):
        return []
    return [user for user in users if isinstance(user, dict)] if isinstance(users, list) else []


def _hand_grades_of(path: Path, users: list[dict]) -> dict:
    """grade id -> HandGrade of the gradebook student who is the first of `users` found in the packed hand
    grades: by email (any case), else by Gradescope's student id (sid) as nbgrader's student id; {} if none."""
    from ..grading.gradebook import HandGrade

    try:
        students = json.loads(path.read_text())["students"]
    except (OSError, ValueError, LookupError, TypeError):  # an older zip without hand grades
        return {}
    by_email = {str(student["email"]).casefold(): student for student in students if student.get("email")}
    by_id = {str(student["id"]): student for student in students}
    for user in users:
        email, sid = str(user.get("email") or "").casefold(), str(user.get("sid") or "")
        student = by_email.get(email) if email else None
        student = student or (by_id.get(sid) if sid else None)
        if student:
            return {grade_id: HandGrade(float(grade["score"]), grade.get("comment") or "")
                    for grade_id, grade in student["grades"].items()}
    return {}


def _student_id(root: Path) -> str:
    """Gradescope's user id (so a resubmission meets the same random inputs), else a fixed name."""
    try:
        users = json.loads((root / "submission_metadata.json").read_text()).get("users") or []
        return str(users[0]["id"])
    except (OSError, ValueError, LookupError, TypeError, AttributeError):
        return "gradescope"


def write_results(path: Path, results: dict):
    """Write results.json whole (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(partial, path)


def main() -> int:
    grade_submission(Path(os.environ.get(ROOT_VARIABLE) or "/autograder"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
