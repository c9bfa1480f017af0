"""Runs a notebook's code cells in-process with IPython, for tests that need the resulting namespace."""
import matplotlib

matplotlib.use("agg")

import nbformat  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402

from autograder.course import notebook as nb  # noqa: E402


class _Shell(InteractiveShell):
    def enable_gui(self, gui=None):
        pass


def run_notebook(path, keep_hidden=False) -> dict:
    """The namespace after running every code cell; raises if a cell fails."""
    _Shell.clear_instance()
    shell = _Shell.instance(colors="nocolor")
    shell.display_formatter.active_types = ["text/plain"]
    try:
        for index, cell in enumerate(nbformat.read(str(path), as_version=4).cells):
            if cell.cell_type != "code":
                continue
            source = cell.source if keep_hidden else nb.visible_part(cell.source)
            result = shell.run_cell(source, store_history=False, silent=True)
            if not result.success:
                raise AssertionError(f"{path} cell {index + 1} failed: "
                                     f"{result.error_in_exec or result.error_before_exec!r}")
        return shell.user_ns
    finally:  # IPython's shell is a process-wide singleton: the next test (the sandbox's own shell) makes another
        _Shell.clear_instance()
