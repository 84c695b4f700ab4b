"""The direct channel between the server and a sandbox's runner (`sandbox/runner_socket.py`).

On a local engine the runner talks over a unix socket the server listens on; the attach stream is
the fallback (a remote engine, or a socket the container cannot reach). What the code in the
sandbox can see of the channel: an unreadable, read-only, empty mount and no descriptor of it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from sandbox import runner_socket
from sandbox.contract import SandboxSpec
from sandbox.docker_backend import DockerBackend, DockerSandbox
from sandbox.limits import Limits
from tests.conftest import IMAGE

SPEC = SandboxSpec(image=IMAGE, limits=Limits(memory_mb=512, pids=128), labels={"medgym.episode": "channel"})


def test_only_an_engine_on_a_local_unix_socket_is_local() -> None:
    def client(url: str) -> SimpleNamespace:
        return SimpleNamespace(api=SimpleNamespace(base_url=url))

    assert runner_socket.engine_is_local(client("http+docker://localhost"))
    for remote in ("http://10.0.0.2:2375", "https://docker.example:2376", "http+docker://ssh", "http+docker://localnpipe"):
        assert not runner_socket.engine_is_local(client(remote))
    assert not runner_socket.engine_is_local(object())


def test_a_listener_is_private_and_leaves_nothing_behind() -> None:
    listener = runner_socket.ChannelListener()
    base = listener.dir.parent
    assert base.stat().st_mode & 0o777 == 0o700  # no other user of the host gets in
    assert listener.dir.stat().st_mode & 0o777 == 0o711  # the container's user passes through, lists nothing
    assert listener.path.is_socket()
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(str(listener.path))
    conn = listener.accept(2.0)
    assert not listener.dir.exists()  # after the one connection: no socket file, no directory
    with pytest.raises(OSError):
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(str(listener.path))
    conn.sendall(b"x")
    assert client.recv(1) == b"x"
    conn.close()
    client.close()


def test_channel_directories_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead, alive = tmp_path / "medgym-channels-999999999-ab", tmp_path / f"medgym-channels-{os.getpid()}-cd"
    for path in (dead, alive):
        (path / "c-1").mkdir(parents=True)
    runner_socket._remove_stale(tmp_path)
    assert not dead.exists() and alive.exists()


@pytest.fixture(scope="module")
def backend(docker_ready: None) -> DockerBackend:
    return DockerBackend("tests-channel")


@pytest.fixture
def box(backend: DockerBackend) -> Iterator[DockerSandbox]:
    sandbox = backend.start(SPEC)
    yield sandbox
    sandbox.close()


@pytest.mark.docker
def test_a_local_sandbox_talks_over_its_socket(box: DockerSandbox) -> None:
    assert box.info["channel"] == "socket"
    assert not list(runner_socket._base_dir().iterdir())  # the socket and its directory are gone already
    result = box.run("print('hello')", 10, 65536)
    assert (result.exit_code, result.stdout) == (0, "hello\n")
    assert box.alive()


@pytest.mark.docker
def test_the_code_cannot_reach_the_channel(box: DockerSandbox) -> None:
    code = (
        "import os, socket\n"
        "mount = '" + runner_socket.MOUNT + "'\n"
        "try:\n    print('list', os.listdir(mount))\nexcept OSError as exc:\n    print('list', type(exc).__name__)\n"
        "try:\n    open(mount + '/x', 'w')\n    print('write ok')\n"
        "except OSError as exc:\n    print('write', type(exc).__name__)\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        "try:\n    s.connect(mount + '/" + runner_socket.SOCKET_NAME + "')\n    print('connect ok')\n"
        "except OSError as exc:\n    print('connect', type(exc).__name__)\n"
        "s.close()  # the code's own socket: what is left is inherited\n"
        "fds = [int(fd) for fd in os.listdir('/proc/self/fd')]\n"
        "def is_socket(fd):\n"
        "    try:\n        return os.readlink('/proc/self/fd/%d' % fd).startswith('socket:')\n"
        "    except OSError:\n        return False\n"
        "print('sockets', sum(is_socket(fd) for fd in fds))\n"
        "try:\n    print('runner fds', os.listdir('/proc/1/fd'))\nexcept OSError as exc:\n"
        "    print('runner fds', type(exc).__name__)\n"
    )
    lines = box.run(code, 10, 65536).stdout.splitlines()
    assert lines[0] == "list PermissionError" and lines[1] in ("write PermissionError", "write FileNotFoundError",
                                                               "write OSError"), lines
    assert lines[2:] == ["connect FileNotFoundError", "sockets 0", "runner fds PermissionError"], lines


@pytest.mark.docker
def test_the_runner_exits_when_its_socket_closes(backend: DockerBackend, box: DockerSandbox) -> None:
    """The server gone (its end of the socket closed, as at SIGKILL): the runner exits, the container goes."""
    box._channel.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if not [c for c in backend.managed_containers() if c["Id"].startswith(box.sandbox_id)]:
            return
        time.sleep(0.2)
    pytest.fail("the container outlived its server's end of the channel")


@pytest.mark.docker
def test_the_attach_stream_when_asked_for(docker_ready: None) -> None:
    box = DockerBackend("tests-channel", runner_channel="attach").start(SPEC)
    try:
        assert box.info["channel"] == "stdio" and "channel_error" not in box.info
        assert box.run("print(6 * 7)", 10, 65536).stdout == "42\n"
    finally:
        box.close()


@pytest.mark.docker
def test_a_socket_the_container_cannot_reach_falls_back_to_attach(
        docker_ready: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """E.g. a server in a container of its own: its path is not the engine's. The runner says why."""
    missing = {"SANDBOX_CHANNEL": f"{runner_socket.MOUNT}/elsewhere.sock"}
    monkeypatch.setattr(runner_socket.ChannelListener, "environment", property(lambda self: missing))
    box = DockerBackend("tests-channel").start(SPEC)
    try:
        assert box.info["channel"] == "stdio"
        assert "elsewhere.sock" in box.info["channel_error"]
        assert box.run("print('still works')", 10, 65536).stdout == "still works\n"
    finally:
        box.close()


def test_a_forked_child_leaves_its_parents_channel_directory(tmp_path: Path) -> None:
    own = tmp_path / "medgym-channels-1-ab"
    own.mkdir()
    runner_socket._remove_own(own, os.getpid() + 1)  # as a forked child would, at its exit
    assert own.exists()
    runner_socket._remove_own(own, os.getpid())
    assert not own.exists()
