#!/usr/bin/env bash
# Installs everything this course needs on a fresh Debian machine: bubblewrap (the grading sandbox),
# PostgreSQL (for a shared gradebook, and the tests that start their own server), headless Chromium and its
# driver (the browser tests of the web service and the pages), and a virtual environment `.venv` in this folder
# holding the Python package with its dependencies. Debian 12 and Ubuntu 24.04 refuse `pip install` into their own
# Python (PEP 668), so the package never goes there.
set -euo pipefail
cd "$(dirname "$0")"
# Debian's own Python when there is one: pyenv's or conda's python3 first on PATH may be private to one user
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3 || true)
if [ -z "$python" ]; then
  echo "install.sh: no python3 found; install Python 3.10 or newer (Debian: apt-get install python3 python3-venv)" >&2
  exit 1
fi
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)                # the browser tests
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
# Debian splits venv's pip bootstrap (ensurepip) into python3-venv; python3-pip is the pip it falls back on
if [ ! -x .venv/bin/python ] && ! "$python" -c "import ensurepip, venv" >/dev/null 2>&1; then
  missing+=(python3-venv python3-pip)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "note: install the Debian package(s) ${missing[*]}: bubblewrap for full sandbox isolation," \
         "postgresql for a PostgreSQL gradebook and its tests, chromium and chromium-driver for the browser tests," \
         "python3-venv and python3-pip for the virtual environment" >&2
  fi
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv; then
    rm -rf .venv
    echo "install.sh: $python cannot make a virtual environment; as root run" \
         "'apt-get install python3-venv python3-pip' (Debian, Ubuntu), then run install.sh again" >&2
    exit 1
  fi
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
echo "installed into $(pwd)/.venv ($(.venv/bin/python --version)); 'source .venv/bin/activate' puts autograder on PATH"
