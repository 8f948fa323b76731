"""Outputs that prove themselves: job records, run-table checks and the sweep's manifest.

A sweep's numbers are published only from runs that provably belong to its plan:

- ``sweep.json`` (the plan) carries a *generation* id, new for every start of the command;
- each job (one scenario at one set of swept values) writes ``job.json`` beside its runs before it
  runs anything: the plan's generation, its full configuration hash (the scenario section
  included) and its resolved configuration;
- each run's ``meta.json`` carries its configuration hash and the sha256 of each of its tables;
- the summary (:func:`diversion_sim.sweep.aggregate`) takes the plan's runs only, requires every
  one to have its job's hash, checks each table's identity columns, schema and value domains
  against its folder, and writes ``manifest.json`` **last** (the old one is removed first), with the
  sha256 and row count of every table it wrote and the list of runs it used;
- the report and ``load_sweep`` verify the tables against the manifest and the manifest against
  the run folders, and refuse a mismatch, so a killed, resumed, copied or edited sweep can never be
  reported as whole.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .atomic import atomic_path
from .errors import SweepError

MANIFEST = "manifest.json"
JOB = "job.json"
ID_COLUMNS = ("scenario", "replicate")
# files of a summarised sweep that the manifest vouches for (those present when it was written)
SWEEP_FILES = (
    "runs.parquet",
    "weekly.parquet",
    "episodes.parquet",
    "spells.parquet",
    "events.parquet",
    "weekly_burn_in.parquet",
    "summary.csv",
    "economics.csv",
    "acceptability.csv",
)


def new_generation() -> str:
    return uuid.uuid4().hex


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (a reader sees the old file or the new one, never half of one)."""
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, default=str))


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


# ----------------------------------------------------------------------------- job records
def job_path(root: Path, scenario: str, variant: dict[str, Any] | None = None) -> Path:
    from .paths import run_folder

    return Path(run_folder(root, scenario, 0, variant)).parent / JOB


def write_job(
    root: Path,
    cfg: Any,
    config_hash: str,
    variant: dict[str, Any] | None,
    generation: str,
    command: str | None,
) -> None:
    """Record, before any of its runs, which configuration (``config_hash``) this job of the plan
    ``generation`` runs: the summary accepts only runs with this hash."""
    from dataclasses import asdict

    path = job_path(root, cfg.scenario.name, variant)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(
        path,
        {
            "generation": generation,
            "scenario": cfg.scenario.name,
            "variant": variant or {},
            "replicates": cfg.replicates,
            "config_hash": config_hash,
            "command": command,
            "config": asdict(cfg),
        },
    )


# ----------------------------------------------------------------------------- run tables
def table_digests(folder: Path, tables: list[str]) -> dict[str, str]:
    return {t: sha256_file(Path(folder) / f"{t}.parquet") for t in tables}


def _domains() -> dict[str, tuple[float, float]]:
    """Allowed range of each result by its unit: shares in [0, 1], counts, costs and durations
    not negative; growth rates and net monetary benefit may be negative."""
    from .metrics import RESULTS

    out = {}
    for r in RESULTS:
        if r.unit == "share":
            out[r.name] = (0.0, 1.0)
        elif r.unit == "per year" or r.name.startswith("net_benefit_"):  # may fall / be negative
            out[r.name] = (-np.inf, np.inf)
        else:
            out[r.name] = (0.0, np.inf)
    return out


def check_table(
    df: pd.DataFrame, name: str, folder: Path, meta: dict[str, Any], variant_keys: list[str]
) -> str | None:
    """A problem with one run table (or None): its identity columns must be its folder's, a
    metrics table has exactly the expected columns and finite values inside each result's domain."""
    ids = {"scenario": meta.get("scenario"), "replicate": meta.get("replicate")}
    ids.update(meta.get("variant") or {})
    for col, want in ids.items():
        if col not in df.columns:
            return f"{folder / (name + '.parquet')}: no column {col!r}"
        if len(df) and not (df[col].astype(str) == str(want)).all():
            seen = sorted(map(str, df[col].astype(str).unique()))[:3]
            return (
                f"{folder / (name + '.parquet')}: column {col!r} holds {', '.join(seen)}, but the "
                f"folder is {col} {want!r} (a table copied from another run?)"
            )
    if name != "metrics":
        return None
    expected = {"metric", "value", *ID_COLUMNS, *variant_keys}
    if set(df.columns) != expected:
        extra, missing = sorted(set(df.columns) - expected), sorted(expected - set(df.columns))
        return (
            f"{folder / 'metrics.parquet'}: unexpected columns (extra {extra}, missing {missing}); "
            "it is not a table this version writes"
        )
    values = pd.to_numeric(df["value"], errors="coerce")
    if values.isna().sum() > df["value"].isna().sum():
        return f"{folder / 'metrics.parquet'}: values that are not numbers"
    dom = _domains()
    for metric, v in zip(df["metric"], values):
        lo, hi = dom.get(metric, (-np.inf, np.inf))
        if np.isinf(v) and not (v > 0 and str(metric).startswith("median_")):
            # only a median time can be infinite (the curve never fell to one half)
            return f"{folder / 'metrics.parquet'}: {metric} = {v!r} is not a finite number"
        if np.isfinite(v) and not lo - 1e-9 <= v <= hi + 1e-9:
            return f"{folder / 'metrics.parquet'}: {metric} = {v!r} is outside [{lo}, {hi}]"
    return None


# ----------------------------------------------------------------------------- the manifest
def remove_manifest(root: Path) -> None:
    """First step of every summary: the old manifest goes, so tables half rebuilt are never vouched for."""
    (Path(root) / MANIFEST).unlink(missing_ok=True)


def write_manifest(
    root: Path, plan: Any, runs: list[dict[str, Any]], left_out: list[str], command: str | None
) -> dict[str, Any]:
    """Write ``manifest.json`` (last of all the sweep's files)."""
    from .provenance import provenance

    root = Path(root)
    files = {}
    for name in SWEEP_FILES:
        path = root / name
        if path.is_file():
            files[name] = {"sha256": sha256_file(path), "rows": _rows(path)}
    manifest = {
        "generation": (plan or {}).get("generation") if isinstance(plan, dict) else None,
        "provenance": provenance(command),
        "plan": (plan or {}).get("jobs") if isinstance(plan, dict) else None,
        "runs": runs,
        "left_out": left_out,
        "files": files,
    }
    write_json(root / MANIFEST, manifest)
    return manifest


def _rows(path: Path) -> int:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    with open(path, "rb") as fh:
        return max(sum(1 for _ in fh) - 1, 0)


def verify(root: Path, names: tuple[str, ...] = SWEEP_FILES) -> dict[str, Any]:
    """The manifest of a summarised sweep, after checking that every file it lists (of ``names``)
    is the one it describes and every run it lists is still in its folder with the same
    configuration. Raises :class:`SweepError` naming what differs."""
    root = Path(root)
    rebuild = f"Rebuild the tables with diversion-sim-summary {root} (it checks every run again)."
    manifest = read_json(root / MANIFEST)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise SweepError(
            f"{root / MANIFEST} is missing or damaged: the sweep's tables were not all written by one "
            f"finished summary (it was interrupted, or the files came from elsewhere). {rebuild}"
        )
    for name in names:
        path = root / name
        entry = manifest["files"].get(name)
        if entry is None:
            if path.is_file():
                raise SweepError(
                    f"{path} is not listed in the sweep's manifest (written after the summary, or "
                    f"copied in). {rebuild}"
                )
            continue
        if not path.is_file():
            raise SweepError(f"{path} is missing, but the sweep's manifest lists it. {rebuild}")
        if sha256_file(path) != entry.get("sha256"):
            raise SweepError(
                f"{path} is not the file the summary wrote (its contents changed: edited, "
                f"copied from another sweep, or left by an interrupted summary). {rebuild}"
            )
    for run in manifest.get("runs") or []:
        meta = read_json(root / str(run.get("folder")) / "meta.json")
        if not isinstance(meta, dict) or meta.get("config_hash") != run.get("config_hash"):
            raise SweepError(
                f"run {run.get('folder')} listed in {root / MANIFEST} is gone or holds another "
                f"configuration now: the tables do not describe the runs in this folder. {rebuild}"
            )
        if meta.get("tables_sha256", {}).get("metrics") != run.get("metrics_sha256"):
            raise SweepError(f"run {run.get('folder')} has changed since the summary was built. {rebuild}")
    return manifest


def planned_generation(root: Path) -> str | None:
    plan = read_json(Path(root) / "sweep.json")
    return plan.get("generation") if isinstance(plan, dict) else None


__all__ = [
    "JOB",
    "MANIFEST",
    "check_table",
    "job_path",
    "new_generation",
    "remove_manifest",
    "sha256_file",
    "table_digests",
    "verify",
    "write_job",
    "write_json",
    "write_manifest",
]
