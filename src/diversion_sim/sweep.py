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

import logging
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


def _job_key(variant: Any, scenario: Any) -> tuple[str, str]:
    return safe_name_variant(variant), str(scenario)


def check_runs(root: Path, expected: Any = None) -> tuple[list[Path], list[str]]:
    """Complete run folders of the plan and a list of problems: missing, damaged, another
    version, a meta.json that disagrees with its folder, a table that is not the one its run
    wrote, runs of another configuration than their job's (a resume that changed a setting), runs
    that do not belong together (another seed, horizon, population, parameters or posterior file),
    and planned runs that are absent. ``expected``: a sweep plan (:func:`plan_jobs`); with a plan,
    runs outside it are not taken (:func:`runs_outside_plan` lists them)."""
    from .manifest import job_path, read_json, sha256_file
    from .paths import run_folder

    root = Path(root)
    good, problems, metas = [], [], {}
    jobs = plan_jobs(expected) if expected else None
    generation = expected.get("generation") if isinstance(expected, dict) else None
    folders = _run_folders(root)
    if jobs is not None:
        planned = {
            run_folder(root, j["scenario"], r, j["variant"] or None).resolve()
            for j in jobs
            for r in range(j["replicates"])
        }
        folders = [f for f in folders if f.resolve() in planned]
    for folder in folders:
        meta = read_json(folder / "meta.json")
        if not isinstance(meta, dict):
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
        digests = meta.get("tables_sha256")
        changed = [
            t
            for t in tables
            if not isinstance(digests, dict) or digests.get(t) != sha256_file(folder / f"{t}.parquet")
        ]
        if changed:
            problems.append(
                f"{folder}: {', '.join(t + '.parquet' for t in changed)} is not the table this run "
                "wrote (replaced or edited since)"
            )
            continue
        good.append(folder)
        metas[folder] = meta
    # one configuration per job: the job's own record (this plan's generation), else the runs agree
    by_job: dict[tuple[str, str], list[Path]] = {}
    for folder in good:
        by_job.setdefault(_job_key(metas[folder].get("variant"), metas[folder].get("scenario")), []).append(
            folder
        )
    drop: set[Path] = set()
    for job in jobs or []:
        key = _job_key(job["variant"], job["scenario"])
        record = read_json(job_path(root, job["scenario"], job["variant"] or None))
        if generation is None:
            continue
        where = f"{job['scenario']}" + (f" at {job['variant']}" if job["variant"] else "")
        if not isinstance(record, dict) or record.get("generation") != generation:
            problems.append(
                f"job {where}: has not started since this sweep's plan was written (the command "
                "was stopped before it), so its runs may hold the earlier configuration"
            )
            drop |= set(by_job.get(key, []))
            continue
        stale = [f for f in by_job.get(key, []) if metas[f].get("config_hash") != record.get("config_hash")]
        for f in stale:
            problems.append(
                f"{f}: a run of a different configuration than its job's (left by an earlier command)"
            )
        drop |= set(stale)
    for key, folders_ in by_job.items():
        hashes = {str(metas[f].get("config_hash")) for f in folders_ if f not in drop}
        if len(hashes) > 1:
            problems.append(
                f"the runs of scenario {key[1]}{' at ' + key[0] if key[0] else ''} hold "
                f"{len(hashes)} different configurations: one job's runs must share one"
            )
            drop |= set(folders_)
    good = [f for f in good if f not in drop]
    groups: dict[str, list[Path]] = {}
    for folder in good:
        groups.setdefault(str(metas[folder].get("common_hash")), []).append(folder)
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
    if jobs is not None:
        have = {f.resolve() for f in good}
        seen_bad = " ".join(problems)
        for job in jobs:
            for r in range(job["replicates"]):
                f = run_folder(root, job["scenario"], r, job["variant"] or None)
                if f.resolve() not in have and str(f) not in seen_bad:
                    problems.append(f"{f}: missing")
    return good, problems


def runs_outside_plan(root: Path, expected: Any) -> list[Path]:
    """Run folders below ``root`` that the plan does not ask for (left by an earlier command with
    more replicates or other scenarios): kept on disk, never summarised."""
    from .paths import run_folder

    if not expected:
        return []
    planned = {
        run_folder(root, j["scenario"], r, j["variant"] or None).resolve()
        for j in plan_jobs(expected)
        for r in range(j["replicates"])
    }
    return [f for f in _run_folders(root) if f.resolve() not in planned]


def safe_name_variant(variant: Any) -> str:
    from .config import safe_name
    from .paths import variant_label

    return safe_name(variant_label(variant)) if variant else ""


def _read(folders: list[Path], table: str, metas: dict[Path, dict] | None = None) -> pd.DataFrame:
    """One table of every run in ``folders``, each checked against its folder (identity columns,
    and for metrics the schema and value domains) when ``metas`` are given."""
    from .manifest import check_table

    frames = []
    for f in folders:
        path = f / f"{table}.parquet"
        if path.is_file():
            try:
                df = pd.read_parquet(path)
            except Exception as exc:  # pyarrow raises several types for damaged files
                raise SweepError(
                    f"cannot read {path}: {exc}. Delete that run folder and re-run "
                    "the same command to redo it."
                ) from None
            if metas is not None:
                meta = metas[f]
                problem = check_table(df, table, f, meta, sorted(meta.get("variant") or {}))
                if problem:
                    raise SweepError(
                        f"{problem}. Delete that run folder and re-run the same command with "
                        "output.resume=true to redo it; nothing was summarised."
                    )
            frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


RUN_COLUMNS = ("scenario", "replicate", "metric", "value")


def swept_columns(runs: pd.DataFrame) -> list[str]:
    """The swept keys other than the scenario: the extra columns of the runs table."""
    return [c for c in runs.columns if c not in RUN_COLUMNS]


def _numeric_columns(df: pd.DataFrame, keys: list[str] | None = None) -> pd.DataFrame:
    """Swept values arrive as the overrides' strings: numbers become numbers, the same way in
    every table (``keys``: the swept columns; default: the runs table's extra columns)."""
    for c in swept_columns(df) if keys is None else [k for k in keys if k in df.columns]:
        try:
            df[c] = pd.to_numeric(df[c])
        except (ValueError, TypeError):
            pass
    return df


def summarise(runs: pd.DataFrame, reference: str = REFERENCE) -> pd.DataFrame:
    """(swept values x) scenario x metric: mean, 5% and 95% quantiles; paired difference against
    ``reference`` with the same swept values, replicate by replicate."""
    with np.errstate(invalid="ignore"):  # an infinite median time gives no interval, quietly
        return _summarise(runs, reference)


def _summarise(runs: pd.DataFrame, reference: str) -> pd.DataFrame:
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
    from .atomic import atomic_path

    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def _atomic_csv(df: pd.DataFrame, path: Path) -> None:
    from .atomic import atomic_path

    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def aggregate(
    root: Path, expected: Any = None, allow_incomplete: bool = False, command: str | None = None
) -> pd.DataFrame:
    """Write the sweep tables below ``root`` from the plan's runs (``expected``) and return the
    summary. The old manifest is removed first and the new one written last, so a summary that is
    interrupted leaves tables that no report accepts."""
    from .manifest import read_json, remove_manifest, write_manifest

    root = Path(root)
    remove_manifest(root)
    good, problems = check_runs(root, expected)
    if not good:
        raise SweepError(
            f"no complete runs below {root / 'runs'}"
            + (f" ({'; '.join(problems[:3])})" if problems else "")
            + "; run a sweep into this folder first (diversion-sim hydra.sweep.dir=...), or "
            f"finish it with output.resume=true hydra.sweep.dir={root}"
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
    metas = {f: read_json(f / "meta.json") for f in good}
    keys = sorted({k for m in metas.values() for k in (m.get("variant") or {})})
    runs = _numeric_columns(_read(good, "metrics", metas), keys)
    tables = {"runs": runs}
    for table in ("weekly", "episodes", "spells", "events", "weekly_burn_in"):
        df = _read(good, table, metas)
        if len(df):
            tables[table] = _numeric_columns(df, keys)
    for table in ("runs", "weekly", "episodes", "spells", "events", "weekly_burn_in"):
        if table not in tables:  # a table this summary did not write must not pass as its own
            (root / f"{table}.parquet").unlink(missing_ok=True)
    for name, df in tables.items():
        _atomic_parquet(df, root / f"{name}.parquet")
    summary = summarise(runs)
    _atomic_csv(summary, root / "summary.csv")
    from .economics import acceptability, icer_table

    for name in ("economics.csv", "acceptability.csv"):
        (root / name).unlink(missing_ok=True)
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
    used = [
        {
            "folder": f.relative_to(root).as_posix(),
            "config_hash": metas[f].get("config_hash"),
            "metrics_sha256": (metas[f].get("tables_sha256") or {}).get("metrics"),
        }
        for f in good
    ]
    outside = [f.relative_to(root).as_posix() for f in runs_outside_plan(root, expected)]
    if outside:
        log.warning(
            "%d run folders below %s are not in this sweep's plan and were left out of the summary (e.g. %s)",
            len(outside),
            root / "runs",
            outside[0],
        )
    if command is None and isinstance(expected, dict):
        command = expected.get("command")
    write_manifest(root, expected if isinstance(expected, dict) else None, used, outside, command)
    return summary


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
