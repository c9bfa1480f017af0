"""The documentation site builds with warnings as errors (a broken link or anchor fails it), every page in docs/
is in its navigation, every page README.md links exists, and CI runs README's test command."""
import os
import re
import subprocess
import sys

import yaml

from course_files import ROOT


def nav_pages(entries) -> list[str]:
    pages = []
    for entry in entries:
        for value in entry.values() if isinstance(entry, dict) else [entry]:
            pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_the_site_builds_with_warnings_as_errors(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
                          capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    for page in (ROOT / "docs").glob("*.md"):
        built = tmp_path / "site" / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert built.is_file(), page.name


def test_every_page_of_docs_is_in_the_navigation():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert sorted(nav_pages(config["nav"])) == sorted(page.name for page in (ROOT / "docs").glob("*.md"))


def test_every_page_the_readme_links_exists():
    links = re.findall(r"\]\((docs/[^)#]+)", (ROOT / "README.md").read_text())
    assert len(links) >= 10
    for link in links:
        assert (ROOT / link).is_file(), link


def test_ci_runs_exactly_the_test_command_of_the_readme():
    readme = (ROOT / "README.md").read_text()
    (line,) = [line for line in readme.splitlines() if line.startswith("bash install.sh && ") and "pytest" in line]
    documented = line.removeprefix("bash install.sh && ").split("#")[0].strip()
    done = subprocess.run(["bash", str(ROOT / ".ci" / "run"), "--print-command"], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, f"{documented}\n")
    assert documented == ".venv/bin/python -m pytest -q"
