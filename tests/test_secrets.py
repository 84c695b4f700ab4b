"""The home's secrets (the pack seed, the pseudonym key): made once, whole, private, the same for every
server of the home, even servers that start at once."""

from __future__ import annotations

import hashlib
import stat
import threading
import uuid
from pathlib import Path

import pytest

from mcp_server.identity import PSEUDONYM_KEY_FILE, Pseudonyms
from medgym.private import secret_text
from task_store.pack.seed import SEED_FILE, resolve


def test_servers_starting_at_once_share_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "home" / "secret"
    start = threading.Barrier(16)
    seen: list[str] = []

    def server() -> None:
        start.wait()
        seen.append(secret_text(path, lambda: uuid.uuid4().hex))

    threads = [threading.Thread(target=server) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 16 and len(set(seen)) == 1 and path.read_text() == seen[0] + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["secret"]  # no temporary file left behind
    assert secret_text(path, lambda: "never made") == seen[0]


def test_a_file_system_without_hard_links_gets_its_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(source: object, target: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # e.g. a FAT or some network file systems

    monkeypatch.setattr("medgym.private.os.link", no_links)
    path = tmp_path / "home" / "secret"
    made = secret_text(path, lambda: "first")
    assert made == "first" and path.read_text() == "first\n" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_text(path, lambda: "second") == "first"  # kept, never remade
    assert [p.name for p in path.parent.iterdir()] == ["secret"]  # no temporary file left behind


def test_a_secret_left_empty_by_a_crash_is_made_again(tmp_path: Path) -> None:
    path = tmp_path / SEED_FILE
    path.touch(mode=0o600)
    seed, kind = resolve(tmp_path, "secret")
    assert kind == "secret" and path.read_text() == f"{seed}\n" and resolve(tmp_path, "secret") == (seed, "secret")


def test_pseudonyms_are_keyed_per_home_and_stable_in_one(tmp_path: Path) -> None:
    home, other = tmp_path / "home", tmp_path / "other"
    key = "principal:alice"
    pseudonym = Pseudonyms.of_home(home)
    plain = "c_" + hashlib.sha256(key.encode()).hexdigest()[:16]
    assert pseudonym(None) is None
    assert pseudonym(key) == Pseudonyms.of_home(home)(key) != Pseudonyms.of_home(other)(key)
    assert pseudonym(key) != plain and pseudonym.both(key) == (pseudonym(key), plain)
    assert pseudonym(key) != pseudonym("principal:bob") and len(pseudonym(key) or "") == 18
    secret = (home / PSEUDONYM_KEY_FILE).read_text().strip()
    assert len(bytes.fromhex(secret)) == 32 and stat.S_IMODE((home / PSEUDONYM_KEY_FILE).stat().st_mode) == 0o600
