"""Study narratives for the three t-test designs (one-sample, paired, two independent samples)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from task_store.pack.power_math import PowerParams, Target


@dataclass(frozen=True)
class Outcome:
    """A continuous outcome: what is measured, in which unit, and plausible values."""

    setting: str
    outcome: str
    unit: str
    centre: float
    shift: tuple[float, float]
    sd: tuple[float, float]
    places: int
    subjects: str

    def of(self, value: float) -> str:
        """A value with its unit, e.g. "8.4%" or "132 mm Hg"."""
        return f"{value:g}{'' if self.unit == '%' else ' '}{self.unit}"


ONE_SAMPLE = (
    Outcome(
        "A hypertension specialist plans to enroll adults with stage 1 hypertension in an 8-week "
        "low-sodium DASH diet program.",
        "systolic blood pressure",
        "mm Hg",
        132.0,
        (-9.0, -2.0),
        (10.0, 16.0),
        1,
        "participants",
    ),
    Outcome(
        "A diabetes educator plans to evaluate a pharmacist-led self-management program for adults "
        "with poorly controlled type 2 diabetes.",
        "HbA1c",
        "%",
        8.4,
        (-0.9, -0.2),
        (0.9, 1.6),
        2,
        "patients",
    ),
    Outcome(
        "A geriatrician plans to give daily vitamin D3 supplements to nursing-home residents for "
        "three months.",
        "serum 25-hydroxyvitamin D level",
        "ng/mL",
        18.5,
        (1.5, 6.0),
        (5.0, 9.0),
        1,
        "residents",
    ),
    Outcome(
        "A surgical team plans to introduce an enhanced recovery after surgery (ERAS) pathway for "
        "elective colectomy.",
        "postoperative length of stay",
        "days",
        6.2,
        (-1.4, -0.3),
        (1.8, 3.2),
        2,
        "patients",
    ),
    Outcome(
        "A sports medicine physician plans to study recreational runners after a 6-month endurance "
        "training program.",
        "resting heart rate",
        "beats per minute",
        72.0,
        (-6.0, -1.5),
        (7.0, 11.0),
        1,
        "runners",
    ),
)
PAIRED = (
    Outcome(
        "A lipid clinic plans to measure LDL cholesterol in patients with familial hypercholesterolemia "
        "before and after 8 weeks of an added oral PCSK9 inhibitor.",
        "LDL cholesterol",
        "mg/dL",
        0.0,
        (-25.0, -6.0),
        (22.0, 48.0),
        1,
        "patients",
    ),
    Outcome(
        "A physiotherapist plans to record knee pain on a 0-10 visual analogue scale before and after "
        "a 6-week exercise program for knee osteoarthritis.",
        "pain score",
        "points",
        0.0,
        (-1.6, -0.4),
        (1.5, 3.2),
        2,
        "patients",
    ),
    Outcome(
        "A pulmonologist plans to measure FEV1 in adults with asthma before and 15 minutes after a new "
        "inhaled bronchodilator.",
        "FEV1",
        "mL",
        0.0,
        (60.0, 220.0),
        (150.0, 350.0),
        0,
        "patients",
    ),
    Outcome(
        "An obesity clinic plans to weigh adults before and after a 12-week intermittent-fasting program.",
        "body weight",
        "kg",
        0.0,
        (-4.0, -1.0),
        (3.5, 8.0),
        2,
        "participants",
    ),
)
TWO_SAMPLE = (
    Outcome(
        "A randomized trial will compare sacubitril-valsartan (group 1) with enalapril (group 2) in "
        "adults with resistant hypertension.",
        "24-hour ambulatory systolic blood pressure",
        "mm Hg",
        138.0,
        (-8.0, -2.0),
        (9.0, 16.0),
        1,
        "patients",
    ),
    Outcome(
        "A psychiatrist plans a trial comparing internet-delivered cognitive behavioural therapy "
        "(group 1) with usual care (group 2) for moderate depression.",
        "PHQ-9 score at 12 weeks",
        "points",
        12.5,
        (-3.5, -0.8),
        (4.0, 6.5),
        1,
        "patients",
    ),
    Outcome(
        "A dietitian plans to compare a Mediterranean diet (group 1) with a low-fat diet (group 2) "
        "in adults with type 2 diabetes.",
        "fasting blood glucose at 6 months",
        "mg/dL",
        142.0,
        (-15.0, -4.0),
        (18.0, 32.0),
        1,
        "patients",
    ),
    Outcome(
        "An orthopaedic team will randomize older adults with hip fracture to mobilization within "
        "24 hours of surgery (group 1) or standard mobilization (group 2).",
        "hospital length of stay",
        "days",
        9.5,
        (-2.2, -0.5),
        (2.5, 5.0),
        1,
        "patients",
    ),
)


def _alpha(rng: random.Random) -> float:
    return rng.choice((0.01, 0.05, 0.05, 0.05, 0.1))


def _design(
    rng: random.Random, params: PowerParams, target: Target, n_range: tuple[int, int]
) -> tuple[str, str]:
    """Fill alpha, sidedness and power or n into `params`; return (sided text, target sentence part)."""
    params["alpha"], params["sides"] = _alpha(rng), rng.choice((1, 2, 2))
    sided = "two-sided" if params["sides"] == 2 else "one-sided"
    if target == "size":
        goal = rng.choice((0.8, 0.85, 0.9, 0.95))
        params["power"] = goal
        return sided, f"{round(100 * goal)}% power"
    params["n"] = rng.randint(*n_range)
    return sided, ""


def _value(rng: random.Random, bounds: tuple[float, float], places: int) -> float:
    return round(rng.uniform(*bounds), places)


def one_sample(rng: random.Random, target: Target) -> tuple[PowerParams, str]:
    o = rng.choice(ONE_SAMPLE)
    ref = o.centre
    mean, sd = round(ref + rng.uniform(*o.shift), o.places), _value(rng, o.sd, o.places)
    params: PowerParams = {"reference": ref, "mean": mean, "sd": sd}
    sided, power = _design(rng, params, target, (6, 160))
    text = (
        f"{o.setting} In comparable {o.subjects} in general, the mean {o.outcome} is {o.of(ref)}. "
        f"The investigator expects the study sample to have a mean {o.outcome} of {o.of(mean)}, "
        f"with a standard deviation of {o.of(sd)}. "
    )
    test = f"a {sided} one-sample t-test against {o.of(ref)} at a significance level of {params['alpha']:g}"
    if target == "size":
        return params, text + (
            f"How many {o.subjects} must be enrolled for {test} to have {power}? "
            f"Report the total number of {o.subjects}, rounded up to a whole number."
        )
    return params, text + f"The study will enroll {params['n']} {o.subjects}. What is the power of {test}?"


def paired(rng: random.Random, target: Target) -> tuple[PowerParams, str]:
    o = rng.choice(PAIRED)
    diff, sd = _value(rng, o.shift, o.places), _value(rng, o.sd, o.places)
    params: PowerParams = {"mean_diff": diff, "sd_diff": sd}
    sided, power = _design(rng, params, target, (6, 160))
    text = (
        f"{o.setting} Each participant serves as their own control. The mean within-person change in "
        f"{o.outcome} (after minus before) is expected to be {o.of(diff)}, with a standard deviation of "
        f"the changes of {o.of(sd)}. "
    )
    test = f"a {sided} paired t-test at a significance level of {params['alpha']:g}"
    if target == "size":
        return params, text + (
            f"How many {o.subjects} (pairs of measurements) are needed for {test} to have "
            f"{power}? Report the number of {o.subjects}, rounded up to a whole number."
        )
    return params, text + f"{params['n']} {o.subjects} will be measured twice. What is the power of {test}?"


def two_sample(rng: random.Random, target: Target) -> tuple[PowerParams, str]:
    o = rng.choice(TWO_SAMPLE)
    mean2 = round(o.centre * rng.uniform(0.95, 1.05), o.places)
    mean1 = round(mean2 + rng.uniform(*o.shift), o.places)
    sd1 = _value(rng, o.sd, o.places)
    sd2 = sd1 if rng.random() < 0.5 else _value(rng, o.sd, o.places)
    params: PowerParams = {"mean1": mean1, "mean2": mean2, "sd1": sd1, "sd2": sd2}
    sided, power = _design(rng, params, target, (8, 220))
    spread = (
        f"a common standard deviation of {o.of(sd1)}"
        if sd1 == sd2
        else f"standard deviations of {o.of(sd1)} in group 1 and {o.of(sd2)} in group 2"
    )
    text = (
        f"{o.setting} The expected mean {o.outcome} is {o.of(mean1)} in group 1 and "
        f"{o.of(mean2)} in group 2, with {spread}. "
    )
    test = f"a {sided} two independent samples t-test at a significance level of {params['alpha']:g}"
    if target == "size":
        return params, text + (
            f"With equal group sizes, how many {o.subjects} are needed in each group for {test} "
            f"to have {power}? Report the number per group, rounded up to a whole number."
        )
    return params, text + (
        f"The trial will enroll {params['n']} {o.subjects} in each group. What is the power of {test}?"
    )
