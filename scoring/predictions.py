"""Score a predictions file against hidden test labels: AUROC (macro over outputs) decides.

Every test unit counts. A test id missing from the file is scored as the worst possible
prediction (ranked below every negative when positive, above every positive when negative, and
wrong at any decision threshold), never dropped: the upstream graders divided by the number of
predicted rows, so predicting one easy patient scored 100%. Accuracy and F1 (the upstream metric,
and what MIMIC-Extract records report) are given in the feedback over ALL test units.

Feedback states the submitted file's metrics, never a label or which ids are positive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from medgym.errors import AnswerFormatError, TaskNotScorableError
from scoring.auroc import auroc, f1, mean
from scoring.prediction_file import Row, Table, quoted, read_predictions
from scoring.prediction_keys import InlineLabels, PredictionsKey, Target, value_columns
from scoring.score import Score

VERIFIER = "predictions_auroc"
DECISION = 0.5
_WORST_LOW, _WORST_HIGH = -1.0, 2.0  # outside [0, 1]: below / above every submitted probability


@dataclass(frozen=True)
class LabelSet:
    """Test labels: `ids[i]` has `labels[i]` (0/1; a class index into `classes`; or a bitmask)."""

    ids: tuple[tuple[str, ...], ...]
    labels: tuple[int, ...]
    classes: tuple[str, ...] = ()

    def truth(self, target: Target) -> list[tuple[bool, ...]]:
        """One row per test id: for each output, whether it is positive."""
        width = len(self.classes)
        if target == "binary":
            return [(label == 1,) for label in self.labels]
        if target == "multiclass":
            return [tuple(label == k for k in range(width)) for label in self.labels]
        return [tuple(bool(label >> k & 1) for k in range(width)) for label in self.labels]


def inline_labels(key: PredictionsKey, labels: InlineLabels) -> LabelSet:
    """The label set of a key that holds its labels (the built-in pack)."""
    return LabelSet(tuple((i,) for i in labels.ids), tuple(labels.hidden_labels), tuple(key.classes))


@dataclass(frozen=True)
class Metrics:
    auroc: float
    accuracy: float
    f1: float | None
    scored: int
    missing: int
    ignored: int


def score_predictions(key: PredictionsKey, labels: LabelSet, data: bytes) -> Score:
    """Read the file (format errors raise `AnswerFormatError`) and score it."""
    table = read_predictions(data, key.id_columns, value_columns(key.target, labels.classes))
    metrics = measure(key, labels, table)
    correct = metrics.auroc >= key.threshold - 1e-12
    return Score(correct=correct, score=1.0 if correct else 0.0, feedback=_feedback(key, metrics, correct),
                 verifier=VERIFIER, error=None)


def check_form(key: PredictionsKey, labels: LabelSet, data: bytes) -> None:
    """Read the file and check its ids, as scoring would, without computing any metric."""
    _unknown_ids(key, labels, read_predictions(data, key.id_columns, value_columns(key.target, labels.classes)))


def _unknown_ids(key: PredictionsKey, labels: LabelSet, table: Table) -> list[tuple[str, ...]]:
    """Ids of rows that are not test units (a format error where the key says so)."""
    known = set(labels.ids)
    unknown = [ids for ids in table if ids not in known]
    if unknown and key.extra_ids == "error":
        raise AnswerFormatError(
            f"{len(unknown)} row(s) name ids that are not in the test set (e.g. {quoted(','.join(unknown[0]))}); "
            f"write one row for each test {key.unit} and nothing else")
    return unknown


def measure(key: PredictionsKey, labels: LabelSet, table: Table) -> Metrics:
    """AUROC, accuracy and F1 of `table` over every test id of `labels`."""
    unknown = _unknown_ids(key, labels, table)
    truth = labels.truth(key.target)
    rows = [table.get(ids) for ids in labels.ids]
    areas = [auroc(_column(rows, truth, k), [t[k] for t in truth]) for k in range(len(truth[0]) if truth else 0)]
    area = mean(areas)
    if area is None:
        raise TaskNotScorableError("the test labels of this task hold a single class, so AUROC is undefined")
    decided = [_decide(key.target, row, t) for row, t in zip(rows, truth, strict=True)]
    accuracy = sum(d == t for d, t in zip(decided, truth, strict=True)) / len(truth)
    return Metrics(area, accuracy, _macro_f1(decided, truth), len(truth), rows.count(None), len(unknown))


def _column(rows: Sequence[Row | None], truth: Sequence[tuple[bool, ...]], k: int) -> list[float]:
    """Output k's scores; a missing row gets the worst score for its label."""
    return [row[k] if row is not None else (_WORST_LOW if t[k] else _WORST_HIGH) for row, t in zip(rows, truth,
                                                                                                   strict=True)]


def _decide(target: Target, row: Row | None, truth: tuple[bool, ...]) -> tuple[bool, ...]:
    """Hard decisions: probability >= 0.5 (binary, multilabel), the argmax (multiclass); a missing row is
    wrong for every output."""
    if row is None:
        return tuple(not t for t in truth)
    if target == "multiclass":
        best = max(range(len(row)), key=row.__getitem__)
        return tuple(k == best for k in range(len(row)))
    return tuple(p >= DECISION for p in row)


def _macro_f1(decided: Sequence[tuple[bool, ...]], truth: Sequence[tuple[bool, ...]]) -> float | None:
    width = len(truth[0]) if truth else 0
    return mean([f1([d[k] for d in decided], [t[k] for t in truth]) for k in range(width)])


def _feedback(key: PredictionsKey, m: Metrics, correct: bool) -> str:
    macro = "macro " if key.target != "binary" else ""
    verdict = "at least" if correct else "below"
    text = (f"{macro}AUROC {m.auroc:.3f} over all {m.scored} test {key.unit}s: {verdict} the threshold "
            f"{key.threshold:.3f} ({key.threshold_rule}). {m.missing} test {key.unit}(s) missing from the file "
            f"(scored as wrong). Accuracy {m.accuracy:.3f}")
    text += f", {macro}F1 {m.f1:.3f}" if m.f1 is not None else ""
    text += f" (decision: {'argmax' if key.target == 'multiclass' else 'probability >= 0.5'})."
    if m.ignored:
        text += f" {m.ignored} row(s) for ids without a test label here were ignored."
    return text
