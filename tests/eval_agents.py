"""Custom agents for the eval tests (`--agent tests.eval_agents:wrong`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from evaluation.session import EpisodeSession


def constant_predictions(statement: str) -> str | None:
    """For a prediction task's statement: code writing predictions.csv with 0.5 for every test row
    (AUROC 0.5: a well-formed but wrong answer). None for any other task."""
    test = re.search(r"(/data/\S+/X_test\.csv)", statement)
    header = re.search(r"header `([^`,]+),probability`", statement)
    if test is None or header is None:
        return None
    ident = header.group(1)
    return (f"import pandas as pd\nids = pd.read_csv({test.group(1)!r})[{ident!r}]\n"
            f"pd.DataFrame({{{ident!r}: ids, 'probability': 0.5}}).to_csv('predictions.csv', index=False)\n")


async def wrong(session: EpisodeSession) -> None:
    """Looks at the data, then submits an answer no task accepts (a constant predictions file for a
    prediction task)."""
    kind = session.view["answer_format"]["kind"]
    if kind == "predictions":
        await session.run_code(constant_predictions(session.view["instructions"]) or "")
        await session.submit("predictions.csv")
        return
    await session.run_code("print('thinking')")
    await session.submit(["no such item"] if kind == "list" else -987654.321)


async def flaky(session: EpisodeSession) -> None:
    """Fails while the file named by `EVAL_AGENT_DOWN` exists (as a model API that is down, after a
    first call), and answers as `wrong` does otherwise."""
    if Path(os.environ["EVAL_AGENT_DOWN"]).exists():
        await session.run_code("print('calling the model')")
        raise ConnectionError("the model's API is down")
    await wrong(session)
