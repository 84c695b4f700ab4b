"""The answer key `MEDGYM_LABELS=audited` scores with: the official one unless the audit trusts
a recomputed value that disagrees with it."""

from __future__ import annotations

from scoring.keys import AnswerKey, DateKey, GestationalAgeKey, IntegerKey, RangeKey, RelativeKey
from task_store.adapters.medcalc import answer_key
from task_store.audit.models import AuditFinding


def audited_key(finding: AuditFinding, official_key: AnswerKey) -> AnswerKey | None:
    """A key built like `official_key` around the recomputed value, or None to keep the official.

    Only trusted disagreements (`confident`) replace a label. A range keeps the official key's
    proportions (MedCalcBench: ±5% around the value, or exact for scores); a power keeps its
    relative tolerance.
    """
    if finding.status != "disagrees" or not finding.confident or finding.recomputed is None:
        return None
    try:
        return _rebuild(finding, official_key)
    except ValueError:
        return None


def _rebuild(finding: AuditFinding, key: AnswerKey) -> AnswerKey | None:
    text = finding.recomputed or ""
    if isinstance(key, RangeKey):
        return _range(float(finding.official), float(text), key)
    if isinstance(key, DateKey | GestationalAgeKey):
        rebuilt, _kind = answer_key(text, "", "")
        return rebuilt if type(rebuilt) is type(key) else None
    if isinstance(key, IntegerKey):
        return IntegerKey(value=round(float(text)))
    if isinstance(key, RelativeKey):
        return RelativeKey(value=float(text), rel_tol=key.rel_tol)
    return None


def _range(official: float, value: float, key: RangeKey) -> RangeKey:
    """Limits that relate to `value` as the official limits relate to the official value."""
    if official != 0:
        ends = (value * key.lower / official, value * key.upper / official)
    else:
        ends = (value + key.lower, value + key.upper)
    return RangeKey(lower=min(ends), upper=max(ends))
