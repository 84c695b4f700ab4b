"""A process's janitor removes its containers and networks when it dies, even between create and start.

The owner here is a real child process that creates a container (never started: the state a
crash between the create and the start leaves, which no end of file can remove) and an episode
network, and is then killed with SIGKILL, or exits normally.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import docker
import pytest

from sandbox import janitor
from sandbox.labels import MANAGED, OWNER
from tests.conftest import IMAGE

ROOT = Path(__file__).resolve().parents[1]
OWNER_SCRIPT = """
import sys, time
from sandbox.contract import SandboxSpec
from sandbox.docker_backend import DockerBackend
from sandbox.fhir import FhirConfig, create_episode_network
from sandbox.limits import Limits

backend = DockerBackend("tests-janitor")
container = backend._create(SandboxSpec(image=sys.argv[1], limits=Limits(), labels={"medgym.test": "janitor"}))
network = create_episode_network(backend.client, "tests-janitor", FhirConfig(labels={"medgym.test": "janitor"}))
print(container, network.name, flush=True)
if sys.argv[2] == "wait":
    time.sleep(600)
"""


def _owner(then: str) -> tuple[subprocess.Popen[str], str, str]:
    """A child that made a container and a network: (the child, container id, network name)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", OWNER_SCRIPT, IMAGE, then], stdout=subprocess.PIPE, text=True,
                             env=env, cwd=ROOT)
    assert child.stdout is not None
    container, network = child.stdout.readline().split()
    return child, container, network


def _exists(client: Any, container: str, network: str) -> tuple[bool, bool]:
    containers = client.api.containers(all=True, filters={"id": container})
    networks = client.api.networks(names=[network])
    return bool(containers), bool(networks)


def _gone_within(client: Any, container: str, network: str, seconds: float) -> float:
    started = time.monotonic()
    while any(_exists(client, container, network)):
        assert time.monotonic() - started < seconds, f"still there: {_exists(client, container, network)}"
        time.sleep(0.2)
    return time.monotonic() - started


def _janitors_of(pid: int) -> list[tuple[int, int]]:
    """(pid, parent pid) of the janitor processes whose owner is process `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"sandbox.janitor" in args and any(a.startswith(f"{os.uname().nodename}:{pid}:".encode()) for a in args):
            found.append((int(entry.name), int(stat[1])))
    return found


@pytest.mark.usefixtures("docker_ready")
def test_a_killed_owner_leaves_no_created_container_nor_network() -> None:
    client = docker.from_env()
    child, container, network = _owner("wait")
    assert client.api.inspect_container(container)["State"]["Status"] == "created"  # never started
    watchers = _janitors_of(child.pid)
    assert len(watchers) == 1 and watchers[0][1] != child.pid  # detached: not a child a killer takes along
    child.send_signal(signal.SIGKILL)
    child.wait()
    took = _gone_within(client, container, network, 20)
    print(f"the killed owner's container and network were gone after {took:.1f} s")
    _no_janitor_within(child.pid, 10)  # and the janitor itself went, after its last sweep


@pytest.mark.usefixtures("docker_ready")
def test_an_owner_that_exits_normally_has_its_leftovers_swept_at_once() -> None:
    client = docker.from_env()
    child, container, network = _owner("exit")
    assert child.wait(timeout=60) == 0
    took = _gone_within(client, container, network, 10)
    assert took < 3  # one sweep, without the crash's wait
    _no_janitor_within(child.pid, 3)  # and then it goes (its interpreter may still be exiting now)


def _no_janitor_within(owner: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while _janitors_of(owner):
        assert time.monotonic() < deadline, f"owner {owner}'s janitor still runs after {seconds} s"
        time.sleep(0.05)


@pytest.mark.usefixtures("docker_ready")
def test_a_sweep_touches_only_its_owners_containers() -> None:
    client = docker.from_env()
    other = {MANAGED: "1", OWNER: f"{os.uname().nodename}:1:1", "medgym.test": "janitor"}
    kept = client.api.create_container(IMAGE, command=["true"], labels=other)["Id"]
    try:
        assert janitor.sweep(client, f"{os.uname().nodename}:999999999:1") == 0
        assert client.api.containers(all=True, filters={"id": kept})
    finally:
        client.api.remove_container(kept, force=True)


class Client:
    """Stands for a docker client (only its identity matters here)."""


def test_no_janitor_is_started_twice_for_one_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[str, str | None]] = []

    class Pipe:
        def write(self, data: bytes) -> None: ...

        def close(self) -> None: ...

    def spawn(owner: str, host: str | None) -> Pipe:
        started.append((owner, host))
        return Pipe()

    monkeypatch.setattr(janitor, "_spawn", spawn)
    monkeypatch.setattr(janitor, "_janitors", {})
    one, two, other = Client(), Client(), Client()
    janitor.note_engine(one, None)
    janitor.note_engine(two, None)
    janitor.note_engine(other, "tcp://engine-2:2375")
    for client in (one, two, other, one):
        janitor.guard(client)
    assert [host for _, host in started] == [None, "tcp://engine-2:2375"]


def test_a_janitor_that_cannot_start_is_a_warning_not_a_failure(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def spawn(owner: str, host: str | None) -> None:
        raise OSError("no processes left")

    monkeypatch.setattr(janitor, "_spawn", spawn)
    monkeypatch.setattr(janitor, "_janitors", {})
    client = Client()
    janitor.guard(client)
    janitor.guard(client)  # tried once only
    assert caplog.text.count("no janitor") == 1
