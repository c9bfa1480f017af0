"""`autograder submit NOTEBOOK`: send a notebook downloaded from the service for grading, from a terminal.

The notebook's metadata says where it goes and carries the student's submit key (web/api.py); for a notebook
without one, a key pasted from the assignment's page ("Get a submit key"), given with --key or asked for at a
terminal, is checked with the service and kept there. The protocol is the one the notebook's own `submit()`
speaks (visible_check.py, copied into every release): one client, whatever the front end.
"""
from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)

WAIT_SECONDS = 600   # how long to wait for the verdict before giving the result's link instead


def add_command(commands):
    parser = commands.add_parser("submit", help="send a notebook downloaded from the service for grading and print "
                                                "the verdict (no course folder needed)")
    parser.add_argument("notebook", type=Path, metavar="NOTEBOOK", help="the saved .ipynb file")
    parser.add_argument("--wait", type=float, default=WAIT_SECONDS, metavar="SECONDS",
                        help=f"how long to wait for the verdict (default: {WAIT_SECONDS})")
    parser.add_argument("--key", metavar="KEY", help="a submit key from the assignment's page (\"Get a submit key\"), "
                                                      "for a notebook that has none; it is then kept in the notebook")
    parser.set_defaults(run=run_submit)


def run_submit(args) -> int:
    import getpass
    import json
    import sys

    from .checking.visible_check import _send

    try:
        with open(args.notebook, encoding="utf-8") as file:
            json.load(file)
    except (OSError, ValueError) as error:
        logger.error("autograder submit: %s is not a notebook that can be read (%s: %s); nothing was sent.",
                     args.notebook, type(error).__name__, str(error)[:200])
        return 2
    # a key is asked for without echoing it, and only of someone at a terminal: a script gives --key
    ask = getpass.getpass if sys.stdin is not None and sys.stdin.isatty() else None
    attempt = _send(args.notebook, args.key, ask=ask, say=lambda line: print(line, flush=True), seconds=args.wait)
    return 0 if attempt is not None else 1
