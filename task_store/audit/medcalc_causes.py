"""Why a MedCalcBench label disagrees with the recomputation: targeted checks, then probes.

Each check returns a cause (and whether the recomputed value can be trusted over the label) or
None. The probes change one thing in the entities (flip a yes/no item, read a value in another
unit, nudge a value across a cut-off) and see whether that reproduces the official label.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from scoring.keys import AnswerKey, RangeKey
from task_store.audit.medcalc_core import Calculator, Outcome, agrees, recompute

Cause = tuple[str, bool]  # (text, the recomputed value is trustworthy)
Raw = Mapping[str, object]
_SCORE_LIMITS = {"Glasgow Coma Score (GCS)": (3.0, 15.0)}


def explain(name: str, calc: Calculator, raw: Raw, key: AnswerKey, official: str, ours: Outcome) -> Cause:
    """The most specific cause found, else a plain statement of the gap (then not trusted)."""
    found = _due_date_gap(name, raw, official) or _out_of_scale(name, official)
    if found is not None:
        return found
    continuous = isinstance(key, RangeKey) and key.lower != key.upper
    singles = [p for p in _probes(raw, ours, continuous) if _matches(calc, p.raw, key)]
    if singles:
        return _describe(singles, ours)
    pair = _flag_pair(calc, raw, key, ours)
    if pair is not None:
        return pair
    return (
        "no probed change of the entities (a yes/no item flipped, the other sex, another unit, a value "
        "nudged across a cut-off) reproduces the label; the gap is unexplained",
        False,
    )


@dataclass(frozen=True)
class Probe:
    """One change to the entities, what it means, and whether matching it discredits the label."""

    text: str
    raw: Raw
    entity: str
    label_wrong: bool = True


def _probes(raw: Raw, ours: Outcome, continuous: bool) -> Iterator[Probe]:
    """Every single change tried. A unit reading that reproduces a continuous result is strong
    evidence against the label; for a points score it may be a coincidence, so it is not trusted."""
    yield from _flag_probes(raw, ours)
    yield from _sex_probe(raw)
    yield from _unit_probes(raw, ours, continuous)
    yield from _cut_off_probes(raw)


def _describe(found: list[Probe], ours: Outcome) -> Cause:
    """One matching probe is the cause; several are reported as alternatives (noted entities first)."""
    noted = [p for p in found if any(repr(p.entity) in note or p.entity in note for note in ours.notes)]
    chosen = noted if len(noted) == 1 else found
    trusted = all(p.label_wrong for p in chosen) and not ours.notes
    if len(chosen) == 1:
        return chosen[0].text, trusted
    return "each of these single changes reproduces the label: " + " | ".join(p.text for p in chosen), trusted


def _due_date_gap(name: str, raw: Raw, official: str) -> Cause | None:
    """Naegele with a short cycle: the label adds |cycle - 28| days where it must subtract them."""
    if name != "Estimated Due Date":
        return None
    try:
        lmp = datetime.strptime(str(raw["Last menstrual date"]), "%m/%d/%Y").date()
        cycle = int(str(raw["cycle length"]))
        label = datetime.strptime(official.strip(), "%m/%d/%Y").date()
    except (KeyError, ValueError):
        return None
    if cycle < 28 and label == lmp + timedelta(days=280 + (28 - cycle)):
        return (
            f"due date: cycle gap added instead of subtracted (the instruction text says subtract): "
            f"a {cycle}-day cycle gives LMP + 280 - {28 - cycle} days, the label adds {28 - cycle}",
            True,
        )
    return None


def _out_of_scale(name: str, official: str) -> Cause | None:
    limits = _SCORE_LIMITS.get(name)
    try:
        value = float(official)
    except ValueError:
        return None
    if limits is not None and not limits[0] <= value <= limits[1]:
        return f"the label {official} is outside the score's range {limits[0]:g}-{limits[1]:g}", True
    return None


def _matches(calc: Calculator, raw: Raw, key: AnswerKey) -> bool:
    outcome = recompute(calc, raw, literal=True)
    return outcome.value is not None and agrees(key, outcome.value)


def _flip(raw: Raw, names: tuple[str, ...]) -> dict[str, object]:
    return {**raw, **{n: not bool(raw.get(n, False)) for n in names}}


def _flag_probes(raw: Raw, ours: Outcome) -> Iterator[Probe]:
    for name in sorted(ours.flags):
        yield Probe(_flip_text(name, raw), _flip(raw, (name,)), name)


def _flag_pair(calc: Calculator, raw: Raw, key: AnswerKey, ours: Outcome) -> Cause | None:
    """Two yes/no items read the other way reproduce the label."""
    for pair in itertools.combinations(sorted(ours.flags), 2):
        if _matches(calc, _flip(raw, pair), key):
            return " and ".join(_flip_text(n, raw) for n in pair), not ours.notes
    return None


def _flip_text(name: str, raw: Raw) -> str:
    if raw.get(name) is True:
        return f"the entities give {name!r} = True but the label does not count it"
    given = "False" if name in raw else "absent"
    return f"the label counts {name!r}, which the entities give as {given}"


def _sex_probe(raw: Raw) -> Iterator[Probe]:
    sex = str(raw.get("sex", "")).lower()
    if sex in ("male", "female"):
        other = "female" if sex == "male" else "male"
        text = f"the label is computed for a {other} patient; the entities say {sex}"
        yield Probe(text, {**raw, "sex": other.capitalize()}, "sex")


def _unit_probes(raw: Raw, ours: Outcome, continuous: bool) -> Iterator[Probe]:
    """Each measured value read in each other unit it could be in."""
    for name, units in ours.units.items():
        value = raw.get(name)
        if isinstance(value, list | tuple) and len(value) == 2:
            for unit in units:
                text = f"the label is reproduced by reading {name} {value[0]} {value[1]} as {value[0]} {unit}"
                yield Probe(text, {**raw, name: [value[0], unit]}, name, label_wrong=continuous)


def _numbers(raw: Raw) -> Iterator[tuple[str, float, Callable[[float], object]]]:
    """(entity, value, rebuild) for every numeric entity."""
    for name, value in raw.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            yield name, float(value), _bare
        elif isinstance(value, list | tuple) and len(value) == 2 and isinstance(value[0], int | float):
            yield name, float(value[0]), _with_unit(value[1])


def _bare(x: float) -> object:
    return x


def _with_unit(unit: object) -> Callable[[float], object]:
    return lambda x: [x, unit]


def _cut_off_probes(raw: Raw) -> Iterator[Probe]:
    """A value on a cut-off, scored as if just below or above it (band edges can be read both ways)."""
    for name, value, rebuild in _numbers(raw):
        for direction, factor in (("below", 1 - 1e-6), ("above", 1 + 1e-6)):
            text = (
                f"cut-off: {name} = {value:g} sits on a band boundary and the label scores it as if it "
                f"were just {direction} it"
            )
            yield Probe(text, {**raw, name: rebuild(value * factor)}, name, label_wrong=False)
