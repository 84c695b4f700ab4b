"""EHRSHOT and MIMIC-Extract over a synthetic data directory in the upstream layout: statements name
only files that are present, the mounts are an allowlist (features, train/val labels; test labels
never), and predictions files are scored through the MCP tools against the never-mounted labels."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.settings import Settings
from scoring.keys import UnscorableKey
from scoring.prediction_keys import PredictionsKey
from task_store import data
from task_store.prediction_data import missing_files
from task_store.store import DataRoot, TaskStore
from tests.conftest import IMAGE
from tests.mcp_calls import call_error, call_ok
from tests.prediction_fixtures import build_ehrshot, build_mimic_extract, hidden_label_lines

GUO_LOS, ANEMIA, CHEXPERT = "ehrshot/test/0", "ehrshot/test/7", "ehrshot/test/14"
MORT, LOS3, VASO = "mimic_extract/train/mort_hosp", "mimic_extract/train/los_3", "mimic_extract/train/vasopressor"


@pytest.fixture
def root(tmp_path: Path, shared_dir: Path) -> Path:
    folder = tmp_path / "data"
    build_ehrshot(folder, shared_dir)
    build_mimic_extract(folder, shared_dir)
    return folder


def _store(root: Path, home: Path) -> TaskStore:
    return TaskStore.open(home / "index.sqlite", [DataRoot("medagentgym", root)])


def test_statements_name_present_files_and_keys_need_test_labels(root: Path, tmp_path: Path,
                                                                 shared_dir: Path) -> None:
    store = _store(root, tmp_path)
    guo = store.get(GUO_LOS)
    assert "/data/ehrshot/clmbr_train.pkl" in guo.instructions and "/data/ehrshot/guo_los/val_labels.csv" in \
        guo.instructions and "test_labels" not in guo.instructions
    assert "patient_id,probability" in guo.instructions and "please predict a boolean" not in guo.question
    key = store.answer_key(GUO_LOS)
    assert isinstance(key, PredictionsKey) and key.threshold == 0.70 and key.extra_ids == "ignore"
    assert "prob_0,prob_1,prob_2,prob_3" in store.get(ANEMIA).instructions
    chexpert = store.get(CHEXPERT)  # no label files at all: nothing promised, not scorable
    assert "does not have the data" in chexpert.instructions and "/data/" not in chexpert.instructions
    assert isinstance(store.answer_key(CHEXPERT), UnscorableKey) and not chexpert.scorable
    record = json.loads((shared_dir / "mimic_extract" / "train_tasks.jsonl").read_text().splitlines()[0])
    mort = store.answer_key(MORT)
    assert isinstance(mort, PredictionsKey) and mort.threshold == record["performance"]["AUC"]
    assert "random forest" in mort.threshold_rule
    los3 = store.get(LOS3)  # features and training labels present, test labels not
    assert "train_los_3_labels.csv" in los3.instructions and "does not have the test labels" in los3.instructions
    assert isinstance(store.answer_key(LOS3), UnscorableKey)
    assert "window_idx,prob_<c>" in store.get(VASO).instructions
    store.close()
    for name in ("train", "val", "test"):  # installing the data later re-indexes the statements
        (root / "ehrshot" / "chexpert").mkdir(exist_ok=True)
        (root / "ehrshot" / "chexpert" / f"{name}_labels.csv").write_text("patient_id,value,label_type,"
                                                                          "prediction_time\n1,3,c,2012\n")
    store = _store(root, tmp_path)
    assert isinstance(store.answer_key(CHEXPERT), PredictionsKey)
    assert "prob_13" in store.get(CHEXPERT).instructions
    store.close()


def test_mounts_are_an_allowlist_without_test_labels(root: Path) -> None:
    ehrshot = {m.target for m in data.mounts(root / "ehrshot", "ehrshot")}
    labels = {f"/data/ehrshot/{t}/{s}_labels.csv" for t in ("guo_los", "lab_anemia") for s in ("train", "val")}
    assert ehrshot == {*(f"/data/ehrshot/clmbr_{s}.pkl" for s in ("train", "val", "test")), *labels}
    mounts = data.mounts(root / "mimic_extract", "mimic_extract")
    mimic = {m.target.removeprefix("/data/mimic_extract/") for m in mounts}
    assert not any("test_" in name and "labels" in name for name in mimic)
    assert "mortality_los/train_mort_hosp_labels.csv" in mimic and "vasopressor_ventilation/X_static_test.pkl" in mimic
    assert all(m.source.is_file() for m in mounts)


def test_doctor_names_missing_files(root: Path) -> None:
    assert "chexpert/test_labels.csv" in missing_files(root / "ehrshot", "ehrshot")
    assert "guo_los/test_labels.csv" not in missing_files(root / "ehrshot", "ehrshot")
    assert missing_files(root / "mimic_extract", "mimic_extract") == ["mortality_los/test_los_3_labels.csv"]


EHRSHOT_FEATURES = """
import pandas as pd
from sklearn.linear_model import LogisticRegression
def features(split):
    d = pd.read_pickle(f'/data/ehrshot/clmbr_{split}.pkl')
    frame = pd.DataFrame(d['data_matrix'])
    frame['patient_id'], frame['time'] = d['patient_ids'], d['labeling_time']
    return frame
X = list(range(6))
def train(task):
    labels = pd.read_csv(f'/data/ehrshot/{task}/train_labels.csv')
    rows = features('train').merge(labels, left_on=['patient_id', 'time'], right_on=['patient_id', 'prediction_time'])
    return rows
test = features('test').sort_values('time').groupby('patient_id').tail(1)  # each patient's latest row
"""
GUO_CODE = EHRSHOT_FEATURES + """
rows = train('guo_los')
model = LogisticRegression().fit(rows[X], rows['value'].astype(str).str.lower() == 'true')
pd.DataFrame({'patient_id': test['patient_id'], 'probability': model.predict_proba(test[X])[:, 1]}) \\
    .to_csv('/workspace/predictions.csv', index=False)
"""
GUO_NOISE = EHRSHOT_FEATURES + """
pd.DataFrame({'patient_id': test['patient_id'], 'probability': 0.5}).to_csv('/workspace/noise.csv', index=False)
"""
ANEMIA_CODE = EHRSHOT_FEATURES + """
rows = train('lab_anemia')
model = LogisticRegression(max_iter=1000).fit(rows[X], rows['value'])
out = pd.DataFrame({'patient_id': test['patient_id']})
for k, c in enumerate(model.classes_):
    out[f'prob_{c}'] = model.predict_proba(test[X])[:, k]
out.to_csv('/workspace/predictions.csv', index=False)
"""
MIMIC = """
import pandas as pd
from sklearn.linear_model import LogisticRegression
X = [f'f{k}' for k in range(6)]
def lab(folder, split):
    return pd.DataFrame(pd.read_pickle(f'/data/mimic_extract/{folder}/X_lab_{split}.pkl'))
"""
MORT_CODE = MIMIC + """
rows = lab('mortality_los', 'train').merge(pd.read_csv('/data/mimic_extract/mortality_los/train_mort_hosp_labels.csv'),
                                          on='subject_id')
test = lab('mortality_los', 'test')
model = LogisticRegression().fit(rows[X], rows['mort_hosp'])
pd.DataFrame({'subject_id': test['subject_id'], 'probability': model.predict_proba(test[X])[:, 1]}) \\
    .to_csv('/workspace/predictions.csv', index=False)
"""
VASO_CODE = MIMIC + """
labels = pd.read_csv('/data/mimic_extract/vasopressor_ventilation/train_vasopressor_labels.csv')
rows = lab('vasopressor_ventilation', 'train').merge(labels, left_on=['subject_id', 'hours_in'],
                                                     right_on=['subject_id', '6_hour_window_id'])
test = lab('vasopressor_ventilation', 'test')
model = LogisticRegression(max_iter=1000).fit(rows[X], rows['intervention_category'])
out = pd.DataFrame({'subject_id': test['subject_id'], 'window_idx': test['hours_in']})
for k, c in enumerate(model.classes_):
    out[f'prob_{c}'] = model.predict_proba(test[X])[:, k]
out.to_csv('/workspace/predictions.csv', index=False)
"""
SCAN = r"""
import os
print(sorted(os.path.join(top, name) for top, _, names in os.walk('/data') for name in names))
"""


@pytest.mark.anyio
@pytest.mark.usefixtures("docker_ready", "no_leftover_containers")
async def test_scored_through_the_tools_against_never_mounted_labels(root: Path, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", data_dir=root, image=IMAGE, pack=False, pool_size=0)
    texts: list[str] = []
    async with Client(build_server(settings).mcp) as client:
        for task_id, code in ((GUO_LOS, GUO_CODE), (ANEMIA, ANEMIA_CODE), (MORT, MORT_CODE), (VASO, VASO_CODE)):
            run = await call_ok(client, "run_code", task_id=task_id, code=code, timeout_s=120)
            assert run["exit_code"] == 0, run["stderr"]
            verdict = await call_ok(client, "submit_answer", task_id=task_id, answer="predictions.csv")
            assert verdict["correct"] is True, (task_id, verdict["feedback"])
            texts += [json.dumps(run), json.dumps(verdict)]
        assert "1 row(s) for ids without a test label here were ignored" in texts[1]  # the extra test patient
        await call_ok(client, "reset_task", task_id=GUO_LOS)
        await call_ok(client, "run_code", task_id=GUO_LOS, code=GUO_NOISE, timeout_s=120)
        noise = await call_ok(client, "submit_answer", task_id=GUO_LOS, answer="noise.csv")
        assert noise["correct"] is False and "AUROC 0.500" in noise["feedback"]
        await call_ok(client, "run_code", task_id=LOS3, code="open('p.csv', 'w').write('subject_id,probability\\n')")
        texts.append(await call_error(client, "submit_answer", task_id=LOS3, answer="p.csv"))
        assert "cannot be scored" in texts[-1]
        scan = await call_ok(client, "run_code", task_id=LOS3, code=SCAN)
        ehrshot_scan = await call_ok(client, "run_code", task_id=CHEXPERT, code=SCAN)
        texts += [json.dumps(noise), json.dumps(scan), json.dumps(ehrshot_scan)]
    seen = [*ast.literal_eval(scan["stdout"]), *ast.literal_eval(ehrshot_scan["stdout"])]
    assert len(seen) == 7 + 15  # the allowlisted files (ehrshot: 3 pickles + 4 label files; mimic_extract: 9 + 6)
    assert not [p for p in seen if ("test_" in p and "labels" in p) or "task" in p]
    joined = "\n".join(texts)
    leaked = {line for line in hidden_label_lines(root) if line in joined}
    assert not leaked, sorted(leaked)[:3]
