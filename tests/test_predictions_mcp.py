"""Prediction tasks through the MCP tools (in-process client, real Docker): a trained model passes,
noise fails, a crash / timeout / bad file is a format error that uses no attempt, and the hidden
test labels appear in no tool result, sandbox file, log line, record or export."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.settings import Settings
from scoring.prediction_keys import PredictionsKey
from task_store.store import TaskStore
from tests.conftest import IMAGE
from tests.leaks import assert_no_test_labels
from tests.mcp_calls import call_error, call_ok
from trajectory.export import export

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("docker_ready", "no_leftover_containers")]

TASK = "mortality"
FOLDER = "/data/medgym_predict/admissions"
TRAIN = f"""
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
train = pd.read_csv('{FOLDER}/X_train.csv').merge(pd.read_csv('{FOLDER}/train_{TASK}_labels.csv'), on='hadm_id')
test = pd.read_csv('{FOLDER}/X_test.csv')
features = [c for c in test.columns if c not in ('hadm_id', 'subject_id')]
model = make_pipeline(SimpleImputer(strategy='median'), StandardScaler(), LogisticRegression(max_iter=1000))
model.fit(train[features], train['{TASK}'])
"""
WRITE = "pd.DataFrame({'hadm_id': test['hadm_id'], 'probability': model.predict_proba(test[features])[:, 1]})" \
        ".to_csv('/workspace/out/predictions.csv', index=False)\n"
NOISE = (f"import random\nimport pandas as pd\ntest = pd.read_csv('{FOLDER}/X_test.csv')\nrng = random.Random(1)\n"
         "pd.DataFrame({'hadm_id': test['hadm_id'], 'probability': [rng.random() for _ in range(len(test))]})"
         ".to_csv('/workspace/noise.csv', index=False)\n")
# (code writing /workspace/bad.csv from the test ids in `ids`, what the refusal says)
BAD_FILES = [
    ("rows = ['patient_id,probability'] + [f'{i},0.5' for i in ids]", "exactly the columns hadm_id, probability"),
    ("rows = ['hadm_id,probability'] + [f'{i},0.5' for i in ids] + [f'{ids[0]},0.5']", "appears more than once"),
    ("rows = ['hadm_id,probability'] + [f'{i},0.5' for i in ids] + ['1,0.5']", "not in the test set"),
    ("rows = ['hadm_id,probability'] + [f'{i},nan' for i in ids]", "NaN or infinite"),
    ("rows = ['hadm_id,probability'] + [f'{i},1.5' for i in ids]", "between 0 and 1"),
    ("rows = ['hadm_id,probability'] + [f'{i},yes' for i in ids]", "must be a number"),
    ("rows = ['hadm_id,probability'] + [f'{i},0.5,0.5' for i in ids]", "fields"),
    ("rows = ['hadm_id,probability'] + ['1,0.5'] * 4_000_000", "larger than 20 MB"),
]
PREFIX = f"import pandas as pd\nids = list(pd.read_csv('{FOLDER}/X_test.csv')['hadm_id'])\n"
SUFFIX = "\nopen('/workspace/bad.csv', 'w').write('\\n'.join(rows) + '\\n')\n"
# names that are not a file under /workspace
BAD_NAMES = [
    ("/etc/passwd", "must be in /workspace"), ("../etc/passwd", "'..'"), ("out/../../etc/passwd", "'..'"),
    (f"{FOLDER}/X_test.csv", "must be in /workspace"), ("out", "not a regular file"),
    ("link.csv", "outside /workspace"), ("fifo", "not a regular file"), ("", "name of your predictions file"),
    (3, "name of your predictions file"),
]
SCAN = r"""
import glob, hashlib, json, os
def first_column(path):
    with open(path, errors='replace') as handle:
        lines = handle.read().splitlines()
    return (lines[0] if lines else ''), sorted({line.split(',')[0] for line in lines[1:]})
test_ids = {i for path in glob.glob('/data/medgym_predict/*/X_test.csv') for i in first_column(path)[1]}
found = {}
for top, dirs, files in os.walk('/data'):
    for name in files:
        header, ids = first_column(os.path.join(top, name))
        found[os.path.join(top, name)] = {'header': header, 'ids': hashlib.sha256(','.join(ids).encode()).hexdigest(),
                                          'shares_test_ids': bool(test_ids & set(ids))}
print(json.dumps(found))
"""

def _settings(home: Path) -> Settings:
    return Settings(home=home, image=IMAGE, pool_size=0)


def _key(home: Path, task_id: str) -> PredictionsKey:
    store = TaskStore.open(home / "medgym.sqlite", _settings(home).roots())
    try:
        key = store.answer_key(task_id)
    finally:
        store.close()
    assert isinstance(key, PredictionsKey)
    return key


async def _task_id(client: Client, category: str) -> str:
    page = await call_ok(client, "list_tasks", dataset="medgym_predict", category=category)
    return str(page["tasks"][0]["task_id"])


class Transcript:
    """Every tool result and error text of a test, for the leak checks."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.texts: list[str] = []

    async def ok(self, tool: str, **args: Any) -> dict[str, Any]:
        result = await call_ok(self.client, tool, **args)
        self.texts.append(json.dumps(result))
        return result

    async def error(self, tool: str, **args: Any) -> str:
        message = await call_error(self.client, tool, **args)
        self.texts.append(message)
        return message


async def test_train_crash_timeout_bad_files_then_correct_then_noise(
    pack_home: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with Client(build_server(_settings(pack_home)).mcp) as client:
        t = Transcript(client)
        task_id = await _task_id(client, TASK)
        view = await t.ok("get_task", task_id=task_id)
        assert view["answer_format"]["kind"] == "predictions" and view["data_available"]
        assert f"{FOLDER}/train_{TASK}_labels.csv" in {f["path"] for f in view["data_files"]}
        assert "no code has run" in await t.error("submit_answer", task_id=task_id, answer="predictions.csv")

        crash = await t.ok("run_code", task_id=task_id, code=TRAIN + "raise RuntimeError('boom')\n" + WRITE)
        assert crash["exit_code"] == 1
        message = await t.error("submit_answer", task_id=task_id, answer="out/predictions.csv")
        assert "does not exist" in message and "not counted" in message

        slow = await t.ok("run_code", task_id=task_id, code=TRAIN + "import time\ntime.sleep(60)\n" + WRITE,
                          timeout_s=4)
        assert slow["timed_out"] and "timeout" in slow["limits_hit"]
        assert "timed_out" in await t.error("submit_answer", task_id=task_id, answer="out/predictions.csv")

        for code, expected in BAD_FILES:
            await t.ok("run_code", task_id=task_id, code=PREFIX + code + SUFFIX, timeout_s=60)
            message = await t.error("submit_answer", task_id=task_id, answer="bad.csv")
            assert expected in message and "not counted" in message, (code, message)
        setup = f"import os\nos.makedirs('out', exist_ok=True)\nos.symlink('{FOLDER}/X_test.csv', 'link.csv')\n" \
                "os.mkfifo('fifo')\n"
        await t.ok("run_code", task_id=task_id, code=setup)
        for name, expected in BAD_NAMES:
            message = await t.error("submit_answer", task_id=task_id, answer=name)
            assert expected in message and "not counted" in message, (name, message)
        assert (await t.ok("get_task", task_id=task_id))["attempts_used"] == 0  # none of that counted

        trained = await t.ok("run_code", task_id=task_id, code=TRAIN + WRITE, timeout_s=120)
        assert trained["exit_code"] == 0, trained["stderr"]
        verdict = await t.ok("submit_answer", task_id=task_id, answer="/workspace/out/predictions.csv")
        assert verdict["correct"] is True and verdict["episode_ended"], verdict
        assert "AUROC" in verdict["feedback"] and "0 test admission(s) missing" in verdict["feedback"]

        fresh = await t.ok("reset_task", task_id=task_id)
        await t.ok("run_code", task_id=task_id, code=NOISE, timeout_s=60)
        verdict = await t.ok("submit_answer", task_id=task_id, answer="noise.csv")
        assert verdict["correct"] is False and verdict["attempts_used"] == 1 and verdict["episode_ended"]
        assert "below the threshold" in verdict["feedback"]
        episodes = [view["episode_id"], fresh["episode_id"]]
        records = [await client.read_resource(f"medgym://episodes/{e}") for e in episodes]
    keys = [_key(pack_home, task_id)]
    assert_no_test_labels("\n".join(t.texts), keys)
    assert_no_test_labels(caplog.text, keys)
    assert_no_test_labels("\n".join(r.contents[0].text for r in records), keys)  # type: ignore[union-attr]
    for kind in ("raw", "sft"):
        out = tmp_path / f"{kind}.jsonl"
        export(pack_home / "medgym.sqlite", kind, out, dataset="medgym_predict", include_oracle=True)  # type: ignore[arg-type]
        assert out.read_text(), kind
        assert_no_test_labels(out.read_text(), keys)


async def test_the_sandbox_holds_features_and_training_labels_only(pack_home: Path) -> None:
    store = TaskStore.open(pack_home / "medgym.sqlite", _settings(pack_home).roots())
    ids = [t.task_id for t in store.query(_filter(), limit=50).tasks]
    keys = [store.answer_key(i) for i in ids]
    store.close()
    assert len(ids) >= 8 and all(isinstance(k, PredictionsKey) for k in keys)
    async with Client(build_server(_settings(pack_home)).mcp) as client:
        scan = await call_ok(client, "run_code", task_id=ids[0], code=SCAN, timeout_s=120)
    found: dict[str, dict[str, Any]] = json.loads(scan["stdout"])
    names = {path.removeprefix("/data/medgym_predict/") for path in found}
    outcomes = {i.rsplit("/", 1)[1] for i in ids}
    expected = {"FEATURES.md", *(f"{c}/X_{s}.csv" for c in ("admissions", "icustays") for s in ("train", "test"))}
    assert names - expected == {f"{c}/train_{o}_labels.csv" for c in ("admissions", "icustays") for o in outcomes
                                if f"{c}/train_{o}_labels.csv" in names}
    assert len(names) == len(expected) + len(outcomes) and all(p.startswith("/data/medgym_predict/") for p in found)
    for cohort in ("admissions", "icustays"):  # the sandbox's X_test.csv holds exactly the keys' test ids
        ids = {i for k in keys if (k.id_columns == ["hadm_id"]) == (cohort == "admissions")
               for i in k.labels.ids}  # type: ignore[union-attr]
        digest = hashlib.sha256(",".join(sorted(ids)).encode()).hexdigest()
        assert found[f"/data/medgym_predict/{cohort}/X_test.csv"]["ids"] == digest
    for path, content in found.items():
        assert content["shares_test_ids"] == path.endswith("/X_test.csv"), path  # only test features name test ids
        if content["shares_test_ids"]:
            assert not any(o in content["header"].split(",") for o in outcomes), path  # and hold no outcome
    assert_no_test_labels(scan["stdout"], keys)  # type: ignore[arg-type]


def _filter() -> Any:
    from task_store.store import TaskFilter

    return TaskFilter(dataset="medgym_predict")
