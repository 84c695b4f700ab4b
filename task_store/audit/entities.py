"""MedCalcBench "Relevant Entities": parsing and typed, unit-aware access.

The field is a Python literal (single quotes, `True`/`False`), e.g.
`{'sex': 'Male', 'weight': [72.0, 'kg'], 'Hypertension history': True, 'cycle length': 28}`.
Measurements are `[value, unit]`; yes/no items are booleans (an absent item counts as "no", as in
MedCalcBench); scores like INR, pH or GCS are bare numbers; categorical items are strings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from medgym import pyast
from medgym.errors import DataError
from task_store.audit.units import (
    HEIGHT_UNITS,
    WEIGHT_UNITS,
    Analyte,
    UnitError,
    celsius,
    centimetres,
    kilograms,
    norm_unit,
    years,
)


class EntityError(DataError):
    """An entity the audit needs is missing, malformed or implausible; the message says which."""


def parse_entities(raw: object) -> dict[str, object]:
    """The entities of a record as a dict (the field is a Python literal, or already a dict)."""
    if isinstance(raw, Mapping):
        return {str(k): v for k, v in raw.items()}
    if not isinstance(raw, str):
        raise EntityError(f"Relevant Entities is a {type(raw).__name__}, not a dict")
    try:
        value = pyast.literal_eval(raw)
    except (ValueError, SyntaxError) as exc:
        raise EntityError(f"Relevant Entities is not a Python literal: {exc}") from exc
    if not isinstance(value, dict):
        raise EntityError("Relevant Entities is not a dict")
    return {str(k): v for k, v in value.items()}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Entities:
    """Read access to one record's entities.

    With `literal=False`, a measurement whose stated unit puts it outside its plausible range is
    re-read in the one other unit that makes it plausible (noted in `notes`); with `literal=True`
    every value is taken as written, as the upstream label generator did.
    """

    def __init__(self, raw: Mapping[str, object], *, literal: bool) -> None:
        self._raw = raw
        self.literal = literal
        self.notes: list[str] = []
        self.flags_read: set[str] = set()
        self.units_read: dict[str, tuple[str, ...]] = {}

    def keys(self) -> list[str]:
        return list(self._raw)

    def has(self, *names: str) -> bool:
        return any(name in self._raw for name in names)

    def assume(self, note: str) -> None:
        """Record a reading the entities do not settle (the recomputed value is then not trusted)."""
        self.notes.append(note)

    def value(self, *names: str) -> object:
        for name in names:
            if name in self._raw:
                return self._raw[name]
        raise EntityError(f"missing entity {names[0]!r}")

    def flag(self, *names: str) -> bool:
        """A yes/no item; absent means no."""
        self.flags_read.add(next((n for n in names if n in self._raw), names[0]))
        if not self.has(*names):
            return False
        value = self.value(*names)
        if isinstance(value, bool):
            return value
        raise EntityError(f"entity {names[0]!r} is not true/false: {value!r}")

    def text(self, *names: str) -> str:
        value = self.value(*names)
        if not isinstance(value, str):
            raise EntityError(f"entity {names[0]!r} is not text: {value!r}")
        return value.strip()

    def number(self, *names: str) -> float:
        """A bare number (INR, pH, GCS, a count), or the value of a `[value, unit]` pair."""
        value = self.value(*names)
        if isinstance(value, list | tuple) and value and _is_number(value[0]):
            value = value[0]
        if not _is_number(value):
            raise EntityError(f"entity {names[0]!r} is not a number: {value!r}")
        return float(value)  # type: ignore[arg-type]

    def quantity(self, *names: str) -> tuple[float, str]:
        value = self.value(*names)
        if isinstance(value, list | tuple) and len(value) == 2 and _is_number(value[0]) and isinstance(
            value[1], str
        ):
            return float(value[0]), value[1]
        raise EntityError(f"entity {names[0]!r} is not [value, unit]: {value!r}")

    def converted(
        self, convert: Callable[[float, str], float], *names: str, units: tuple[str, ...] = ()
    ) -> float:
        """A `[value, unit]` entity through a unit converter; unknown units are entity errors.

        `units` are the other units the entity could be in (tried when looking for a cause).
        """
        number, unit = self.quantity(*names)
        self._note_units(names, units)
        try:
            return convert(number, unit)
        except UnitError as exc:
            raise EntityError(f"entity {names[0]!r}: {exc}") from exc

    def _note_units(self, names: tuple[str, ...], units: tuple[str, ...]) -> None:
        present = next((n for n in names if n in self._raw), None)
        if present is not None and units:
            self.units_read[present] = units

    def kg(self, *names: str) -> float:
        return self.converted(kilograms, *(names or ("weight",)), units=WEIGHT_UNITS)

    def cm(self, *names: str) -> float:
        return self.converted(centimetres, *(names or ("height",)), units=HEIGHT_UNITS)

    def celsius(self, *names: str) -> float:
        return self.converted(celsius, *(names or ("Temperature",)))

    def age(self) -> float:
        """Age in years (months, weeks and days are converted)."""
        return self.converted(years, "age")

    def sex(self) -> str:
        text = self.text("sex").lower()
        if text in ("male", "m", "man"):
            return "Male"
        if text in ("female", "f", "woman"):
            return "Female"
        raise EntityError(f"entity 'sex' is neither male nor female: {text!r}")

    def measure(self, analyte: Analyte, *names: str) -> float:
        """A laboratory value in the analyte's canonical unit, checked for plausibility."""
        number, unit = self.quantity(*names)
        distinct = {factor: unit for unit, factor in reversed(list(analyte.factors.items()))}
        self._note_units(names, tuple(distinct.values()))
        try:
            value = analyte.to_canonical(number, unit)
        except UnitError as exc:
            raise EntityError(f"entity {names[0]!r}: {exc}") from exc
        if self.literal or analyte.is_plausible(value):
            return value
        return self._reread(analyte, names[0], number, unit, value)

    def _reread(self, analyte: Analyte, name: str, number: float, unit: str, value: float) -> float:
        lo, hi = analyte.plausible
        stated = (
            f"{name} {number:g} {unit} (= {value:.4g} {analyte.unit}, outside the plausible {lo:g}-{hi:g}: "
            "a wrong unit or a mis-extracted value)"
        )
        options = {
            round(number * factor, 9): other
            for other, factor in analyte.factors.items()
            if other != norm_unit(unit) and analyte.is_plausible(number * factor)
        }
        if len(options) != 1:
            raise EntityError(f"implausible entity {stated}")
        (reread, other), = options.items()
        self.notes.append(f"implausible entity {stated}; read as {number:g} {other}")
        return reread
