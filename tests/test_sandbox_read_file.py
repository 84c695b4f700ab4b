"""`Sandbox.read_file` against the real Docker engine: the file is the agent's, so every trick a
program can play with it (links out, FIFOs, folders, huge files, unreadable modes) is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from medgym.errors import SandboxFileError, SandboxLostError
from sandbox.contract import SandboxSpec
from sandbox.docker_backend import DockerBackend, DockerSandbox
from sandbox.limits import Limits
from tests.conftest import IMAGE

pytestmark = pytest.mark.usefixtures("no_leftover_containers")

SETUP = r"""
import os
os.makedirs('out', exist_ok=True)
open('p.csv', 'w').write('id,probability\n1,0.5\n')
open('out/nested.csv', 'wb').write(bytes(range(256)))
open('big.bin', 'wb').write(b'x' * 5000)
open('exact.bin', 'wb').write(b'y' * 4096)
open('empty.csv', 'w').close()
os.mkfifo('fifo')
os.symlink('/etc/passwd', 'to_etc')
os.symlink('/workspace/p.csv', 'to_p')
os.symlink('/proc/1/environ', 'to_runner')
os.symlink('to_loop', 'to_loop')
open('secret.csv', 'w').write('x')
os.chmod('secret.csv', 0)
"""


@pytest.fixture(scope="module")
def sandbox(docker_ready: None) -> Iterator[DockerSandbox]:
    box = DockerBackend("tests-read-file").start(SandboxSpec(image=IMAGE, limits=Limits(memory_mb=512),
                                                             labels={"medgym.episode": "read-file"}))
    assert box.run(SETUP, 10, 4096).exit_code == 0
    yield box
    box.close()


def test_round_trip_of_text_and_binary(sandbox: DockerSandbox) -> None:
    assert sandbox.read_file("/workspace/p.csv", 1000) == b"id,probability\n1,0.5\n"
    assert sandbox.read_file("/workspace/out/nested.csv", 1000) == bytes(range(256))
    assert sandbox.read_file("/workspace/empty.csv", 10) == b""
    assert sandbox.read_file("/workspace/exact.bin", 4096) == b"y" * 4096  # exactly the limit is allowed
    assert sandbox.read_file("/workspace/to_p", 1000) == b"id,probability\n1,0.5\n"  # a link inside /workspace


@pytest.mark.parametrize(("path", "reason"), [
    ("/workspace/nope.csv", "missing"), ("/workspace/out/nope/x.csv", "missing"), ("/workspace/out", "not_a_file"),
    ("/workspace/fifo", "not_a_file"), ("/workspace/to_etc", "outside"), ("/workspace/to_runner", "outside"),
    ("/workspace/../etc/passwd", "outside"), ("/etc/passwd", "outside"), ("/workspace", "outside"),
    ("/workspace/to_loop", "not_a_file"), ("/workspace/big.bin", "too_large"), ("/workspace/exact.bin", "too_large"),
])
def test_refusals_say_why(sandbox: DockerSandbox, path: str, reason: str) -> None:
    with pytest.raises(SandboxFileError) as info:
        sandbox.read_file(path, 4095 if path.endswith("exact.bin") else 4096)
    assert info.value.reason == reason and path in str(info.value)


def test_unreadable_mode(sandbox: DockerSandbox) -> None:
    with pytest.raises(SandboxFileError) as info:
        sandbox.read_file("/workspace/secret.csv", 100)
    assert info.value.reason == "unreadable"


def test_the_sandbox_keeps_working_after_reads_and_timeouts(sandbox: DockerSandbox) -> None:
    result = sandbox.run("open('late.csv', 'w').write('a')\nimport time\ntime.sleep(30)", 1.0, 1000)
    assert result.timed_out
    assert sandbox.read_file("/workspace/late.csv", 10) == b"a"  # what a timed-out run wrote stays readable
    assert sandbox.run("print('fine')", 10, 100).stdout == "fine\n"


def test_a_closed_sandbox_is_lost(docker_ready: None) -> None:
    box = DockerBackend("tests-read-file").start(SandboxSpec(image=IMAGE, limits=Limits(memory_mb=256),
                                                             labels={"medgym.episode": "read-file-closed"}))
    box.close()
    with pytest.raises(SandboxLostError):
        box.read_file("/workspace/p.csv", 10)
