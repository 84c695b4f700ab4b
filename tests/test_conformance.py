"""The sandbox conformance suite (`tests/conformance.py`) on every backend: Docker and the test fake."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from sandbox.contract import SandboxBackend, SandboxSpec
from sandbox.labels import INSTANCE
from sandbox.limits import Limits
from tests.conformance import Harness, SandboxConformance
from tests.conftest import IMAGE
from tests.fake_backend import FakeBackend, FakeEngine, fake_engine

SPEC = SandboxSpec(image=IMAGE, limits=Limits(memory_mb=512, pids=128), labels={"medgym.task": "conformance"})


class TestFakeBackend(SandboxConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls) -> Iterator[Harness]:
        with fake_engine() as engine:
            yield Harness(lambda: FakeBackend(engine=engine), SPEC, lambda ids: _fake_running(engine, ids))
            assert engine.running() == []
            assert list(engine.root.iterdir()) == [], "a closed sandbox left its workspace behind"

    def test_the_fake_is_a_backend(self) -> None:
        backend: SandboxBackend = FakeBackend()
        assert backend.instance_id.startswith("fake-")


def _fake_running(engine: FakeEngine, instances: set[str]) -> set[str]:
    return {s.sandbox_id for s in engine.running() if s.labels.get(INSTANCE) in instances}


@pytest.mark.docker
class TestDockerBackend(SandboxConformance):
    """On the local engine: the runner's unix socket (`sandbox/runner_socket.py`)."""

    channel = "auto"

    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls, docker_ready: None) -> Harness:
        from sandbox.docker_backend import DockerBackend

        def new() -> SandboxBackend:
            return DockerBackend(f"tests-conformance-{uuid.uuid4().hex[:8]}", runner_channel=cls.channel)  # type: ignore[arg-type]

        def running(instances: set[str]) -> set[str]:
            containers = DockerBackend("tests").managed_containers()
            return {c["Id"][:12] for c in containers if (c.get("Labels") or {}).get(INSTANCE) in instances}

        return Harness(new, SPEC, running)


@pytest.mark.docker
class TestDockerBackendAttach(TestDockerBackend):
    """The same contract over the container's attach stream (a remote engine's channel)."""

    channel = "attach"
