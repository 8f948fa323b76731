"""Cost-effectiveness against the status quo, from paired replicates.

Replicate *r* of every scenario shares its random numbers (and, with ``params=posterior``, its
parameter draw) with replicate *r* of the reference, so each scenario has one paired difference
per replicate: ``(d_cost, d_effect)``. From these:

- :func:`paired_differences` - the pairs themselves (one point each on the cost-effectiveness
  plane);
- :func:`icer_table` - incremental cost per unit of effect gained (drug-free person-years, QALYs,
  deaths averted), the ratio of the mean differences, with a 90% interval from a bootstrap over
  pairs; a scenario that costs strictly less and gains more on average is *dominant*, one that
  costs strictly more and gains less *dominated* (an equal cost is "same cost, ..."), and when the
  effect's own 90% interval spans zero the ratio is not reported as a finding. Then one row per
  willingness-to-pay threshold per QALY (``effect`` = ``net monetary benefit``, ``wtp`` = low /
  central / high, ``wtp_vnd``): the incremental net monetary benefit ``NMB = wtp_vnd *
  d_qalys_disc - d_cost`` per pair, its mean and 90% interval over pairs (``nmb_mean``,
  ``nmb_q05``, ``nmb_q95``) and the share of pairs with NMB > 0 (``p_nmb_positive``). The
  thresholds are the runs' own ``wtp_<t>_vnd`` results (``params.costs``: multiples of Viet Nam's
  GDP per capita);
- :func:`acceptability` - the cost-effectiveness acceptability curve: at each willingness to pay
  ``w`` per unit of effect (per QALY, and per drug-free person-year), the share of pairs with
  positive net monetary benefit ``w * d_effect - d_cost``.

The cost is ``cost_total_vnd``, the societal perspective (government plus clients and families).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

COST = "cost_total_vnd"
# effect name -> (metric, sign): a death averted is minus the difference in deaths
EFFECTS = {
    "drug-free person-year": ("drug_free_person_years_disc", 1.0),
    "QALY": ("qalys_disc", 1.0),
    "death averted": ("deaths", -1.0),
}
NMB = "net monetary benefit"  # the effect name of icer_table's net-benefit rows
THRESHOLDS = ("low", "central", "high")  # params.costs.wtp_gdp_multiple_<t>; runs: wtp_<t>_vnd


def thresholds(runs: pd.DataFrame) -> dict[str, float]:
    """The willingness-to-pay thresholds per QALY of the runs (VND of the price year)."""
    out = {}
    for t in THRESHOLDS:
        v = runs.loc[runs["metric"] == f"wtp_{t}_vnd", "value"].to_numpy(float)
        if v.size and np.isfinite(v).any():
            out[t] = float(np.nanmedian(v))
    return out


def wtp_grid(
    runs: pd.DataFrame, reference: str, n: int = 81, effect: str = "drug-free person-year"
) -> np.ndarray:
    """Willingness to pay per unit of ``effect`` (VND) from 0 to four times the largest
    positive ICER of the sweep (at least VND 10 million, at most 1,000 million); per QALY, from
    0 to 1.5 times the highest threshold (:func:`thresholds`), which are on the grid."""
    metric, sign = EFFECTS[effect]
    if effect == "QALY" and (wtp := thresholds(runs)):
        grid = np.linspace(0.0, 1.5 * max(wtp.values()), n)
        return np.union1d(grid, list(wtp.values()))
    pairs = paired_differences(runs, reference, [COST, metric])
    top = 10e6
    if not pairs.empty and f"d_{metric}" in pairs:
        g = pairs.groupby("scenario")[[f"d_{COST}", f"d_{metric}"]].mean()
        ratio = g[f"d_{COST}"] / (sign * g[f"d_{metric}"])
        ok = ratio[(sign * g[f"d_{metric}"] > 0) & (ratio > 0)]
        if len(ok):
            top = float(np.clip(4 * ok.max(), 10e6, 1000e6))
    return np.linspace(0.0, top, n)


def paired_differences(runs: pd.DataFrame, reference: str, metrics: list[str]) -> pd.DataFrame:
    """scenario x replicate: the difference of each metric from ``reference``'s same replicate
    (columns ``d_<metric>``); replicates without a reference run are left out."""
    wide = runs[runs["metric"].isin(metrics)].pivot_table(
        index=["scenario", "replicate"], columns="metric", values="value", aggfunc="first"
    )
    if reference not in wide.index.get_level_values("scenario"):
        return pd.DataFrame()
    ref = wide.xs(reference, level="scenario")
    out = []
    for sc, d in wide.groupby(level="scenario", sort=False):
        if sc == reference:
            continue
        d = d.droplevel("scenario")
        common = d.index.intersection(ref.index)
        diff = (d.loc[common] - ref.loc[common]).add_prefix("d_")
        out.append(diff.assign(scenario=sc).reset_index())
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def _quantiles(x: np.ndarray) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    return float(np.quantile(x, 0.05)), float(np.quantile(x, 0.95))


def classify(d_cost: float, d_effect: float, effect_lo: float, effect_hi: float) -> str:
    """How to read a scenario against the reference (means and the effect's 90% interval)."""
    if not (np.isfinite(d_cost) and np.isfinite(d_effect)):
        return "no data"
    if effect_lo <= 0.0 <= effect_hi:
        return "effect not distinguishable from zero"
    if d_cost == 0:  # e.g. every unit cost 0: neither cheaper nor dearer, so not dominant
        return "same cost, gains effect" if d_effect > 0 else "same cost, loses effect"
    if d_effect > 0 and d_cost < 0:
        return "dominant (saves money, gains effect)"
    if d_effect < 0 and d_cost > 0:
        return "dominated (costs more, loses effect)"
    if d_effect > 0:
        return "costs more, gains effect"
    return "saves money, loses effect"


def icer_table(runs: pd.DataFrame, reference: str, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per scenario and effect: mean paired differences in cost and effect with their
    90% intervals, the ICER (mean d_cost / mean d_effect) with a bootstrap 90% interval over
    pairs, and its reading (:func:`classify`)."""
    metrics = [COST] + [m for m, _ in EFFECTS.values()]
    pairs = paired_differences(runs, reference, metrics)
    wtp = thresholds(runs)
    rows: list[dict[str, Any]] = []
    if pairs.empty or f"d_{COST}" not in pairs:
        return pd.DataFrame(rows)
    rng = np.random.default_rng(seed)
    for sc, d in pairs.groupby("scenario", sort=False):
        dc = d[f"d_{COST}"].to_numpy(float)
        for effect, (metric, sign) in EFFECTS.items():
            if f"d_{metric}" not in d:
                continue
            de = sign * d[f"d_{metric}"].to_numpy(float)
            n = dc.size
            mc, me = float(dc.mean()), float(de.mean())
            idx = rng.integers(0, n, (n_boot, n))
            bc, be = dc[idx].mean(axis=1), de[idx].mean(axis=1)
            c_lo, c_hi = _quantiles(dc) if n > 1 else (mc, mc)
            e_lo, e_hi = _quantiles(de) if n > 1 else (me, me)
            reading = classify(mc, me, e_lo, e_hi)
            finite = reading in ("costs more, gains effect", "saves money, loses effect")
            with np.errstate(divide="ignore", invalid="ignore"):
                icer = mc / me if me != 0 else float("nan")
                lo, hi = _quantiles(bc / be) if finite and n > 1 else (float("nan"),) * 2
            rows.append(
                {
                    "scenario": sc,
                    "effect": effect,
                    "n_pairs": n,
                    "d_cost_mean": mc,
                    "d_cost_q05": c_lo,
                    "d_cost_q95": c_hi,
                    "d_effect_mean": me,
                    "d_effect_q05": e_lo,
                    "d_effect_q95": e_hi,
                    "icer": icer if finite else float("nan"),
                    "icer_q05": lo,
                    "icer_q95": hi,
                    "reading": reading,
                }
            )
        if "d_qalys_disc" not in d:
            continue
        dq = d["d_qalys_disc"].to_numpy(float)
        for t, w in wtp.items():
            nmb = w * dq - dc
            lo, hi = _quantiles(nmb) if nmb.size > 1 else (float(nmb.mean()),) * 2
            p_pos = float(np.mean(nmb > 0))
            rows.append(
                {
                    "scenario": sc,
                    "effect": NMB,
                    "n_pairs": dc.size,
                    "d_cost_mean": float(dc.mean()),
                    "d_cost_q05": _quantiles(dc)[0] if dc.size > 1 else float(dc.mean()),
                    "d_cost_q95": _quantiles(dc)[1] if dc.size > 1 else float(dc.mean()),
                    "d_effect_mean": float(dq.mean()),
                    "d_effect_q05": _quantiles(dq)[0] if dq.size > 1 else float(dq.mean()),
                    "d_effect_q95": _quantiles(dq)[1] if dq.size > 1 else float(dq.mean()),
                    "wtp": t,
                    "wtp_vnd": w,
                    "nmb_mean": float(nmb.mean()),
                    "nmb_q05": lo,
                    "nmb_q95": hi,
                    "p_nmb_positive": p_pos,
                    "reading": _nmb_reading(float(nmb.mean()), lo, hi),
                }
            )
    return pd.DataFrame(rows)


def _nmb_reading(mean: float, lo: float, hi: float) -> str:
    if not np.isfinite(mean):
        return "no data"
    if lo > 0:
        return "cost-effective at this threshold (net benefit > 0 in 90% of pairs)"
    if hi < 0:
        return "not cost-effective at this threshold (net benefit < 0 in 90% of pairs)"
    return "net benefit " + ("positive" if mean > 0 else "negative") + " on average, interval includes 0"


def acceptability(
    runs: pd.DataFrame, reference: str, wtp: np.ndarray | None = None, effect: str | None = None
) -> pd.DataFrame:
    """scenario x effect x willingness to pay: share of paired replicates in which the
    scenario's net monetary benefit ``wtp * d_effect - d_cost`` against ``reference`` is
    positive. ``effect``: one of ``QALY`` and ``drug-free person-year``, or both (``None``);
    ``wtp``: :func:`wtp_grid` of each effect unless given."""
    effects = ["QALY", "drug-free person-year"] if effect is None else [effect]
    out = []
    for eff in effects:
        metric, sign = EFFECTS[eff]
        pairs = paired_differences(runs, reference, [COST, metric])
        if pairs.empty or f"d_{metric}" not in pairs:
            continue
        grid = wtp_grid(runs, reference, effect=eff) if wtp is None else np.asarray(wtp, float)
        for sc, d in pairs.groupby("scenario", sort=False):
            dc = d[f"d_{COST}"].to_numpy(float)[None, :]
            de = sign * d[f"d_{metric}"].to_numpy(float)[None, :]
            nmb = grid[:, None] * de - dc
            out.append(
                pd.DataFrame(
                    {
                        "scenario": sc,
                        "effect": eff,
                        "wtp_vnd": grid,
                        "p_cost_effective": (nmb > 0).mean(axis=1),
                    }
                )
            )
    if not out:
        return pd.DataFrame(columns=["scenario", "effect", "wtp_vnd", "p_cost_effective"])
    return pd.concat(out, ignore_index=True)
