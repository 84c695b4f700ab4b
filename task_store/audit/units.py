"""Unit conversions for auditing MedCalcBench entities, from physical constants (no medcalc-bench).

Every analyte has one canonical unit (the unit the calculators' formulas use), the factors that
bring other units to it, and a plausible range in the canonical unit. The range is only used to
spot entities whose unit cannot be right (sodium 137 mg/dL is 60 mmol/L): see `entities.Entities`.

Molar masses (g/mol): Na 22.990, Cl 35.453, HCO3 61.017, K 39.098, creatinine 113.12, glucose
180.16, urea nitrogen 2 × 14.007, Ca 40.078, bilirubin 584.66; cholesterol 386.65 and
triglyceride (as triolein) 885.7 give the usual 38.67 and 88.57 mg/dL per mmol/L. Insulin:
1 µIU/mL = 6.00 pmol/L (the WHO/IFCC factor; some laboratories use 6.945).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from medgym.errors import DataError


class UnitError(DataError):
    """A unit the audit does not know for this quantity."""


def norm_unit(unit: str) -> str:
    """A unit string folded for lookup: lower case, no spaces, micro sign unified."""
    text = unit.strip().lower().replace("μ", "µ").replace(" ", "").replace("³", "^3")
    if text.startswith("u") and text[1:2] in ("m", "g", "i", "l"):
        text = "µ" + text[1:]
    return text.replace("mcg", "µg").replace("mcmol", "µmol")


@dataclass(frozen=True)
class Analyte:
    """A measured quantity: canonical unit, conversion factors to it, plausible canonical range."""

    name: str
    unit: str
    factors: MappingProxyType[str, float]
    plausible: tuple[float, float]

    def to_canonical(self, value: float, unit: str) -> float:
        factor = self.factors.get(norm_unit(unit))
        if factor is None:
            raise UnitError(f"unknown unit {unit!r} for {self.name}")
        return value * factor

    def is_plausible(self, value: float) -> bool:
        return self.plausible[0] <= value <= self.plausible[1]


def _monovalent(name: str, molar_mass: float, plausible: tuple[float, float]) -> Analyte:
    factors = {"mmol/l": 1.0, "meq/l": 1.0, "mg/dl": 10 / molar_mass, "mg/l": 1 / molar_mass}
    return Analyte(name, "mmol/L", MappingProxyType(factors), plausible)


def _per_microlitre(name: str, plausible: tuple[float, float]) -> Analyte:
    """Cell counts per µL (= per mm³; medcalc-bench writes mm³ as 'm^3')."""
    thousand = ("10^9/l", "×10^9/l", "x10^9/l", "10^3/µl", "×10^3/µl", "x10^3/µl", "k/µl", "10^3/mm^3")
    factors = {u: 1.0 for u in ("µl", "/µl", "mm^3", "/mm^3", "m^3", "cells/µl", "count/µl")}
    factors.update({norm_unit(u): 1000.0 for u in thousand})
    return Analyte(name, "/µL", MappingProxyType(factors), plausible)


SODIUM: Final = _monovalent("sodium", 22.990, (95.0, 200.0))
CHLORIDE: Final = _monovalent("chloride", 35.453, (50.0, 150.0))
BICARBONATE: Final = _monovalent("bicarbonate", 61.017, (1.0, 60.0))
POTASSIUM: Final = _monovalent("potassium", 39.098, (1.0, 12.0))
CREATININE: Final = Analyte(
    "creatinine", "mg/dL",
    MappingProxyType({"mg/dl": 1.0, "µmol/l": 1 / 88.42, "mmol/l": 1000 / 88.42, "mg/l": 0.1}),
    (0.1, 30.0),
)
URINE_SODIUM: Final = _monovalent("urine sodium", 22.990, (1.0, 500.0))
URINE_CREATININE: Final = Analyte(
    "urine creatinine", "mg/dL", CREATININE.factors, (2.0, 1000.0)
)
GLUCOSE: Final = Analyte(
    "glucose", "mg/dL", MappingProxyType({"mg/dl": 1.0, "mmol/l": 18.016, "mg/l": 0.1, "g/l": 100.0}),
    (10.0, 3000.0),
)
BUN: Final = Analyte("BUN", "mg/dL", MappingProxyType({"mg/dl": 1.0, "mmol/l": 2.8014}), (1.0, 300.0))
CALCIUM: Final = Analyte(
    "calcium", "mg/dL", MappingProxyType({"mg/dl": 1.0, "mmol/l": 4.008, "meq/l": 2.004}), (3.0, 20.0)
)
ALBUMIN: Final = Analyte(
    "albumin", "g/dL", MappingProxyType({"g/dl": 1.0, "g/l": 0.1, "mg/dl": 0.001}), (0.5, 7.0)
)
BILIRUBIN: Final = Analyte(
    "bilirubin", "mg/dL", MappingProxyType({"mg/dl": 1.0, "µmol/l": 1 / 17.104, "mmol/l": 1000 / 17.104}),
    (0.05, 60.0),
)
CHOLESTEROL: Final = Analyte(
    "cholesterol", "mg/dL", MappingProxyType({"mg/dl": 1.0, "mmol/l": 38.67}), (5.0, 1500.0)
)
TRIGLYCERIDES: Final = Analyte(
    "triglycerides", "mg/dL", MappingProxyType({"mg/dl": 1.0, "mmol/l": 88.57}), (5.0, 10000.0)
)
INSULIN: Final = Analyte(
    "insulin", "µIU/mL",
    MappingProxyType({"µiu/ml": 1.0, "miu/l": 1.0, "µu/ml": 1.0, "pmol/l": 1 / 6.0}),
    (0.2, 1000.0),
)
HEMOGLOBIN: Final = Analyte(
    "hemoglobin", "g/dL", MappingProxyType({"g/dl": 1.0, "g/l": 0.1, "mmol/l": 1.611}), (2.0, 25.0)
)
ENZYME: Final = Analyte("aminotransferase", "U/L", MappingProxyType({"u/l": 1.0, "iu/l": 1.0}), (1.0, 20000.0))
PLATELETS: Final = _per_microlitre("platelet count", (1000.0, 3_000_000.0))
WBC: Final = _per_microlitre("white blood cell count", (50.0, 1_000_000.0))
PRESSURE: Final = Analyte(
    "pressure", "mm Hg", MappingProxyType({"mmhg": 1.0, "kpa": 7.50062, "torr": 1.0}), (5.0, 400.0)
)

_WEIGHT_KG = MappingProxyType({"kg": 1.0, "g": 0.001, "lbs": 0.453592, "lb": 0.453592, "pounds": 0.453592,
                               "oz": 0.0283495})
_HEIGHT_CM = MappingProxyType({"cm": 1.0, "m": 100.0, "mm": 0.1, "in": 2.54, "inches": 2.54, "ft": 30.48})
_AGE_YEARS = MappingProxyType({"years": 1.0, "year": 1.0, "months": 1 / 12, "month": 1 / 12,
                               "weeks": 7 / 365.25, "week": 7 / 365.25, "days": 1 / 365.25, "day": 1 / 365.25})


WEIGHT_UNITS: Final = ("kg", "lbs", "g")
HEIGHT_UNITS: Final = ("cm", "m", "in", "ft")


def _lookup(table: MappingProxyType[str, float], value: float, unit: str, what: str) -> float:
    factor = table.get(norm_unit(unit))
    if factor is None:
        raise UnitError(f"unknown {what} unit {unit!r}")
    return value * factor


def kilograms(value: float, unit: str) -> float:
    return _lookup(_WEIGHT_KG, value, unit, "weight")


def centimetres(value: float, unit: str) -> float:
    return _lookup(_HEIGHT_CM, value, unit, "height")


def years(value: float, unit: str) -> float:
    return _lookup(_AGE_YEARS, value, unit, "age")


def celsius(value: float, unit: str) -> float:
    """Degrees Celsius from a Celsius or Fahrenheit reading (medcalc spells these many ways)."""
    text = norm_unit(unit)
    if "fahr" in text or text in ("°f", "f", "degf"):
        return (value - 32) * 5 / 9
    if "cel" in text or text in ("°c", "c", "degc"):
        return value
    raise UnitError(f"unknown temperature unit {unit!r}")


def milliseconds(value: float, unit: str) -> float:
    text = norm_unit(unit)
    if text in ("msec", "ms", "milliseconds"):
        return value
    if text in ("s", "sec", "seconds"):
        return value * 1000
    raise UnitError(f"unknown interval unit {unit!r}")


def milligrams(value: float, unit: str) -> float:
    return _lookup(MappingProxyType({"mg": 1.0, "g": 1000.0, "µg": 0.001}), value, unit, "dose")
