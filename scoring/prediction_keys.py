"""The answer key of a prediction task (EHRSHOT, MIMIC-Extract, the pack's `medgym_predict`).

The agent trains a model in its sandbox and writes a predictions file (one row per test unit:
the id columns, then one probability column per scored output); the server scores the file
against test labels that never enter a sandbox: kept in the key itself (the built-in pack) or in
a label file of the dataset folder that is never mounted (MedAgentGym data).

Outputs and their probability columns:
- binary: `probability` (of the label being 1 / true);
- multiclass: `prob_<c>` for each class value c (in `classes`, or the values found in the label
  files when `classes` is empty);
- multilabel: `prob_<k>` for each bit k of an integer bitmask label (`classes` = "0".."n-1").
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Target = Literal["binary", "multiclass", "multilabel"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InlineLabels(_Frozen):
    """Test labels held in the key (the built-in pack): `ids[i]` has label `hidden_labels[i]`."""

    source: Literal["inline"] = "inline"
    ids: list[str]
    hidden_labels: list[int]


class LabelFile(_Frozen):
    """Test labels in a CSV under the dataset folder that is never mounted into a sandbox."""

    source: Literal["file"] = "file"
    path: str = Field(description="relative to the dataset folder, e.g. guo_los/test_labels.csv")
    id_columns: list[str] = Field(description="label-file columns matching the key's id_columns, in order")
    label_column: str
    latest_by: str | None = Field(
        None, description="several rows per id: keep the one with the largest value of this column "
                          "(EHRSHOT's prediction_time); None: a repeated id makes the file unusable")


class PredictionsKey(_Frozen):
    """Score a predictions file by AUROC (macro over outputs) against hidden test labels."""

    kind: Literal["predictions"] = "predictions"
    id_columns: list[str]
    target: Target = "binary"
    classes: list[str] = Field(default_factory=list)
    labels: Annotated[InlineLabels | LabelFile, Field(discriminator="source")]
    threshold: float = Field(ge=0.0, le=1.0, description="correct when the AUROC is at least this")
    threshold_rule: str = Field(description="where the threshold comes from, shown in feedback")
    unit: str = Field("row", description="what one test row is, for feedback (patient, admission, ...)")
    extra_ids: Literal["error", "ignore"] = Field(
        "error", description="rows whose id has no test label: a format error, or ignored (when the test "
                             "feature file covers more ids than this task labels, as in EHRSHOT)")


def value_columns(target: Target, classes: list[str] | tuple[str, ...]) -> list[str]:
    """The probability columns a predictions file must have after its id columns."""
    if target == "binary":
        return ["probability"]
    return [f"prob_{c}" for c in classes]
