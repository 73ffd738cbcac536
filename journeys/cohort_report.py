"""A cohort comparison as `journeys compare` prints it: JSON for scripts, plain text for a reader.

Only what `cohorts.compare_cohorts` published: counts as the suppressed table shows them ("c" where
hidden), shares and bounds rounded to 3 decimals and null where a count is hidden.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from journeys.chance import ChanceTest
from journeys.cohorts import NOT_FOLLOWED_LABEL, CohortComparison

_SHARE_COLUMNS = ["share", "lower", "upper"]


def _number(value: Any) -> float | None:
    """A share or bound as published: 3 decimals, None where hidden."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 3)


def _test(test: ChanceTest | None) -> dict[str, object] | None:
    if test is None:
        return None
    return {"method": test.method, "statistic": round(test.statistic, 3), "df": test.df, "p_value": test.p_text()}


def comparison_json(c: CohortComparison) -> dict[str, Any]:
    """The comparison as one JSON-ready dict (the layout is documented in README's `journeys compare`)."""
    labels = [cohort.label for cohort in c.cohorts]
    shown = c.table.display()
    states = []
    for _, row in c.shares.iterrows():
        entry: dict[str, Any] = {"state": row["state"], "label": row["label"]}
        for key, label in zip(("a", "b"), labels):
            entry[label] = {"count": shown.loc[label, row["state"]],
                            **{name: _number(row[f"{name}_{key}"]) for name in _SHARE_COLUMNS}}
        entry["difference"] = {"value": _number(row["difference"]), "lower": _number(row["difference_lower"]),
                               "upper": _number(row["difference_upper"])}
        states.append(entry)
    not_followed = c.not_followed.display()
    survival = c.survival.assign(survival=[_number(v) for v in c.survival["survival"]])
    return {
        "cohorts": [{"label": cohort.label, "first": cohort.first.isoformat(), "last": cohort.last.isoformat()}
                    for cohort in c.cohorts],
        "horizon_months": c.horizon_months,
        "followed_until": c.followed_until.isoformat(),
        "threshold": c.table.threshold,
        "followed_up": {label: shown.loc[label, "Total"] for label in labels},
        "not_followed_up": {label: not_followed.loc[label].iloc[0] for label in labels},
        "states": states,
        "test": _test(c.test),
        "pooled_in_test": list(c.pooled),
        "time_in_stage": {
            "stage": c.stage or "the whole journey",
            "median_weeks": {row["cohort"]: _number(row["median_weeks"]) for _, row in c.medians.iterrows()},
            "still_in_stage_by_month": survival.to_dict("records"),
            "test": _test(c.survival_test),
        },
    }


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}%"


def comparison_text(c: CohortComparison, stage_labels: dict[str, str] | None = None) -> str:
    """The comparison for a reader: the two cohorts, where they are after the horizon, the test, time in stage."""
    data = comparison_json(c)
    stage_labels = stage_labels or {}
    a, b = (cohort.label for cohort in c.cohorts)
    lines = [f"{cohort['label']}: children whose journey started {cohort['first']} to {cohort['last']}"
             for cohort in data["cohorts"]]
    lines += ["", f"Where they were {c.horizon_months} months after the start (journeys followed that long; the "
              f"data runs to {c.followed_until}):"]
    rows = [[s["label"], s[a]["count"], _percent(s[a]["share"]), s[b]["count"], _percent(s[b]["share"]),
             _difference(s["difference"])] for s in data["states"]]
    rows.append(["Total", data["followed_up"][a], "", data["followed_up"][b], "", ""])
    rows.append([NOT_FOLLOWED_LABEL, data["not_followed_up"][a], "", data["not_followed_up"][b], "", ""])
    frame = pd.DataFrame(rows, columns=["", a, "%", b, "% ", f"{b} - {a} (95% interval)"])
    lines += [frame.to_string(index=False), "", "c: 1 to 5 children, or hidden so that such a count cannot be "
              "worked out; shares only where their counts are shown."]
    lines += ["", _test_text(c.test, "Bigger than chance?")]
    if c.pooled:
        lines.append(f"  (the test pools the states the table hides: {', '.join(c.pooled)})")
    stay = data["time_in_stage"]
    medians = ", ".join(f"{k} {'-' if v is None else f'{v:.0f} weeks'}"
                        for k, v in stay["median_weeks"].items())
    where = "the whole journey" if c.stage is None else stage_labels.get(c.stage, c.stage)
    lines += ["", f"Time in {where}: median {medians}"]
    lines.append(_test_text(c.survival_test, "Do they stay for different times?"))
    return "\n".join(lines) + "\n"


def _difference(d: dict[str, Any]) -> str:
    if d["value"] is None:
        return "-"
    return f"{100 * d['value']:+.1f} ({100 * d['lower']:+.1f} to {100 * d['upper']:+.1f})"


def _test_text(test: ChanceTest | None, question: str) -> str:
    if test is None:
        return f"{question} not tested: too few children, or the counts it needs are hidden."
    return f"{question} {test.method}: statistic {test.statistic:.2f} on {test.df} df, p = {test.p_text()}."
