"""Every shell command in README.md and docs/ (the lines of their ```bash blocks) works: this test runs it in a copy
of the course with the sample class's 01 submissions, or it is in ELSEWHERE with the test that runs it (a file that
must exist and hold the command's telling part). A documented command that is neither fails the test, and so does
an entry of either table that the documentation no longer has."""
import csv
import re
import shutil
import subprocess
import zipfile

import pytest

from course_files import ROOT, copy_course

pytestmark = pytest.mark.slow  # it grades in real sandboxes

A1 = "01-gradient-descent"
ONE_NOTEBOOK = f"submitted/ada_lovelace/{A1}/gradient_descent.ipynb"

# Run here, in this order, in one copy of the course; each with what its output or its files must show.
RUN = {
    f"autograder grade {A1}": "graded: 12   errors: 0",
    f"autograder grade {A1} {ONE_NOTEBOOK}": f"{A1}: 7 of 9 points",  # ada_lovelace's, as in the demo
    f"autograder feedback {A1}": "",
    f"autograder report {A1}": "",
    "autograder export --format plain --to grades.csv": "",
    "autograder serve links --url https://grader.example.edu": "https://grader.example.edu/signin/",
    "autograder serve links --student ada_lovelace --expires 30": "student\tada_lovelace\t",
    "autograder serve revoke --user ada_lovelace": "",
    f"autograder gradescope {A1}": "",
    "autograder gradescope 02-slopes-and-updates --output gs/02.zip --visibility after_due_date": "",
}

# Run by another test (or by CI itself): the file, and a string in it that shows it runs the command.
ELSEWHERE = {
    "bash install.sh && .venv/bin/python -m autograder demo": ("tests/test_demo.py", '"demo"'),
    "bash install.sh && .venv/bin/python -m pytest -q": (".ci/run", "bash install.sh"),
    ".venv/bin/python -m pytest -q": (".ci/run", "eval"),
    "autograder serve": ("tests/web/served.py", '"serve"'),
    "autograder release": ("tests/test_release.py", '"release"'),
    "autograder grade --all": ("tests/test_nbgrader_agreement.py", '"--all"'),
    "autograder new 05-momentum": ("tests/test_new_assignment_end_to_end.py", '"new", A5'),
    "autograder release 05-momentum": ("tests/test_new_assignment_end_to_end.py", '"release", A5'),
    "autograder grade 05-momentum": ("tests/test_new_assignment_end_to_end.py", '"grade", A5'),
    "autograder grade 02-slopes-and-updates --regrade": ("tests/test_postgres.py", '"--regrade"'),
    "dask scheduler --port 8786": ("tests/test_distributed.py", "dask_scheduler"),
    "cd path/to/course && dask worker tcp://SCHEDULER-HOST:8786": ("tests/test_distributed.py", "dask_worker"),
    "autograder grade 01-gradient-descent --scheduler tcp://SCHEDULER-HOST:8786":
        ("tests/test_distributed.py", '"--scheduler"'),
    # trying a Gradescope zip locally: test_gradescope.py lays it out as Gradescope does and runs run_autograder
    "mkdir -p /tmp/gs/source /tmp/gs/submission && unzip -q 01-gradient-descent-gradescope.zip -d /tmp/gs/source":
        ("tests/lms/test_gradescope.py", "def unpack"),
    "cp my_notebook.ipynb /tmp/gs/submission/ && AUTOGRADER_GRADESCOPE_ROOT=/tmp/gs /tmp/gs/source/run_autograder":
        ("tests/lms/test_gradescope.py", '"AUTOGRADER_GRADESCOPE_ROOT": str(root)'),
    "cat /tmp/gs/results/results.json": ("tests/lms/test_gradescope.py", '"results" / "results.json"'),
}


def documented_commands() -> dict[str, str]:
    """Every command of a ```bash block in README.md and docs/*.md, without its comment, and the file it is in."""
    commands = {}
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"^ *```bash\n(.*?)^ *```", page.read_text(), re.S | re.M):
            for line in block.splitlines():
                command = re.sub(r"\s+#.*$", "", line).strip()
                if command and not command.startswith("#"):
                    commands[command] = page.relative_to(ROOT).as_posix()
    return commands


def test_every_documented_command_is_run_here_or_by_a_named_test():
    documented = documented_commands()
    untested = {command: page for command, page in documented.items() if command not in RUN | ELSEWHERE}
    assert not untested, f"documented commands no test runs (add them to RUN or ELSEWHERE): {untested}"
    stale = sorted(set(RUN) - set(documented)) + sorted(set(ELSEWHERE) - set(documented))
    assert not stale, f"commands the documentation no longer has: {stale}"


@pytest.mark.parametrize("command", sorted(ELSEWHERE))
def test_the_test_named_for_a_command_runs_it(command):
    path, evidence = ELSEWHERE[command]
    assert evidence in (ROOT / path).read_text(), f"{path} should run `{command}`"


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """The course copied with the sample class's submissions of 01, and each command of RUN run in it by bash, with
    the running interpreter's bin/ first on PATH (tests/conftest.py), as after `source .venv/bin/activate`."""
    root = copy_course(tmp_path_factory.mktemp("documented") / "course")
    for student in (ROOT / "samples" / "submitted").iterdir():
        shutil.copytree(student / A1, root / "submitted" / student.name / A1)
    done = {}
    for command in RUN:
        done[command] = subprocess.run(["bash", "-c", command], cwd=root, capture_output=True, text=True, timeout=300)
    return root, done


@pytest.mark.parametrize("command", list(RUN))
def test_a_documented_command_works_as_the_documentation_says(ran, command):
    root, done = ran
    assert done[command].returncode == 0, done[command].stdout[-2000:] + done[command].stderr[-2000:]
    assert RUN[command] in done[command].stdout


def test_the_documented_commands_leave_the_files_they_promise(ran):
    root, _ = ran
    students = sorted(path.name for path in (ROOT / "samples" / "submitted").iterdir())
    assert sorted(path.name for path in (root / "autograder_feedback").iterdir()) == students
    assert (root / "reports" / f"{A1}.html").is_file()
    with open(root / "grades.csv", newline="") as handle:
        assert sorted(row["student"] for row in csv.DictReader(handle)) == students
    assert zipfile.ZipFile(root / f"{A1}-gradescope.zip").namelist()
    assert "run_autograder" in zipfile.ZipFile(root / "gs" / "02.zip").namelist()
