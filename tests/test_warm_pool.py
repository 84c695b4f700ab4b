"""The warm pool (`sandbox.pool.WarmPool`) on the FakeBackend: refill, hand-out once, discard, close, retry."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from sandbox.contract import SandboxSpec
from sandbox.limits import Limits
from sandbox.pool import POOL_LABEL, WarmPool
from tests.fake_backend import FakeBackend, FakeSandbox, fake_engine

pytestmark = pytest.mark.timeout(30)

SPEC = SandboxSpec(image="medgym-sandbox:test", limits=Limits(), labels={"medgym.episode": "ep_1"})
OTHER = SandboxSpec(image="medgym-sandbox:test", limits=Limits(memory_mb=512))


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    with fake_engine() as engine:
        yield FakeBackend(engine=engine)


@pytest.fixture
def pool(backend: FakeBackend) -> Iterator[WarmPool]:
    pool = WarmPool(backend.start, size=2)
    yield pool
    pool.close()


def _until(condition: Callable[[], bool], nudge: Callable[[], None] | None = None) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        if nudge is not None:
            nudge()
        time.sleep(0.01)


def _idle(backend: FakeBackend, pool: WarmPool) -> list[FakeSandbox]:
    return [s for s in backend.running() if s.labels.get("medgym.episode") == POOL_LABEL["medgym.episode"]]


def test_refills_to_size_for_every_kind_asked_for(backend: FakeBackend, pool: WarmPool) -> None:
    pool.warm(SPEC)
    _until(lambda: pool.idle_count() == 2)
    pool.warm(OTHER)
    _until(lambda: pool.idle_count() == 4)
    time.sleep(0.1)
    assert backend.starts == 4 and pool.idle_count() == 4  # no more than `size` per kind
    assert {s.spec.limits.memory_mb for s in _idle(backend, pool)} == {2048, 512}
    assert all(s.labels["medgym.episode"] == "pool" for s in _idle(backend, pool))


def test_a_pooled_sandbox_is_handed_out_once(backend: FakeBackend, pool: WarmPool) -> None:
    pool.warm(SPEC)
    _until(lambda: pool.idle_count() == 2)
    idle = set(_idle(backend, pool))
    first, second = pool.acquire(SPEC), pool.acquire(SPEC)
    assert first in idle and second in idle and first is not second and pool.hits == 2
    _until(lambda: pool.idle_count() == 2)  # refilled with new ones
    assert backend.starts == 4
    assert pool.acquire(SPEC) in set(_idle(backend, pool)) - {first, second}


def test_dead_pooled_sandboxes_are_discarded(backend: FakeBackend, pool: WarmPool) -> None:
    pool.warm(SPEC)
    _until(lambda: pool.idle_count() == 2)
    dead = _idle(backend, pool)
    for box in dead:
        box.lose()  # killed from outside while idle
    fresh = pool.acquire(SPEC)
    assert fresh.alive() and fresh not in dead
    assert all(d.closed for d in dead)


def test_a_miss_starts_a_fresh_sandbox(backend: FakeBackend) -> None:
    pool = WarmPool(backend.start, size=0)
    box = pool.acquire(SPEC)
    assert isinstance(box, FakeSandbox) and box.labels["medgym.episode"] == "ep_1"  # the episode's own spec
    assert (pool.misses, pool.hits, pool.idle_count(), backend.starts) == (1, 0, 0, 1)
    pool.close()
    box.close()


def test_close_removes_the_idle_sandboxes(backend: FakeBackend, pool: WarmPool) -> None:
    pool.warm(SPEC)
    _until(lambda: pool.idle_count() == 2)
    handed_out = pool.acquire(SPEC)
    pool.close()
    assert pool.idle_count() == 0 and backend.running() == [handed_out]  # the episode's sandbox is its own
    assert backend.closes == backend.starts - 1
    handed_out.close()


def test_failed_starts_are_retried(backend: FakeBackend, pool: WarmPool) -> None:
    backend.fail_next_starts = 3
    pool.warm(SPEC)
    _until(lambda: pool.idle_count() == 2, nudge=lambda: pool.warm(SPEC))  # warm() wakes the 5 s back-off
    assert backend.fail_next_starts == 0 and backend.starts == 2
