"""The server answers at once, whatever the catalog size: a fresh home with a 70,000-record catalog
answers `initialize` right away, shows the indexing state, reports progress to a waiting tool call
(or says how far indexing has got), and serves every record once it is done."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import IMAGE

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # a 70,000-record catalog
RECORDS = 70_000


def _replicated_catalog(shared: Path, root: Path) -> int:
    """A data directory of at least RECORDS records: the public EHR questions, repeated with fresh ids."""
    source = [json.loads(line) for line in (shared / "mimic_iii" / "train_tasks.jsonl").read_text().splitlines()
              if line.strip()]
    (root / "mimic_iii").mkdir(parents=True)
    count = 0
    with (root / "mimic_iii" / "train_tasks.jsonl").open("w") as out:
        while count < RECORDS:
            for record in source:
                out.write(json.dumps({**record, "id": f"r{count}"}) + "\n")
                count += 1
    return count


async def test_a_fresh_home_with_a_large_catalog_answers_at_once(tmp_path: Path, shared_dir: Path) -> None:
    records = _replicated_catalog(shared_dir, tmp_path / "data")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "MEDGYM_HOME": str(tmp_path / "home"),
           "MEDGYM_IMAGE": IMAGE, "MEDGYM_PACK": "0", "MEDGYM_DATA_DIR": str(tmp_path / "data"),
           "MEDGYM_POOL_SIZE": "0",
           # a short catalog wait (list_datasets glances at a quarter of it): indexing outlasts it on a fast machine too
           "MEDGYM_CATALOG_WAIT_S": "2"}
    server = StdioServerParameters(command=str(Path(sys.executable).parent / "medgym"), args=["serve"], env=env)
    started = time.monotonic()
    async with Client(server, read_timeout_seconds=600) as client:
        connected = time.monotonic() - started  # process start, imports and the initialize round trip
        assert connected < 10, connected
        timed = time.monotonic()
        first = (await client.call_tool("list_datasets", {})).structured_content
        assert first["catalog"] in ("starting", "indexing") and time.monotonic() - timed < 7
        seen: list[tuple[float, float | None, str | None]] = []

        async def progress(done: float, total: float | None, message: str | None) -> None:
            seen.append((done, total, message))

        waited = await client.call_tool("list_tasks", {"dataset": "mimic_iii", "limit": 1},
                                        progress_callback=progress)
        if waited.is_error:  # past the short wait: it says how far indexing has got
            assert "still indexing:" in _text(waited) and " of " in _text(waited)
        assert seen and any("indexing" in (m or "") for _, _, m in seen)
        deadline = time.monotonic() + 300
        while (state := (await client.call_tool("list_datasets", {})).structured_content)["catalog"] != "ready":
            assert time.monotonic() < deadline and state["catalog"] != "failed", state
        (mimic,) = [d for d in state["datasets"] if d["name"] == "mimic_iii"]
        assert mimic["total"] == records


def _text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)
