"""docs/check-authors.md stays true: its examples run, the code it quotes is the course's own, README links it."""
import doctest
import re

from course_files import ROOT

GUIDE = ROOT / "docs" / "check-authors.md"


def test_every_example_of_the_guide_runs_as_shown():
    failed, attempted = doctest.testfile(str(GUIDE), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert attempted >= 25
    assert failed == 0


def test_the_code_the_guide_quotes_is_in_the_course_s_checks():
    hidden = "\n".join(path.read_text() for path in sorted((ROOT / "hidden").glob("test_*.py")))
    quoted = [block for block in re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S) if ">>>" not in block]
    assert len(quoted) >= 3
    for block in quoted:
        for line in filter(None, (line.strip() for line in block.splitlines())):
            assert line in hidden, line


def test_the_readme_links_the_guide():
    assert "(docs/check-authors.md)" in (ROOT / "README.md").read_text()
