"""Custom agents for the eval tests (`--agent tests.eval_agents:wrong`)."""

from __future__ import annotations

from evaluation.session import EpisodeSession


async def wrong(session: EpisodeSession) -> None:
    """Looks at the data, then submits an answer no task accepts."""
    await session.run_code("print('thinking')")
    kind = session.view["answer_format"]["kind"]
    await session.submit(["no such item"] if kind == "list" else -987654.321)
