"""The main job: `autograder demo` grades the bundled sample class and every student gets the points
their code earns (samples/make_class.py says which mistakes, crashes and cheats each one has)."""
import json
import subprocess
import sys

import pytest

from make_class import EXPECTED

pytestmark = pytest.mark.slow  # grades the sample class


def test_demo_grades_the_sample_class_as_expected(course, tmp_path):
    done = subprocess.run([sys.executable, "-m", "autograder", "demo", "--folder", str(tmp_path / "demo")],
                          cwd=course.root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    for assignment in course.assignments:
        assert f"{assignment}: 12 submissions in" in done.stdout
        results = json.loads((tmp_path / "demo" / f"{assignment}.json").read_text())
        got = {entry["student"]: entry["score"] for entry in results}
        assert got == EXPECTED[assignment], assignment
    assert (tmp_path / "demo" / "gradebook.db").is_file()
    assert "ada_lovelace" in done.stdout
