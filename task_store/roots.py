"""The data roots a process serves (the built-in pack and a user's data directory) and opening the store."""

from __future__ import annotations

import logging
from pathlib import Path

from task_store.pack.build import ensure_pack
from task_store.store import DataRoot, Progress, TaskStore

log = logging.getLogger(__name__)


def configured_roots(home: Path, pack: bool, pack_seed: int, data_dir: Path | None) -> list[DataRoot]:
    """The built-in pack (built on first use under `home`) and the user's data directory, if any."""
    roots: list[DataRoot] = []
    if pack:
        roots.append(DataRoot("pack", ensure_pack(home, pack_seed)))
    if data_dir is not None:
        roots.append(DataRoot("medagentgym", data_dir))
    return roots


def open_store(db_path: Path, roots: list[DataRoot], progress: Progress | None = None) -> TaskStore:
    """The task store over `roots`, its index synced; malformed records are logged and skipped."""
    store = TaskStore.open(db_path, roots, progress)
    for report in store.reports.values():
        for error in report.errors:
            log.warning("malformed record skipped: %s", error)
    return store
