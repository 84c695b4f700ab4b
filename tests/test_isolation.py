"""Isolation between episodes and clients: a file, process or environment change made in one
episode is invisible to every other episode, including concurrent ones of other clients."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("docker_ready")]

MARK = (
    "import os, subprocess, time\n"
    "open('/workspace/secret-{tag}', 'w').write('{tag}')\n"
    "open('/tmp/secret-{tag}', 'w').write('{tag}')\n"
    "os.environ['LEAK_{tag}'] = '1'\n"
    "subprocess.Popen(['sleep', '30'])\n"
    "print('marked', flush=True)\n"
    "time.sleep(4)\n"  # still running while the other episodes look
)
LOOK = (
    "import os\n"
    "seen = sorted(os.listdir('/workspace')) + sorted(f for f in os.listdir('/tmp') if f.startswith('secret'))\n"
    "cmds = []\n"
    "for pid in os.listdir('/proc'):\n"
    "    if pid.isdigit():\n"
    "        try:\n"
    "            cmds.append(open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode().strip())\n"
    "        except OSError:\n"
    "            pass\n"
    "print(seen, [c for c in cmds if c.startswith('sleep')], [k for k in os.environ if k.startswith('LEAK')])\n"
)



async def _run(client: Client, task_id: str, code: str, episode: str | None = None) -> str:
    arguments: dict[str, Any] = {"task_id": task_id, "code": code}
    if episode:
        arguments["episode_id"] = episode
    result = await client.call_tool("run_code", arguments)
    assert not result.is_error, result.content
    return str((result.structured_content or {})["stdout"])


async def test_concurrent_episodes_of_two_clients_see_nothing_of_each_other(http_server: str) -> None:
    looks: dict[str, str] = {}
    async with Client(http_server, mode="legacy") as alice, Client(http_server, mode="legacy") as bob:
        async with anyio.create_task_group() as group:
            group.start_soon(_run, alice, "npowerai/train/1", MARK.format(tag="alice"))
            await anyio.sleep(1.5)  # alice's run has marked everything and is still running

            async def look(name: str, client: Client, task_id: str) -> None:
                looks[name] = await _run(client, task_id, LOOK)

            group.start_soon(look, "bob, same task", bob, "npowerai/train/1")
            group.start_soon(look, "bob, other task", bob, "npowerai/train/2")
            group.start_soon(look, "alice, other task", alice, "npowerai/train/3")
        # and a sessionless episode of the same task, opened afterwards
        alice_again = await _run(alice, "npowerai/train/1", LOOK)
    for name, output in looks.items():
        assert output.strip() == "[] [] []", (name, output)
    # alice's own episode kept its files (the background process and env change died with the run)
    assert "secret-alice" in alice_again and "sleep" not in alice_again and "LEAK" not in alice_again
