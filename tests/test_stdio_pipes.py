"""stdio on the event loop (`mcp_server.stdio_pipes`): lines and writes on non-blocking pipes, the
claim of fds 0 and 1 while serving, and `medgym serve` spoken to over it by the MCP client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from mcp_server.stdio_pipes import PipeLines, PipeWriter, pipe_streams
from tests.conftest import IMAGE

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[1]


def _nonblocking_pipe() -> tuple[int, int]:
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    return read, write


async def _lines(reader: PipeLines) -> list[str]:
    return [line async for line in reader]


async def test_lines_are_split_whatever_the_chunks_and_the_last_one_needs_no_newline() -> None:
    read, write = _nonblocking_pipe()
    euro = "€".encode()

    async def feed() -> None:
        chunks = (b'{"a": 1}\n{"b"', b": 2}\n\n", b'{"c": "' + euro[:1], euro[1:] + b'"}\n', b"\xff\xfe\n", b"tail")
        for chunk in chunks:
            os.write(write, chunk)
            await anyio.sleep(0.01)
        os.close(write)

    async with anyio.create_task_group() as group:
        group.start_soon(feed)
        lines = await _lines(PipeLines(read))
    os.close(read)
    assert lines == ['{"a": 1}\n', '{"b": 2}\n', "\n", '{"c": "€"}\n', "\ufffd\ufffd\n", "tail"]


async def test_a_write_waits_for_a_full_pipe_to_drain_and_loses_nothing() -> None:
    read, write = _nonblocking_pipe()
    text = "".join(f"line {i:07d} " + "x" * 90 + "\n" for i in range(20_000))  # 2 MB, far beyond a pipe's buffer
    got = bytearray()

    def drain() -> None:
        os.set_blocking(read, True)
        while chunk := os.read(read, 4096):
            got.extend(chunk)
            time.sleep(0.0005)

    reader = threading.Thread(target=drain)
    reader.start()
    writer = PipeWriter(write)
    assert await writer.write(text) == len(text)
    await writer.flush()
    os.close(write)
    reader.join(timeout=60)
    os.close(read)
    assert got.decode() == text


_CLAIM = textwrap.dedent("""
    import anyio, os, sys
    sys.path.insert(0, {root!r})
    from mcp_server.stdio_pipes import pipe_streams

    async def main():
        with pipe_streams() as pipes:
            lines, writer = pipes
            print("stray print", flush=True)
            os.write(1, b"stray write\\n")
            async for line in lines:
                await writer.write("echo " + line)
        os.write(1, b"restored\\n")

    anyio.run(main)
""")


def test_while_serving_fd_1_goes_to_stderr_and_fd_0_reads_nothing_and_both_come_back() -> None:
    done = subprocess.run([sys.executable, "-c", _CLAIM.format(root=str(ROOT))], input=b'{"x": 1}\n{"y": 2}\n',
                          capture_output=True, timeout=60, check=True)
    assert done.stdout == b'echo {"x": 1}\necho {"y": 2}\nrestored\n'
    assert b"stray print" in done.stderr and b"stray write" in done.stderr


def test_without_a_stderr_stray_output_goes_to_the_null_device() -> None:
    script = _CLAIM.format(root=str(ROOT))
    done = subprocess.run(["sh", "-c", 'exec "$0" -c "$1" 2>&-', sys.executable, script], input=b'{"x": 1}\n',
                          capture_output=True, timeout=60, check=True)
    assert done.stdout == b'echo {"x": 1}\nrestored\n'


_CLAIM_FAILS = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {root!r})
    from mcp_server import stdio_pipes

    real = stdio_pipes._claim
    def claim(fd, diversion):
        if fd == 1:
            raise OSError(24, "Too many open files")
        return real(fd, diversion)
    stdio_pipes._claim = claim
    with stdio_pipes.pipe_streams() as pipes:
        assert pipes is None
        os.write(1, b"fallback: " + os.read(0, 100))  # fd 0 is the client's pipe again
""")


def test_when_the_fds_cannot_be_claimed_the_sdk_serves_with_both_untouched() -> None:
    done = subprocess.run([sys.executable, "-c", _CLAIM_FAILS.format(root=str(ROOT))], input=b"hello\n",
                          capture_output=True, timeout=60, check=True)
    assert done.stdout == b"fallback: hello\n"
    assert b"serving with the SDK's transport" in done.stderr


def test_a_terminal_or_file_is_left_to_the_sdk(tmp_path: Path) -> None:
    probe = (f"import sys; sys.path.insert(0, {str(ROOT)!r})\nfrom mcp_server.stdio_pipes import pipe_streams\n"
             "with pipe_streams() as p: print(p is None)")
    (tmp_path / "in").write_text("")
    with (tmp_path / "in").open("rb") as stdin:
        done = subprocess.run([sys.executable, "-c", probe], stdin=stdin, capture_output=True, timeout=60, check=True)
    assert done.stdout.strip() == b"True"


def test_outside_a_pipe_the_claim_is_not_taken() -> None:
    with pipe_streams() as pipes:  # pytest's stdin is not a pipe here, or is captured: either way no claim
        if pipes is not None:
            pytest.skip("this test runner's stdin and stdout are pipes")
    assert pipes is None


def _child_server() -> int:
    """The `medgym serve` process the client spawned (a child of this process)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"serve" in cmdline:
            return int(entry)
    raise AssertionError("no medgym serve child found")


async def test_medgym_serve_over_pipes_big_requests_and_replies(tmp_path: Path, shared_dir: Path) -> None:
    """The real server over the pipe transport: a request larger than a pipe's buffer (read in many
    chunks) and replies larger than it (written as the client drains), and its fds 0 and 1 diverted."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "MEDGYM_HOME": str(tmp_path / "home"),
           "MEDGYM_IMAGE": IMAGE, "MEDGYM_PACK": "0", "MEDGYM_POOL_SIZE": "0",
           "MEDGYM_DATA_DIR": str(shared_dir)}
    server = StdioServerParameters(command=str(Path(sys.executable).parent / "medgym"), args=["serve"], env=env)
    async with Client(server, read_timeout_seconds=300) as client:
        with anyio.fail_after(120):
            while True:
                datasets = (await client.call_tool("list_datasets", {})).structured_content or {}
                if datasets.get("catalog") == "ready":
                    break
                await anyio.sleep(0.2)
        page = await client.call_tool("list_tasks", {"dataset": "mimic_iii", "limit": 200})
        assert not page.is_error
        assert len(json.dumps(page.structured_content)) + len(page.content[0].text) > 65536  # type: ignore[union-attr]
        search = "x" * 300_000
        found = await client.call_tool("list_tasks", {"search": search})
        assert found.is_error or (found.structured_content or {}).get("total") == 0
        pid = _child_server()
        fd0, fd1, fd2 = (os.readlink(f"/proc/{pid}/fd/{n}") for n in (0, 1, 2))
        assert fd0 == os.devnull and fd1 == fd2
