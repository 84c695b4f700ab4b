"""The recorder: turns episode lifecycle changes and tool calls into records, without blocking.

It is attached from outside (the server wraps its tools with it and subscribes it to the
episode table); tools and sandboxes never know they are recorded.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any

from pydantic import BaseModel

from scoring.versions import verifier_version
from trajectory.records import EndReason, EpisodeRecord, EventRecord, Outcome, Provenance, Verdict
from trajectory.store import RecordStore

MAX_TRACKED = 20_000  # episodes whose event numbering is remembered (ended ones are forgotten first)
MAX_RECORDED_CHARS = 64 * 1024  # a longer string argument (e.g. code) is kept as its head, its length and hash


class Recorder:
    def __init__(self, store: RecordStore, provenance: Provenance, server: str | None = None):
        self.store = store
        self.provenance = provenance
        self.server = server
        self._lock = threading.Lock()
        self._seq: OrderedDict[str, int] = OrderedDict()  # bounded: see `_forget`
        self._records: dict[str, EpisodeRecord] = {}
        self._verifier_failed: set[str] = set()
        self._used_reference: set[str] = set()
        self._final: OrderedDict[str, EpisodeRecord] = OrderedDict()  # ended episodes, for a late final event
        self._verifiers: dict[str, str | None] = {}  # the verifier of each episode in `_seq`

    def opened(self, episode_id: str, task_id: str, client: str | None, verifier: str | None, *, ordinal: int = 1,
               previous_episode_id: str | None = None, group_id: str | None = None, scorer: str | None = None) -> None:
        with self._lock:  # with the provenance of this moment (`note_image_id` may change it)
            record = EpisodeRecord(
                episode_id=episode_id, task_id=task_id, dataset=task_id.split("/", 1)[0], client=client, scorer=scorer,
                server=self.server, started_at=time.time(), ordinal=ordinal, previous_episode_id=previous_episode_id,
                group_id=group_id, provenance=self.provenance.model_copy(
                    update={"verifier": verifier, "verifier_version": verifier_version(verifier)}),
            )
            self._records[episode_id] = record
            self._seq[episode_id] = 0
            self._verifiers[episode_id] = verifier
            while len(self._seq) > MAX_TRACKED and len(self._seq) > len(self._records):
                oldest = next(iter(self._seq))
                if oldest in self._records:  # still open: keep it, move it to the back
                    self._seq.move_to_end(oldest)
                    continue
                del self._seq[oldest]
                self._verifiers.pop(oldest, None)
        self.store.put(record)

    def note_image_id(self, image_id: str | None) -> None:
        """The sandbox image's id, once the server has looked it up (in the background, while episodes may
        already start): in the records of episodes from now on, and of those open now."""
        with self._lock:
            self.provenance = self.provenance.model_copy(update={"image_id": image_id})
            for episode_id, record in self._records.items():
                if record.provenance.image_id is None:
                    self._records[episode_id] = record.model_copy(
                        update={"provenance": record.provenance.model_copy(update={"image_id": image_id})})

    def ended(self, episode_id: str, reason: EndReason, solved: bool, attempts_used: int, max_attempts: int) -> None:
        with self._lock:
            record = self._records.pop(episode_id, None)  # its events may still follow (the final submit)
            failed = episode_id in self._verifier_failed
            self._verifier_failed.discard(episode_id)
            used_reference = episode_id in self._used_reference
            self._used_reference.discard(episode_id)
        if record is None:
            return
        outcome: Outcome = (
            "correct" if solved else "error" if failed and attempts_used == 0
            else "incorrect" if attempts_used else "unsubmitted"
        )
        final = record.model_copy(update={
            "ended_at": time.time(), "end_reason": reason, "outcome": outcome, "attempts_used": attempts_used,
            "used_reference_solution": used_reference,
        })
        with self._lock:
            self._final[episode_id] = final
            while len(self._final) > 1000:
                self._final.popitem(last=False)
        self.store.put(final)

    def event(
        self, episode_id: str, tool: str, arguments: dict[str, Any], result: BaseModel | None,
        error: str | None, error_kind: str | None, duration_ms: float, reference_solution: bool = False,
    ) -> None:
        with self._lock:
            if episode_id not in self._seq:
                return  # an episode this server did not open (or already ended and forgotten)
            self._seq[episode_id] += 1
            seq = self._seq[episode_id]
            verifier = self._verifiers.get(episode_id)
            if error_kind == "verifier":
                self._verifier_failed.add(episode_id)
            if reference_solution:
                self._used_reference.add(episode_id)
            late = self._final.get(episode_id) if reference_solution else None
            if late is not None and not late.used_reference_solution:  # the final submit of a code task's reference
                late = self._final[episode_id] = late.model_copy(update={"used_reference_solution": True})
            else:
                late = None
        if late is not None:
            self.store.put(late)
        payload = result.model_dump(mode="json") if result is not None else None
        self.store.put(EventRecord(
            episode_id=episode_id, seq=seq, at=time.time(), tool=tool, arguments=_bounded(arguments), result=payload,
            error=error, error_kind=error_kind,
            duration_ms=round(duration_ms, 3),
            timed_out=payload.get("timed_out") if payload and tool == "run_code" else None,
            oom_killed=payload.get("oom_killed") if payload and tool == "run_code" else None,
            verdict=Verdict(**{k: payload[k] for k in ("correct", "score", "feedback")}, verifier=verifier,
                            verifier_version=verifier_version(verifier))
            if payload and tool == "submit_answer" and not payload.get("dry_run") else None,
        ))


def _bounded(arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments as recorded: strings longer than `MAX_RECORDED_CHARS` cut, with their size and hash."""
    return {key: _cut(value) if isinstance(value, str) and len(value) > MAX_RECORDED_CHARS else value
            for key, value in arguments.items()}


def _cut(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
    return f"{text[:MAX_RECORDED_CHARS]}\n[... medgym: {len(text)} characters in all, sha256 {digest}; cut here]"
