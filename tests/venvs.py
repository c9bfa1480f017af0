"""Throwaway virtual environments that see the packages of the Python running the tests."""
import subprocess
import sys
from pathlib import Path


def venv_with_these_packages(folder: Path) -> Path:
    """A venv at `folder` (no pip of its own) whose Python imports what this one imports; its python.

    `--system-site-packages` shows the base interpreter's packages only: run from a venv (`.venv/bin/python -m
    pytest`, as README says), that is Debian's /usr/lib/python3/dist-packages, without the course's dependencies.
    A .pth file adds this interpreter's site-packages folders after the new venv's own."""
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(folder)], check=True)
    if sys.prefix != sys.base_prefix:
        site = next((folder / "lib").glob("python*/site-packages"))
        (site / "outer-venv.pth").write_text("".join(f"{path}\n" for path in sys.path if path.endswith("-packages")))
    return folder / "bin" / "python"
