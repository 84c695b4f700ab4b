#!/usr/bin/env bash
# Set up (scripts/setup.sh), then lint, type-check, check the layers and run the whole test suite, Docker tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/lint-imports
.venv/bin/python -m pytest "$@"
