"""Which files of a dataset directory a sandbox may see, where, and whether a dataset can be solved here.

Only what a dataset's adapter lists in `DataSpec.files` (glob patterns relative to its folder, the
files the upstream agent legitimately reads) is mounted read-only at `/data/<dataset>/<name>`;
everything else stays out. As a second line of defence, task files, hidden files and the adapter's
`never_mount` patterns are never mounted even when a pattern matches them, and a folder is mounted
only if nothing inside it looks like one. A dataset is solvable here when its required data (and
any service it needs) is present.
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
NEVER_PATTERNS = ("*task*", "*.sqlite-wal", "*.sqlite-shm", ".*")


@dataclass(frozen=True)
class DataMount:
    """A host file or folder the sandbox sees read-only at `target`."""

    source: Path
    target: str


@dataclass(frozen=True)
class Availability:
    """Whether a dataset's tasks can be solved here and, if not, why and how to fix it."""

    solvable: bool
    reason: str = ""
    fix: str = ""


def uses_fhir(dataset: str) -> bool:
    """True for datasets whose EHR is served by a per-episode FHIR server (never mounted)."""
    adapter = ADAPTERS.get(dataset)
    return adapter is not None and adapter.data.fhir


def _never(name: str, dataset: str) -> bool:
    adapter = ADAPTERS.get(dataset)
    extra = adapter.data.never_mount if adapter is not None else ()
    lowered = name.lower()
    return any(fnmatch.fnmatch(lowered, p) for p in (*NEVER_PATTERNS, *extra))


def _folder_is_clean(folder: Path, dataset: str) -> bool:
    for _dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        if any(_never(n, dataset) for n in (*dirnames, *filenames) if not n.startswith(".")):
            return False
    return True


def allowed(directory: Path, dataset: str) -> list[Path]:
    """The entries of `directory` the dataset's allowlist names (files or folders), in a stable order.

    A pattern without a slash names entries of the folder itself, case-insensitively
    (`admissions.csv*` matches `ADMISSIONS.csv.gz`); one with a slash is a glob below it.
    """
    adapter = ADAPTERS.get(dataset)
    patterns = adapter.data.files if adapter is not None else ()
    entries = sorted(directory.iterdir()) if directory.is_dir() else []
    found: dict[Path, None] = {}
    for pattern in patterns:
        if "/" in pattern:
            matches = sorted(directory.glob(pattern))
        else:
            matches = [e for e in entries if fnmatch.fnmatch(e.name.lower(), pattern.lower())]
        for path in matches:
            found.setdefault(path, None)
    return list(found)


def mounts(directory: Path, dataset: str) -> list[DataMount]:
    """Read-only mounts for the allowlisted data of `dataset` in `directory` (its folder in a root)."""
    if not directory.is_dir() or uses_fhir(dataset):  # a FHIR dataset's EHR only goes to its FHIR server
        return []
    found: list[DataMount] = []
    for entry in allowed(directory, dataset):
        real = entry.resolve()
        relative = entry.relative_to(directory)
        if any(_never(part, dataset) for part in (*relative.parts, real.name)) or not real.exists():
            continue
        if real.is_dir() and not _folder_is_clean(real, dataset):
            log.warning("not mounting %s: it contains task or label files", entry)
            continue
        found.append(DataMount(source=real, target=f"{SANDBOX_DATA_ROOT}/{dataset}/{relative.as_posix()}"))
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
def availability(directory: Path | None, dataset: str) -> Availability:
    """Whether the dataset's tasks can be solved here: its required data and services are present."""
    adapter = ADAPTERS.get(dataset)
    if adapter is None:
        return Availability(False, f"{dataset} is not a dataset medgym knows")
    spec = adapter.data
    if spec.fhir:
        if directory is not None and seed_sources(directory):
            return Availability(True)
        return Availability(False, f"{dataset} tasks need {spec.summary}, which is not installed here",
                            fix=f"the operator puts the EHR's FHIR resources (NDJSON or Bundle JSON) in the data "
                                f"directory's {dataset}/fhir/ folder (see `medgym doctor`)")
    if spec.external:
        return Availability(False, f"{dataset} tasks need {spec.summary}, which this server does not run",
                            fix=f"see `medgym doctor` for what {dataset} needs")
    missing = [p for p in spec.required if directory is None or not any(directory.glob(p))]
    if missing:  # no host path here: this reaches agents
        return Availability(False, f"{dataset} tasks need {spec.summary}, which are not installed here",
                            fix=f"the operator puts them in the data directory's {dataset}/ folder (see "
                                "`medgym doctor`)")
    return Availability(True)


def data_available(directory: Path, dataset: str) -> bool:
    """True when every file pattern the dataset requires is present (and no missing service)."""
    return availability(directory, dataset).solvable


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
