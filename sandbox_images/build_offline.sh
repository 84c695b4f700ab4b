#!/usr/bin/env bash
# Build the medgym sandbox image without any container registry:
# debootstrap a minimal Debian bookworm root filesystem with Debian's scientific Python
# packages, add the unprivileged `sandbox` user, and `docker import` it.
#
# usage: build_offline.sh IMAGE_TAG [DEFINITION_HASH]
# The Debian mirror is read from the host's apt configuration (MEDGYM_DEBIAN_MIRROR overrides).
set -euo pipefail

tag=${1:?usage: build_offline.sh IMAGE_TAG [DEFINITION_HASH]}
defhash=${2:-unknown}
here=$(cd "$(dirname "$0")" && pwd)
packages=$(grep -vE '^\s*(#|$)' "$here/debian-packages.txt" | tr '\n' ',' | sed 's/,$//')

mirror_from_apt() {
  local uri=""
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    # deb822 stanzas: take the URIs of the first stanza whose Suites name plain bookworm
    uri=$(awk '
      /^URIs:/ {u=$2}
      /^Suites:/ {for (i=2;i<=NF;i++) if ($i=="bookworm") {print u; exit}}
    ' /etc/apt/sources.list.d/*.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" && $3=="bookworm" {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  printf '%s' "$uri"
}

mirror=${MEDGYM_DEBIAN_MIRROR:-$(mirror_from_apt)}
if [ -z "$mirror" ]; then
  echo "build_offline: no bookworm mirror in the host's apt configuration; set MEDGYM_DEBIAN_MIRROR" >&2
  exit 2
fi
command -v debootstrap >/dev/null || { echo "build_offline: debootstrap is not installed (apt-get install -y debootstrap)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/medgym-rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

echo "build_offline: debootstrap bookworm ($(echo "$packages" | tr ',' ' ' | wc -w) packages) ..." >&2
debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 40 "$work/debootstrap.log" >&2
  exit 1
}

# unprivileged user; home is the writable workspace
echo 'sandbox:x:1000:1000:medgym sandbox:/workspace:/bin/sh' >>"$rootfs/etc/passwd"
echo 'sandbox:x:1000:' >>"$rootfs/etc/group"
echo 'sandbox:!:19000::::::' >>"$rootfs/etc/shadow"
mkdir -p "$rootfs/workspace" "$rootfs/data"
chown 1000:1000 "$rootfs/workspace"
# slim down: docs, man pages, apt lists and caches are not needed at run time
rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
       "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/locale/*

chroot "$rootfs" python3 -m compileall -q /usr/lib/python3/dist-packages >/dev/null 2>&1 || true

echo "build_offline: docker import -> $tag" >&2
tar -C "$rootfs" -c . | docker import \
  --change 'USER 1000:1000' \
  --change 'WORKDIR /workspace' \
  --change 'ENV HOME=/workspace PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --change "LABEL medgym.image=sandbox medgym.definition=$defhash medgym.build=offline" \
  - "$tag" >/dev/null
echo "build_offline: done: $tag" >&2
