"""Reference solutions for power tasks: small statsmodels programs printing the answer as JSON."""

from __future__ import annotations

from task_store.pack.power_math import PowerParams, PowerTest, Target

_EFFECT: dict[PowerTest, str] = {
    "One-sample t-test": 'es = abs(P["mean"] - P["reference"]) / P["sd"]',
    "Paired t-test": 'es = abs(P["mean_diff"]) / P["sd_diff"]',
    "Two independent samples t-test": (
        'es = abs(P["mean1"] - P["mean2"]) / math.sqrt((P["sd1"] ** 2 + P["sd2"] ** 2) / 2)'
    ),
    "One-way ANOVA": (
        'k = len(P["means"])\ngrand = sum(P["means"]) / k\n'
        'es = math.sqrt(sum((m - grand) ** 2 for m in P["means"]) / k) / P["sd"]'
    ),
    "Chi-square test of independence": (
        'rows = len(P["table"])\njoint = [[p / rows for p in row] for row in P["table"]]\n'
        "cols = [sum(col) for col in zip(*joint)]\n"
        "es = math.sqrt(sum((joint[r][c] - cols[c] / rows) ** 2 / (cols[c] / rows)\n"
        "                   for r in range(rows) for c in range(len(cols))))"
    ),
}
_ALT = 'alt = "two-sided" if P["sides"] == 2 else "larger"\n'
_SOLVE: dict[tuple[PowerTest, Target], str] = {
    ("One-sample t-test", "size"): _ALT
    + (
        'answer = math.ceil(TTestPower().solve_power(effect_size=es, alpha=P["alpha"], power=P["power"], '
        "alternative=alt))"
    ),
    ("One-sample t-test", "power"): _ALT
    + 'answer = float(TTestPower().power(es, P["n"], P["alpha"], alternative=alt))',
    ("Two independent samples t-test", "size"): _ALT
    + (
        'answer = math.ceil(TTestIndPower().solve_power(effect_size=es, alpha=P["alpha"], power=P["power"], '
        "ratio=1.0, alternative=alt))"
    ),
    ("Two independent samples t-test", "power"): _ALT
    + ('answer = float(TTestIndPower().power(es, P["n"], P["alpha"], ratio=1.0, alternative=alt))'),
    ("One-way ANOVA", "size"): (
        "total = FTestAnovaPower().solve_power(\n"
        '    effect_size=es, alpha=P["alpha"], power=P["power"], k_groups=k\n'
        ")\n"
        "answer = math.ceil(total / k)  # per group"
    ),
    (
        "One-way ANOVA",
        "power",
    ): 'answer = float(FTestAnovaPower().power(es, P["n"] * k, P["alpha"], k_groups=k))',
    ("Chi-square test of independence", "size"): (
        "answer = math.ceil(GofChisquarePower().solve_power(\n"
        '    effect_size=es, alpha=P["alpha"], power=P["power"], n_bins=P["df"] + 1\n'
        "))"
    ),
    ("Chi-square test of independence", "power"): (
        'answer = float(GofChisquarePower().power(es, P["n"], P["alpha"], n_bins=P["df"] + 1))'
    ),
}
_SOLVE[("Paired t-test", "size")] = _SOLVE[("One-sample t-test", "size")]
_SOLVE[("Paired t-test", "power")] = _SOLVE[("One-sample t-test", "power")]

_HEADER = """import json
import math

from statsmodels.stats.power import FTestAnovaPower, GofChisquarePower, TTestIndPower, TTestPower

"""


def power_solution(test: PowerTest, target: Target, params: PowerParams) -> str:
    """A program that recomputes the answer with statsmodels and prints it as JSON last."""
    lines = ",\n".join(f"    {name!r}: {value!r}" for name, value in sorted(params.items()))
    return (
        f"{_HEADER}P = {{\n{lines},\n}}\n\n# effect size\n{_EFFECT[test]}\n\n"
        f"# {'sample size, rounded up' if target == 'size' else 'power'}\n{_SOLVE[(test, target)]}\n"
        "print(json.dumps(answer))\n"
    )
