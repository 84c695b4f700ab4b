"""The built-in pack's prediction dataset (`medgym_predict`): its task files hold complete records."""

from __future__ import annotations

from typing import ClassVar

from task_store.adapters.base import DataSpec
from task_store.adapters.pack import _Pack
from task_store.models import AnswerKind


class PackPredict(_Pack):
    name: ClassVar[str] = "medgym_predict"
    description: ClassVar[str] = (
        "built-in pack: clinical prediction (mortality, length of stay, readmission, ICU outcomes) over the synthetic "
        "EHR, with planted labels; submit a predictions file, scored by AUROC against hidden test labels"
    )
    answer_kinds: ClassVar[tuple[AnswerKind, ...]] = ("predictions",)
    data: ClassVar[DataSpec] = DataSpec(
        summary="synthetic admission and ICU-stay features (CSV) with training labels",
        required=("admissions/X_train.csv", "icustays/X_train.csv"),
        files=("FEATURES.md", "*/X_*.csv", "*/train_*_labels.csv"),
    )
