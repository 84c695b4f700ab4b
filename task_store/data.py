"""Which files of a dataset directory a sandbox may see, and where.

Everything in `<root>/<dataset>/` is mounted read-only at `/data/<dataset>/<name>` except task
files (they hold the ground truth) and the dataset's `never_mount` patterns (e.g. test labels).
A folder is mounted only if nothing inside it looks like a task file.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from task_store.adapters import ADAPTERS
from task_store.fhir_seed import seed_sources
from task_store.models import DataFile

log = logging.getLogger(__name__)

SANDBOX_DATA_ROOT = "/data"


@dataclass(frozen=True)
class DataMount:
    """A host file or folder the sandbox sees read-only at `target`."""

    source: Path
    target: str

HIDDEN_PATTERNS = ("*task*", "*.sqlite-wal", "*.sqlite-shm", ".*")


def uses_fhir(dataset: str) -> bool:
    """True for datasets whose EHR is served by a per-episode FHIR server (never mounted)."""
    adapter = ADAPTERS.get(dataset)
    return adapter is not None and adapter.data.fhir


def _hidden(name: str, dataset: str) -> bool:
    if uses_fhir(dataset):
        return True  # nothing is mounted: the EHR only ever goes to the episode's FHIR server
    adapter = ADAPTERS.get(dataset)
    extra = adapter.data.never_mount if adapter is not None else ()
    lowered = name.lower()
    return any(fnmatch.fnmatch(lowered, p) for p in (*HIDDEN_PATTERNS, *extra))


def _folder_is_clean(folder: Path, dataset: str) -> bool:
    for _dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        if any(_hidden(n, dataset) for n in (*dirnames, *filenames) if not n.startswith(".")):
            return False
    return True


def mounts(directory: Path, dataset: str) -> list[DataMount]:
    """Read-only mounts for the data of `dataset` found in `directory` (its folder in a root)."""
    if not directory.is_dir():
        return []
    found: list[DataMount] = []
    for entry in sorted(directory.iterdir()):
        real = entry.resolve()
        if _hidden(entry.name, dataset) or _hidden(real.name, dataset) or not real.exists():
            continue
        if real.is_dir() and not _folder_is_clean(real, dataset):
            log.warning("not mounting %s: it contains task or label files", entry)
            continue
        found.append(DataMount(source=real, target=f"{SANDBOX_DATA_ROOT}/{dataset}/{entry.name}"))
    return found


@functools.lru_cache(maxsize=128)
def data_files(directory: Path, dataset: str) -> tuple[DataFile, ...]:
    """What `get_task` lists: each mounted path with a short description (read once per process)."""
    files = []
    for mount in mounts(directory, dataset):
        if mount.source.is_dir():
            count = sum(1 for _ in mount.source.rglob("*"))
            description = f"folder ({count} entries)"
        else:
            description = f"{_kind(mount.source)}, {human_size(mount.source.stat().st_size)}"
        files.append(DataFile(path=mount.target, description=description))
    return tuple(files)


@functools.lru_cache(maxsize=128)
def data_available(directory: Path, dataset: str) -> bool:
    """True when every file pattern the dataset requires is present."""
    adapter = ADAPTERS.get(dataset)
    if adapter is not None and adapter.data.fhir:
        return bool(seed_sources(directory))
    if adapter is not None and adapter.data.external:
        return False
    required = adapter.data.required if adapter is not None else ()
    return all(any(directory.glob(pattern)) for pattern in required)


def _kind(path: Path) -> str:
    return {".csv": "CSV table", ".sqlite": "SQLite database", ".db": "SQLite database",
            ".pkl": "pickle", ".json": "JSON", ".txt": "text"}.get(path.suffix.lower(), "file")


def human_size(size: int) -> str:
    """1536 -> '1.5 KB'."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
