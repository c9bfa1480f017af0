#!/usr/bin/env bash
# Installs everything this course needs on a fresh Debian machine: bubblewrap (the grading sandbox),
# PostgreSQL (for a shared gradebook, and the tests that start their own server), headless Chromium and its
# driver (the browser tests of the web service and the pages) and the Python package with its dependencies.
set -euo pipefail
cd "$(dirname "$0")"
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)                # the browser tests
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "note: install the Debian package(s) ${missing[*]}: bubblewrap for full sandbox isolation," \
         "postgresql for a PostgreSQL gradebook and its tests, chromium and chromium-driver for the browser tests" >&2
  fi
fi
python3 -m pip install --quiet --disable-pip-version-check -e ".[test]"
