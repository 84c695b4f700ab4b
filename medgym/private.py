"""medgym's own files hold answer keys, reference solutions and every client's records: they are
created private (folders 0700, files 0600) and a warning names any that others can read."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


def private_dir(path: Path) -> Path:
    """Create `path` (and its parents) readable by its owner only; warn if it exists and is not."""
    try:
        path.mkdir(parents=True, mode=0o700)
    except FileExistsError:  # made before, or by another server (or thread) of this home just now
        pass
    else:
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


def secret_text(path: Path, make: Callable[[], str]) -> str:
    """The text kept in the private file `path`, made by `make()` the first time it is asked for.

    It is written whole to a private temporary file and then linked into place, which fails if another
    process got there first: servers that share a home and start at once all read the one text that was
    linked first, never an empty or half-written file. A file an older medgym left empty (it died
    between creating and writing it) is replaced."""
    text = _read(path)
    if text:
        warn_if_shared(path)
        return text
    private_dir(path.parent)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(make().strip() + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            if not _read(path):
                os.replace(temporary, path)
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return _read(path)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return ""


def warn_if_shared(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s can be read by other users of this machine (mode %o); it holds answer keys and records: "
                    "chmod %s %s", path, stat.S_IMODE(mode), "700" if path.is_dir() else "600", path)
