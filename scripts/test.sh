#!/usr/bin/env sh
# Set up, then run the whole test suite and the linter.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
