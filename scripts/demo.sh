#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run the main job: a scripted MCP session on the built-in pack
# (no data directory, no network): tasks listed, opened, solved in the sandbox and scored.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/medgym demo "$@"
