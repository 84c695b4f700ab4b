"""Shared fixtures: the public MedAgentGym files, settings on a temporary home, Docker checks.

Tests that use the Docker engine are marked `docker` (requesting `docker_ready` marks them). Every
other test is kept away from Docker: connecting to it fails the test (in this process), and
subprocesses it starts inherit a DOCKER_HOST that points nowhere. In-process servers of such a
test get sandboxes from the `fake_backend` fixture (`tests/fake_backend.py`).

Tests not marked docker time out after `FAST_TIMEOUT_S` (docker tests: `timeout` in
pyproject.toml, unless marked otherwise); `tests/hangs.py` makes sure a hang ends the run. Tests
marked `slow` (and every test that needs the built-in pack, `pack_home`) take many CPU-seconds
without Docker: `-m "not docker and not slow"` is the quick loop.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_server.settings import Settings
from tests.fake_backend import FakeBackendConfig, fake_engine

pytest_plugins = ["tests.hangs"]

SHARED = Path(__file__).resolve().parents[2] / "shared" / "medagentgym"
# Tool calls wait for the task catalog to load; on a loaded test machine building the pack can take
# minutes, so servers started by tests (subprocesses inherit this) wait longer than the default.
CATALOG_WAIT_S = "600"
os.environ.setdefault("MEDGYM_CATALOG_WAIT_S", CATALOG_WAIT_S)
IMAGE = os.environ.get("MEDGYM_IMAGE", Settings().image)
FAST_TIMEOUT_S = 120
NOWHERE = "unix:///nonexistent/medgym-tests-not-marked-docker.sock"
NOT_MARKED = ("this test uses Docker but is not marked docker: request the docker_ready fixture "
              "(or, when Docker is not what it tests, the fake_backend fixture)")


DISK_NEEDED_GB = 5.0  # a whole run: homes and stores under tmp_path, sandbox writes, a second engine's image copy


def pytest_report_header(config: pytest.Config) -> str:
    """Free disk space where the run writes, so a run that ends in "no space left on device" says so."""
    lines = []
    for place in dict.fromkeys((tempfile.gettempdir(), "/var/lib/docker")):
        if os.path.isdir(place):
            free = shutil.disk_usage(place).free / 1e9
            low = f" (less than the {DISK_NEEDED_GB:.0f} GB a whole run needs)" if free < DISK_NEEDED_GB else ""
            lines.append(f"disk: {free:.1f} GB free under {place}{low}")
    return "\n".join(lines)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: generates the built-in task pack or re-runs reference solutions (many "
                                       "CPU-seconds; tests using pack_home get it); `-m 'not docker and not slow'` "
                                       "leaves them out")


@pytest.fixture(autouse=True)
def _patient_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process servers of tests wait as long for their catalog as the subprocess ones."""
    monkeypatch.setattr("tools.readiness.WAIT_S", float(CATALOG_WAIT_S))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "docker_ready" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.docker)
        if "pack_home" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("docker") is None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(FAST_TIMEOUT_S))


class DockerNotMarkedError(RuntimeError):
    """A test not marked docker tried to reach the Docker engine."""


@pytest.fixture(autouse=True)
def _docker_only_when_marked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail a test that reaches the Docker engine without the docker marker (even if its code under
    test swallows the error); its subprocesses get a DOCKER_HOST that points nowhere. Yields the
    attempts made so far (for the guard's own test)."""
    attempts: list[str] = []
    if request.node.get_closest_marker("docker") is not None:
        yield attempts
        return
    import docker.api.client

    from sandbox import docker_backend

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(request.node.nodeid)
        raise DockerNotMarkedError(NOT_MARKED)

    monkeypatch.setattr(docker.api.client.APIClient, "__init__", refuse)
    monkeypatch.setattr(docker_backend, "_connect", refuse)
    monkeypatch.setenv("DOCKER_HOST", NOWHERE)
    monkeypatch.delenv("MEDGYM_DOCKER_HOST", raising=False)
    yield attempts
    if attempts:
        pytest.fail(NOT_MARKED, pytrace=False)


@pytest.fixture
def fake_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBackendConfig]:
    """In-process servers of this test (`build_server`) get their sandboxes from FakeBackends (host
    processes, no isolation: for tests where Docker is not what is tested); `.built` lists them."""
    if request.node.get_closest_marker("docker") is not None:
        pytest.fail("a docker test cannot use the fake_backend fixture: it would not test Docker", pytrace=False)
    with fake_engine() as engine:
        config = FakeBackendConfig(engine)
        monkeypatch.setattr(Settings, "backend_config", lambda self: config)
        yield config


@pytest.fixture
def anyio_backend() -> str:
    """The async tests run on asyncio (the backend the server runs on)."""
    return "asyncio"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is not present")
    return SHARED


@pytest.fixture(scope="session")
def docker_ready() -> None:
    """The Docker engine and the sandbox image. In CI their absence fails the test run."""
    from sandbox.docker_backend import DockerBackend
    from sandbox.image import image_status

    try:
        backend = DockerBackend("tests")
        backend.ping()
        status = image_status(backend.client, IMAGE)
        problem = None if status.present else f"image {IMAGE} is missing (medgym image build)"
    except Exception as exc:  # engine down
        problem = f"Docker engine unavailable: {exc}"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)


@pytest.fixture(scope="session")
def indexed_shared(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Path:
    """A store with the public files indexed once per test session (`settings` copies it)."""
    from task_store.roots import open_store

    indexed = Settings(home=tmp_path_factory.mktemp("indexed-home"), data_dir=shared_dir, pack=False)
    open_store(indexed.db_path, indexed.roots()).close()
    return indexed.db_path


@pytest.fixture
def settings(tmp_path: Path, shared_dir: Path, indexed_shared: Path) -> Settings:
    """A fresh home serving the public files (its index copied, and synced again by the server)."""
    home = tmp_path / "home"
    home.mkdir()
    for path in indexed_shared.parent.glob(indexed_shared.name + "*"):
        shutil.copy(path, home / path.name)
    return Settings(home=home, data_dir=shared_dir, image=IMAGE, pack=False)


def own_containers() -> set[str]:
    """Sandbox containers started by this test process (its in-process servers and backends)."""
    from sandbox.docker_backend import DockerBackend
    from sandbox.labels import OWNER, owner_label

    mine = owner_label()
    return {c["Id"] for c in DockerBackend("tests").managed_containers() if (c.get("Labels") or {}).get(OWNER) == mine}


@pytest.fixture
def no_leftover_containers(docker_ready: None) -> Iterator[None]:
    """Fail a test that leaves a sandbox container of its own behind (other processes' are ignored)."""
    before = own_containers()
    yield
    left = own_containers() - before
    assert not left, f"sandbox containers left behind: {sorted(left)}"


@pytest.fixture(scope="session")
def pack_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A medgym home with the built-in pack built once for the whole test session."""
    from task_store.pack.build import DEFAULT_SEED, ensure_pack
    from task_store.pack.seed import SEED_FILE

    built = _session_dir(tmp_path_factory, "pack-home-built")
    (built / SEED_FILE).write_text(f"{DEFAULT_SEED}\n")  # this home's "secret" seed: the public one, to build once
    ensure_pack(built)  # with pytest-xdist, one worker builds and the others wait for it
    home = tmp_path_factory.mktemp("pack-home")
    share_pack(home, built)
    return home


def _session_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder of this test run: shared by its pytest-xdist workers (their base folders' parent is the
    run's own), else the session's own."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return tmp_path_factory.mktemp(name)
    shared = tmp_path_factory.getbasetemp().parent / name
    shared.mkdir(exist_ok=True)
    return shared


def share_pack(home: Path, pack_home: Path) -> None:
    """Let a fresh medgym home use the session's built pack (its folder and its seed), with a store of its own."""
    from task_store.pack.seed import SEED_FILE

    (home / "pack").symlink_to(pack_home / "pack")
    (home / SEED_FILE).write_text((pack_home / SEED_FILE).read_text())


_ports_given: set[int] = set()  # ports handed out in this process: a port freed again may come back at once


def free_port() -> int:
    """A free local port never handed out before in this run (Ray refuses two of its components on one
    port: CI saw its node manager and metrics exporter get the same one)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _ports_given:
            _ports_given.add(port)
            return port


@pytest.fixture
def http_server(tmp_path: Path, shared_dir: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "MEDGYM_HOME": str(tmp_path / "home"), "MEDGYM_IMAGE": IMAGE, "MEDGYM_PACK": "0"}
    medgym = str(Path(sys.executable).parent / "medgym")
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen([medgym, "serve", "--transport", "http", "--port", str(port), "--data-dir",
                             str(shared_dir)], env=env, stderr=log)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    assert proc.wait(timeout=30) == 0, (tmp_path / "server.log").read_text()
    log.close()
    assert "its sandboxes are removed" in (tmp_path / "server.log").read_text()
