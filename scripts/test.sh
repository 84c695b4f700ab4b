#!/usr/bin/env bash
# Set up (scripts/setup.sh), then lint, type-check, check the layers and run the whole test suite, Docker tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# the tests also run the Ray backend on a two-node cluster (the server only needs ray for MEDGYM_BACKEND=ray)
.venv/bin/python -m pip install -q -e '.[ray]' 2> >(grep -v "^WARNING: Location" >&2)
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/lint-imports
.venv/bin/python -m pytest "$@"
