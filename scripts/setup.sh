#!/usr/bin/env bash
# Set up medgym on a fresh Debian/Ubuntu machine (idempotent; run as root or with sudo rights):
#   1. system packages: Docker engine, debootstrap (offline image builds), npm (FHIR image), python3-venv
#   2. the Docker engine, started in the background if `docker info` fails
#   3. a virtualenv in .venv with medgym and its test tools
#   4. the sandbox image and the FHIR server image (each skipped when present and current)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v npm >/dev/null || missing+=(npm)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log=${MEDGYM_DOCKERD_LOG:-/var/log/medgym-dockerd.log}
  say "starting the Docker engine (log: $log)"
  as_root sh -c "nohup dockerd >'$log' 2>&1 &"
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { say "the Docker engine did not start; see $log"; tail -n 20 "$log" >&2; exit 1; }
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
say "installing medgym into .venv"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e '.[test,openenv]' 2> >(grep -v "^WARNING: Location" >&2)

say "checking the sandbox and FHIR server images"
.venv/bin/medgym image build
say "ready"
