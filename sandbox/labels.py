"""Container labels that say which server owns a sandbox, and who counts as an orphan.

The owner label is `<hostname>:<pid>:<process start time>`: a container is an orphan when its
owner process (on this host) no longer exists, even if its pid was reused since.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

MANAGED = "medgym.managed"
OWNER = "medgym.owner"
INSTANCE = "medgym.instance"


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[19] if len(fields) > 19 else None


def owner_label(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_time(pid) or '?'}"


def is_orphan(labels: Mapping[str, str]) -> bool:
    """True when the container's owner was a process on this host that is gone."""
    owner = labels.get(OWNER, "")
    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    return _start_time(int(pid_text)) != started
