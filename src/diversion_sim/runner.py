"""Run replicates of one configuration and write each run atomically into its own folder.

Layout below a sweep (or single-run) folder ``root``::

    root/runs/scenario=<name>/replicate=<r>/{metrics,weekly,episodes,events}.parquet, meta.json
    root/runs/variant=<k=v,...>/scenario=<name>/replicate=<r>/...   (a sweep over other keys)

A run folder appears only once complete: files are written into a temporary sibling folder that
is renamed into place (atomic on one file system), and ``meta.json`` records the package version
and a hash of the configuration, so a resumed sweep skips complete runs and never mixes runs of
another configuration or model version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__
from .config import posterior_path
from .model import DiversionModel, RunResult
from .params import Config
from .paths import run_folder, run_folders, variant_label  # noqa: F401  (re-exported)

log = logging.getLogger("diversion_sim")
TABLES = ("metrics", "weekly", "episodes", "spells", "events")


def _posterior_digest(cfg: Config) -> str | None:
    """Hash of the posterior draws file's contents (its path alone would not see an edit)."""
    p = posterior_path(cfg)
    if p is None:
        return None
    try:
        return hashlib.sha256(p.read_bytes()).hexdigest()[:16]
    except OSError:
        return "unreadable"


def _hash(d: dict) -> str:
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def config_hash(cfg: Config) -> str:
    """Hash of everything that changes results except the replicate number and the output
    (the posterior file by its contents)."""
    d = asdict(cfg)
    d.pop("output", None)
    d.pop("replicates", None)
    d["posterior_contents"] = _posterior_digest(cfg)
    return _hash(d)


def _drop(d: dict, dotted: str) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        d = d.get(part, {}) if isinstance(d, dict) else {}
    if isinstance(d, dict):
        d.pop(parts[-1], None)


def common_hash(cfg: Config, variant: dict[str, Any] | None = None) -> str:
    """What every run of one sweep shares: the configuration without the scenario, the
    replicate count, the output settings and the swept keys (``variant``). Runs whose common
    hash differs do not belong in one summary."""
    d = asdict(cfg)
    for k in ("output", "replicates", "scenario"):
        d.pop(k, None)
    for key in variant or {}:
        _drop(d, key)
    d["posterior_contents"] = _posterior_digest(cfg)
    return _hash(d)


def is_complete(folder: Path, cfg_hash: str | None = None) -> bool:
    """A run folder is complete when its meta.json is readable, was written by this version, lists
    its tables (metrics among them), every one is there and is the table the run wrote (its
    sha256), and it matches ``cfg_hash``: anything else is redone by a resumed sweep."""
    from .manifest import read_json, sha256_file

    meta = read_json(Path(folder) / "meta.json")
    tables = meta.get("tables") if isinstance(meta, dict) else None
    if not isinstance(meta, dict) or not isinstance(tables, list) or "metrics" not in tables:
        return False
    if meta.get("version") != __version__:
        return False
    if cfg_hash is not None and meta.get("config_hash") != cfg_hash:
        return False
    digests = meta.get("tables_sha256")
    for t in tables:
        path = Path(folder) / f"{t}.parquet"
        if not path.is_file() or not isinstance(digests, dict) or digests.get(t) != sha256_file(path):
            return False
    return True


def run_one(
    cfg: Config, replicate: int, burn_in_dir: Path | None = None
) -> tuple[RunResult, dict[str, float]]:
    """Build and run one replicate; returns the result tables and timings (s): the warm start
    (burn-in, or reading it from ``burn_in_dir`` or this process's cache) and the run."""
    t0 = time.perf_counter()
    model = DiversionModel(cfg, replicate, burn_in_dir=burn_in_dir)
    t1 = time.perf_counter()
    model.run()
    result = model.results()
    if cfg.output.burn_in:
        result.weekly_burn_in = model.burn_in_weekly
    return result, {"warm_start": round(t1 - t0, 4), "model": round(time.perf_counter() - t1, 4)}


def _remove_stale_temp(folder: Path) -> None:
    """Remove temporary folders of ``folder`` left by writers that no longer run (a sweep killed
    while writing); a live writer's folder is left alone."""
    for tmp in Path(folder).parent.glob(f".{Path(folder).name}.tmp-*"):
        try:
            os.kill(int(tmp.name.rsplit("-", 1)[1]), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(tmp, ignore_errors=True)
        except PermissionError:  # alive, another user's process
            pass


def write_run(
    result: RunResult,
    folder: Path,
    cfg: Config,
    replicate: int,
    timings: dict[str, float],
    variant: dict[str, Any] | None = None,
    command: str | None = None,
) -> None:
    """Write one run's tables into ``folder`` atomically (temp folder + rename); on a failed
    write (a full disk) the temporary folder is removed and the error names the folder."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _write_tables(result, tmp, cfg, replicate, timings, variant or {}, command)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OSError(
            exc.errno,
            f"cannot write the run into {folder} ({exc.strerror or exc}); "
            "nothing was left half-written there",
        ) from None
    if folder.exists():  # an incomplete or stale folder left by an interrupted run
        shutil.rmtree(folder)
    os.replace(tmp, folder)


def _write_tables(
    result: RunResult,
    tmp: Path,
    cfg: Config,
    replicate: int,
    timings: dict[str, float],
    variant: dict[str, Any],
    command: str | None = None,
) -> None:
    tmp.mkdir()
    ids = {"scenario": cfg.scenario.name, "replicate": replicate, **variant}
    metrics = pd.DataFrame({"metric": list(result.metrics), "value": list(result.metrics.values())})
    tables = {"metrics": metrics, "weekly": result.weekly, "episodes": result.episodes}
    if result.spells is not None:
        tables["spells"] = result.spells
    if cfg.output.events:
        tables["events"] = result.events
    if getattr(result, "weekly_burn_in", None) is not None:
        tables["weekly_burn_in"] = result.weekly_burn_in
    for name, df in tables.items():
        df = df.assign(**ids)
        df.to_parquet(tmp / f"{name}.parquet", index=False)
    from .manifest import table_digests
    from .provenance import provenance

    meta = {
        "version": __version__,
        "config_hash": config_hash(cfg),
        "common_hash": common_hash(cfg, variant),
        "variant": variant,
        "seed": cfg.seed,
        "population": cfg.population.name,
        "years": cfg.years,
        **ids,
        "timings_s": timings,
        "tables": sorted(tables),
        "tables_sha256": table_digests(tmp, sorted(tables)),
        "n_people": int(sum(cfg.population.n_people_by_district)),
        "burn_in_years": cfg.burn_in_years,
        "params_source": (
            f"posterior draws ({cfg.params.posterior_file})"
            if cfg.params.posterior_file
            else "point values of configs/"
        ),
        "scenario_description": cfg.scenario.description,
        "costs": {
            "price_year": cfg.params.costs.price_year,
            "vnd_per_usd": cfg.params.costs.vnd_per_usd,
            "rate_discount": cfg.params.costs.rate_discount,
        },
        "provenance": provenance(command),
        "config": asdict(cfg),  # the resolved configuration this run used (the report reads it)
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def progress(root: Path) -> str:
    """The whole sweep's progress, whichever worker asks: complete run folders against the plan's
    total (sweep.json), time since the sweep started and the time left at that pace."""
    plan_path = Path(root) / "sweep.json"
    try:
        plan = json.loads(plan_path.read_text())
        total = sum(int(j["replicates"]) for j in plan["jobs"])
        started = plan_path.stat().st_mtime
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    done = sum((f / "meta.json").is_file() for f in run_folders(root))
    elapsed = max(time.time() - started, 0.0)
    left = elapsed / done * (total - done) if done else float("nan")
    eta = _clock(left) if done and total >= done else "?"
    return (
        f"progress: {min(done, total)}/{total} runs ({100 * min(done, total) / max(total, 1):.0f}%), "
        f"{_clock(elapsed)} elapsed, about {eta} left"
    )


def run_replicates(
    cfg: Config,
    root: Path,
    replicates: list[int] | None = None,
    variant: dict[str, Any] | None = None,
    generation: str | None = None,
    command: str | None = None,
) -> list[Path]:
    """Run (or skip, if already complete) each replicate of ``cfg`` below ``root``; ``variant``
    holds the values of the swept keys other than the scenario (its runs get their own folder and
    the values as columns of every table). With the plan's ``generation``, the job's record
    (``job.json``: its configuration hash) is written first: the summary takes only runs with it."""
    reps = list(range(cfg.replicates)) if replicates is None else replicates
    h = config_hash(cfg)
    if generation is not None:
        from .manifest import write_job

        write_job(root, cfg, h, variant, generation, command)
    done = []
    for i, r in enumerate(reps):
        folder = run_folder(root, cfg.scenario.name, r, variant)
        _remove_stale_temp(folder)
        if is_complete(folder, h):
            log.info("%s replicate %d: already complete, skipped", cfg.scenario.name, r)
        else:
            result, timings = run_one(cfg, r, Path(root) / "burn_in")
            write_run(result, folder, cfg, r, timings, variant, command)
            log.info(
                "%s: replicate %d done (%d/%d, warm start %.2fs, model %.2fs)",
                cfg.scenario.name,
                r,
                i + 1,
                len(reps),
                timings["warm_start"],
                timings["model"],
            )
            line = progress(root)
            if line:
                log.info(line)
        done.append(folder)
    return done
