"""Sweep tables: collect every run below a folder into tidy tables and summarise them.

``aggregate(root)`` writes ``runs.parquet`` (run x metric), ``weekly.parquet``,
``episodes.parquet``, ``spells.parquet`` (treatment spells), ``events.parquet`` (when runs kept events) and ``summary.csv`` (scenario x
metric: mean and 90% interval over replicates, and the paired difference against the reference
scenario, replicate by replicate: common random numbers make that difference policy, not noise).
It refuses, naming the files, to summarise a sweep with missing or corrupt runs unless
``allow_incomplete`` is set.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .config import REFERENCE  # noqa: F401  (the status quo: differences are against it)
from .errors import SweepError  # noqa: F401

log = logging.getLogger("diversion_sim")


def _run_folders(root: Path) -> list[Path]:
    return sorted(p for p in (root / "runs").glob("scenario=*/replicate=*") if p.is_dir())


def check_runs(root: Path, expected: dict[str, int] | None = None) -> tuple[list[Path], list[str]]:
    """Complete run folders and a list of problems (missing, corrupt, other version)."""
    root = Path(root)
    good, problems = [], []
    for folder in _run_folders(root):
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError):
            problems.append(f"{folder}: no readable meta.json (interrupted run?)")
            continue
        if meta.get("version") != __version__:
            problems.append(f"{folder}: written by diversion_sim {meta.get('version')}, "
                            f"this is {__version__}")
            continue
        missing = [t for t in meta.get("tables", []) if not (folder / f"{t}.parquet").is_file()]
        if missing:
            problems.append(f"{folder}: missing {', '.join(t + '.parquet' for t in missing)}")
            continue
        good.append(folder)
    if expected:
        have = {(f.parent.name.split("=", 1)[1], int(f.name.split("=", 1)[1])) for f in good}
        for scen, n in expected.items():
            for r in range(n):
                if (scen, r) not in have:
                    problems.append(f"{root}/runs/scenario={scen}/replicate={r:04d}: missing")
    return good, problems


def _read(folders: list[Path], table: str) -> pd.DataFrame:
    frames = []
    for f in folders:
        path = f / f"{table}.parquet"
        if path.is_file():
            try:
                frames.append(pd.read_parquet(path))
            except Exception as exc:  # pyarrow raises several types for damaged files
                raise SweepError(f"cannot read {path}: {exc}. Delete that run folder and re-run "
                                 "the same command to redo it.") from None
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def summarise(runs: pd.DataFrame, reference: str = REFERENCE) -> pd.DataFrame:
    """Scenario x metric: mean, 5% and 95% quantiles; paired difference against ``reference``."""
    g = runs.groupby(["scenario", "metric"], sort=False)["value"]
    out = g.agg(n="count", mean="mean", q05=lambda s: s.quantile(0.05),
                q95=lambda s: s.quantile(0.95)).reset_index()
    if reference in set(runs["scenario"]):
        ref = runs[runs["scenario"] == reference][["metric", "replicate", "value"]]
        paired = runs.merge(ref, on=["metric", "replicate"], suffixes=("", "_ref"))
        paired["diff"] = paired["value"] - paired["value_ref"]
        d = paired.groupby(["scenario", "metric"], sort=False)["diff"].agg(
            diff_mean="mean", diff_q05=lambda s: s.quantile(0.05),
            diff_q95=lambda s: s.quantile(0.95)).reset_index()
        # an interval that holds zero is not a finding (the report says so beside the number)
        d["diff_spans_zero"] = (d["diff_q05"] <= 0) & (d["diff_q95"] >= 0)
        out = out.merge(d, on=["scenario", "metric"], how="left")
    return out


def _atomic_parquet(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def aggregate(root: Path, expected: dict[str, int] | None = None,
              allow_incomplete: bool = False) -> pd.DataFrame:
    """Write the sweep tables below ``root`` and return the summary."""
    root = Path(root)
    good, problems = check_runs(root, expected)
    if not good:
        raise SweepError(f"no complete runs below {root / 'runs'}; run a sweep into this folder "
                         "first (diversion-sim hydra.sweep.dir=...)")
    if problems and not allow_incomplete:
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        shown = "; ".join(problems[:10]) + more
        raise SweepError(f"the sweep in {root} is incomplete or damaged: {shown}. Re-run the same "
                         "command with the same hydra.sweep.dir to finish it, or pass "
                         "output.allow_incomplete=true to summarise the complete runs only.")
    runs = _read(good, "metrics")
    _atomic_parquet(runs, root / "runs.parquet")
    for table in ("weekly", "episodes", "spells", "events", "weekly_burn_in"):
        df = _read(good, table)
        if len(df):
            _atomic_parquet(df, root / f"{table}.parquet")
    summary = summarise(runs)
    _atomic_csv(summary, root / "summary.csv")
    from .economics import acceptability, icer_table

    if REFERENCE in set(runs["scenario"]) and "cost_total_vnd" in set(runs["metric"]):
        _atomic_csv(icer_table(runs, REFERENCE), root / "economics.csv")
        _atomic_csv(acceptability(runs, REFERENCE), root / "acceptability.csv")
    return summary


def _atomic_csv(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)


KEY_METRICS = ("cum_admissions", "person_years_detained", "relapse_52w_release",
               "share_assessed", "share_methadone", "drug_free_weeks_per_person", "deaths")


def format_summary(summary: pd.DataFrame, metrics: tuple[str, ...] = KEY_METRICS,
                   order: list[str] | None = None) -> str:
    """A plain-text table: scenario rows, key metric columns, 'mean [5%, 95%]'."""
    s = summary[summary["metric"].isin(metrics)].copy()

    def cell(r: Any) -> str:
        if not np.isfinite(r["mean"]):
            return "n/a"
        return f"{r['mean']:.3g} [{r['q05']:.3g}, {r['q95']:.3g}]"

    s["cell"] = s.apply(cell, axis=1)
    table = s.pivot(index="scenario", columns="metric", values="cell")
    table = table[[m for m in metrics if m in table.columns]]
    order = order or list(dict.fromkeys(summary["scenario"]))
    return table.loc[[o for o in order if o in table.index]].to_string()
