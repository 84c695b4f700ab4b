"""Predictions answers without Docker: exact AUROC, the defensive file reader, the scorer's rules,
label files, the submitted name, and the pack's prediction dataset on disk."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest

from medgym.errors import AnswerFormatError, TaskNotScorableError
from scoring.auroc import auroc, midranks
from scoring.prediction_keys import InlineLabels, LabelFile, PredictionsKey
from scoring.predictions import LabelSet, inline_labels, score_predictions
from task_store.prediction_labels import load_labels
from tools.predictions import workspace_path

RULE = "a test threshold"


def _brute_auroc(scores: list[float], positive: list[bool]) -> float:
    positives = [s for s, y in zip(scores, positive, strict=True) if y]
    negatives = [s for s, y in zip(scores, positive, strict=True) if not y]
    pairs = list(itertools.product(positives, negatives))
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)


def test_auroc_equals_pairwise_counting_with_ties() -> None:
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(2, 40)
        scores = [rng.choice([0.0, 0.25, 0.5, 0.75, 1.0, rng.random()]) for _ in range(n)]
        positive = [rng.random() < 0.4 for _ in range(n)]
        if 0 < sum(positive) < n:
            assert auroc(scores, positive) == pytest.approx(_brute_auroc(scores, positive), abs=1e-12)
    assert auroc([0.1, 0.2], [True, True]) is None
    assert midranks([3.0, 1.0, 3.0, 2.0]) == [3.5, 1.0, 3.5, 2.0]


def _key(ids: list[str], labels: list[int], threshold: float = 0.7, **extra: object) -> PredictionsKey:
    return PredictionsKey(id_columns=["hadm_id"], labels=InlineLabels(ids=ids, hidden_labels=labels),
                          threshold=threshold, threshold_rule=RULE, unit="admission", **extra)  # type: ignore[arg-type]


def _csv(rows: list[tuple[str, str]], header: str = "hadm_id,probability") -> bytes:
    return "\n".join([header, *(f"{i},{p}" for i, p in rows)]).encode()


IDS = [str(100 + k) for k in range(10)]
LABELS = [1, 0, 1, 0, 1, 0, 1, 0, 0, 0]


def _score(data: bytes, key: PredictionsKey | None = None) -> tuple[bool, str]:
    key = key or _key(IDS, LABELS)
    assert isinstance(key.labels, InlineLabels)
    score = score_predictions(key, inline_labels(key, key.labels), data)
    return score.correct, score.feedback


def test_perfect_reversed_constant_and_missing() -> None:
    perfect = [(i, "0.9" if y else "0.1") for i, y in zip(IDS, LABELS, strict=True)]
    assert _score(_csv(perfect))[0] is True
    assert "AUROC 1.000 over all 10 test admissions" in _score(_csv(perfect))[1]
    reversed_ = [(i, "0.1" if y else "0.9") for i, y in zip(IDS, LABELS, strict=True)]
    correct, feedback = _score(_csv(reversed_))
    assert not correct and "AUROC 0.000" in feedback
    correct, feedback = _score(_csv([(i, "0.5") for i in IDS]))
    assert not correct and "AUROC 0.500" in feedback
    # the upstream defect: scoring only the rows that were predicted. One sure positive is not 100%.
    correct, feedback = _score(_csv([(IDS[0], "0.99")]))
    assert not correct and "9 test admission(s) missing" in feedback
    assert "Accuracy 0.100" in feedback  # the other nine count as wrong, not as dropped


def test_missing_rows_are_the_worst_possible_prediction() -> None:
    # every positive but one predicted perfectly; the missing positive is ranked below every negative
    rows = [(i, "0.9" if y else "0.1") for i, y in zip(IDS, LABELS, strict=True) if i != IDS[0]]
    _, feedback = _score(_csv(rows))
    assert "AUROC 0.750" in feedback  # 3 of 4 positives above all 6 negatives: (3*6) / (4*6)


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty"),
    (b"hadm_id,probability\n", "no prediction rows"),
    (b"\xff\xfe\x00h", "not UTF-8"),
    (b"patient,probability\n100,0.5\n", "exactly the columns hadm_id, probability"),
    (b"hadm_id,probability,extra\n100,0.5,1\n", "exactly the columns"),
    (b"hadm_id\n100\n", "exactly the columns"),
    (b"hadm_id,probability\n100,0.5,7\n", "line 2 has 3 fields"),
    (b"hadm_id,probability\n100,0.5\n100,0.6\n", "appears more than once"),
    (b"hadm_id,probability\n100.0,0.5\n100,0.6\n", "appears more than once"),
    (b"hadm_id,probability\n999,0.5\n", "not in the test set"),
    (b"hadm_id,probability\n100,nan\n", "NaN or infinite"),
    (b"hadm_id,probability\n100,inf\n", "NaN or infinite"),
    (b"hadm_id,probability\n100,1.5\n", "between 0 and 1"),
    (b"hadm_id,probability\n100,-0.1\n", "between 0 and 1"),
    (b"hadm_id,probability\n100,True\n", "must be a number"),
    (b"hadm_id,probability\n100,\n", "must be a number"),
    (b"hadm_id,probability\n,0.5\n", "an id is empty"),
    (b"hadm_id,probability\n100,0.5\x00\n", "line"),
])
def test_format_errors(data: bytes, message: str) -> None:
    with pytest.raises(AnswerFormatError, match=message):
        _score(data)


def test_format_errors_do_not_depend_on_labels() -> None:
    """The same bad file gets the same message whatever the labels: a format error leaks nothing."""
    bad = [b"hadm_id,probability\n999,0.5\n", b"hadm_id,probability\n100,2\n", b"x,y\n"]
    flipped = _key(IDS, [1 - y for y in LABELS])
    for data in bad:
        messages = set()
        for key in (_key(IDS, LABELS), flipped):
            with pytest.raises(AnswerFormatError) as info:
                _score(data, key)
            messages.add(str(info.value))
        assert len(messages) == 1


def test_header_order_case_and_canonical_ids() -> None:
    rows = "\n".join(f"{p},{i}.0" for i, p in zip(IDS, (0.9, 0.1, 0.9, 0.1, 0.9, 0.1, 0.9, 0.1, 0.1, 0.1), strict=True))
    assert _score(f"\ufeffProbability , HADM_ID\n{rows}\n\n".encode())[0] is True


def test_too_many_rows_and_ignored_ids() -> None:
    from scoring.prediction_file import read_predictions

    with pytest.raises(AnswerFormatError, match="more than 3 rows"):
        read_predictions(_csv([(str(k), "0.5") for k in range(5)]), ["hadm_id"], ["probability"], max_rows=3)
    lenient = _key(IDS, LABELS, extra_ids="ignore")
    correct, feedback = _score(_csv([(i, "0.9" if y else "0.1") for i, y in zip(IDS, LABELS, strict=True)]
                                    + [("999", "0.5")]), lenient)
    assert correct and "1 row(s) for ids without a test label here were ignored" in feedback


def test_multiclass_and_multilabel_macro_auroc() -> None:
    labels = LabelSet(ids=(("1",), ("2",), ("3",), ("4",)), labels=(0, 1, 2, 1), classes=("0", "1", "2"))
    key = PredictionsKey(id_columns=["patient_id"], target="multiclass", classes=["0", "1", "2"],
                         labels=InlineLabels(ids=[], hidden_labels=[]), threshold=0.9, threshold_rule=RULE)
    good = b"patient_id,prob_0,prob_1,prob_2\n1,0.8,0.1,0.1\n2,0.1,0.8,0.1\n3,0.1,0.1,0.8\n4,0.2,0.7,0.1\n"
    score = score_predictions(key, labels, good)
    assert score.correct and "macro AUROC 1.000" in score.feedback and "Accuracy 1.000" in score.feedback
    with pytest.raises(AnswerFormatError, match="prob_0, prob_1, prob_2"):
        score_predictions(key, labels, b"patient_id,probability\n1,0.5\n")
    bits = LabelSet(ids=(("1",), ("2",), ("3",)), labels=(0b01, 0b10, 0b11), classes=("0", "1"))
    multilabel = key.model_copy(update={"target": "multilabel", "classes": ["0", "1"]})
    score = score_predictions(multilabel, bits, b"patient_id,prob_0,prob_1\n1,0.9,0.1\n2,0.1,0.9\n3,0.9,0.9\n")
    assert score.correct and "Accuracy 1.000" in score.feedback


@pytest.mark.parametrize(("answer", "path"), [
    ("predictions.csv", "/workspace/predictions.csv"), ("  ./out/p.csv ", "/workspace/out/p.csv"),
    ("/workspace/p.csv", "/workspace/p.csv"),
])
def test_workspace_path_accepts(answer: str, path: str) -> None:
    assert workspace_path(answer) == path


@pytest.mark.parametrize("answer", ["", " ", "../etc/passwd", "a/../../b", "/etc/passwd", "/workspace", "/workspace/..",
                                    "/data/medgym_predict/admissions/X_test.csv", 42, ["p.csv"], None, "p\x00.csv",
                                    "x" * 2000])
def test_workspace_path_rejects_without_counting(answer: object) -> None:
    with pytest.raises(AnswerFormatError, match="not counted"):
        workspace_path(answer)  # type: ignore[arg-type]


def _label_file(folder: Path, text: str, **spec: object) -> PredictionsKey:
    (folder / "t").mkdir(parents=True, exist_ok=True)
    (folder / "t" / "test_labels.csv").write_text(text)
    labels = LabelFile(path="t/test_labels.csv", id_columns=["patient_id"], label_column="value", **spec)  # type: ignore[arg-type]
    return PredictionsKey(id_columns=["patient_id"], labels=labels, threshold=0.7, threshold_rule=RULE)


def test_label_files_latest_label_per_patient(tmp_path: Path) -> None:
    text = ("patient_id,value,label_type,prediction_time\n1,False,boolean,2012-01-01 23:59:00\n"
            "1,True,boolean,2013-05-01 23:59:00\n1,False,boolean,2012-06-01 23:59:00\n2,0,boolean,2011-01-01\n")
    labels = load_labels(tmp_path, _label_file(tmp_path, text, latest_by="prediction_time"))
    assert dict(zip(labels.ids, labels.labels, strict=True)) == {("1",): 1, ("2",): 0}


def test_label_file_problems_are_not_scorable_and_quote_nothing(tmp_path: Path) -> None:
    with pytest.raises(TaskNotScorableError, match="not in this server's data directory"):
        load_labels(tmp_path / "nowhere", _label_file(tmp_path, "patient_id,value\n1,1\n").model_copy(
            update={"labels": LabelFile(path="gone.csv", id_columns=["patient_id"], label_column="value")}))
    with pytest.raises(TaskNotScorableError) as info:
        load_labels(tmp_path, _label_file(tmp_path, "patient_id,value\n1,secret-label-value\n"))
    assert "secret" not in str(info.value)
    with pytest.raises(TaskNotScorableError):
        load_labels(tmp_path, _label_file(tmp_path, "patient_id,value\n1,1\n1,0\n"))  # repeated id, no latest_by
    escape = LabelFile(path="../outside.csv", id_columns=["patient_id"], label_column="value")
    with pytest.raises(TaskNotScorableError):
        load_labels(tmp_path, PredictionsKey(id_columns=["patient_id"], labels=escape, threshold=0.7,
                                             threshold_rule=RULE))


def test_pack_prediction_dataset_keeps_test_labels_out_of_its_folder(pack_home: Path) -> None:
    from task_store.pack.build import pack_dir

    folder = pack_dir(pack_home) / "medgym_predict"
    tasks = [json.loads(line) for name in ("train_tasks.jsonl", "test_tasks.jsonl")
             for line in (folder / name).read_text().splitlines()]
    assert len(tasks) >= 8 and {t["task"]["split"] for t in tasks} == {"train", "test"}
    for record in tasks:
        key = PredictionsKey.model_validate(record["key"])
        assert isinstance(key.labels, InlineLabels) and 0.6 <= key.threshold < 0.9
        cohort = folder / ("admissions" if key.id_columns == ["hadm_id"] else "icustays")
        test_rows = [line.split(",") for line in (cohort / "X_test.csv").read_text().splitlines()[1:]]
        train_rows = [line.split(",") for line in (cohort / "X_train.csv").read_text().splitlines()[1:]]
        assert [r[0] for r in test_rows] == key.labels.ids  # the key labels exactly the test rows
        assert not {r[1] for r in test_rows} & {r[1] for r in train_rows}  # no patient on both sides
        outcome = record["task"]["category"]
        train_labels = (cohort / f"train_{outcome}_labels.csv").read_text().splitlines()
        assert train_labels[0] == f"{key.id_columns[0]},{outcome}"
        assert [line.split(",")[0] for line in train_labels[1:]] == [r[0] for r in train_rows]
        assert outcome not in (cohort / "X_test.csv").read_text().splitlines()[0]
    test_ids = {i for r in tasks for i in r["key"]["labels"]["ids"]}
    for path in folder.rglob("*"):
        if path.is_file() and "task" not in path.name and path.name != "X_test.csv":
            assert not test_ids & {line.split(",")[0] for line in path.read_text().splitlines()}, path
