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
# the verifiers taskset's test, in a virtualenv of its own (verifiers 0.4.0 pins mcp==2.0.0); only on a whole run
if [ "$#" -eq 0 ]; then
  bash scripts/test_verifiers.sh -q
fi
