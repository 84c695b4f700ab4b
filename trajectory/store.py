"""Episode and event records in the SQLite store (WAL), written by one background thread.

Tools never wait for the disk: a record is queued and a writer thread commits batches. A write
that fails (e.g. the disk is full) is logged loudly and the batch is kept for the next attempt;
the database itself stays consistent because every batch is one transaction.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from medgym.private import private_file
from trajectory.records import SCHEMA_VERSION, EpisodeRecord, EventRecord, Trajectory

log = logging.getLogger(__name__)
RETRY_INTERVAL_S = 1.0
MAX_PENDING_BYTES = 256 * 1024 * 1024  # records waiting for the disk; past this the store refuses new work
FLUSH_TIMEOUT_S = 10.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS record_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS episodes (
    episode_id TEXT PRIMARY KEY, schema_version INTEGER NOT NULL, task_id TEXT NOT NULL,
    dataset TEXT NOT NULL, client TEXT, server TEXT, started_at REAL NOT NULL, ended_at REAL, end_reason TEXT,
    outcome TEXT NOT NULL, attempts_used INTEGER NOT NULL, used_reference INTEGER NOT NULL DEFAULT 0,
    provenance TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS episodes_task ON episodes (task_id);
CREATE TABLE IF NOT EXISTS events (
    episode_id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (episode_id, seq));
"""
EPISODE_COLUMNS = ("episode_id", "schema_version", "task_id", "dataset", "client", "server", "started_at", "ended_at",
                   "end_reason", "outcome", "attempts_used", "used_reference", "provenance", "ordinal",
                   "previous_episode_id", "group_id", "scorer")
# columns added after the first release of schema 1, with their definitions (added in place by `_migrate`)
ADDED_COLUMNS = {"server": "TEXT", "used_reference": "INTEGER NOT NULL DEFAULT 0",
                 "ordinal": "INTEGER NOT NULL DEFAULT 1", "previous_episode_id": "TEXT", "group_id": "TEXT",
                 "scorer": "TEXT"}
_EPISODE_UPSERT = (
    f"INSERT INTO episodes ({', '.join(EPISODE_COLUMNS)}) VALUES ({', '.join('?' * len(EPISODE_COLUMNS))}) "
    "ON CONFLICT(episode_id) DO UPDATE SET "
    "ended_at=excluded.ended_at, end_reason=excluded.end_reason, outcome=excluded.outcome, "
    "attempts_used=excluded.attempts_used, used_reference=excluded.used_reference, provenance=excluded.provenance"
)


def _connect(path: Path) -> sqlite3.Connection:
    private_file(path)  # its WAL and shared-memory files take the same private mode
    conn = sqlite3.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    _migrate(conn)
    conn.execute("INSERT OR IGNORE INTO record_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    present = {row[1] for row in conn.execute("PRAGMA table_info(episodes)")}
    for column, definition in ADDED_COLUMNS.items():
        if column not in present:
            try:
                conn.execute(f"ALTER TABLE episodes ADD COLUMN {column} {definition}")
            except sqlite3.OperationalError as exc:  # another server added it at the same moment
                if "duplicate column" not in str(exc):
                    raise
    conn.execute("CREATE INDEX IF NOT EXISTS episodes_scorer ON episodes (scorer)")


Row = tuple[str, tuple[object, ...], int]  # SQL statement, its parameters, their size in bytes


class PastEpisode(NamedTuple):
    """What a principal's history of a task needs from one of its recorded episodes."""

    episode_id: str
    task_id: str
    end_reason: str | None
    outcome: str
    started_at: float
    ended_at: float | None


class RecordStore:
    """Queue records for the writer thread; read them back (after `flush`) for resources and exports.

    The writer survives any record: one that cannot be serialised is logged and skipped, a failed
    transaction is rolled back and retried, and nothing it does can leave the store locked. Records
    that wait for the disk are bounded by bytes: past `MAX_PENDING_BYTES` the store says it is not
    `accepting` (the server then refuses new work) rather than dropping history.
    """

    def __init__(self, path: Path):
        self.path = path
        self._conn = _connect(path)
        self._read_lock = threading.Lock()
        self._queue: queue.Queue[EpisodeRecord | EventRecord | None] = queue.Queue()
        self._progress = threading.Condition()  # counts records queued and records handled, for `flush`
        self._queued = 0
        self._handled = 0
        self._pending: list[Row] = []
        self._pending_bytes = 0
        self._last_error = ""
        self.write_errors = 0
        self.skipped = 0
        self._thread = threading.Thread(target=self._write_forever, name="medgym-records", daemon=True)
        self._thread.start()

    # -- writing --------------------------------------------------------------------------------
    def put(self, record: EpisodeRecord | EventRecord) -> None:
        with self._progress:  # in the queue's order
            self._queued += 1
            self._queue.put(record)

    def flush(self, timeout_s: float = FLUSH_TIMEOUT_S) -> bool:
        """Wait until everything queued so far is committed (or kept pending after a failure);
        False when that took longer than `timeout_s` (never blocks longer)."""
        with self._progress:  # records queued later are not waited for: a busy server's queue is never empty
            target = self._queued
            return self._progress.wait_for(lambda: self._handled >= target, timeout_s)

    @property
    def pending(self) -> int:
        """Records that could not be written yet (the store refused them, e.g. a full disk)."""
        return len(self._pending)

    @property
    def accepting(self) -> bool:
        """False while so many records wait for the disk that new work must be refused."""
        return self._pending_bytes < MAX_PENDING_BYTES and self._thread.is_alive()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)
        with self._read_lock:
            self._conn.close()

    def _write_forever(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=RETRY_INTERVAL_S if self._pending else None)
            except queue.Empty:
                self._commit_pending()  # retry what failed (e.g. once disk space is freed)
                continue
            batch = [first]
            while len(batch) < 500:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                for record in batch:
                    if record is not None:
                        self._add(record)
                self._commit_pending()
            except Exception:  # never let the writer die: log, keep what is pending, go on
                log.exception("the episode record writer hit an unexpected error; it carries on")
            finally:
                with self._progress:
                    self._handled += sum(record is not None for record in batch)
                    self._progress.notify_all()
            if None in batch:
                if self._pending:
                    log.error("%d episode record(s) could not be written to %s and are lost: %s",
                              len(self._pending), self.path, self._last_error)
                return

    def _add(self, record: EpisodeRecord | EventRecord) -> None:
        try:
            row = _row(record)
        except Exception as exc:  # an unserialisable record is skipped, never allowed to stop the writer
            self.skipped += 1
            log.error("skipped an episode record that cannot be stored (%s)", type(exc).__name__)
            return
        self._pending.append(row)
        self._pending_bytes += row[2]

    def _commit_pending(self) -> None:
        """Write every pending record in one transaction; on failure keep them for the next try."""
        if not self._pending:
            return
        try:
            with self._read_lock:
                try:
                    self._conn.execute("BEGIN IMMEDIATE")
                    for statement, parameters, _ in self._pending:
                        self._conn.execute(statement, parameters)
                    self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
        except sqlite3.OperationalError as exc:  # the store refuses writes for now (disk full, locked): retry
            self.write_errors += 1
            if str(exc) != self._last_error:
                log.error("cannot write episode records to %s: %s; %d record(s) wait in memory and are written "
                          "as soon as the store accepts them (free disk space?)", self.path, exc, len(self._pending))
            self._last_error = str(exc)
            return
        except Exception:  # one record the database will not take: write the others, skip that one
            self._commit_one_by_one()
        if self._last_error:
            log.warning("episode records written again to %s (%d waited)", self.path, len(self._pending))
        self._pending.clear()
        self._pending_bytes = 0
        self._last_error = ""

    def _commit_one_by_one(self) -> None:
        with self._read_lock:
            for statement, parameters, _ in self._pending:
                try:
                    self._conn.execute(statement, parameters)  # autocommit: one record per transaction
                except Exception as exc:
                    self.skipped += 1
                    log.error("skipped an episode record the store would not take (%s)", type(exc).__name__)

    def close_abandoned(self, server_is_gone: Callable[[str], bool]) -> int:
        """End the episodes left active by servers that died (killed, crashed): end reason
        `server_lost`, so the record stays consistent. Returns how many were closed."""
        with self._read_lock:
            rows = self._conn.execute(
                "SELECT episode_id, server, attempts_used FROM episodes WHERE outcome='active'").fetchall()
            lost = [(eid, attempts) for eid, server, attempts in rows if server and server_is_gone(server)]
            if not lost:
                return 0
            self._conn.execute("BEGIN IMMEDIATE")
            for episode_id, attempts in lost:
                self._conn.execute(
                    "UPDATE episodes SET outcome=?, end_reason='server_lost', ended_at=? WHERE episode_id=?",
                    ("incorrect" if attempts else "unsubmitted", time.time(), episode_id))
            self._conn.execute("COMMIT")
        return len(lost)

    def set_meta(self, key: str, value: str) -> None:
        """Store a value beside the records (e.g. the tool specs the server publishes)."""
        with self._read_lock:
            self._conn.execute("INSERT OR REPLACE INTO record_meta VALUES (?, ?)", (key, value))

    # -- reading --------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        with self._read_lock:
            row = self._conn.execute("SELECT value FROM record_meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def trajectory(self, episode_id: str) -> Trajectory | None:
        self.flush()  # bounded: a record still waiting for the disk is simply not shown yet
        with self._read_lock:
            row = self._conn.execute(f"SELECT {_COLUMNS} FROM episodes WHERE episode_id=?", (episode_id,)).fetchone()
            if row is None:
                return None
            events = self._conn.execute(
                "SELECT body FROM events WHERE episode_id=? ORDER BY seq", (episode_id,)).fetchall()
        return Trajectory(episode=_episode(row), events=[EventRecord.model_validate_json(e[0]) for e in events])

    def scored_history(self, *scorers: str) -> list[PastEpisode]:
        """A principal's episodes (by any of its pseudonyms), oldest first. What is still queued for the
        writer is not read (nothing is waited for)."""
        marks = ", ".join("?" * len(scorers))
        with self._read_lock:
            rows = self._conn.execute(
                "SELECT episode_id, task_id, end_reason, outcome, started_at, ended_at FROM episodes "
                f"WHERE scorer IN ({marks}) ORDER BY started_at", scorers).fetchall()
        return [PastEpisode(*row) for row in rows]

    def episodes(self, dataset: str | None = None, outcome: str | None = None) -> Iterator[EpisodeRecord]:
        self.flush()
        clauses, params = [], []
        for column, value in (("dataset", dataset), ("outcome", outcome)):
            if value:
                clauses.append(f"{column}=?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._read_lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM episodes {where} ORDER BY started_at", params).fetchall()
        for row in rows:
            yield _episode(row)


_COLUMNS = ", ".join(EPISODE_COLUMNS)


def _row(record: EpisodeRecord | EventRecord) -> Row:
    """The SQL that stores a record (strings made storable: lone surrogates become U+FFFD)."""
    if isinstance(record, EpisodeRecord):
        parameters: tuple[object, ...] = (
            record.episode_id, record.schema_version, record.task_id, record.dataset, record.client,
            record.server, record.started_at, record.ended_at, record.end_reason, record.outcome,
            record.attempts_used, int(record.used_reference_solution),
            _json(record.provenance.model_dump(mode="json")), record.ordinal, record.previous_episode_id,
            record.group_id, record.scorer)
        parameters = tuple(storable(p) if isinstance(p, str) else p for p in parameters)
        return _EPISODE_UPSERT, parameters, sum(len(str(p)) for p in parameters)
    body = _json(record.model_dump(mode="json"))
    return "INSERT OR REPLACE INTO events VALUES (?,?,?)", (storable(record.episode_id), record.seq, body), len(body)


def _json(value: object) -> str:
    return storable(json.dumps(value, ensure_ascii=False, default=str))


def storable(text: str) -> str:
    """`text` with anything UTF-8 cannot encode (lone surrogates) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _episode(row: tuple[Any, ...]) -> EpisodeRecord:
    data = dict(zip(EPISODE_COLUMNS, row, strict=True))
    data["used_reference_solution"] = data.pop("used_reference")
    data["provenance"] = json.loads(data["provenance"])
    data["used_reference_solution"] = bool(data["used_reference_solution"])
    return EpisodeRecord.model_validate(data)
