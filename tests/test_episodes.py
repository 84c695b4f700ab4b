"""Episodes (`tools.episodes`) without Docker: sandboxes come from a FakeBackend through a SandboxProvider."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import anyio
import pytest

from medgym.errors import EpisodeError, QuotaError, SandboxUnavailableError, ServiceError
from sandbox.contract import Sandbox
from sandbox.limits import Limits
from task_store.store import TaskStore
from tests.fake_backend import FakeBackend, FakeSandbox, fake_engine
from tools.episodes import OPEN_PER_SANDBOX, Caller, Episode, EpisodeManager, TaskHistory
from tools.sandboxes import SandboxProvider

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

TASK, OTHER = "medcalcbench/test/6", "npowerai/train/1"
ALICE, BOB = Caller("alice/s1", quota="alice"), Caller("bob/s1", quota="bob")
Manager = Callable[..., EpisodeManager]


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    with fake_engine() as engine:
        yield FakeBackend(engine=engine)


@pytest.fixture
def manager(tmp_path: Path, backend: FakeBackend) -> Iterator[Manager]:
    store = TaskStore.open(tmp_path / "store.sqlite", [])
    provider = SandboxProvider(store, "medgym-sandbox:test", Limits(memory_mb=256), backend.start)

    def make(max_attempts: int = 1, idle_timeout_s: float = 600.0, max_per_client: int = 32) -> EpisodeManager:
        return EpisodeManager(provider.for_episode, max_attempts, idle_timeout_s, max_per_client)

    yield make
    store.close()


def _closed(box: Sandbox) -> Callable[[], bool]:
    assert isinstance(box, FakeSandbox)
    return lambda: box.closed


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await anyio.sleep(0.01)


async def test_a_callers_calls_find_its_episode_per_task(manager: Manager) -> None:
    episodes = manager()
    first = episodes.resolve(TASK, ALICE, None)
    assert episodes.resolve(TASK, ALICE, None) is first is episodes.peek(TASK, ALICE, None)
    assert episodes.resolve(TASK, ALICE, first.episode_id) is first
    assert episodes.resolve(OTHER, ALICE, None) is not first
    assert episodes.resolve(TASK, BOB, None) is not first
    assert episodes.peek(TASK, Caller("carol/s1"), None) is None  # peeking opens nothing
    assert len(episodes.episodes_of("alice/s1")) == 2


async def test_anonymous_callers_must_pass_the_episode_id(manager: Manager) -> None:
    episodes, nobody = manager(), Caller(None)
    with pytest.raises(EpisodeError, match="episode_id"):
        episodes.resolve(TASK, nobody, None)
    opened = episodes.open(TASK, nobody)
    assert episodes.resolve(TASK, nobody, opened.episode_id) is opened
    assert episodes.peek(TASK, nobody, None) is None and episodes.peek(TASK, nobody, opened.episode_id) is opened


async def test_another_clients_episode_is_unknown(manager: Manager) -> None:
    episodes = manager()
    mine = episodes.resolve(TASK, ALICE, None)
    with pytest.raises(EpisodeError) as foreign:
        episodes.resolve(TASK, BOB, mine.episode_id)
    with pytest.raises(EpisodeError) as unknown:
        episodes.resolve(TASK, BOB, "ep_0000000000000000")
    assert str(foreign.value) == str(unknown.value).replace("ep_0000000000000000", mine.episode_id)
    assert episodes.peek(TASK, BOB, mine.episode_id) is None
    with pytest.raises(EpisodeError, match="belongs to task"):
        episodes.resolve(OTHER, ALICE, mine.episode_id)


async def test_open_episodes_are_bounded_per_quota_key(manager: Manager) -> None:
    episodes = manager(max_per_client=1)
    for number in range(OPEN_PER_SANDBOX):
        episodes.open(f"{TASK}{number}", Caller(f"alice/s{number % 2}", quota="alice"))  # two sessions, one quota
    with pytest.raises(QuotaError, match="open episodes"):
        episodes.open(TASK, ALICE)
    episodes.open(TASK, BOB)  # another client's quota is its own
    await episodes.end(episodes.episodes_of("alice/s0")[0], "reset")
    episodes.open(TASK, ALICE)  # ending one frees a place
    for number in range(OPEN_PER_SANDBOX + 5):
        episodes.open(f"{TASK}{number}", Caller("local"))  # quota None: unlimited


async def test_sandboxes_start_lazily_once_each_within_the_quota(manager: Manager, backend: FakeBackend) -> None:
    episodes = manager(max_per_client=2)
    first, second, third = (episodes.open(f"{TASK}{n}", ALICE) for n in range(3))
    assert backend.starts == 0
    box = await episodes.sandbox(first)
    assert await episodes.sandbox(first) is box and backend.starts == 1
    assert isinstance(box, FakeSandbox) and box.labels["medgym.episode"] == first.episode_id
    assert box.labels["medgym.task"] == f"{TASK}0" and box.spec.limits.memory_mb == 256 and box.spec.mounts == ()
    await episodes.sandbox(second)
    with pytest.raises(QuotaError, match="sandboxes"):
        await episodes.sandbox(third)
    await episodes.end(first, "reset")
    await episodes.sandbox(third)
    unlimited = manager(max_per_client=1)
    for number in range(3):
        await unlimited.sandbox(unlimited.open(f"{TASK}{number}", Caller("local")))
    await unlimited.close_all()
    await episodes.close_all()


async def test_a_failed_start_leaves_no_sandbox_and_the_next_call_retries(manager: Manager,
                                                                          backend: FakeBackend) -> None:
    episodes = manager()
    episode = episodes.resolve(TASK, ALICE, None)
    backend.fail_next_starts = 1
    with pytest.raises(SandboxUnavailableError):
        await episodes.sandbox(episode)
    assert episode.sandbox is None
    assert (await episodes.sandbox(episode)).alive()
    await episodes.drop_sandbox(episode)  # a lost sandbox is dropped; the next run gets a fresh one
    assert episode.sandbox is None and (await episodes.sandbox(episode)).alive() and backend.starts == 2
    await episodes.close_all()


async def test_reset_ends_the_current_episode_and_opens_a_fresh_one(manager: Manager) -> None:
    episodes = manager()
    old = episodes.resolve(TASK, ALICE, None)
    box = await episodes.sandbox(old)
    new, previous = await episodes.reset(TASK, ALICE, None)
    assert previous is old and old.ended == "reset" and new.active and new is not old
    await _until(_closed(box))
    assert episodes.resolve(TASK, ALICE, None) is new
    with pytest.raises(EpisodeError, match="has ended"):
        await episodes.sandbox(old)
    fresh, none = await episodes.reset(OTHER, ALICE, None)
    assert none is None and fresh.active
    by_id, explicit = await episodes.reset(TASK, ALICE, new.episode_id)
    assert explicit is new and new.ended == "reset" and by_id.active
    with pytest.raises(EpisodeError, match="unknown"):
        await episodes.reset(TASK, BOB, by_id.episode_id)


async def test_end_client_and_end_session(manager: Manager) -> None:
    episodes = manager()
    s1, s2 = Caller("alice/s1"), Caller("alice/s2")
    a, b, c = episodes.resolve(TASK, s1, None), episodes.resolve(OTHER, s1, None), episodes.resolve(TASK, s2, None)
    box = await episodes.sandbox(a)
    await episodes.end_session("s1")
    assert a.ended == b.ended == "session_end" and c.active
    await _until(_closed(box))
    assert episodes.resolve(TASK, s1, None) not in (a, b)  # the session's current episodes are forgotten
    await episodes.end_client("alice/s2")
    assert c.ended == "session_end"


async def test_idle_episodes_are_reaped_unless_busy(manager: Manager) -> None:
    episodes = manager(idle_timeout_s=0.05)
    idle, busy, active = (episodes.open(f"{TASK}{n}", ALICE) for n in range(3))
    await anyio.sleep(0.1)
    active.touch()
    async with busy.lock:
        assert await episodes.reap_idle() == 1
    assert idle.ended == "idle_timeout" and busy.active and active.active


async def test_close_all_ends_every_episode_and_closes_every_sandbox(manager: Manager,
                                                                     backend: FakeBackend) -> None:
    episodes = manager()
    opened = [episodes.open(f"{TASK}{n}", ALICE) for n in range(3)]
    for episode in opened[:2]:
        await episodes.sandbox(episode)
    await episodes.close_all()
    assert {e.ended for e in opened} == {"shutdown"}
    assert backend.closes == 2 and backend.running() == []


async def test_the_submission_rule(manager: Manager) -> None:
    episodes = manager(max_attempts=3)
    episode = episodes.resolve(TASK, ALICE, None)
    assert episode.record_submission(False) is False and episode.attempts_left == 2
    await episodes.submitted(episode, False)
    assert episode.active and episode.attempts_left == 1
    await episodes.submitted(episode, False)  # the last attempt ends the episode, even when wrong
    assert episode.ended == "final_submission" and not episode.solved and episode.attempts_left == 0
    with pytest.raises(EpisodeError, match="reset_task"):
        episode.check_can_submit()
    solved = episodes.resolve(OTHER, ALICE, None)
    await episodes.submitted(solved, True)  # a correct answer ends it at once
    assert solved.ended == "final_submission" and solved.solved and solved.attempts_used == 1
    spent = Episode("ep_x", TASK, None, max_attempts=1, attempts_used=1)
    with pytest.raises(EpisodeError, match="no attempts left"):
        spent.check_can_submit()


async def test_listeners_hear_each_open_and_end_once(manager: Manager) -> None:
    episodes, heard = manager(), []

    class Listener:
        def episode_opened(self, episode: Episode) -> None:
            heard.append(("opened", episode.episode_id))

        def episode_ended(self, episode: Episode) -> None:
            heard.append((f"ended {episode.ended}", episode.episode_id))

    episodes.listeners.append(Listener())
    episode = episodes.resolve(TASK, ALICE, None)
    await episodes.end(episode, "reset")
    await episodes.end(episode, "shutdown")
    assert heard == [("opened", episode.episode_id), ("ended reset", episode.episode_id)]


async def test_a_principals_history_is_read_back_from_the_records(manager: Manager, tmp_path: Path) -> None:
    from mcp_server.identity import Pseudonyms
    from mcp_server.recording import past_histories
    from trajectory.records import EpisodeRecord, Provenance
    from trajectory.store import RecordStore

    records = RecordStore(tmp_path / "records.sqlite")
    provenance = Provenance(medgym_version="t", image="i", max_attempts=1)
    pseudonym = Pseudonyms.of_home(tmp_path / "home")

    def recorded(episode_id: str, task_id: str, at: float, outcome: str, reason: str | None, ended: float | None,
                 scorer: str = "principal:alice", legacy: bool = False) -> None:
        keyed, plain = pseudonym.both(scorer)
        records.put(EpisodeRecord(episode_id=episode_id, task_id=task_id, dataset=task_id.split("/")[0],
                                  client=pseudonym(f"{scorer}/x"), scorer=plain if legacy else keyed,
                                  started_at=at, ended_at=ended, end_reason=reason, outcome=outcome,
                                  provenance=provenance))  # type: ignore[arg-type]

    recorded("e1", TASK, 1.0, "unsubmitted", "reset", 2.0, legacy=True)  # recorded before pseudonyms were keyed
    recorded("e2", TASK, 3.0, "correct", "final_submission", 9.0)  # opened before e3, scored after it
    recorded("e3", TASK, 4.0, "incorrect", "final_submission", 5.0)
    recorded("e4", OTHER, 6.0, "unsubmitted", "server_lost", 7.0)
    recorded("b1", TASK, 1.0, "correct", "final_submission", 2.0, scorer="principal:bob")
    records.flush()
    past = past_histories(records, pseudonym, "principal:alice")
    assert past[TASK].opened == ["e1", "e2", "e3"] and past[TASK].verdicts == [("e3", False), ("e2", True)]
    assert past[OTHER].opened == ["e4"] and past[OTHER].verdicts == []
    assert past_histories(records, pseudonym, "principal:carol") == {}
    elsewhere = Pseudonyms.of_home(tmp_path / "another home")  # its key differs: only the plain hash matches
    assert past_histories(records, elsewhere, "principal:alice")[TASK].opened == ["e1"]

    episodes = manager()
    episodes.history_loader = partial(past_histories, records, pseudonym)
    alice = Caller("principal:alice/s9", quota="principal:alice", scorer="principal:alice")
    opened = episodes.open(TASK, alice)
    assert opened.ordinal == 4 and opened.previous_episode_id == "e3"
    assert episodes.histories[("principal:alice", TASK)].first_try is False  # e3 was scored first
    assert episodes.open(TASK, ALICE).ordinal == 1  # a session's own history: nothing to read back
    records.close()

    def unreadable(scorer: str) -> dict[str, TaskHistory]:
        raise sqlite3.OperationalError("disk I/O error")

    failing = manager()
    failing.history_loader = unreadable
    with pytest.raises(ServiceError, match="could not read your past episodes"):  # never a fresh first try
        failing.open(TASK, alice)
    reopened = RecordStore(tmp_path / "records.sqlite")
    failing.history_loader = partial(past_histories, reopened, pseudonym)
    assert failing.open(TASK, alice).ordinal == 4  # asked again on the next call
    reopened.close()
