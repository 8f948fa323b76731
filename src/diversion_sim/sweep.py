"""Sweep tables: collect every run below a folder into tidy tables and summarise them.

``aggregate(root)`` writes ``runs.parquet`` (run x metric), ``weekly.parquet``,
``episodes.parquet``, ``spells.parquet`` (treatment spells), ``events.parquet`` (when runs kept
events) and ``summary.csv`` (scenario x metric: mean and 90% interval over replicates, and the
paired difference against the reference scenario, replicate by replicate: common random numbers
make that difference policy, not noise).
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
from .paths import run_folders as _run_folders

log = logging.getLogger("diversion_sim")


def plan_jobs(plan: Any, where: str = "sweep.json") -> list[dict[str, Any]]:
    """The jobs a sweep plan expects: ``[{"variant": {...}, "scenario": s, "replicates": n}]``.
    Accepts the plan written by a sweep (``{"expected": {scenario: n}, "jobs": [...]}``) or a
    bare ``{scenario: n}``; anything else is refused with a clear message (no huge allocation
    from a damaged file: counts are bounded)."""

    def bad(why: str) -> SweepError:
        return SweepError(
            f"{where} is damaged ({why}); delete it to summarise whatever complete "
            "runs are there, or re-run the sweep"
        )

    if isinstance(plan, dict) and "jobs" in plan:
        jobs = plan["jobs"]
        if not isinstance(jobs, list):
            raise bad("'jobs' is not a list")
    elif isinstance(plan, dict):
        expected = plan.get("expected", plan)
        if not isinstance(expected, dict):
            raise bad("'expected' is not a mapping of scenario to replicate count")
        jobs = [{"variant": {}, "scenario": s, "replicates": n} for s, n in expected.items()]
    else:
        raise bad("not a JSON object")
    out = []
    for j in jobs:
        if not (
            isinstance(j, dict)
            and isinstance(j.get("scenario"), str)
            and isinstance(j.get("replicates"), int)
            and not isinstance(j["replicates"], bool)
            and isinstance(j.get("variant", {}), dict)
        ):
            raise bad(
                f"a job is not {{'scenario': name, 'replicates': count, 'variant': {{...}}}}: {j!r}"[:300]
            )
        if not 1 <= j["replicates"] <= 1_000_000:
            raise bad(f"replicate count {j['replicates']} of {j['scenario']} is out of range")
        out.append(
            {
                "variant": dict(j.get("variant") or {}),
                "scenario": j["scenario"],
                "replicates": j["replicates"],
            }
        )
    return out


def check_runs(root: Path, expected: Any = None) -> tuple[list[Path], list[str]]:
    """Complete run folders and a list of problems: missing, damaged, another version, a
    meta.json that disagrees with its folder, runs that do not belong together (another seed,
    horizon, population, parameters or posterior file), and planned runs that are absent.
    ``expected``: a sweep plan (:func:`plan_jobs`)."""
    from .runner import run_folder

    root = Path(root)
    good, problems, metas = [], [], {}
    for folder in _run_folders(root):
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if not isinstance(meta, dict):
                raise ValueError("not an object")
        except (OSError, ValueError):
            problems.append(f"{folder}: no readable meta.json (interrupted run?)")
            continue
        if meta.get("version") != __version__:
            problems.append(
                f"{folder}: written by diversion_sim {meta.get('version')}, this is {__version__}"
            )
            continue
        tables = meta.get("tables")
        if not isinstance(tables, list) or "metrics" not in tables:
            problems.append(f"{folder}: meta.json lists no result tables (damaged)")
            continue
        missing = [t for t in tables if not (folder / f"{t}.parquet").is_file()]
        if missing:
            problems.append(f"{folder}: missing {', '.join(t + '.parquet' for t in missing)}")
            continue
        try:
            own = run_folder(
                root, str(meta.get("scenario")), int(meta.get("replicate", -1)), meta.get("variant") or None
            )
        except (TypeError, ValueError):
            own = None
        if own is None or own.resolve() != folder.resolve():
            problems.append(
                f"{folder}: its meta.json says scenario {meta.get('scenario')!r}, "
                f"replicate {meta.get('replicate')!r}: it does not belong in this "
                "folder (copied or linked from elsewhere?)"
            )
            continue
        good.append(folder)
        metas[folder] = meta
    groups: dict[str, list[Path]] = {}
    for folder, meta in metas.items():
        groups.setdefault(str(meta.get("common_hash")), []).append(folder)
    if len(groups) > 1:
        desc = "; ".join(
            f"{len(v)} runs like {v[0].relative_to(root)} (seed "
            f"{metas[v[0]].get('seed')}, {metas[v[0]].get('years')} years, "
            f"{metas[v[0]].get('population')})"
            for v in groups.values()
        )
        problems.append(
            f"runs of different configurations are mixed in {root / 'runs'}: {desc}. "
            "A sweep's runs must share everything but the scenario and the swept "
            "keys (and the posterior file's contents)"
        )
        largest = max(groups.values(), key=len)
        good = [f for f in good if f in set(largest)]
    if expected:
        have = {
            (safe_name_variant(metas[f].get("variant")), metas[f]["scenario"], int(metas[f]["replicate"]))
            for f in good
        }
        for job in plan_jobs(expected):
            key = safe_name_variant(job["variant"])
            for r in range(job["replicates"]):
                if (key, job["scenario"], r) not in have:
                    problems.append(
                        f"{run_folder(root, job['scenario'], r, job['variant'] or None)}: missing"
                    )
    return good, problems


def safe_name_variant(variant: Any) -> str:
    from .config import safe_name
    from .runner import variant_label

    return safe_name(variant_label(variant)) if variant else ""


def _read(folders: list[Path], table: str) -> pd.DataFrame:
    frames = []
    for f in folders:
        path = f / f"{table}.parquet"
        if path.is_file():
            try:
                frames.append(pd.read_parquet(path))
            except Exception as exc:  # pyarrow raises several types for damaged files
                raise SweepError(
                    f"cannot read {path}: {exc}. Delete that run folder and re-run "
                    "the same command to redo it."
                ) from None
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


RUN_COLUMNS = ("scenario", "replicate", "metric", "value")


def swept_columns(runs: pd.DataFrame) -> list[str]:
    """The swept keys other than the scenario: the extra columns of the runs table."""
    return [c for c in runs.columns if c not in RUN_COLUMNS]


def _numeric_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Swept values arrive as the overrides' strings: numbers become numbers."""
    for c in swept_columns(df):
        try:
            df[c] = pd.to_numeric(df[c])
        except (ValueError, TypeError):
            pass
    return df


def summarise(runs: pd.DataFrame, reference: str = REFERENCE) -> pd.DataFrame:
    """(swept values x) scenario x metric: mean, 5% and 95% quantiles; paired difference against
    ``reference`` with the same swept values, replicate by replicate."""
    keys = swept_columns(runs)
    g = runs.groupby(keys + ["scenario", "metric"], sort=False, dropna=False)["value"]
    out = g.agg(
        n="count", mean="mean", q05=lambda s: s.quantile(0.05), q95=lambda s: s.quantile(0.95)
    ).reset_index()
    if reference in set(runs["scenario"]):
        ref = runs[runs["scenario"] == reference][keys + ["metric", "replicate", "value"]]
        paired = runs.merge(ref, on=keys + ["metric", "replicate"], suffixes=("", "_ref"))
        paired["diff"] = paired["value"] - paired["value_ref"]
        d = (
            paired.groupby(keys + ["scenario", "metric"], sort=False, dropna=False)["diff"]
            .agg(diff_mean="mean", diff_q05=lambda s: s.quantile(0.05), diff_q95=lambda s: s.quantile(0.95))
            .reset_index()
        )
        # an interval that holds zero is not a finding (the report says so beside the number)
        d["diff_spans_zero"] = (d["diff_q05"] <= 0) & (d["diff_q95"] >= 0)
        out = out.merge(d, on=keys + ["scenario", "metric"], how="left")
    return out


def _atomic_parquet(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def aggregate(root: Path, expected: Any = None, allow_incomplete: bool = False) -> pd.DataFrame:
    """Write the sweep tables below ``root`` and return the summary."""
    root = Path(root)
    good, problems = check_runs(root, expected)
    if not good:
        raise SweepError(
            f"no complete runs below {root / 'runs'}; run a sweep into this folder "
            "first (diversion-sim hydra.sweep.dir=...)"
        )
    if problems and not allow_incomplete:
        more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        shown = "; ".join(problems[:10]) + more
        raise SweepError(
            f"the sweep in {root} is incomplete or damaged: {shown}. To finish or "
            f"repair it, re-run the same command with output.resume=true "
            f"hydra.sweep.dir={root} (complete runs are kept, the others redone), "
            "or pass output.allow_incomplete=true to summarise the complete runs "
            "only."
        )
    runs = _numeric_columns(_read(good, "metrics"))
    _atomic_parquet(runs, root / "runs.parquet")
    for table in ("weekly", "episodes", "spells", "events", "weekly_burn_in"):
        df = _read(good, table)
        if len(df):
            _atomic_parquet(df, root / f"{table}.parquet")
    summary = summarise(runs)
    _atomic_csv(summary, root / "summary.csv")
    from .economics import acceptability, icer_table

    if REFERENCE in set(runs["scenario"]) and "cost_total_vnd" in set(runs["metric"]):
        keys = swept_columns(runs)
        groups = runs.groupby(keys, dropna=False) if keys else [((), runs)]
        econ, accept = [], []
        for values, part in groups:
            values = values if isinstance(values, tuple) else (values,)
            extra = dict(zip(keys, values))
            econ.append(icer_table(part.drop(columns=keys), REFERENCE).assign(**extra))
            accept.append(acceptability(part.drop(columns=keys), REFERENCE).assign(**extra))
        _atomic_csv(pd.concat(econ, ignore_index=True), root / "economics.csv")
        _atomic_csv(pd.concat(accept, ignore_index=True), root / "acceptability.csv")
    return summary


def _atomic_csv(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)


KEY_METRICS = (
    "cum_admissions",
    "person_years_detained",
    "relapse_52w_release",
    "share_assessed",
    "share_methadone",
    "drug_free_person_years",
    "deaths",
    "cost_total_vnd",
)


def _fmt(value: float, unit: str, signed: bool = False) -> str:
    """A number as a planner reads it: shares in %, VND in bn, thousands separated."""
    if not np.isfinite(value):
        return "n/a"
    sign = "+" if signed else ""
    if unit == "share":  # a difference of shares is in percentage points
        return f"{100 * value:{sign},.1f} pp" if signed else f"{100 * value:,.1f}%"
    if unit == "VND":
        return f"{value / 1e9:{sign},.2f} bn"
    if abs(value) >= 100:
        return f"{value:{sign},.0f}"
    return f"{value:{sign},.3g}"


def format_summary(
    summary: pd.DataFrame, metrics: tuple[str, ...] = KEY_METRICS, order: list[str] | None = None
) -> str:
    """The console summary for a reader: one block per scenario (and swept values), each key result
    with its label, unit, mean [90% interval] and the paired difference from the status quo."""
    from .metrics import RESULTS

    label = {r.name: r.label for r in RESULTS}
    unit = {r.name: r.unit for r in RESULTS}
    keys = [c for c in summary.columns if c not in SUMMARY_COLUMNS]
    order = order or list(dict.fromkeys(summary["scenario"]))
    rank = {o: i for i, o in enumerate(order)}
    s = summary[summary["metric"].isin(metrics)]
    groups = sorted(
        s.groupby(keys + ["scenario"], sort=False, dropna=False).groups,
        key=lambda g: (tuple(map(str, g[:-1])) if keys else (), rank.get(g[-1] if keys else g, len(rank))),
    )
    lines = []
    for g in groups:
        g = g if isinstance(g, tuple) else (g,)
        sc = g[-1]
        head = sc + ("" if not keys else "  [" + ", ".join(f"{k} = {v}" for k, v in zip(keys, g[:-1])) + "]")
        lines.append(head)
        sel = s["scenario"] == sc
        for k, v in zip(keys, g[:-1]):
            sel &= s[k].astype(str) == str(v)
        part = s[sel].set_index("metric")
        for m in metrics:
            if m not in part.index:
                continue
            r = part.loc[m]
            u = unit.get(m, "")
            cell = f"{_fmt(r['mean'], u)} [{_fmt(r['q05'], u)}, {_fmt(r['q95'], u)}]"
            diff = ""
            if sc != REFERENCE and "diff_mean" in r and np.isfinite(r["diff_mean"]):
                diff = (
                    f"vs {REFERENCE} {_fmt(r['diff_mean'], u, True)} "
                    f"[{_fmt(r['diff_q05'], u, True)}, {_fmt(r['diff_q95'], u, True)}]"
                )
                if r["diff_q05"] <= 0 <= r["diff_q95"]:
                    diff += " (includes 0)"
            name = label.get(m, m).replace(" (KM)", "")
            name = name if len(name) <= 40 else name[:39] + "."
            lines.append(f"  {name:<40} {cell:<27} {diff}".rstrip())
        lines.append("")
    return "\n".join(lines).rstrip()


SUMMARY_COLUMNS = (
    "scenario",
    "metric",
    "n",
    "mean",
    "q05",
    "q95",
    "diff_mean",
    "diff_q05",
    "diff_q95",
    "diff_spans_zero",
)
