"""Test labels of prediction tasks, read on the server only (never mounted, never shown).

The built-in pack keeps them in the task's key; MedAgentGym data keeps them in CSV files of the
dataset folder (`<root>/ehrshot/<task>/test_labels.csv`, `<root>/mimic_extract/<dir>/test_<task>_labels.csv`)
that the mount allowlist leaves out. A file is parsed once per (path, size, mtime).
"""

from __future__ import annotations

import csv
import functools
import logging
from pathlib import Path

from medgym.errors import DataError, TaskNotScorableError
from scoring.prediction_file import canonical_id
from scoring.prediction_keys import InlineLabels, LabelFile, PredictionsKey, Target
from scoring.predictions import LabelSet, inline_labels

log = logging.getLogger(__name__)

_TRUE = frozenset({"true", "1", "1.0", "yes"})
_FALSE = frozenset({"false", "0", "0.0", "no"})


class LabelFileError(DataError):
    """A test label file that cannot be used (the message names the line, never a value)."""


def load_labels(directory: Path | None, key: PredictionsKey) -> LabelSet:
    """The test labels of a task whose dataset folder is `directory`."""
    if isinstance(key.labels, InlineLabels):
        return inline_labels(key, key.labels)
    path = _inside(directory, key.labels.path)
    if path is None or not path.is_file():
        raise TaskNotScorableError(f"the test labels of this task ({key.labels.path}) are not in this server's "
                                   "data directory")
    stat = path.stat()
    try:
        return _read(str(path), stat.st_size, stat.st_mtime_ns, key.labels.model_dump_json(), key.target,
                     tuple(key.classes))
    except (LabelFileError, OSError, csv.Error, UnicodeDecodeError) as exc:
        log.error("unusable test label file %s: %s", path, exc)
        raise TaskNotScorableError("this server's test label file for this task cannot be read (see the server "
                                   "log); the submission was not scored") from None


def _inside(directory: Path | None, relative: str) -> Path | None:
    if directory is None:
        return None
    path = (directory / relative).resolve()
    return path if path.is_relative_to(directory.resolve()) else None


@functools.lru_cache(maxsize=32)
def _read(path: str, size: int, mtime_ns: int, spec_json: str, target: Target, classes: tuple[str, ...]) -> LabelSet:
    """Cached by (path, size, mtime): a label file replaced on disk is read again."""
    rows = _rows(Path(path), LabelFile.model_validate_json(spec_json))
    values = [raw for raw, _ in rows.values()]
    if target == "multiclass":
        classes = classes or _sorted_values(values)
        index = {c: k for k, c in enumerate(classes)}
        return LabelSet(tuple(rows), tuple(_class(v, index) for v in values), classes)
    convert = _binary if target == "binary" else _bitmask
    return LabelSet(tuple(rows), tuple(convert(v) for v in values), classes)


def _rows(path: Path, spec: LabelFile) -> dict[tuple[str, ...], tuple[str, str]]:
    """ids -> (label value, ordering value), one per id: the latest by `spec.latest_by` (compared as text, so
    ISO times order correctly; on a tie the later line wins, as upstream's dict did)."""
    chosen: dict[tuple[str, ...], tuple[str, str]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {*spec.id_columns, spec.label_column, *([spec.latest_by] if spec.latest_by else [])}
        if missing - set(reader.fieldnames or ()):
            raise LabelFileError(f"columns {sorted(missing - set(reader.fieldnames or ()))} are missing")
        for row in reader:
            ids = tuple(canonical_id(row[c] or "") for c in spec.id_columns)
            order = (row[spec.latest_by] or "").strip() if spec.latest_by else ""
            if ids in chosen and spec.latest_by is None:
                raise LabelFileError(f"line {reader.line_num}: an id is repeated")
            if ids not in chosen or order >= chosen[ids][1]:
                chosen[ids] = ((row[spec.label_column] or "").strip(), order)
    return chosen


def _binary(value: str) -> int:
    word = value.casefold()
    if word in _TRUE or word in _FALSE:
        return int(word in _TRUE)
    raise LabelFileError("a binary label is neither true/false nor 1/0")


def _bitmask(value: str) -> int:
    number = canonical_id(value)
    if not number.isdigit():
        raise LabelFileError("a multilabel value is not a non-negative integer bitmask")
    return int(number)


def _class(value: str, index: dict[str, int]) -> int:
    try:
        return index[canonical_id(value)]
    except KeyError:
        raise LabelFileError("a class label is not one of the task's classes") from None


def _sorted_values(values: list[str]) -> tuple[str, ...]:
    distinct = {canonical_id(v) for v in values}
    return tuple(sorted(distinct, key=lambda v: (not v.lstrip("-").isdigit(), int(v) if v.lstrip("-").isdigit()
                                                 else 0, v)))
