"""Study narratives for multi-group designs: one-way ANOVA and the chi-square test of independence."""

from __future__ import annotations

import random
from dataclasses import dataclass

from task_store.pack.power_math import PowerParams, Target


@dataclass(frozen=True)
class AnovaSetting:
    setting: str
    groups: tuple[str, ...]
    outcome: str
    unit: str
    base: float
    spread: tuple[float, float]
    sd: tuple[float, float]


@dataclass(frozen=True)
class TableSetting:
    setting: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    units: str


ANOVA = (
    AnovaSetting(
        "A rehabilitation study will randomize patients after total knee replacement to {k} "
        "physiotherapy protocols: {groups}.",
        (
            "standard physiotherapy",
            "continuous passive motion",
            "aquatic therapy",
            "home-based tele-rehabilitation",
            "neuromuscular electrical stimulation",
        ),
        "knee flexion at 6 weeks",
        "degrees",
        105.0,
        (3.0, 9.0),
        (10.0, 18.0),
    ),
    AnovaSetting(
        "A cardiology group plans to compare the reduction in LDL cholesterol after 12 weeks across "
        "{k} lipid-lowering regimens: {groups}.",
        (
            "atorvastatin 40 mg",
            "rosuvastatin 20 mg",
            "atorvastatin plus ezetimibe",
            "bempedoic acid",
            "pitavastatin 4 mg",
        ),
        "LDL cholesterol reduction",
        "mg/dL",
        45.0,
        (4.0, 14.0),
        (15.0, 28.0),
    ),
    AnovaSetting(
        "An anaesthesia study will compare pain 24 hours after abdominal surgery among {k} analgesic "
        "strategies: {groups}.",
        (
            "patient-controlled morphine",
            "epidural analgesia",
            "transversus abdominis plane block",
            "intravenous lidocaine infusion",
            "oral multimodal analgesia",
        ),
        "pain score on a 0-100 mm visual analogue scale",
        "mm",
        38.0,
        (3.0, 10.0),
        (14.0, 24.0),
    ),
)
TABLES = (
    TableSetting(
        "An occupational health physician plans a survey of hospital employees to assess whether "
        "smoking status differs between women and men.",
        ("women", "men"),
        ("never smokers", "former smokers", "current smokers"),
        "employees",
    ),
    TableSetting(
        "A vaccine trial will compare the severity of local reactions between two vaccine "
        "formulations, A and B.",
        ("formulation A", "formulation B"),
        ("no reaction", "mild", "moderate", "severe"),
        "participants",
    ),
    TableSetting(
        "An oncology group plans to compare tumour response across three chemotherapy regimens.",
        ("regimen 1", "regimen 2", "regimen 3"),
        ("complete response", "partial response", "no response"),
        "patients",
    ),
    TableSetting(
        "A pain clinic plans to compare depression severity between patients with and without "
        "chronic low back pain.",
        ("patients with chronic pain", "patients without chronic pain"),
        ("no depression", "mild", "moderate", "severe"),
        "patients",
    ),
)


def _join(items: list[str]) -> str:
    return ", ".join(items[:-1]) + f" and {items[-1]}"


def _alpha(rng: random.Random) -> float:
    return rng.choice((0.01, 0.05, 0.05, 0.05, 0.1))


def _goal(rng: random.Random, params: PowerParams) -> str:
    """Draw the target power into `params`; return it as "80% power"."""
    goal = rng.choice((0.8, 0.85, 0.9, 0.95))
    params["power"] = goal
    return f"{round(100 * goal)}% power"


def anova(rng: random.Random, target: Target) -> tuple[PowerParams, str]:
    s = rng.choice(ANOVA)
    k = rng.randint(3, 5)
    groups = rng.sample(s.groups, k)
    spread = rng.uniform(*s.spread)
    means = [round(s.base + rng.uniform(-spread, spread), 1) for _ in range(k)]
    params: PowerParams = {"means": means, "sd": round(rng.uniform(*s.sd), 1), "alpha": _alpha(rng)}
    text = (
        s.setting.format(k=k, groups=_join(groups))
        + f" The investigators assume mean {s.outcome} of "
        + _join([f"{m:g} {s.unit} with {g}" for m, g in zip(means, groups, strict=True)])
        + f", and a common standard deviation of {params['sd']:g} {s.unit}. "
    )
    test = f"the one-way ANOVA F-test at a significance level of {params['alpha']:g}"
    if target == "size":
        return params, text + (
            f"With equal group sizes, how many patients are needed in each group for {test} "
            f"to have {_goal(rng, params)}? Report the number per group, rounded up to a "
            "whole number."
        )
    params["n"] = rng.randint(6, 120)
    return params, text + f"Each group will include {params['n']} patients. What is the power of {test}?"


def _proportions(rng: random.Random, base: list[float]) -> list[float]:
    """One group's category proportions: `base` perturbed, renormalised, 3 decimals summing to 1."""
    raw = [max(0.03, p * rng.uniform(0.5, 1.6)) for p in base]
    total = sum(raw)
    shares = [round(p / total, 3) for p in raw[:-1]]
    return [*shares, round(1 - sum(shares), 3)]


def chi_square(rng: random.Random, target: Target) -> tuple[PowerParams, str]:
    s = rng.choice(TABLES)
    base = [rng.uniform(0.2, 1.0) for _ in s.columns]
    table = [_proportions(rng, base) for _ in s.rows]
    df = (len(s.rows) - 1) * (len(s.columns) - 1)
    params: PowerParams = {"table": table, "df": df, "alpha": _alpha(rng)}
    cats = _join(list(s.columns))
    lines = " ".join(
        f"For {row}, the expected proportions are {_join([f'{p:g}' for p in props])}."
        for row, props in zip(s.rows, table, strict=True)
    )
    text = (
        f"{s.setting} Each {s.units[:-1]} is classified into one of {len(s.columns)} categories ({cats}). "
        f"{lines} The groups will be of equal size. "
    )
    test = f"a chi-square test of independence (df = {df}) at a significance level of {params['alpha']:g}"
    if target == "size":
        return params, text + (
            f"What is the minimum total number of {s.units} needed for {test} to have "
            f"{_goal(rng, params)}? Report the total across all groups, rounded up to a "
            "whole number."
        )
    params["n"] = len(s.rows) * rng.randint(10, 400)
    return (
        params,
        text + f"The study will include {params['n']} {s.units} in total. What is the power of {test}?",
    )
