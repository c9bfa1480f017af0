#!/usr/bin/env bash
# Installs everything this course needs on a fresh Debian machine: bubblewrap (the grading sandbox)
# and the Python package with its dependencies.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
  else
    echo "note: install the Debian package 'bubblewrap' for full sandbox isolation" >&2
  fi
fi
python3 -m pip install --quiet --disable-pip-version-check -e ".[test]"
