"""The record store's writer, alone: `flush` waits for what was queued before it, not for a queue that
a busy server keeps refilling (a final verdict waits on it before the client hears the verdict)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from trajectory.records import EpisodeRecord, EventRecord, Provenance
from trajectory.store import RecordStore


def test_flush_waits_for_what_was_queued_before_it_only(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "records.sqlite")
    provenance = Provenance(medgym_version="t", image="i", max_attempts=1)
    store.put(EpisodeRecord(episode_id="busy", task_id="t/1", dataset="t", client=None, started_at=time.time(),
                            outcome="unsubmitted", provenance=provenance))  # type: ignore[arg-type]
    stop = threading.Event()
    queued = [0]

    def busy_server() -> None:  # events from other episodes, faster than the writer commits them
        while not stop.is_set():
            for _ in range(1000):  # then a pause that lets the writer run (a thread that never pauses starves it)
                queued[0] += 1
                store.put(EventRecord(episode_id="busy", seq=queued[0], at=time.time(), tool="run_code",
                                      arguments={}, result={"stdout": "x" * 200}, duration_ms=1.0))
            time.sleep(0.001)
    producer = threading.Thread(target=busy_server)
    producer.start()
    try:
        while queued[0] < 3000:
            time.sleep(0.001)
        verdict = EpisodeRecord(episode_id="final", task_id="t/2", dataset="t", client=None, started_at=time.time(),
                                ended_at=time.time(), end_reason="final_submission", outcome="incorrect",
                                attempts_used=1, provenance=provenance)  # type: ignore[arg-type]
        store.put(verdict)
        assert store.flush(timeout_s=30.0)
        assert producer.is_alive()  # it returned while the queue was still being refilled
        with sqlite3.connect(store.path) as db:  # committed: another connection (a restarted server) sees it
            assert db.execute("SELECT outcome FROM episodes WHERE episode_id='final'").fetchone() == ("incorrect",)
    finally:
        stop.set()
        producer.join()
        store.close()
    assert queued[0] > 0
