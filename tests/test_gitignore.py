"""`.gitignore` covers everything the tools write into a course: run the writing commands in a git-initialised copy
of the course and `git status` shows nothing new (was: feedback pages, reports, exports and the Gradescope zip
showed up, and README's "commit release/" with `git add -A` committed students' feedback)."""
import os
import shutil
import subprocess
import sys

import pytest

from course_files import ROOT, copy_course

pytestmark = pytest.mark.slow  # grades in a sandbox, runs nbgrader and opens the service
A1 = "01-gradient-descent"
GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]


def test_the_writing_commands_leave_git_status_clean(tmp_path):
    course = copy_course(tmp_path / "course")
    shutil.copy(ROOT / ".gitignore", course / ".gitignore")
    shutil.copytree(ROOT / "samples" / "submitted" / "emmy_noether" / A1, course / "submitted" / "emmy_noether" / A1)
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "the course"]):
        subprocess.run(GIT + command, cwd=course, check=True)
    env = {**os.environ, "AUTOGRADER_COURSE_ROOT": str(course)}
    for command in (["release", A1], ["grade", A1, "--workers", "1", "--no-progress"], ["feedback", A1],
                    ["report", A1], ["export"], ["export", "--format", "nbgrader"], ["gradescope", A1],
                    ["serve", "links", "--student", "emmy_noether"]):
        done = subprocess.run([sys.executable, "-m", "autograder", *command], cwd=course, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
    written = {"autograded", "autograder_feedback", "reports", "gradebook.db", "grades.csv", "nbgrader_grades.csv",
               f"{A1}-gradescope.zip", "service"}
    assert written <= {path.name for path in course.iterdir()}  # the commands did write them
    status = subprocess.run(["git", "status", "--porcelain"], cwd=course, capture_output=True, text=True, check=True)
    assert status.stdout == ""
