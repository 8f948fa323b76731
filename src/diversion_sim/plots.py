"""Figures for people (seaborn/matplotlib, written as PNG). Imported only where figures are made,
so a run or a sweep worker does not pay for matplotlib."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def setup():
    """matplotlib (headless) and seaborn with the package's theme: ``plt, sns``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    return plt, sns


def finish(fig, path: Path, dpi: int = 110, axes=None, used: int | None = None) -> Path:
    """Hide the axes beyond the first ``used``, lay out, write the PNG and free the figure."""
    import matplotlib.pyplot as plt

    if axes is not None and used is not None:
        for ax in list(axes.flat)[used:]:
            ax.set_visible(False)
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.png")
    try:  # written whole or not at all: a full disk leaves no 0-byte figure
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, f"cannot write the figure {path} ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)
    return path


def published_points(ax, cohort: dict[str, Any], color, label: str) -> None:
    """A published cohort's shares with 95% binomial intervals (open markers)."""
    p, n = np.asarray(cohort["observed"]), cohort["n"]
    ax.errorbar(
        cohort["weeks"],
        p,
        yerr=1.96 * np.sqrt(p * (1 - p) / n),
        fmt="o",
        color=color,
        mfc="white",
        capsize=3,
        label=f"{label} (n={n:,})",
    )


def pilot_cascade(fit: pd.DataFrame, path: Path) -> Path:
    """Observed pilot cascade (Tables I-II, seed 004) against the simulated 90% intervals, as
    shares (of the referrals, pooled over the districts as the pilot's referrals were), and the
    district shares checked but not fitted."""
    plt, sns = setup()
    d = fit[
        fit["kind"].isin(["pilot cascade (share)"])
        | fit["target"].str.match(r"(methadone|recovery|left)_(long_bien|nam_tu_liem)$")
    ].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(d) + 1.8))
    y = np.arange(len(d))[::-1]
    ax.hlines(
        y,
        d["q05"],
        d["q95"],
        color=sns.color_palette()[0],
        lw=6,
        alpha=0.45,
        label="model, 90% posterior-predictive interval",
    )
    ax.plot(d["simulated_mean"], y, "|", color=sns.color_palette()[0], ms=16, mew=2, label="model, mean")
    fitted = d["fitted"].eq("yes").to_numpy()
    ax.plot(
        d["observed"][fitted],
        y[fitted],
        "D",
        color=sns.color_palette()[3],
        ms=7,
        label="observed, fitted (Oppenheimer et al. 2022, Tables I-II)",
    )
    ax.plot(
        d["observed"][~fitted],
        y[~fitted],
        "D",
        color=sns.color_palette()[3],
        ms=7,
        mfc="white",
        label="observed by district, checked only",
    )
    ax.set_yticks(y, [str(x).replace("_", " ") for x in d["label"]])
    ax.set_xlabel("share (of the referrals; first row: of Long Bien's 220 registered)")
    ax.set_xlim(0, 1.02)
    ax.set_title(
        "Hanoi pilot cascade, six wards, May 2019 - June 2020: observed vs calibrated model", fontsize=10
    )
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.4, -0.75 / (0.42 * len(d))),  # about 0.75 in below the axes, under the x label
        fontsize=8,
        frameon=False,
        ncol=2,
    )
    return finish(fig, path, dpi=130)


def relapse_curves(
    curves: pd.DataFrame,
    targets: dict[str, Any],
    path: Path,
    over: str = "pilot districts, 5 years after the switch; median and 90% band over posterior draws",
) -> Path:
    """Relapse-free survival by kind of exit and methadone retention, measured on the running
    model's tables (Kaplan-Meier per posterior-predictive simulation: median and 90% band),
    against every published point fitted or checked."""
    from .cohorts import observed_values

    plt, sns = setup()
    pal = sns.color_palette()
    co, checks = targets["cohorts"], targets.get("checks", {})
    fig, axes = plt.subplots(1, 3, figsize=(15, 6.2))

    def band(ax, name, color, label):
        d = curves[curves["curve"] == name]
        if d.empty:
            return
        wide = d.pivot(index="sim", columns="week", values="value")
        _band(ax, wide.columns.to_numpy(float), wide.to_numpy(float), color, label)

    def points(ax, name, color, label, n=None):
        spec = co[name]
        cohort = {"observed": observed_values(spec), "weeks": spec["weeks"], "n": n or spec["n"]}
        published_points(ax, cohort, color, label)

    ax = axes[0]
    band(ax, "release", pal[3], "model: released from compulsory detention")
    band(ax, "release_methadone", pal[0], "model: released onto methadone")
    band(ax, "release_residential_opioid", pal[2], "model: completed voluntary residential")
    band(ax, "recovery_opioid", pal[4], "model: completed recovery support")
    points(ax, "release", pal[3], "Wegman 2017, compulsory centres")
    points(ax, "release_methadone", pal[0], "Wegman 2017, voluntary centres with methadone")
    ax.set(
        xlim=(0, 104),
        ylim=(0, 1),
        xlabel="weeks since the exit",
        ylabel="share not yet relapsed (Kaplan-Meier)",
        title="Opioid users: relapse by kind of exit",
    )
    ax = axes[1]
    band(ax, "meth_treatment", pal[1], "model: completed recovery support (coordinator client)")
    points(ax, "meth_treatment", pal[1], "Brecht & Herbeck 2014")
    ax.set(
        xlim=(0, 104),
        ylim=(0, 1),
        xlabel="weeks since the exit",
        ylabel="share not yet relapsed (Kaplan-Meier)",
        title="Methamphetamine users",
    )
    ax = axes[2]
    band(ax, "methadone_thai_nguyen", pal[0], "model: dropout only")
    band(ax, "methadone_any_leave", pal[7], "model: dropout, death or arrest")
    points(ax, "methadone_thai_nguyen", pal[0], "Thai Nguyen 2018 (dropout)")
    if "methadone_left_156w_haiphong" in checks:
        ax.plot(
            [156],
            [1 - checks["methadone_left_156w_haiphong"]],
            "s",
            color=pal[7],
            mfc="white",
            label="Khue 2017, any leaving (n=1,055; check)",
        )
    ax.set(
        xlim=(0, 208),
        ylim=(0, 1),
        xlabel="weeks since starting methadone",
        ylabel="share still on methadone (Kaplan-Meier)",
        title="Methadone retention",
    )
    for ax in axes:  # below each panel: the curves stay visible
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    fig.suptitle(
        "The running model's relapse and retention against the published reports\n"
        f"({over}; published points with 95% CI)",
        y=1.02,
    )
    return finish(fig, path, dpi=130)


def _band(ax, x, runs: np.ndarray, color, label: str) -> None:
    """Median and 90% band of ``runs`` (replicates x time) against ``x``."""
    lo, med, hi = np.nanquantile(runs, [0.05, 0.5, 0.95], axis=0)
    ax.fill_between(x, lo, hi, color=color, alpha=0.18, lw=0)
    ax.plot(x, med, color=color, lw=1.6, label=label)


def status_quo(
    stocks: pd.DataFrame,
    metrics: pd.DataFrame,
    observed: dict[str, Any],
    path: Path,
    label: str = "model: status quo",
) -> Path:
    """The status quo against the country's figures: the register (relative to the switch), the
    share of it in compulsory centres and on methadone over calendar time (burn-in and run), and
    the compulsory history of the people using at the switch.

    Args:
        stocks: per replicate and week, ``register`` and ``share_*`` columns
            (:func:`~diversion_sim.calibration.register_stocks`), burn-in and run together.
        metrics: one row per replicate with ``share_prior_detention`` and ``mean_prior_detentions``.
        observed: ``configs/calibration/observed.yaml``.
    """
    plt, sns = setup()
    year0 = float(observed["switch_year"])
    wide = {
        c: stocks.pivot_table(index="replicate", columns="week", values=c)
        for c in ("register", "share_detained", "share_methadone")
    }
    years = year0 + wide["register"].columns.to_numpy() / 52.0
    reg = wide["register"].to_numpy()
    at0 = reg[:, list(wide["register"].columns).index(0)][:, None]
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.9), gridspec_kw={"width_ratios": [3, 3, 3, 2]})
    blue, black, grey = "#1f77b4", "#222222", "#888888"

    ax = axes[0]
    _band(ax, years, reg / at0, blue, label)
    pts = pd.DataFrame(observed["register"])
    b = np.polyfit(pts["year"], np.log(pts["value"]), 1)
    ax.plot(
        pts["year"],
        pts["value"] / np.exp(np.polyval(b, year0)),
        "o",
        color=black,
        label="national register (relative)",
    )
    ax.set_title("Register size, relative to the switch", fontsize=10)
    ax.set_ylabel("register / register at week 0")

    for ax, col, key, title in (
        (axes[1], "share_detained", "share_in_centres", "Share of the register in compulsory centres"),
        (axes[2], "share_methadone", "share_on_methadone", "Share of the register on methadone"),
    ):
        _band(ax, years, 100 * wide[col].to_numpy(), blue, label)
        for p in observed[key]:
            fitted = bool(p.get("fitted"))
            ax.plot(
                p["year"],
                100 * p["value"],
                "o" if fitted else "s",
                mfc=black if fitted else "white",
                mec=black if fitted else grey,
                color=black,
                ms=7,
                label="observed, fitted" if fitted else "observed, direction only",
            )
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("% of the living register")
        ax.set_ylim(bottom=0)
    from matplotlib.ticker import MaxNLocator

    for ax in axes[:3]:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.axvline(year0, color=grey, lw=1, ls="--")
        ax.set_xlabel("year (dashed: week 0, May 2019)")
        ax.tick_params(labelsize=8)
        handles, labels = ax.get_legend_handles_labels()
        keep = dict(zip(labels, handles))
        ax.legend(keep.values(), keep.keys(), fontsize=7, loc="lower left")

    ax = axes[3]
    prior = observed["prior_detention"]
    vals = [
        ("ever detained (%)", 100 * metrics["share_prior_detention"], 100 * prior["share_ever"]),
        ("times, if ever (x10)", 10 * metrics["mean_prior_detentions"], 10 * prior["mean_times"]),
    ]
    for i, (_, sim, obs) in enumerate(vals):
        lo, med, hi = np.nanquantile(sim, [0.05, 0.5, 0.95])
        ax.errorbar(
            i - 0.1,
            med,
            yerr=[[med - lo], [hi - med]],
            fmt="o",
            color=blue,
            capsize=4,
            label=label if i == 0 else None,
        )
        ax.plot(i + 0.1, obs, "o", color=black, label="pilot clients (seed 004)" if i == 0 else None)
    ax.set_xticks([0, 1], [v[0] for v in vals], fontsize=8)
    ax.set_xlim(-0.6, 1.6)
    ax.set_ylim(bottom=0)
    ax.set_title("History of people using at week 0", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(
        "The status quo (compulsory regime) against national figures; model median and 90% "
        "band over replicates",
        y=1.02,
        fontsize=11,
    )
    return finish(fig, path)
