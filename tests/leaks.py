"""Helpers that look for ground-truth values where they must never appear."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from scoring.prediction_keys import InlineLabels, PredictionsKey

ANSWER_FIELDS = ("Ground Truth Answer", "Lower Limit", "Upper Limit", "\"answer\"", "\"query\"", "\"sol\"",
                 "Has error", "reference_answer", "test_cases", "\"solution\"", "ItemSetKey", "RangeKey",
                 "hidden_labels", "PredictionsKey")


@cache
def _records(shared: Path, dataset: str) -> dict[str, dict[str, object]]:
    by_id: dict[str, dict[str, object]] = {}
    for path in sorted((shared / dataset).glob("*task*.jsonl")):
        split = path.name.split("_")[0] if path.name != "task.jsonl" else "test"
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                record = json.loads(line)
                native = record.get("id") or record.get("Row Number") or record.get("idx") or line_no
                by_id[f"{split}/{native}"] = record
                by_id[f"{split}/{line_no}"] = record
    return by_id


def ground_truth_strings(shared: Path, task_id: str) -> set[str]:
    """Distinctive answer values of a task (short or common values are left out: they occur naturally)."""
    dataset, rest = task_id.split("/", 1)
    record = _records(shared, dataset).get(rest)
    if record is None:
        return set()
    values: list[object] = []
    for field in ("Ground Truth Answer", "Lower Limit", "Upper Limit", "answer", "sol", "solution", "query"):
        value = record.get(field)
        values.extend(value if isinstance(value, list) else [value])
    strings = {str(v) for v in values if v is not None}
    shown = " ".join(str(record.get(f, "")) for f in ("question", "Question", "instruction", "Patient Note",
                                                       "context", "problem", "queries"))
    return {s for s in strings if len(s) >= 6 and s.lower() not in {"none", "true", "false"} and s not in shown}


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def contains(text: str, secret: str) -> bool:
    """Whether `secret` occurs in `text`; a number only as a whole number, never as digits of a longer
    one (a call's `duration_ms` of 23.532, or a timestamp, does not hold the answer 23.53)."""
    if not _NUMBER.fullmatch(secret):
        return secret in text
    return re.search(rf"(?<![\d.]){re.escape(secret)}(?!\d)", text) is not None


def leaked(text: str, secrets: set[str]) -> list[str]:
    """The secrets that occur in `text` (see `contains`)."""
    return sorted(secret for secret in secrets if contains(text, secret))


def assert_no_ground_truth(text: str, truths: set[str]) -> None:
    for field in ANSWER_FIELDS:
        assert field not in text, f"answer field {field!r} leaked"
    for truth in truths:
        assert not contains(text, truth), f"ground truth value {truth!r} leaked"


def hidden_label_rows(key: PredictionsKey) -> set[str]:
    """The `id,label` lines a leaked copy of a prediction task's hidden test labels would hold."""
    assert isinstance(key.labels, InlineLabels)
    return {f"{i},{y}" for i, y in zip(key.labels.ids, key.labels.hidden_labels, strict=True)}


def assert_no_test_labels(text: str, keys: list[PredictionsKey]) -> None:
    """No prediction key field and no line that pairs a test id with its label (raw or JSON-escaped text)."""
    for field in ("hidden_labels", "PredictionsKey", "InlineLabels", "threshold_rule"):
        assert field not in text, f"answer field {field!r} leaked"
    lines = {line.strip() for line in re.split(r'\\r\\n|\\n|\r?\n|"', text)}
    for key in keys:
        leaked = lines & hidden_label_rows(key)
        assert not leaked, f"test label rows leaked: {sorted(leaked)[:3]}"


CODE_MARKERS = ("<<insert solution here>>", "medgym-grader-", "__mg_", "\"harness\"", "workdir_folder",
                "FunctionOutputKey", "AssertsKey")


def code_key_secrets(key: object) -> set[str]:
    """Distinctive pieces of a code task's hidden parts: reference body lines, harness cases, assert lines."""
    from scoring.code_keys import AssertsKey, FunctionOutputKey

    secrets: set[str] = set()
    if isinstance(key, FunctionOutputKey):
        secrets |= {line.strip() for line in key.reference.splitlines()[1:] if len(line.strip()) >= 25}
        secrets |= {line.strip()[:120] for line in key.harness.splitlines() if line.startswith("CASES =")}
    if isinstance(key, AssertsKey):
        secrets |= {line.strip() for line in key.tests.splitlines() if len(line.strip()) >= 15}
        secrets |= {line.strip() for line in key.reference.splitlines()[6:] if len(line.strip()) >= 25}
    return secrets


def assert_no_code_secrets(text: str, secrets: set[str]) -> None:
    for marker in CODE_MARKERS:
        assert marker not in text, f"code grader marker {marker!r} leaked"
    for secret in secrets:
        assert secret not in text, f"hidden code leaked: {secret[:80]!r}"
