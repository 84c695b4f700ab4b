#!/usr/bin/env bash
# Render an HTML report (medgym eval report) to a PNG with headless Chromium.
# Usage: scripts/report_screenshot.sh REPORT.html OUT.png [WIDTH,HEIGHT]
# Installs Debian's `chromium` with apt-get when no Chromium is found.
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: $0 REPORT.html OUT.png [WIDTH,HEIGHT]" >&2
  exit 2
fi
report=$1
out=$2
size=${3:-1280,1600}
[[ -f $report ]] || { echo "no such file: $report" >&2; exit 1; }

browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $browser ]]; then
  echo "installing chromium (apt-get)..." >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  browser=$(command -v chromium)
fi

abs_report=$(realpath "$report")
mkdir -p "$(dirname "$out")"
abs_out=$(realpath "$out")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$profile" --window-size="$size" \
  --screenshot="$abs_out" "file://$abs_report" 2>/dev/null
[[ -s $abs_out ]] || { echo "chromium wrote no screenshot to $abs_out" >&2; exit 1; }
echo "$abs_out"
