"""Read-only data served from engine-side copies (Docker volumes) instead of bind mounts.

A bind mount shows its host path to the code inside (`/proc/self/mountinfo`), which for the
built-in pack names the medgym home and the pack's folder. Mounts marked `copy` that share a
target folder (e.g. `/data/medgym_ehr/`) are served from one volume holding a copy of exactly those
files, named by an opaque hash of their paths and content signature, so the container sees only
`/var/lib/docker/volumes/medgym-data-<hash>/_data`. A copy is made once per content (a created,
never-started container receives the files as a tar archive), an empty `<name>-ok` volume made last
marks it complete, and copies of the same files that changed or no longer exist are removed.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import posixpath
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sandbox.contract import Mount
from sandbox.labels import MANAGED

log = logging.getLogger(__name__)

DATA = "medgym.data"  # label: what a data volume copies (host-side only; never visible to sandboxes)


def _files(mounts: tuple[Mount, ...], folder: str) -> Iterator[tuple[Path, str]]:
    """(host file or folder, its name inside the volume), folders expanded, in a stable order."""
    for mount in sorted(mounts, key=lambda m: m.target):
        name = posixpath.relpath(mount.target, folder)
        yield mount.source, name
        if mount.source.is_dir():
            for path in sorted(mount.source.rglob("*")):
                yield path, posixpath.join(name, path.relative_to(mount.source).as_posix())


def signature(mounts: tuple[Mount, ...], folder: str) -> str:
    """Changes when any copied file changes (paths, names, sizes, modification times)."""
    digest = hashlib.sha256(folder.encode())
    for path, name in _files(mounts, folder):
        stat = path.stat()
        digest.update(f"{path.resolve()}>{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


class DataVolumes:
    """Makes and finds the volumes that serve copied mounts, for one engine."""

    def __init__(self, client: Any, image: str):
        self._client = client
        self._image = image
        self._lock = threading.Lock()
        self._known: dict[str, str] = {}  # signature -> volume name

    def binds(self, mounts: tuple[Mount, ...]) -> dict[str, dict[str, str]]:
        """Docker `binds`: one volume for all copied mounts (at their common folder, so no mount point
        has to be made inside a read-only volume), plain read-only bind mounts otherwise."""
        binds = {str(m.source): {"bind": m.target, "mode": "ro"} for m in mounts if not m.copy}
        copied = tuple(m for m in mounts if m.copy)
        if copied:
            folder = posixpath.commonpath([posixpath.dirname(m.target.rstrip("/")) for m in copied])
            binds[self.volume_for(copied, folder)] = {"bind": folder, "mode": "ro"}
        return binds

    def volume_for(self, mounts: tuple[Mount, ...], folder: str) -> str:
        key = signature(mounts, folder)
        with self._lock:
            if key not in self._known:
                self._known[key] = self._ensure(mounts, folder, f"medgym-data-{key}")
            return self._known[key]

    def _ensure(self, mounts: tuple[Mount, ...], folder: str, name: str) -> str:
        api = self._client.api
        source = _source_label(mounts)
        labelled = {v["Name"] for v in (api.volumes(filters={"label": f"{DATA}={source}"}).get("Volumes") or [])}
        if name + "-ok" not in labelled:
            _remove_volume(api, name)  # a copy that did not finish
            self._fill(mounts, folder, name, source)
            api.create_volume(name=name + "-ok", labels={MANAGED: "1", DATA: source})
        for stale in labelled - {name, name + "-ok"}:
            _remove_volume(api, stale)
        return name

    def _fill(self, mounts: tuple[Mount, ...], folder: str, name: str, source: str) -> None:
        api = self._client.api
        api.create_volume(name=name, labels={MANAGED: "1", DATA: source})
        binds = {name: {"bind": "/copy", "mode": "rw"}}
        container = api.create_container(self._image, command=["true"], labels={MANAGED: "1"},
                                          host_config=api.create_host_config(binds=binds))
        try:  # a created, never-started container is enough to receive an archive into its volume
            api.put_archive(container["Id"], "/copy", _tar(mounts, folder))
        finally:
            api.remove_container(container["Id"], force=True)
        log.info("the data for %s was copied into a volume for sandboxes", folder)


def _source_label(mounts: tuple[Mount, ...]) -> str:
    """The host folder the copied files come from (their common parent), for reaping."""
    return os.path.commonpath([str(m.source.resolve().parent) for m in mounts])


def _tar(mounts: tuple[Mount, ...], folder: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, name in _files(mounts, folder):
            info = archive.gettarinfo(str(path), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = 0o755 if path.is_dir() else 0o644
            if info.isfile():
                with path.open("rb") as handle:
                    archive.addfile(info, handle)
            else:
                archive.addfile(info)
    return buffer.getvalue()


def _remove_volume(api: Any, name: str) -> None:
    try:
        api.remove_volume(name, force=True)
    except Exception as exc:  # missing, or in use by a running sandbox: a later reap removes it
        log.debug("data volume %s not removed: %s", name, exc)


def reap_volumes(client: Any) -> int:
    """Remove data volumes whose host folder no longer exists; returns how many."""
    removed = 0
    for volume in client.api.volumes(filters={"label": DATA}).get("Volumes") or []:
        source = (volume.get("Labels") or {}).get(DATA, "")
        if source and not os.path.exists(source):
            _remove_volume(client.api, volume["Name"])
            removed += 1
    return removed
