"""medgym's own files hold answer keys, reference solutions and every client's records: they are
created private (folders 0700, files 0600) and a warning names any that others can read."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)


def private_dir(path: Path) -> Path:
    """Create `path` (and its parents) readable by its owner only; warn if it exists and is not."""
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is cut by the umask; be exact
    warn_if_shared(path)
    return path


def private_file(path: Path) -> Path:
    """Create an empty `path` readable and writable by its owner only, unless it exists."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        warn_if_shared(path)
    return path


def warn_if_shared(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s can be read by other users of this machine (mode %o); it holds answer keys and records: "
                    "chmod %s %s", path, stat.S_IMODE(mode), "700" if path.is_dir() else "600", path)
