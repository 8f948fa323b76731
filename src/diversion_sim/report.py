"""A report planners can read without Python: one HTML page with tables and figures per sweep.

    diversion-sim-report outputs/sweeps/<timestamp>     # -> <sweep>/report/report.html + PNGs

The default job writes it at the end of every sweep (``output.report``). Figures: key results by
scenario with 90% intervals, paired differences against the status quo, relapse-free survival after
release (Kaplan-Meier over all replicates), the service cascade, and people in each state over time.
"""

from __future__ import annotations

import argparse
import html
import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import exit_with
from .metrics import RESULTS
from .plots import finish
from .plots import setup as _setup
from .sweep import REFERENCE, SweepError

LABEL = {r.name: r.label for r in RESULTS}
UNIT = {r.name: r.unit for r in RESULTS}
HEADLINE = [
    "cum_admissions",
    "person_years_detained",
    "cost_total_vnd",
    "relapse_52w_release",
    "relapse_52w_any",
    "share_assessed",
    "share_methadone",
    "share_hiv_test",
    "share_legal",
    "drug_free_weeks_per_person",
    "share_weeks_using_on_methadone",
    "deaths",
    "overdose_deaths_after_exit",
    "coordinator_caseload_ratio",
]
CASCADE = [
    "share_referred",
    "share_assessed",
    "share_methadone",
    "share_recovery",
    "share_hiv_test",
    "share_legal",
    "share_detained",
]
STATES = {
    "n_using": "using",
    "n_abstinent": "abstinent",
    "n_referred": "waiting for coordinator",
    "n_methadone": "on methadone",
    "n_recovery": "recovery support",
    "n_residential": "voluntary residential",
    "n_detained": "detained",
}


def _read(root: Path, name: str) -> pd.DataFrame:
    path = root / name
    if not path.is_file():
        raise SweepError(
            f"{path} is missing: this is not a summarised sweep folder. Run "
            f"diversion-sim-summary {root} first (it rebuilds the tables)."
        )
    try:
        return pd.read_csv(path) if name.endswith(".csv") else pd.read_parquet(path)
    except Exception as exc:  # pyarrow/pandas raise several types for damaged files
        raise SweepError(
            f"cannot read {path}: {exc}. Rebuild it with diversion-sim-summary {root}."
        ) from None


def _order(root: Path, scenarios: list[str]) -> list[str]:
    try:
        planned = list(json.loads((root / "sweep.json").read_text())["expected"])
    except (OSError, ValueError, KeyError, TypeError):
        planned = []
    return [s for s in planned if s in scenarios] + [s for s in scenarios if s not in planned]


def _fmt(v: float, unit: str) -> str:
    if not np.isfinite(v):
        return "n/a"
    if unit == "share":
        return f"{100 * v:.1f}%"
    if unit == "VND":
        return f"{v / 1e9:,.2f} bn"
    return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def _signed(d: float, unit: str) -> str:
    return (
        f"{100 * d:+.1f} pp"
        if unit == "share"
        else f"{d / 1e9:+,.2f} bn"
        if unit == "VND"
        else f"{d:+,.3g}"
        if abs(d) < 1000
        else f"{d:+,.0f}"
    )


def _diff(r: Any, unit: str) -> str:
    """A paired difference with its own 90% interval; one that holds zero says so."""
    if "diff_mean" not in r or not np.isfinite(r["diff_mean"]):
        return "n/a"
    txt = f"{_signed(r['diff_mean'], unit)} [{_signed(r['diff_q05'], unit)}, {_signed(r['diff_q95'], unit)}]"
    if r["diff_q05"] <= 0 <= r["diff_q95"]:
        txt += " <i>(interval includes 0)</i>"
    return txt


def fig_headline(runs: pd.DataFrame, order: list[str], path: Path) -> None:
    plt, sns = _setup()
    metrics = [m for m in HEADLINE if m in set(runs["metric"])]
    ncol = 3
    nrow = int(np.ceil(len(metrics) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(13, 2.9 * nrow), squeeze=False)
    pal = dict(zip(order, sns.color_palette("tab10", len(order))))
    for ax, m in zip(axes.flat, metrics):
        d = runs[runs["metric"] == m]
        g = d.groupby("scenario")["value"]
        mean = g.mean().reindex(order)
        lo, hi = g.quantile(0.05).reindex(order), g.quantile(0.95).reindex(order)
        y = np.arange(len(order))[::-1]
        scale = 100.0 if UNIT[m] == "share" else (1e-9 if UNIT[m] == "VND" else 1.0)
        ax.hlines(y, lo * scale, hi * scale, color=[pal[s] for s in order], lw=4, alpha=0.6)
        ax.scatter(mean * scale, y, color=[pal[s] for s in order], zorder=3, s=25)
        ax.set_yticks(y, order if ax in axes[:, 0] else [""] * len(order), fontsize=8)
        unit = {"share": "%", "VND": "bn VND"}.get(UNIT[m], UNIT[m])
        ax.set_title(f"{LABEL[m]} ({unit})", fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle("Key results by scenario: mean and 90% interval over replicates", y=1.0)
    finish(fig, path, axes=axes, used=len(metrics))


def fig_differences(summary: pd.DataFrame, order: list[str], path: Path) -> bool:
    if REFERENCE not in order or len(order) < 2 or "diff_mean" not in summary:
        return False
    plt, sns = _setup()
    metrics = [
        "cum_admissions",
        "person_years_detained",
        "relapse_52w_any",
        "share_methadone",
        "drug_free_weeks_per_person",
        "deaths",
    ]
    s = summary[summary["metric"].isin(metrics) & (summary["scenario"] != REFERENCE)]
    others = [o for o in order if o != REFERENCE]
    fig, axes = plt.subplots(2, 3, figsize=(13, 6), squeeze=False)
    for ax, m in zip(axes.flat, metrics):
        d = s[s["metric"] == m].set_index("scenario").reindex(others)
        scale = 100.0 if UNIT[m] == "share" else 1.0
        y = np.arange(len(others))[::-1]
        col = sns.color_palette()[0]
        ax.hlines(y, d["diff_q05"] * scale, d["diff_q95"] * scale, color=col, lw=4, alpha=0.6)
        ax.scatter(d["diff_mean"] * scale, y, color=col, zorder=3, s=25)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, others if ax in axes[:, 0] else [""] * len(others), fontsize=8)
        unit = "percentage points" if UNIT[m] == "share" else UNIT[m]
        ax.set_title(f"{LABEL[m]}\n(difference, {unit})", fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"Difference from '{REFERENCE}' on the same random numbers (mean, 90% interval)", y=1.0)
    finish(fig, path)
    return True


def fig_relapse(episodes: pd.DataFrame, order: list[str], path: Path) -> bool:
    """Relapse-free survival after release: one panel per scenario against the status quo
    (grey), Kaplan-Meier with 90% pointwise intervals, all replicates pooled."""
    from .metrics import km_fit

    plt, sns = _setup()
    ep = episodes[episodes["exit_type"].astype(str) == "release"]
    others = [o for o in order if o != REFERENCE and (ep["scenario"] == o).sum() >= 5]
    if ep.empty or not others:
        return False
    ncol = min(4, len(others))
    nrow = int(np.ceil(len(others) / ncol))
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(3.3 * ncol, 2.9 * nrow), squeeze=False, sharex=True, sharey=True
    )
    pal = dict(zip(order, sns.color_palette("tab10", len(order))))
    ref = ep[ep["scenario"] == REFERENCE]
    for ax, sc in zip(axes.flat, others):
        if len(ref) >= 5:
            km = km_fit(ref["weeks"], ref["observed"], label=REFERENCE, alpha=0.10)
            km.plot_survival_function(ax=ax, ci_show=True, color="black", lw=1.0, ls="--")
        d = ep[ep["scenario"] == sc]
        km = km_fit(d["weeks"], d["observed"], label=sc, alpha=0.10)
        km.plot_survival_function(ax=ax, ci_show=True, color=pal[sc], lw=1.6)
        ax.set_title(sc, fontsize=9)
        ax.set_xlim(0, 104)
        ax.set_ylim(0, 1)
        ax.set_xlabel("weeks since release")
        ax.set_ylabel("share not yet relapsed")
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(
        "Relapse-free survival after release from a compulsory centre, each scenario "
        f"against {REFERENCE} (black, dashed): Kaplan-Meier, 90% interval",
        y=1.01,
        fontsize=10,
    )
    finish(fig, path, axes=axes, used=len(others))
    return True


def fig_cascade(runs: pd.DataFrame, order: list[str], path: Path) -> None:
    plt, sns = _setup()
    d = runs[runs["metric"].isin(CASCADE)].copy()
    d["service"] = d["metric"].map(lambda m: textwrap.fill(LABEL[m].replace("Ever ", ""), 18))
    d["percent"] = 100 * d["value"]
    fig, ax = plt.subplots(figsize=(12, 4.8))
    sns.barplot(
        d,
        x="service",
        y="percent",
        hue="scenario",
        hue_order=order,
        errorbar=("pi", 90),
        ax=ax,
        palette="tab10",
        err_kws={"linewidth": 1},
    )
    ax.set_xlabel("")
    ax.set_ylabel("% of registered PWUD, over the run")
    ax.set_title("Service cascade by scenario (mean, 90% interval over replicates)")
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=8, ncol=len(order), loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    finish(fig, path)


def fig_occupancy(weekly: pd.DataFrame, order: list[str], path: Path) -> None:
    plt, sns = _setup()
    cols = [c for c in STATES if c in weekly.columns]
    long = weekly.melt(
        id_vars=["scenario", "replicate", "week"], value_vars=cols, var_name="state", value_name="people"
    )
    long["state"] = long["state"].map(STATES)
    g = long.groupby(["scenario", "state", "week"])["people"]
    agg = pd.DataFrame({"mean": g.mean(), "lo": g.quantile(0.05), "hi": g.quantile(0.95)}).reset_index()
    states = [STATES[c] for c in cols]
    fig, axes = plt.subplots(2, (len(states) + 1) // 2, figsize=(14, 6.2), squeeze=False, sharex=True)
    pal = dict(zip(order, sns.color_palette("tab10", len(order))))
    for ax, st in zip(axes.flat, states):
        for sc in order:
            d = agg[(agg["state"] == st) & (agg["scenario"] == sc)]
            ax.plot(d["week"] / 52, d["mean"], color=pal[sc], lw=1.3, label=sc)
            ax.fill_between(d["week"] / 52, d["lo"], d["hi"], color=pal[sc], alpha=0.12, lw=0)
        ax.set_title(st, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("years")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower right", fontsize=8, ncol=2)
    fig.suptitle("People in each state over time (mean and 90% interval over replicates)", y=1.0)
    finish(fig, path, axes=axes, used=len(states))


FAMILY = [
    "family_weeks_relative_using",
    "family_weeks_relative_detained",
    "family_weeks_relative_treatment",
    "family_strain_mean",
    "cost_client_per_family_vnd",
    "share_tests_family_insists",
    "family_insist_decisions",
    "family_strategies_adopted",
    "family_strategies_given_up",
]


def _families_section(summary: pd.DataFrame, order: list[str]) -> str:
    if "family_strain_mean" not in set(summary["metric"]):
        return ""
    return (
        "<h2>Families</h2><p>Families carry the strain of a relative's drug use and decide: "
        "whether to ask for compulsory admission (the last resort after repeated failed "
        "attempts, seed 000), which strategies to use after a release (close monitoring, "
        "employment, conditional support) and when to give them up. Burden is given in weeks "
        "with the relative using, detained or in treatment, per family over the run; strain "
        "in weeks of recent use (it halves in half a year without use); out-of-pocket costs "
        "are the co-payments of methadone and residential treatment. A decision counts when "
        "it decided the route at a positive test (a dossier, a centre). Definitions and "
        "sources: docs/ODD.md (Family).</p>" + _table(summary, order, FAMILY)
    )


def _cells(summary: pd.DataFrame, metric: str, order: list[str], unit: str) -> str:
    """One table row's cells: per scenario the mean, its 90% interval and the paired difference
    from the status quo with its own interval."""
    cells = []
    for sc in order:
        r = summary[(summary["metric"] == metric) & (summary["scenario"] == sc)]
        if r.empty:
            cells.append("<td></td>")
            continue
        r = r.iloc[0]
        txt = f"{_fmt(r['mean'], unit)}<br><small>[{_fmt(r['q05'], unit)}, {_fmt(r['q95'], unit)}]</small>"
        if sc != REFERENCE:
            txt += f"<br><small>vs {REFERENCE}: {_diff(r, unit)}</small>"
        cells.append(f"<td>{txt}</td>")
    return "".join(cells)


def _table(summary: pd.DataFrame, order: list[str], metrics: list[str] | None = None) -> str:
    metrics = HEADLINE if metrics is None else metrics
    s = summary[summary["metric"].isin(metrics)].copy()
    rows = []
    for m in [m for m in metrics if m in set(s["metric"])]:
        rows.append(f"<tr><th>{html.escape(LABEL[m])}</th>{_cells(s, m, order, UNIT[m])}</tr>")
    head = "".join(f"<th>{html.escape(o)}</th>" for o in order)
    return f"<table><tr><th>result</th>{head}</tr>{''.join(rows)}</table>"


def _cost_info(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """Price year, exchange rate and discount rate of the page's runs (their meta.json)."""
    return _run_info(metas).get("costs") or {}


def fig_ce_plane(runs: pd.DataFrame, order: list[str], path: Path) -> bool:
    """Cost-effectiveness plane: one point per paired replicate and scenario, in QALYs (left,
    with the willingness-to-pay lines) and in drug-free person-years (right)."""
    from .economics import COST, EFFECTS, paired_differences, thresholds

    panels = [e for e in ("QALY", "drug-free person-year") if EFFECTS[e][0] in set(runs["metric"])]
    pairs = paired_differences(runs, REFERENCE, [COST] + [EFFECTS[e][0] for e in panels])
    if pairs.empty or not panels:
        return False
    plt, sns = _setup()
    pal = dict(zip(order, sns.color_palette("tab10", len(order))))
    fig, axes = plt.subplots(1, len(panels), figsize=(7.5 * len(panels), 5.5), squeeze=False)
    wtp = thresholds(runs)
    for ax, effect in zip(axes[0], panels):
        metric, _ = EFFECTS[effect]
        for sc in [o for o in order if o != REFERENCE]:
            d = pairs[pairs["scenario"] == sc]
            ax.scatter(d[f"d_{metric}"], d[f"d_{COST}"] / 1e9, s=16, alpha=0.7, color=pal[sc], label=sc)
            ax.scatter(
                d[f"d_{metric}"].mean(),
                d[f"d_{COST}"].mean() / 1e9,
                s=90,
                marker="X",
                color=pal[sc],
                edgecolor="black",
                linewidth=0.6,
                zorder=3,
            )
        ax.axhline(0, color="black", lw=0.8)
        ax.axvline(0, color="black", lw=0.8)
        if effect == "QALY" and wtp:
            x = np.array(ax.get_xlim())
            for (t, w), ls in zip(wtp.items(), (":", "--", "-.")):
                ax.plot(
                    x, w * x / 1e9, color="grey", lw=0.9, ls=ls, label=f"WTP {w / 1e6:,.0f} M VND/QALY ({t})"
                )
            ax.set_xlim(*x)
        ax.set_xlabel(f"{effect}s gained vs {REFERENCE} (discounted)")
        ax.set_ylabel(f"extra cost vs {REFERENCE} (bn VND, discounted)")
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(
        "Cost-effectiveness plane: one dot per paired replicate, X = mean (right of 0: more QALYs or "
        "drug-free years; below 0: cheaper;\nbelow a willingness-to-pay line: positive net benefit "
        "at that threshold)",
        fontsize=10,
    )
    finish(fig, path)
    return True


def fig_ceac(
    accept: pd.DataFrame, order: list[str], path: Path, vnd_per_usd: float, wtp: dict | None = None
) -> bool:
    """Acceptability: share of paired replicates with positive net monetary benefit per QALY
    (drug-free person-year when the runs have no QALYs), thresholds ``wtp`` marked."""
    if accept.empty:
        return False
    effect = (
        "QALY" if "effect" not in accept or (accept["effect"] == "QALY").any() else "drug-free person-year"
    )
    if "effect" in accept:
        accept = accept[accept["effect"] == effect]
    plt, sns = _setup()
    pal = dict(zip(order, sns.color_palette("tab10", len(order))))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for sc in [o for o in order if o != REFERENCE]:
        d = accept[accept["scenario"] == sc]
        ax.plot(d["wtp_vnd"] / 1e6, d["p_cost_effective"], color=pal[sc], lw=1.6, label=sc)
    for t, w in (wtp or {}).items() if effect == "QALY" else ():
        ax.axvline(w / 1e6, color="grey", lw=0.8, ls="--")
        ax.text(w / 1e6, 1.0, f" {t}", fontsize=7, color="grey", va="top")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"willingness to pay per {effect} (million VND)")
    ax.set_ylabel(f"share of replicates cost-effective vs {REFERENCE}")
    if vnd_per_usd:
        sec = ax.secondary_xaxis(
            "top", functions=(lambda x: x * 1e6 / vnd_per_usd, lambda x: x * vnd_per_usd / 1e6)
        )
        sec.set_xlabel(f"US$ per {effect}")
    ax.legend(fontsize=8, loc="center right")
    fig.suptitle(
        "Cost-effectiveness acceptability: share of paired replicates in which the "
        "scenario's net monetary benefit is positive",
        fontsize=10,
        y=1.02,
    )
    finish(fig, path)
    return True


def _inputs_table(metas: list[dict[str, Any]]) -> str:
    """The costing and outcome inputs (params.costs, params.outcomes): the value the runs used
    (their own configuration) and whether each is sourced or an assumption (the source text of
    configs/params/default.yaml, as docs/parameters.md)."""
    from .config import config_dir
    from .docs import table

    rows = []
    for key, value, _, source in table(config_dir() / "params" / "default.yaml"):
        short = key.removeprefix("costs.").removeprefix("outcomes.")
        if not key.startswith(("costs.", "outcomes.")) or short.startswith(("cpi_", "vnd_per_usd_")):
            continue
        if key.endswith((".currency", ".year")):
            continue
        kind = "assumption" if "assumption" in source.lower() else "sourced"
        ran = _lookup(_run_info(metas).get("config") or {}, "params." + key)
        value = value if ran is _MISSING else ran if isinstance(ran, str) else json.dumps(ran)
        text = html.escape(source.replace(chr(92) + "|", "|"))
        rows.append(
            f"<tr><th>{html.escape(short)}</th><td>{html.escape(value)}</td><td>{kind}</td>"
            f"<td style='text-align:left'><small>{text}</small></td></tr>"
        )
    return (
        "<details><summary>Costing and outcome inputs as these runs used them: sourced or "
        "assumption</summary><div class='wide'><table><tr><th>key</th><th>value</th>"
        f"<th>basis</th><th>source</th></tr>{''.join(rows)}</table></div></details>"
    )


def _costs_section(
    metas: list[dict[str, Any]], runs: pd.DataFrame, summary: pd.DataFrame, order: list[str], out: Path
) -> str:
    """Costs by component, payer and perspective, QALYs, the ICERs, net monetary benefit at the
    willingness-to-pay thresholds and the two figures; empty without costs."""
    from .economics import NMB, acceptability, icer_table, thresholds
    from .processes.costs import COMPONENTS, LABELS, UNITS

    if "cost_total_vnd" not in set(runs["metric"]):
        return ""
    info = _cost_info(metas)
    year, rate, fx = info.get("price_year", "?"), info.get("rate_discount"), info.get("vnd_per_usd")
    disc = f"discounted at {100 * rate:.0f}% a year from week 0" if rate is not None else "discounted"
    wtp = thresholds(runs)
    rows = [(f"cost_{c}_vnd", f"{LABELS[c]} <small>(priced per {UNITS[c]})</small>") for c in COMPONENTS]
    rows += [
        ("cost_government_vnd", "<b>Government</b> perspective"),
        ("cost_client_vnd", "<b>Clients and families</b> perspective (out of pocket)"),
        ("cost_societal_vnd", "<b>Societal</b> perspective (government + clients and families)"),
        ("cost_per_person_vnd", "Societal cost per person"),
    ]
    body = []
    for metric, label in rows:
        if metric in set(summary["metric"]):
            body.append(f"<tr><th>{label}</th>{_cells(summary, metric, order, 'VND')}</tr>")
    for metric, label in (
        ("qalys_disc", "QALYs (discounted)"),
        ("drug_free_person_years_disc", "Drug-free person-years (discounted)"),
    ):
        if metric in set(summary["metric"]):
            body.append(f"<tr><th>{label}</th>{_cells(summary, metric, order, '')}</tr>")
    head = "".join(f"<th>{html.escape(o)}</th>" for o in order)
    econ = icer_table(runs, REFERENCE)
    erows, nrows = [], []
    for r in econ.itertuples():
        if r.effect == NMB:
            nrows.append(
                f"<tr><th>{html.escape(r.scenario)}</th><td>{r.wtp}: {r.wtp_vnd / 1e6:,.1f} million VND"
                + (f" <small>(US$ {r.wtp_vnd / fx:,.0f})</small>" if fx else "")
                + f"</td><td>{r.nmb_mean / 1e9:+,.2f} [{r.nmb_q05 / 1e9:+,.2f}, "
                f"{r.nmb_q95 / 1e9:+,.2f}] bn VND</td><td>{100 * r.p_nmb_positive:.0f}%</td>"
                f"<td style='text-align:left'>{html.escape(r.reading)}</td></tr>"
            )
            continue
        unit = "bn VND"
        icer = (
            f"{r.icer / 1e6:,.1f} million VND [{r.icer_q05 / 1e6:,.1f}, {r.icer_q95 / 1e6:,.1f}]"
            + (f"<br><small>US$ {r.icer / fx:,.0f}</small>" if fx else "")
            if np.isfinite(r.icer)
            else "&mdash;"
        )
        erows.append(
            f"<tr><th>{html.escape(r.scenario)}</th><td>{html.escape(r.effect)}</td>"
            f"<td>{r.d_cost_mean / 1e9:+,.2f} [{r.d_cost_q05 / 1e9:+,.2f}, "
            f"{r.d_cost_q95 / 1e9:+,.2f}] {unit}</td>"
            f"<td>{r.d_effect_mean:+,.2f} [{r.d_effect_q05:+,.2f}, {r.d_effect_q95:+,.2f}]</td>"
            f"<td>{icer}</td><td style='text-align:left'>{html.escape(r.reading)}</td></tr>"
        )
    figs = ""
    if fig_ce_plane(runs, order, out / "ce_plane.png"):
        figs += "<img src='ce_plane.png' alt='Cost-effectiveness plane'>"
    if fig_ceac(acceptability(runs, REFERENCE), order, out / "ceac.png", fx or 0.0, wtp):
        figs += "<img src='ceac.png' alt='Cost-effectiveness acceptability curve'>"
    shown = ", ".join(f"{w / 1e6:,.1f} million ({t})" for t, w in wtp.items())
    nmb = (
        "<h3>Net monetary benefit against the status quo</h3><p>Incremental net monetary benefit "
        "NMB = willingness to pay x QALYs gained - extra cost, per paired replicate (mean, 90% "
        f"interval), at the thresholds VND {shown} per QALY: multiples of Viet Nam's GDP per capita "
        "(<code>params.costs.wtp_gdp_multiple_*</code> x <code>gdp_per_capita</code>; by default 0.5x, "
        "1x and 3x of VND 101.9 million, GSO 2023; WHO-CHOICE uses 1-3x, estimates from health "
        "opportunity cost are lower). A positive NMB means the scenario is worth its cost at that "
        "threshold.</p><table><tr><th>scenario</th><th>willingness to pay per QALY</th><th>net "
        "monetary benefit</th><th>pairs with NMB &gt; 0</th><th>reading</th></tr>"
        f"{''.join(nrows)}</table>"
        if nrows
        else ""
    )
    return (
        f"<h2>Costs and cost-effectiveness</h2><p><b>Perspective</b>: societal, the sum of the "
        "government's costs (state budget: centres, the dossier and decision process, the programme's "
        "staff, its share of treatment) and those of clients and families (co-payments, fees, what "
        "families pay for a detained relative); each perspective is shown apart. Productivity and "
        f"time costs are not counted. <b>Prices</b>: VND of {year} (bn = thousand million), {disc}; "
        f"US$ at {fx:,.0f} VND per US$. <b>Health effects</b>: QALYs (each person-week weighted by "
        "the health utility of its state) and drug-free person-years (weeks not using, in any state; "
        "a week in a centre is drug-free with probability 1 - params.outcomes.p_use_detained), "
        "discounted at the same rate; deaths undiscounted. Each input, its source, currency and "
        "price year is in docs/parameters.md (<code>params.costs</code>, <code>params.outcomes</code>) "
        "and below; those marked <i>assumption</i> have no direct source.</p>"
        f"<table><tr><th>component</th>{head}</tr>{''.join(body)}</table>{_inputs_table(metas)}"
        "<h3>Incremental cost-effectiveness against the status quo</h3>"
        "<p>Differences are paired replicate by replicate (mean, 90% interval). Effects: "
        "QALYs and drug-free person-years gained (discounted) and deaths averted. The ICER is the "
        "ratio of the mean differences with a bootstrap 90% interval over replicate pairs; a "
        "scenario that costs less and gains more is <i>dominant</i>, and an effect whose interval "
        "includes 0 gives no ICER.</p><table><tr><th>scenario</th><th>effect</th><th>extra cost</th>"
        "<th>effect gained</th><th>cost per unit gained</th><th>reading</th></tr>"
        f"{''.join(erows)}</table>{nmb}{figs}"
    )


def _fit_section(root: Path, episodes: pd.DataFrame, out: Path) -> str:
    """The calibration fit on the sweep's own runs: relapse after each kind of exit and methadone
    retention, per replicate (90% band), against every published point fitted or checked."""
    from types import SimpleNamespace

    from . import calibration as cal
    from . import plots

    spells_path = root / "spells.parquet"
    if not spells_path.is_file() or episodes.empty:
        return ""
    import yaml

    from .config import config_dir

    spells = pd.read_parquet(spells_path)
    targets = yaml.safe_load((config_dir() / "calibration" / "targets.yaml").read_text())
    rows = []
    for r in sorted(set(episodes["replicate"])):
        tables = {
            sc: SimpleNamespace(
                episodes=episodes[(episodes["scenario"] == sc) & (episodes["replicate"] == r)],
                spells=spells[(spells["scenario"] == sc) & (spells["replicate"] == r)],
            )
            for sc in set(episodes["scenario"])
        }
        for name, c in cal.running_curves(tables, targets["cohorts"]).items():
            rows += [
                {"sim": r, "curve": name, "week": int(w), "value": float(v)}
                for w, v in zip(cal.CURVE_WEEKS, c)
            ]
    if not rows:
        return ""
    import warnings

    with warnings.catch_warnings():  # curves past a short horizon are NaN: no band drawn there
        warnings.simplefilter("ignore", RuntimeWarning)
        plots.relapse_curves(
            pd.DataFrame(rows),
            targets,
            out / "fit.png",
            over="this sweep's runs; median and 90% band over replicates",
        )
    return (
        "<h2>Calibration fit on these runs</h2><p>Relapse-free survival by kind of exit and "
        "methadone retention measured on this sweep's own runs (median and 90% band over "
        "replicates), against the published cohorts the model was calibrated to or checked "
        "against (open markers with 95% binomial intervals; sources in docs/references.md). "
        "The pilot cascade fit is in experiments/pilot_replication.py.</p>"
        "<img src='fit.png' alt='Calibration fit'>"
    )


def _status_quo_section(
    root: Path, runs: pd.DataFrame, weekly: pd.DataFrame, out: Path, burn: pd.DataFrame | None = None
) -> str:
    """The status quo against the country (figure and table), from the sweep's own
    ``compulsory`` runs; empty when the sweep has none."""
    from . import calibration as cal
    from . import plots

    if REFERENCE not in set(runs["scenario"]):
        return ""
    w = weekly[weekly["scenario"] == REFERENCE]
    b = burn[burn["scenario"] == REFERENCE] if burn is not None and "scenario" in burn else None
    met = (
        runs[runs["scenario"] == REFERENCE]
        .pivot_table(index="replicate", columns="metric", values="value")
        .reset_index()
    )
    observed = cal.load_observed()
    stocks = cal.status_quo_stocks(w, b)
    table = cal.status_quo_table(stocks, met, observed)
    plots.status_quo(stocks, met, observed, out / "status_quo.png")
    rows = "".join(
        f"<tr><th>{html.escape(r.target)}</th><td>{r.observed:.3g}</td><td>{r.model_mean:.3g}</td>"
        f"<td>[{r.q05:.3g}, {r.q95:.3g}]</td><td>{r.inside}</td><td style='text-align:left'>"
        f"<small>{html.escape(r.source)}</small></td></tr>"
        for r in table.itertuples()
    )
    return (
        "<h2>The status quo against the country</h2><p>Every result above is a difference "
        f"against <b>{REFERENCE}</b>, so it must look like Vietnam. Each run starts from a "
        "burn-in under the status quo (shared by every scenario of a replicate); the table "
        "compares the status quo over its first year with the national figures (shares are "
        "national: the model's districts are compared with the country).</p>"
        "<table><tr><th>what</th><th>observed</th><th>model mean</th><th>90% interval</th>"
        f"<th>inside</th><th>source</th></tr>{rows}</table>"
        "<img src='status_quo.png' alt='The status quo against national figures'>"
        f"{_status_quo_limits(table, observed)}"
    )


def _status_quo_limits(table: pd.DataFrame, observed: dict[str, Any]) -> str:
    """What the status quo does not reproduce, from the observed figures (observed.yaml) and this
    sweep's own model means: the earlier, direction-only points, and the pilot clients' times
    detained (a check, not fitted: targets.yaml ``checks.mean_prior_detentions``)."""
    earlier = "; ".join(
        f"{what} {pt['value']:.2f} around {int(pt['year'])}"
        for key, what in (("share_in_centres", "in centres"), ("share_on_methadone", "on methadone"))
        for pt in observed[key]
        if not pt.get("fitted", True)
    )
    times = table.loc[table["target"] == "times detained, if ever", "model_mean"]
    model_times = f"{float(times.iloc[0]):.2f}" if len(times) and np.isfinite(times.iloc[0]) else "n/a"
    return (
        "<p><b>Limits.</b> The status quo is the regime of the pilot's period held fixed through the "
        f"burn-in, so it does not reproduce the earlier points shown for direction only ({earlier}): the "
        "fall in detention under the 2013 Renovation Plan and the methadone scale-up are not modelled. "
        f"Pilot clients ever detained had been detained {observed['prior_detention']['mean_times']:g} "
        f"times on average (seed 004); the model's, {model_times} times, because in the model a detention "
        "makes the next one more likely (supervision after release, families insisting after failed "
        "attempts). Results that rest on prior detentions (families' insistence) carry this.</p>"
    )


def _check_summary(summary: pd.DataFrame, runs: pd.DataFrame, root: Path) -> None:
    """A summary.csv that does not describe runs.parquet (truncated, edited, from another sweep)
    is refused: the report recomputes the summary from the runs and compares every number."""
    from .sweep import summarise

    rebuild = f"Rebuild it with diversion-sim-summary {root}"
    need = {"scenario", "metric", "n", "mean", "q05", "q95"}
    if not need <= set(summary.columns):
        raise SweepError(
            f"{root / 'summary.csv'} is damaged (columns {sorted(set(summary.columns))}, "
            f"needs {sorted(need)}); {rebuild.lower()}"
        )
    keys = [c for c in runs.columns if c not in ("scenario", "replicate", "metric", "value")]
    have = set(map(tuple, summary[keys + ["scenario", "metric"]].astype(str).to_numpy()))
    want = set(map(tuple, runs[keys + ["scenario", "metric"]].drop_duplicates().astype(str).to_numpy()))
    if have != want:
        raise SweepError(
            f"{root / 'summary.csv'} does not match runs.parquet ({len(want - have)} "
            f"scenario-metric rows missing, {len(have - want)} unknown): it is "
            f"truncated or from another sweep. {rebuild}"
        )
    fresh = summarise(runs)
    on = keys + ["scenario", "metric"]
    both = fresh.astype({k: str for k in on}).merge(
        summary.astype({k: str for k in on}), on=on, suffixes=("", "_file"), how="left"
    )
    for col in [c for c in ("n", "mean", "q05", "q95", "diff_mean", "diff_q05", "diff_q95") if c in fresh]:
        a = pd.to_numeric(both[col], errors="coerce").to_numpy(float)
        b = pd.to_numeric(both.get(f"{col}_file"), errors="coerce").to_numpy(float)
        same = np.isclose(a, b, rtol=1e-9, atol=1e-12) | (np.isnan(a) & np.isnan(b))
        if not same.all():
            row = both[~same].iloc[0]
            raise SweepError(
                f"{root / 'summary.csv'} does not describe runs.parquet: {row['scenario']} "
                f"{row['metric']} {col} is {row[col + '_file']} in the file but {row[col]} from the "
                f"runs (edited, or from another sweep). {rebuild}"
            )


def write_report(root: Path) -> Path:
    """Write ``root/report/report.html`` and its figures; returns the HTML path. A sweep over
    other keys than the scenario gets one report per combination of swept values
    (``report/variant=.../report.html``) and an index page."""
    root = Path(root)
    if not root.is_dir():
        raise SweepError(f"{root} is not a folder; give a sweep folder such as outputs/sweeps/<timestamp>")
    from .manifest import verify

    for name in ("summary.csv", "runs.parquet", "weekly.parquet", "episodes.parquet"):
        _read_check(root, name)
    manifest = verify(root)  # every table is the summary's own, and its runs are still here
    summary, runs = _read(root, "summary.csv"), _read(root, "runs.parquet")
    weekly, episodes = _read(root, "weekly.parquet"), _read(root, "episodes.parquet")
    burn = _read(root, "weekly_burn_in.parquet") if (root / "weekly_burn_in.parquet").is_file() else None
    _check_summary(summary, runs, root)
    keys = [c for c in runs.columns if c not in ("scenario", "replicate", "metric", "value")]
    metas = _metas(root, manifest)
    out = root / "report"
    out.mkdir(exist_ok=True)
    if not keys:
        return _write_one(root, out, summary, runs, weekly, episodes, burn, "", metas)
    from .config import safe_name

    links = []
    for values, part in runs.groupby(keys, sort=True):
        values = values if isinstance(values, tuple) else (values,)
        label = ", ".join(f"{k} = {v}" for k, v in zip(keys, values))

        def sel(df: pd.DataFrame | None, values: tuple = values) -> pd.DataFrame | None:
            if df is None or not set(keys) <= set(df.columns):
                return df
            mask = np.ones(len(df), bool)
            for k, v in zip(keys, values):
                mask &= _same(df[k], v)
            return df[mask].drop(columns=keys)

        sub = out / f"variant={safe_name(label.replace(' ', ''))}"
        sub.mkdir(exist_ok=True)
        mine = [
            m
            for m in metas
            if all(_same(pd.Series([(m.get("variant") or {}).get(k)]), v)[0] for k, v in zip(keys, values))
        ]
        page = _write_one(
            root,
            sub,
            sel(summary),
            part.drop(columns=keys),
            sel(weekly),
            sel(episodes),
            sel(burn),
            label,
            mine,
        )
        links.append(
            f"<li><a href='{html.escape(page.relative_to(out).as_posix())}'>{html.escape(label)}</a></li>"
        )
    index = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>diversion_sim report</title>"
        f"</head><body><h1>Scenario comparison for each combination of swept values</h1>"
        f"<p>Sweep folder <code>{html.escape(str(root))}</code> varies {', '.join(keys)}; each "
        f"report compares the scenarios at one combination, against {REFERENCE} at the same "
        f"values.</p><ul>{''.join(links)}</ul></body></html>"
    )
    return _write_html(out / "report.html", index)


def _write_one(
    root: Path,
    out: Path,
    summary: pd.DataFrame,
    runs: pd.DataFrame,
    weekly: pd.DataFrame,
    episodes: pd.DataFrame,
    burn: pd.DataFrame | None,
    variant: str,
    metas: list[dict[str, Any]],
) -> Path:
    """One report page; ``metas``: the meta.json of this page's runs (their own configuration)."""
    order = _order(root, list(dict.fromkeys(runs["scenario"])))
    figs = [
        ("headline.png", "Key results", fig_headline, (runs, order)),
        ("differences.png", "Differences from the status quo", fig_differences, (summary, order)),
        ("relapse.png", "Relapse after release", fig_relapse, (episodes, order)),
        ("cascade.png", "Service cascade", fig_cascade, (runs, order)),
        ("occupancy.png", "People in each state over time", fig_occupancy, (weekly, order)),
    ]
    sections = [
        _status_quo_section(root, runs, weekly, out, burn),
        _fit_section(root, episodes, out) if not variant else "",
        _costs_section(metas, runs, summary, order, out),
        _families_section(summary, order),
    ]
    for name, title, fn, args in figs:
        if fn(*args, out / name) is not False:
            sections.append(f"<h2>{title}</h2><img src='{name}' alt='{title}'>")
    n_rep = runs.groupby("scenario")["replicate"].nunique()
    reps = (
        f"{int(n_rep.min())}" if n_rep.min() == n_rep.max() else f"{int(n_rep.min())} to {int(n_rep.max())}"
    )
    info = _run_info(metas)
    prov = info.get("provenance") or {}
    swept = f"<li>Swept values of this page: {html.escape(variant)}</li>" if variant else ""
    body = f"""<h1>Police-mediated diversion vs compulsory detention in Viet Nam: scenario comparison</h1>
<section><h2>Executive summary</h2>{_exec_summary(summary, runs, order)}</section>
<section><h2>What was run</h2><ul>
<li>{len(order)} scenarios, {reps} replicates each (independent runs; replicate <i>r</i> of every scenario
shares its random numbers, so differences are paired); horizon {info.get("years", "?")} years after the policy
switch, each run starting from a {info.get("burn_in_years", "?")}-year burn-in under the status quo.</li>
<li>Population: {html.escape(str(info.get("population", "?")))} ({info.get("n_people", 0):,} registered people
who use drugs at the start); seed {info.get("seed", "?")}; parameters:
{html.escape(str(info.get("params_source", "?")))};
diversion_sim {html.escape(str(info.get("version", "?")))}.</li>{swept}
<li>Made by diversion_sim {html.escape(str(prov.get("version", "?")))} (commit
{html.escape(str(prov.get("git_commit") or "unknown"))}{_dirty(prov)}),
Python {html.escape(str(prov.get("python", "?")))}, {html.escape(_packages(prov))}. To reproduce:
<code>{html.escape(str(prov.get("command") or "?"))}</code></li>
<li>Sweep folder <code>{html.escape(str(root))}</code>.</li></ul>
{_scenarios(metas, order)}</section>
<section><h2>Key results</h2><p>Each cell: mean over replicates, the 90% interval of the replicates below it,
and the difference from <b>{REFERENCE}</b> (the status quo), paired replicate by replicate, with its own 90%
interval; a difference whose interval includes 0 is marked and is not a finding. Every interval in this
report is a 90% interval.</p><div class="wide">{_table(summary, order)}</div></section>
{"".join(f"<section>{x}</section>" for x in sections if x)}
<section>{_definitions()}</section>
<section>{_assumptions(order, metas)}</section>
<p><small>Generated by diversion_sim {html.escape(str(info.get("version", "")))}; model description
in docs/ODD.md, every parameter with its source in docs/parameters.md, references in
docs/references.md.</small></p>"""
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>diversion_sim report</title>
<style>{CSS}</style></head><body>{_embed(body, out)}</body></html>"""
    return _write_html(out / "report.html", page)


CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:1.5em auto;padding:0 1em;color:#222;
line-height:1.45}h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;font-size:12.5px}td,th{border:1px solid #ccc;padding:3px 5px;text-align:right;
vertical-align:top}th{background:#f3f3f3}tr th:first-child{text-align:left}img{max-width:100%;height:auto}
small{color:#555}.wide{overflow-x:auto;max-width:100%}ul{padding-left:1.2em}
@media (max-width:1000px){table{font-size:11px}td,th{padding:2px 3px}}
@page{size:A4;margin:12mm}
@media print{body{max-width:none;margin:0;font-size:10pt}.wide{overflow:visible}table{font-size:7.5pt;
width:100%}td,th{padding:1px 2px}section,img,table{page-break-inside:avoid}h2{page-break-after:avoid}}"""

DEFINITIONS = {
    "Replicate": "one independent run of the model; results are means and 90% intervals over replicates.",
    "Paired difference": "a scenario's result minus the status quo's in the same replicate (same random "
    "numbers and parameter draw), then summarised over replicates.",
    "Kaplan-Meier (KM)": "the share not yet relapsed at a time after an exit, counting people who died, "
    "moved away or reached the end of the run without relapse as censored.",
    "Relapse": "first drug use after leaving a centre or treatment (for release onto methadone: heroin use "
    "on treatment or dropout).",
    "Drug-free weeks / person-years": "weeks not using drugs, whatever the state: abstinent, in recovery "
    "support or residential treatment, on methadone without heroin use, and weeks in a compulsory centre "
    "without use (each detained week counts as drug-free with probability 1 - params.outcomes."
    "p_use_detained, 0.97 by default: drugs get into centres).",
    "Deaths": "deaths over the horizon (from the policy switch), all causes; overdose deaths after an exit "
    "are the deaths attributable to lost tolerance in weeks 1-4 after release, detox or leaving "
    "methadone (an expected count).",
    "Caseload over capacity": "mean active clients per coordinator divided by the caseload a coordinator "
    "can hold (params.coordination.n_caseload_max).",
    "Costs": "in VND of the price year, discounted from the switch; by component and by payer (government; "
    "clients and families, out of pocket). See the costs section.",
    "ICER": "incremental cost per unit of effect gained against the status quo: the ratio of the mean "
    "paired differences; dominant = strictly cheaper and better.",
    "QALY": "quality-adjusted life-year: a year alive weighted by the health utility of its state (using, "
    "injecting, on methadone, abstinent, detained, ...; params.outcomes), discounted as costs are.",
    "Net monetary benefit": "willingness to pay per QALY x QALYs gained - extra cost, per paired replicate; "
    "thresholds are multiples of Viet Nam's GDP per capita (params.costs).",
    "Family strain": "drug-related stress of a family, in weeks of recent use of its relative (halves in "
    "half a year without use).",
}


def _definitions() -> str:
    items = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in DEFINITIONS.items())
    return f"<h2>Definitions</h2><ul>{items}</ul>"


def _read_check(root: Path, name: str) -> None:
    if not (root / name).is_file():
        _read(root, name)  # the message for a folder that was never summarised


def _same(col: pd.Series, value: Any) -> np.ndarray:
    """Where ``col`` holds ``value``: swept values compare as numbers when both are numbers (the
    override's '1' and the table's 1.0 are one value), else as text."""
    num = pd.to_numeric(col, errors="coerce").to_numpy(float)
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = np.nan
    if np.isfinite(v):
        return np.isclose(num, v, rtol=1e-12, atol=0) | (col.astype(str) == str(value)).to_numpy()
    return (col.astype(str) == str(value)).to_numpy()


def _metas(root: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The meta.json of every run the summary used (the manifest's list), in its order."""
    from .manifest import read_json

    out = []
    for run in manifest.get("runs") or []:
        meta = read_json(root / str(run.get("folder")) / "meta.json")
        if isinstance(meta, dict):
            out.append(meta)
    return out


def _run_info(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """The meta.json of the page's first run (what every run of a page shares)."""
    return metas[0] if metas else {}


def _dirty(prov: dict[str, Any]) -> str:
    return ", with uncommitted changes" if prov.get("git_dirty") else ""


def _packages(prov: dict[str, Any]) -> str:
    pk = prov.get("packages") or {}
    return ", ".join(f"{k} {v}" for k, v in pk.items()) or "packages unknown"


def _scenarios(metas: list[dict[str, Any]], order: list[str]) -> str:
    """Each scenario's description, from its own runs' configuration (their meta.json)."""
    desc: dict[Any, str] = {}
    for m in metas:
        desc.setdefault(m.get("scenario"), str(m.get("scenario_description", "")))
    rows = [
        f"<tr><th>{html.escape(sc)}</th><td style='text-align:left'>{html.escape(desc.get(sc, ''))}</td></tr>"
        for sc in order
    ]
    return (
        "<h3>The scenarios</h3><div class='wide'><table><tr><th>scenario</th><th>what changes "
        f"(configs/scenario/)</th></tr>{''.join(rows)}</table></div>"
    )


def _lookup(config: Any, dotted: str) -> Any:
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


_MISSING = object()


def _write_html(path: Path, text: str) -> Path:
    from .atomic import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def _assumptions(order: list[str], metas: list[dict[str, Any]]) -> str:
    """Every configured value whose source says *assumption*: the model parameters and the levers
    of the scenarios in this report, with the value the runs used (their own resolved
    configuration, not configs/ on disk; the source text is configs/')."""
    from .config import config_dir
    from .docs import table

    base = config_dir()
    used: dict[str, Any] = {}
    for m in metas:
        used.setdefault(str(m.get("scenario")), m.get("config") or {})
    first: dict[str, Any] = next(iter(used.values()), {})
    files = [
        ("model parameter", base / "params" / "default.yaml", "params.", first),
        ("status-quo lever", base / "config.yaml", "", first),
    ]
    files += [
        (f"scenario {sc}", base / "scenario" / f"{sc}.yaml", "", used.get(sc, first))
        for sc in order
        if (base / "scenario" / f"{sc}.yaml").is_file()
    ]
    rows = []
    for where, path, prefix, config in files:
        for key, value, _, source in table(path):
            if "assumption" in source.lower() and not key.startswith(("status_quo", "limits", "output")):
                ran = _lookup(config, prefix + key)
                shown = value if ran is _MISSING else json.dumps(ran) if not isinstance(ran, str) else ran
                rows.append(
                    f"<tr><th>{html.escape(key)}</th><td>{html.escape(str(shown))}</td><td>"
                    f"{html.escape(where)}</td><td style='text-align:left'><small>"
                    f"{html.escape(source.replace(chr(92) + '|', '|'))}</small></td></tr>"
                )
    return (
        "<h2>Assumptions and limitations</h2><p>The values below have no direct source and are marked "
        "<i>assumption</i> in configs/ (each shown as these runs used it); those that move the results "
        "most are in the sensitivity "
        "analysis (experiments/sensitivity.py, configs/sensitivity/morris.yaml). Other limitations: "
        "the status quo is calibrated to national figures and the pilot's two districts, and differences "
        "between scenarios carry model uncertainty that the intervals do not show (they show chance and, "
        "with params=posterior, parameter uncertainty); the pilot's own figures are few (204 referred "
        "people); the status quo's own limits are stated in its section. docs/ODD.md describes every "
        "submodel.</p>"
        f"<div class='wide'><table><tr><th>key</th><th>value</th><th>where</th><th>why</th></tr>"
        f"{''.join(rows)}</table></div>"
    )


def _exec_summary(summary: pd.DataFrame, runs: pd.DataFrame, order: list[str]) -> str:
    """One line per scenario: its main differences from the status quo, with intervals."""
    from .economics import icer_table

    if REFERENCE not in order or "diff_mean" not in summary:
        return "<p>No status quo in this sweep: no differences to summarise.</p>"
    econ = icer_table(runs, REFERENCE, n_boot=500) if "cost_total_vnd" in set(runs["metric"]) else None
    items = []
    for sc in [o for o in order if o != REFERENCE]:
        parts = []
        for metric, name in (
            ("cum_admissions", "compulsory admissions"),
            ("person_years_detained", "person-years detained"),
            ("relapse_52w_release", "relapse within a year of release"),
            ("drug_free_person_years", "drug-free person-years"),
            ("deaths", "deaths"),
            ("cost_total_vnd", "total cost"),
        ):
            r = summary[(summary["scenario"] == sc) & (summary["metric"] == metric)]
            if r.empty:
                continue
            parts.append(f"{name} {_diff(r.iloc[0], UNIT.get(metric, ''))}")
        reading = ""
        if econ is not None and len(econ):
            bits = []
            for effect, unit in (("QALY", "QALY"), ("drug-free person-year", "drug-free person-year")):
                e = econ[(econ["scenario"] == sc) & (econ["effect"] == effect)]
                if len(e):
                    e = e.iloc[0]
                    txt = f"per {unit}: {html.escape(e['reading'])}"
                    if np.isfinite(e["icer"]):
                        txt += f", VND {e['icer'] / 1e6:,.1f} million per {unit} gained"
                    bits.append(txt)
            n = econ[(econ["scenario"] == sc) & (econ["effect"] == "net monetary benefit")]
            if "wtp" in n:
                n = n[n["wtp"] == "central"]
            if len(n):
                n = n.iloc[0]
                bits.append(
                    f"net monetary benefit at VND {n['wtp_vnd'] / 1e6:,.0f} million per QALY (central "
                    f"threshold) {n['nmb_mean'] / 1e9:+,.2f} bn [{n['nmb_q05'] / 1e9:+,.2f}, "
                    f"{n['nmb_q95'] / 1e9:+,.2f}], positive in {100 * n['p_nmb_positive']:.0f}% of pairs"
                )
            if bits:
                reading = " Cost-effectiveness (societal perspective) " + "; ".join(bits) + "."
        items.append(f"<li><b>{html.escape(sc)}</b> vs {REFERENCE}: {'; '.join(parts)}.{reading}</li>")
    return (
        "<p>Differences from the status quo over the horizon (mean, 90% interval of paired replicates; "
        "VND in thousand millions, bn).</p><ul>" + "".join(items) + "</ul>"
    )


def _embed(body: str, out: Path) -> str:
    """Figures as data URIs: report.html is one file that can be sent by e-mail."""
    import base64
    import re

    def repl(m: Any) -> str:
        path = out / m.group(1)
        if not path.is_file():
            return m.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f"src='data:image/png;base64,{data}'"

    return re.sub(r"src='([^'/]+\.png)'", repl, body)


def main(argv: list[str] | None = None) -> None:
    """``diversion-sim-report FOLDER``: write the planners' report of a sweep folder."""
    ap = argparse.ArgumentParser(prog="diversion-sim-report", description=main.__doc__)
    ap.add_argument("folder", type=Path, help="a sweep folder (outputs/sweeps/<timestamp>)")
    a = ap.parse_args(argv)
    from .atomic import exit_cleanly_on_sigterm

    exit_cleanly_on_sigterm("diversion-sim-report")
    try:
        path = write_report(a.folder.resolve())
    except Exception as exc:
        exit_with(exc)
    print(f"report: {path}")


if __name__ == "__main__":
    main()
