"""Orphaned sandboxes of a crashed server are reaped by label at the next start."""

from __future__ import annotations

import subprocess

import pytest

from mcp_server.lifespan import reap_orphans
from sandbox.contract import SandboxSpec
from sandbox.docker_backend import DockerBackend
from sandbox.labels import OWNER, is_orphan, owner_label
from sandbox.limits import Limits
from tests.conftest import IMAGE


def test_owner_labels() -> None:
    assert not is_orphan({OWNER: owner_label()})  # this process is alive
    gone = subprocess.run(["true"], check=True)
    del gone
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert is_orphan({OWNER: owner_label(dead.pid).replace(":?", ":1")})
    assert not is_orphan({OWNER: "another-host:1:1"})  # never touch another host's containers
    assert not is_orphan({})


@pytest.mark.usefixtures("docker_ready")
def test_orphans_are_removed_and_live_owners_kept() -> None:
    backend = DockerBackend("tests-reaper")
    dead = subprocess.Popen(["sleep", "0"])
    dead.wait()
    orphan_label = {OWNER: f"{owner_label().split(':')[0]}:{dead.pid}:1"}
    spec = SandboxSpec(image=IMAGE, limits=Limits(), labels=orphan_label)
    orphan = backend.start(spec)
    alive = backend.start(SandboxSpec(image=IMAGE, limits=Limits()))
    try:
        reap_orphans(backend)
        ids = {c["Id"][:12] for c in backend.managed_containers()}
        assert orphan.sandbox_id not in ids
        assert alive.sandbox_id in ids
    finally:
        orphan.close()
        alive.close()
