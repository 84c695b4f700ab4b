#!/usr/bin/env bash
# The verifiers taskset's test (tests/test_training_envs.py -k verifiers) in a virtualenv of its own:
# verifiers 0.4.0 pins mcp==2.0.0, which the main virtualenv (mcp 2.3, openenv) cannot hold.
# Run after scripts/setup.sh (Docker engine and sandbox image ready); extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv-vf/bin/python ] || python3 -m venv .venv-vf
.venv-vf/bin/python -m pip install -q -e '.[test,verifiers]' 2> >(grep -v "^WARNING: Location" >&2)
exec .venv-vf/bin/python -m pytest tests/test_training_envs.py -k verifiers "$@"
