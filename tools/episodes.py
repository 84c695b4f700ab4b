"""Episodes: one attempt at one task by one client, with its own lazily started sandbox.

An `Episode` owns its rules: how many submissions it takes and when a submission ends it. The
`EpisodeManager` is the episode table of one server process: it opens, finds, resets and ends
episodes, starts their sandboxes on first use and enforces per-client quotas.

A client is a `Caller`: a key under which its episodes are kept (None for an anonymous sessionless
client, which must pass back the `episode_id` it was given) and a quota key (None: not limited,
e.g. the local user of a stdio server). Episodes end on a final submission, `reset_task`, the end
of their client's session, an idle timeout, server shutdown, or the loss of their sandbox.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import anyio
import anyio.to_thread

from medgym.errors import EpisodeError, QuotaError, ServiceError
from sandbox.contract import Sandbox
from tools.capacity import Capacity, Progress
from trajectory.records import EndReason

log = logging.getLogger(__name__)

KEEP_FINISHED = 10_000
OPEN_PER_SANDBOX = 50  # open episodes (most without a sandbox) allowed per allowed sandbox


@dataclass(frozen=True)
class Caller:
    """Who is calling: whose episodes (`key`), whose quota (`quota`; None means unlimited) and whose
    score (`scorer`: an authenticated principal's, across its sessions; otherwise the key's)."""

    key: str | None
    quota: str | None = None
    scorer: str | None = None

    @property
    def history_key(self) -> str | None:
        """Whose first tries and episode counts: a new session of the same principal starts no fresh ones."""
        return self.scorer or self.key


@dataclass
class TaskHistory:
    """A client's episodes of one task: how many it opened, and the verdicts of those scored, in the
    order they were scored. The first verdict is the client's score for the task."""

    opened: list[str] = field(default_factory=list)
    verdicts: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def first_try(self) -> bool | None:
        return self.verdicts[0][1] if self.verdicts else None


@dataclass
class Episode:
    episode_id: str
    task_id: str
    client: str | None
    max_attempts: int
    quota_key: str | None = None
    scorer: str | None = None  # whose history the episode's verdict joins (`Caller.history_key`)
    ordinal: int = 1  # its place among its client's episodes of this task (1: the first)
    previous_episode_id: str | None = None
    group: str | None = None  # episodes sampled together (pass@k, a GRPO group)
    created: float = field(default_factory=time.time)
    last_active: float = field(default_factory=time.monotonic)
    attempts_used: int = 0
    format_errors: int = 0  # malformed submissions (not attempts), bounded per episode
    solved: bool = False
    ended: EndReason | None = None
    sandbox: Sandbox | None = None
    lock: anyio.Lock = field(default_factory=anyio.Lock)

    @property
    def dataset(self) -> str:
        return self.task_id.split("/", 1)[0]

    @property
    def attempts_left(self) -> int:
        return 0 if self.ended else max(0, self.max_attempts - self.attempts_used)

    @property
    def active(self) -> bool:
        return self.ended is None

    def touch(self) -> None:
        self.last_active = time.monotonic()

    @property
    def benchmark(self) -> bool:
        """One scored submission per episode: the first finished episode of a task is the score."""
        return self.max_attempts == 1

    def check_active(self) -> None:
        """Raise `EpisodeError` when the episode has ended."""
        if self.ended is not None:
            raise EpisodeError(f"episode {self.episode_id} has ended ({self.ended}); {self._after()}")

    def check_can_submit(self) -> None:
        """Raise `EpisodeError` when the episode takes no more submissions."""
        self.check_active()
        if self.attempts_left <= 0:
            raise EpisodeError(f"no attempts left in this episode; {self._after()}")

    def _after(self) -> str:
        if self.benchmark:
            return "in benchmark mode your first finished episode of a task is its score; later episodes are samples"
        return "call reset_task for a fresh episode"

    def record_submission(self, correct: bool) -> bool:
        """Count one scored submission; True when it ends the episode (correct, or the last attempt)."""
        self.check_can_submit()
        self.touch()
        self.attempts_used += 1
        self.solved = self.solved or correct
        return correct or self.attempts_used >= self.max_attempts


SandboxFactory = Callable[[Episode], Sandbox]


class EpisodeListener(Protocol):
    """Told when episodes open and end (the recorder subscribes; episodes do not know about it)."""

    def episode_opened(self, episode: Episode) -> None: ...

    def episode_ended(self, episode: Episode) -> None: ...


def _close_quietly(sandbox: Sandbox) -> None:
    try:
        sandbox.close()
    except Exception as exc:  # the orphan reaper removes what could not be removed now
        log.warning("could not remove a sandbox: %s", exc)


class EpisodeManager:
    """The episode table of one server process (shared by all its clients)."""

    def __init__(self, sandbox_factory: SandboxFactory, max_attempts: int, idle_timeout_s: float,
                 max_per_client: int = 32, max_sandboxes: int = 64, episodes_per_task: int | None = None,
                 capacity: Capacity | None = None):
        self._factory = sandbox_factory
        self.max_attempts = max_attempts
        self.episodes_per_task = episodes_per_task
        self.histories: dict[tuple[str, str], TaskHistory] = {}  # (client, task) -> its episodes and verdicts
        # a principal's history from the servers before this one (the recorder's), asked once per principal
        self.history_loader: Callable[[str], dict[str, TaskHistory]] | None = None
        self._loaded: set[str] = set()
        self.idle_timeout_s = idle_timeout_s
        self.max_per_client = max_per_client
        self.max_sandboxes = max_sandboxes
        self.capacity = capacity or Capacity(max_sandboxes)
        # sandbox I/O (starting containers, runs) has its own worker threads: it never delays other tools
        self.threads = anyio.CapacityLimiter(max_sandboxes + 8)
        self._episodes: dict[str, Episode] = {}
        self._current: dict[tuple[str, str], str] = {}
        self.listeners: list[EpisodeListener] = []
        self._closing = ThreadPoolExecutor(max_workers=4, thread_name_prefix="medgym-close")

    # -- finding episodes -----------------------------------------------------------------------
    def resolve(self, task_id: str, caller: Caller, episode_id: str | None) -> Episode:
        """The episode a call refers to; a client's first call on a task opens one."""
        if episode_id:
            return self._by_id(task_id, caller, episode_id)
        if caller.key is None:
            raise EpisodeError(
                "this connection has no session, so medgym cannot tell which episode you mean: pass "
                "the episode_id returned by get_task (call get_task first to open an episode)"
            )
        current = self._current.get((caller.key, task_id))
        if current is not None:
            return self._episodes[current]
        return self.open(task_id, caller)

    def _by_id(self, task_id: str, caller: Caller, episode_id: str) -> Episode:
        episode = self._episodes.get(episode_id)
        if episode is None or episode.client != caller.key:  # another client's episode is not revealed
            raise EpisodeError(f"unknown episode_id {episode_id!r}; call get_task to open an episode")
        if episode.task_id != task_id:
            raise EpisodeError(f"episode {episode_id} belongs to task {episode.task_id!r}, not {task_id!r}")
        return episode

    def peek(self, task_id: str, caller: Caller, episode_id: str | None) -> Episode | None:
        """The caller's episode a call refers to, if any, without opening one (for recording)."""
        if episode_id:
            episode = self._episodes.get(episode_id)
            ok = episode is not None and episode.task_id == task_id and episode.client == caller.key
            return episode if ok else None
        if caller.key is None:
            return None
        current = self._current.get((caller.key, task_id))
        return self._episodes.get(current) if current else None

    def get(self, episode_id: str) -> Episode | None:
        return self._episodes.get(episode_id)

    def open(self, task_id: str, caller: Caller, group: str | None = None) -> Episode:
        """A new episode (a shared server bounds how many one client keeps open, and how many episodes
        of one task a client may have when `episodes_per_task` is set)."""
        if caller.quota is not None:
            active = sum(1 for e in self._episodes.values() if e.active and e.quota_key == caller.quota)
            if active >= self.max_per_client * OPEN_PER_SANDBOX:
                raise QuotaError(
                    f"this client already has {active} open episodes: finish some with submit_answer, or end "
                    "them with reset_task, before opening more")
        history = self._history(caller, task_id)
        episode = Episode(episode_id="ep_" + uuid.uuid4().hex[:16], task_id=task_id, client=caller.key,
                          max_attempts=self.max_attempts, quota_key=caller.quota, scorer=caller.history_key,
                          ordinal=len(history.opened) + 1,
                          previous_episode_id=history.opened[-1] if history.opened else None, group=group)
        history.opened.append(episode.episode_id)
        self._episodes[episode.episode_id] = episode
        if caller.key is not None:
            self._current[(caller.key, task_id)] = episode.episode_id
        self._forget_old()
        log.info("episode %s opened for %s", episode.episode_id, task_id)
        for listener in self.listeners:
            listener.episode_opened(episode)
        return episode

    def load_history(self, caller: Caller) -> None:
        """Bring in an authenticated principal's recorded history (once): its first tries and episode
        counts outlive a restart. Local and anonymous callers' histories are their process's or
        session's, so they have none to load."""
        scorer = caller.scorer
        if scorer is None or scorer in self._loaded or self.history_loader is None:
            return
        try:
            loaded = self.history_loader(scorer)
        except Exception as exc:  # never a fresh first try because the records could not be read
            log.exception("could not read a principal's past episodes from the records")
            raise ServiceError(f"medgym could not read your past episodes from its records ({type(exc).__name__}); "
                               "try again") from None
        self._loaded.add(scorer)
        for task_id, past in loaded.items():  # loaded before this server's first episode of the principal
            self.histories.setdefault((scorer, task_id), past)

    def _history(self, caller: Caller, task_id: str) -> TaskHistory:
        """The caller's history of a task (anonymous callers have none); `QuotaError` at the cap."""
        if caller.history_key is None:
            return TaskHistory()
        self.load_history(caller)
        history = self.histories.setdefault((caller.history_key, task_id), TaskHistory())
        if self.episodes_per_task is not None and len(history.opened) >= self.episodes_per_task:
            raise QuotaError(f"you have had {len(history.opened)} episodes of {task_id}, the most this server "
                             f"allows per task (MEDGYM_EPISODES_PER_TASK={self.episodes_per_task})")
        return history

    def episodes_of(self, client: str | None) -> list[Episode]:
        return [e for e in self._episodes.values() if e.client == client]

    # -- sandboxes ------------------------------------------------------------------------------
    async def sandbox(self, episode: Episode, progress: Progress | None = None) -> Sandbox:
        """The episode's sandbox, started on first use (call with `episode.lock` held). When every
        sandbox slot is taken the start waits in the fair queue (`progress` is told its place)."""
        episode.check_active()
        if episode.sandbox is None:
            self._check_client_quota(episode)
            await self.capacity.reserve(episode.quota_key or episode.client or episode.episode_id, progress)
            try:
                async with self.capacity.starting():
                    episode.sandbox = await anyio.to_thread.run_sync(self._factory, episode, limiter=self.threads)
            except BaseException:
                self.capacity.release()
                raise
        return episode.sandbox

    def _check_client_quota(self, episode: Episode) -> None:
        """On a shared server one client may run at most `max_per_client` sandboxes at once (its own
        doing: an error at once, not a wait)."""
        key = episode.quota_key
        if key is None:
            return
        running = sum(1 for e in self._episodes.values() if e.sandbox is not None and e.quota_key == key)
        if running >= self.max_per_client:
            raise QuotaError(
                f"this client already runs {running} sandboxes (the limit is {self.max_per_client}): finish "
                "episodes with submit_answer, or end them with reset_task, before starting more")

    def running(self) -> int:
        """Sandboxes held by episodes right now."""
        return sum(1 for e in self._episodes.values() if e.sandbox is not None)

    async def drop_sandbox(self, episode: Episode) -> None:
        """Destroy the episode's sandbox in the background (removing a container takes a few hundred
        ms that no caller should wait for); the next run starts a fresh one."""
        sandbox, episode.sandbox = episode.sandbox, None
        if sandbox is not None:
            self.capacity.release()
            self._closing.submit(_close_quietly, sandbox)

    def wait_closed(self) -> None:
        """Block until every sandbox handed over for destruction is gone (server shutdown)."""
        self._closing.shutdown(wait=True)

    # -- ending ---------------------------------------------------------------------------------
    async def submitted(self, episode: Episode, correct: bool) -> None:
        """Apply the episode's submission rule, and end it when the submission was final (its verdict
        then joins its client's history of the task)."""
        if episode.record_submission(correct):
            if episode.scorer is not None:
                self.histories.setdefault((episode.scorer, episode.task_id), TaskHistory()).verdicts.append(
                    (episode.episode_id, episode.solved))
            await self.end(episode, "final_submission")

    async def end(self, episode: Episode, reason: EndReason) -> None:
        if episode.ended is None:
            episode.ended = reason
            log.info("episode %s ended: %s", episode.episode_id, reason)
            for listener in self.listeners:
                listener.episode_ended(episode)
        with anyio.CancelScope(shield=True):
            await self.drop_sandbox(episode)

    async def reset(self, task_id: str, caller: Caller, episode_id: str | None) -> tuple[Episode, Episode | None]:
        """End the current episode of this task (if any) and open a fresh one: (new, old). The fresh
        one counts against `episodes_per_task` (checked before the old one is ended)."""
        old: Episode | None = None
        if episode_id:
            old = self._by_id(task_id, caller, episode_id)
        elif caller.key is not None and (current := self._current.get((caller.key, task_id))):
            old = self._episodes[current]
        self._history(caller, task_id)  # at the cap, refuse before ending the old one
        if old is not None:
            await self.end(old, "reset")
        return self.open(task_id, caller, old.group if old is not None else None), old

    async def end_client(self, client: str) -> None:
        for episode in self.episodes_of(client):
            if episode.active:
                await self.end(episode, "session_end")
        self._current = {k: v for k, v in self._current.items() if k[0] != client}
        if "/" in client:  # a transport session is over for good: its history goes (a principal's stays)
            self.histories = {k: v for k, v in self.histories.items() if k[0] != client}

    async def end_session(self, session: str) -> None:
        """End the episodes of every client key of a transport session (`<principal>/<session>`)."""
        for client in {e.client for e in self._episodes.values() if e.client and e.client.endswith(f"/{session}")}:
            await self.end_client(client)

    async def reap_idle(self) -> int:
        cutoff = time.monotonic() - self.idle_timeout_s
        idle = [e for e in self._episodes.values() if e.active and e.last_active < cutoff and not e.lock.locked()]
        for episode in idle:
            await self.end(episode, "idle_timeout")
        return len(idle)

    async def close_all(self) -> None:
        for episode in list(self._episodes.values()):
            if episode.active or episode.sandbox is not None:
                await self.end(episode, "shutdown")
        await anyio.to_thread.run_sync(self.wait_closed)

    def _forget_old(self) -> None:
        if len(self._episodes) <= KEEP_FINISHED:
            return
        for episode_id in [e.episode_id for e in self._episodes.values() if not e.active][: KEEP_FINISHED // 10]:
            episode = self._episodes.pop(episode_id)
            if episode.client is not None and self._current.get((episode.client, episode.task_id)) == episode_id:
                del self._current[(episode.client, episode.task_id)]
