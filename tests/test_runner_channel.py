"""The runner channel (`sandbox.channel.RunnerChannel`) over a socketpair: Docker's attach-stream framing
(and, last, the plain lines of the unix-socket channel).

The test plays the Docker engine's side: each frame is an 8-byte header (stream type 1 stdout / 2
stderr, three zero bytes, big-endian payload length) and the payload; the runner's replies are
JSON lines on stdout, and may be split or batched across frames and socket reads in any way.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from medgym.errors import SandboxLostError, SandboxTimeoutError
from sandbox.channel import RunnerChannel

pytestmark = pytest.mark.timeout(30)


def frame(payload: bytes, stream: int = 1) -> bytes:
    return struct.pack(">BxxxI", stream, len(payload)) + payload


def line(message: dict[str, object]) -> bytes:
    return (json.dumps(message) + "\n").encode()


@pytest.fixture
def ends() -> Iterator[tuple[RunnerChannel, socket.socket]]:
    mine, runner = socket.socketpair()
    channel = RunnerChannel(mine, "test")
    yield channel, runner
    channel.close()
    runner.close()


def test_request_and_reply(ends: tuple[RunnerChannel, socket.socket]) -> None:
    """The channel numbers its requests and skips a stale reply to an earlier one."""
    channel, runner = ends
    received: list[bytes] = []

    def serve() -> None:
        received.append(runner.recv(65536))
        sent = json.loads(received[0])
        runner.sendall(frame(line({"event": "pong", "id": sent["id"] - 1}))  # late: an earlier request's
                       + frame(line({"event": "pong", "id": sent["id"]})))

    thread = threading.Thread(target=serve)
    thread.start()
    reply = channel.request({"op": "ping"}, 5.0)
    thread.join()
    sent = json.loads(received[0])
    assert sent["op"] == "ping" and reply == {"event": "pong", "id": sent["id"]}


@pytest.mark.anyio
async def test_request_async_reports_waiting_and_takes_its_reply(ends: tuple[RunnerChannel, socket.socket]) -> None:
    channel, runner = ends
    waits: list[float] = []

    async def on_wait(elapsed: float) -> None:
        waits.append(elapsed)

    def serve() -> None:
        sent = json.loads(runner.recv(65536))
        time.sleep(0.35)
        runner.sendall(frame(line({"event": "pong", "id": sent["id"]})))

    thread = threading.Thread(target=serve)
    thread.start()
    reply = await channel.request_async({"op": "ping"}, 5.0, on_wait, every_s=0.1)
    thread.join()
    assert reply["event"] == "pong" and len(waits) >= 2


def test_stderr_frames_are_skipped(ends: tuple[RunnerChannel, socket.socket]) -> None:
    channel, runner = ends
    runner.sendall(frame(b"a warning from the runner\n", stream=2) + frame(b"", stream=2)
                   + frame(line({"event": "ready"})))
    assert channel.receive(5.0) == {"event": "ready"}


def test_replies_split_across_frames_and_reads(ends: tuple[RunnerChannel, socket.socket]) -> None:
    channel, runner = ends
    reply = line({"event": "result", "stdout": "x" * 100_000})
    data = frame(reply[:10]) + frame(reply[10:70_000]) + frame(b"", stream=1) + frame(reply[70_000:])

    def trickle() -> None:
        for start in range(0, len(data), 4099):  # header and payload boundaries fall mid-read
            runner.sendall(data[start:start + 4099])
            time.sleep(0.001)

    thread = threading.Thread(target=trickle)
    thread.start()
    assert channel.receive(5.0) == json.loads(reply)
    thread.join()


def test_several_replies_in_one_frame(ends: tuple[RunnerChannel, socket.socket]) -> None:
    channel, runner = ends
    runner.sendall(frame(line({"n": 1}) + line({"n": 2}) + line({"n": 3})[:4]) + frame(line({"n": 3})[4:]))
    assert [channel.receive(5.0) for _ in range(3)] == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_no_reply_in_time_is_a_timeout(ends: tuple[RunnerChannel, socket.socket]) -> None:
    channel, runner = ends
    started = time.monotonic()
    with pytest.raises(SandboxTimeoutError):
        channel.receive(0.2)
    runner.sendall(frame(line({"n": 1}))[:5])  # half a header, then silence
    with pytest.raises(SandboxTimeoutError):
        channel.receive(0.2)
    assert time.monotonic() - started < 2 and not channel.closed
    runner.sendall(frame(line({"n": 1}))[5:])  # the rest arrives late: the stream is still in step
    assert channel.receive(5.0) == {"n": 1}


@pytest.mark.parametrize("sent", [b"", frame(b'{"partial": ')[:3], frame(b'{"partial": ')])
def test_a_closed_peer_loses_the_sandbox(ends: tuple[RunnerChannel, socket.socket], sent: bytes) -> None:
    channel, runner = ends
    runner.sendall(sent)
    runner.close()
    with pytest.raises(SandboxLostError, match=r"exited|lost"):
        channel.receive(5.0)
    assert channel.closed
    with pytest.raises(SandboxLostError, match="input is closed"):
        channel.send({"op": "ping"}, 1.0)


def test_close_ends_the_stream(ends: tuple[RunnerChannel, socket.socket]) -> None:
    channel, runner = ends
    channel.close()
    assert channel.closed
    runner.settimeout(5.0)
    assert runner.recv(10) == b""


def test_an_unframed_channel_takes_plain_json_lines() -> None:
    """The unix-socket channel (`framed=False`): the runner's lines are the bytes themselves, split or batched."""
    mine, runner = socket.socketpair()
    channel = RunnerChannel(mine, "test", framed=False)
    try:
        data = line({"n": 1}) + line({"event": "result", "stdout": "x" * 70_000}) + line({"n": 3})
        for start in range(0, len(data), 4099):
            runner.sendall(data[start:start + 4099])
        assert channel.receive(5.0) == {"n": 1}
        assert channel.receive(5.0)["stdout"] == "x" * 70_000
        assert channel.receive(5.0) == {"n": 3}
        runner.close()
        with pytest.raises(SandboxLostError):
            channel.receive(5.0)
    finally:
        channel.close()
