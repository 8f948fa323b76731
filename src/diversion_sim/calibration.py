"""Calibration to the Hanoi pilot and the relapse reports: the simulator, its summary statistics,
posterior draws and how sweeps use them.

The calibration itself (ABC-SMC with pyabc, resumable) runs from ``experiments/calibrate.py``;
this module holds what the experiment, the pilot replication and the model share:

* :func:`with_values` - a validated copy of a :class:`Config` with some dotted keys changed;
* :func:`pilot_cascade` - the pilot's cascade counts from one run's tables (Table II of seed 004);
* :func:`cohort_statistics` - relapse-free and methadone-retention shares of published cohorts,
  drawn with the model's own waiting-time samplers at the studies' sample sizes;
* :func:`simulate` - all summary statistics for one parameter vector (one pilot run + cohorts);
* :func:`posterior_draw` - the parameter values replicate ``r`` uses under ``params=posterior``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .params import Config, ConfigError, validate
from .states import Event, Service

# ----------------------------------------------------------------------------- parameters


def with_values(cfg: Config, values: dict[str, float]) -> Config:
    """A validated copy of ``cfg`` with dotted keys (``params.police.rate_detect``) set."""
    out = copy.deepcopy(cfg)
    for key, value in values.items():
        node, parts = out, key.split(".")
        for part in parts[:-1]:
            node = getattr(node, part, None)
            if node is None or not is_dataclass(node):
                raise ConfigError(f"config key '{key}' is not allowed: there is no such key "
                                  "(calibrated and posterior keys are dotted paths such as "
                                  "'params.police.rate_detect').")
        names = {f.name: f for f in fields(node)}
        if parts[-1] not in names:
            raise ConfigError(f"config key '{key}' is not allowed: there is no such key; valid "
                              f"keys here are {sorted(names)}.")
        old = getattr(node, parts[-1])
        setattr(node, parts[-1], type(old)(value) if isinstance(old, (int, float)) else value)
    return validate(out)


@functools.lru_cache(maxsize=8)
def _read_draws(path: str) -> pd.DataFrame:
    p = Path(path)
    try:
        df = pd.read_csv(p)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"config key 'params.posterior_file' = {path!r} is not allowed: the file "
                          f"cannot be read as posterior draws ({exc}).") from None
    if df.empty or not all(c.count(".") >= 1 for c in df.columns):
        raise ConfigError(f"config key 'params.posterior_file' = {path!r} is not allowed: it must "
                          "be a CSV of draws, one column per dotted key (params.police.rate_detect).")
    return df


def posterior_path(cfg: Config) -> Path | None:
    """The posterior draws file of ``cfg`` (relative paths are relative to configs/)."""
    f = cfg.params.posterior_file
    if not f:
        return None
    p = Path(f)
    if not p.is_absolute():
        from .cli import config_dir

        p = config_dir() / p
    return p


def posterior_draw(cfg: Config, replicate: int) -> dict[str, float]:
    """The draw replicate ``replicate`` uses: row ``replicate mod n`` (the same in every scenario,
    so common random numbers also share the parameter draw)."""
    p = posterior_path(cfg)
    if p is None:
        return {}
    df = _read_draws(str(p))
    row = df.iloc[int(replicate) % len(df)]
    return {k: float(v) for k, v in row.items() if not k.startswith("_")}


# ----------------------------------------------------------------------------- statistics
def pilot_cascade(events: pd.DataFrame, services: np.ndarray, moved_or_died: np.ndarray
                  ) -> dict[str, float]:
    """Counts of the pilot cascade (seed 004 Table II) from one run's event table.

    Args:
        events: the run's event table (``kind`` categorical, ``person``).
        services: the ``services`` bit column at the end of the run.
        moved_or_died: boolean per person, left the wards (moved) or died during the run.
    """
    def people(*kinds: Event) -> set[int]:
        names = [k.name.lower() for k in kinds]
        return set(events.loc[events["kind"].isin(names), "person"].tolist())

    referred = people(Event.REFER)
    assessed = people(Event.ASSESS)
    flag = services.astype(np.int64)
    idx = np.fromiter(referred, dtype=np.int64) if referred else np.zeros(0, np.int64)
    return {
        "referred": float(len(referred)),
        "assessed": float(len(assessed)),
        "methadone": float(len(people(Event.START_METHADONE) & assessed)),
        "recovery": float(len((people(Event.START_RECOVERY) | people(Event.START_RESIDENTIAL))
                              & assessed)),
        "hiv": float(np.count_nonzero(flag[idx] & int(Service.HIV_TEST))),
        "legal": float(np.count_nonzero(flag[idx] & int(Service.LEGAL))),
        "left": float(np.count_nonzero(moved_or_died[idx])),
    }


def cohort_statistics(cfg: Config, rng: np.random.Generator, cohorts: dict[str, Any]
                      ) -> dict[str, float]:
    """Shares of published cohorts drawn with the model's own samplers at the studies' sizes.

    ``cohorts`` (from the targets file) gives the sample sizes and time points: relapse-free after
    release from compulsory detention and after voluntary treatment (Wegman et al. 2017), and
    methadone dropout (Khue et al. 2017).
    """
    from .processes.schedule import weibull_residual

    rp, tp = cfg.params.relapse, cfg.params.treatment
    out: dict[str, float] = {}
    for name, hr in (("release", 1.0), ("voluntary", rp.hr_after_residential)):
        c = cohorts[name]
        t = weibull_residual(rng, rp.shape_relapse, rp.scale_relapse, np.full(int(c["n"]), hr),
                             np.zeros(int(c["n"])))
        for w in c["weeks"]:
            out[f"{name}_free_{int(w)}w"] = float(np.mean(t > w))
    c = cohorts["methadone"]
    t = weibull_residual(rng, tp.shape_methadone_dropout, tp.scale_methadone_dropout,
                         np.ones(int(c["n"])), np.zeros(int(c["n"])))
    for w in c["weeks"]:
        out[f"methadone_dropout_{int(w)}w"] = float(np.mean(t <= w))
    return out


def simulation_seed(base_seed: int, values: dict[str, float], salt: int = 0) -> np.random.SeedSequence:
    """A seed derived from the base seed and the parameter values (same values => same run),
    so parallel and resumed calibrations stay reproducible per simulation."""
    blob = ",".join(f"{k}={float(values[k]).hex()}" for k in sorted(values)).encode()
    h = int.from_bytes(hashlib.sha256(blob).digest()[:8], "little")
    return np.random.SeedSequence([int(base_seed), h, int(salt)])


def simulate(cfg: Config, values: dict[str, float], cohorts: dict[str, Any], salt: int = 0
             ) -> dict[str, float]:
    """All summary statistics for one parameter vector: one pilot run and the cohorts."""
    from .model import DiversionModel
    from .states import State

    c = with_values(cfg, values)
    ss = simulation_seed(c.seed, values, salt)
    run_seed, cohort_seed = ss.spawn(2)
    c.seed = int(run_seed.generate_state(1)[0])
    m = DiversionModel(c, 0)
    while m.running and m.week < m.n_weeks:
        m.step()
    gone = (m.pop.state == State.MOVED) | (m.pop.state == State.DEAD)
    stats = pilot_cascade(m.metrics.events_frame(), m.pop.services, gone)
    stats.update(cohort_statistics(c, np.random.default_rng(cohort_seed), cohorts))
    return stats


# ----------------------------------------------------------------------------- ABC-SMC
def observed_statistics(targets: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """Observed summary statistics and their binomial standard deviations (distance scales)."""
    obs, sd = {}, {}
    cas = targets["cascade"]
    for k, v in cas["observed"].items():
        n = float(cas["denominators"][k])
        p = min(max(v / n, 0.02), 0.98)
        obs[k], sd[k] = float(v), float(np.sqrt(n * p * (1 - p)))
    for name, c in targets["cohorts"].items():
        label = "dropout" if name == "methadone" else "free"
        for w, v in zip(c["weeks"], c["observed"]):
            key = f"{name}_{label}_{int(w)}w"
            p = min(max(v, 0.02), 0.98)
            obs[key], sd[key] = float(v), float(np.sqrt(p * (1 - p) / c["n"]))
    return obs, sd


class Simulator:
    """The model as pyabc sees it: parameter dict in, summary statistics out (picklable)."""

    def __init__(self, cfg: Config, targets: dict[str, Any], salt: int = 0) -> None:
        self.cfg, self.targets, self.salt = cfg, targets, salt

    def __call__(self, pars: dict[str, float]) -> dict[str, float]:
        values = {k: float(pars[k]) for k in pars}
        try:
            return simulate(self.cfg, values, self.targets["cohorts"], self.salt)
        except ConfigError:  # outside the joint domain (e.g. plan shares summing above 1): reject
            return {k: 1e12 for k in observed_statistics(self.targets)[0]}


def prior_distribution(priors: dict[str, dict[str, Any]]):
    """pyabc prior from ``{key: {dist: uniform|loguniform, low, high}}``."""
    import pyabc

    rvs = {}
    for key, spec in priors.items():
        lo, hi = float(spec["low"]), float(spec["high"])
        if not lo < hi:
            raise ConfigError(f"config key 'priors.{key}' = [{lo}, {hi}] is not allowed: low < high "
                              "is required.")
        if spec["dist"] == "uniform":
            rvs[key] = pyabc.RV("uniform", lo, hi - lo)
        elif spec["dist"] == "loguniform":
            if lo <= 0:
                raise ConfigError(f"config key 'priors.{key}.low' = {lo} is not allowed: a "
                                  "log-uniform prior needs low > 0.")
            rvs[key] = pyabc.RV("loguniform", lo, hi)
        else:
            raise ConfigError(f"config key 'priors.{key}.dist' = {spec['dist']!r} is not allowed: "
                              "one of ['uniform', 'loguniform'].")
    return pyabc.Distribution(**rvs)


def run_abc(cfg: Config, targets: dict[str, Any], priors: dict[str, dict[str, Any]],
            out_dir: Path, *, population_size: int, max_generations: int,
            min_epsilon: float = 0.0, max_simulations: int = 10**6, n_procs: int = 0,
            resume: bool = False, seed: int = 0) -> pd.DataFrame:
    """Run (or resume) ABC-SMC; store every generation in ``out_dir/abc.db``; return the final
    weighted posterior (one column per key, ``_weight``)."""
    import os

    import pyabc

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = out_dir / "abc.db"
    db = f"sqlite:///{db_path.resolve()}"
    obs, sd = observed_statistics(targets)
    distance = pyabc.PNormDistance(p=2, fixed_weights={k: 1.0 / sd[k] for k in obs})
    procs = n_procs or os.cpu_count() or 1
    sampler = (pyabc.sampler.SingleCoreSampler() if procs == 1
               else pyabc.sampler.MulticoreEvalParallelSampler(n_procs=procs))
    np.random.seed(seed % 2**32)  # pyabc draws proposals from numpy's global generator
    abc = pyabc.ABCSMC(Simulator(cfg, targets), prior_distribution(priors), distance,
                       population_size=population_size, sampler=sampler)
    if db_path.exists():
        if not resume:
            raise ConfigError(f"config key 'resume' = False is not allowed here: {db_path} holds "
                              "an earlier calibration. Pass resume=true to continue it, or choose "
                              "another output folder (hydra.run.dir=...).")
        history = abc.load(db, 1)  # one calibration per folder (a second one is refused above)
        done = history.max_t + 1
    else:
        history = abc.new(db, obs)
        done = 0
    left = max_generations - done
    if left > 0:
        history = abc.run(minimum_epsilon=min_epsilon, max_nr_populations=left,
                          max_total_nr_simulations=max_simulations)
    df, w = history.get_distribution(m=0, t=history.max_t)
    out = df.reset_index(drop=True)
    out["_weight"] = np.asarray(w) / np.sum(w)
    return out


def equal_weight_draws(posterior: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` equally weighted draws (systematic resampling of the weighted particles)."""
    w = posterior["_weight"].to_numpy()
    rng = np.random.default_rng(seed)
    u = (rng.random() + np.arange(n)) / n
    idx = np.minimum(np.searchsorted(np.cumsum(w), u), len(w) - 1)
    cols = [c for c in posterior.columns if not c.startswith("_")]
    return posterior.iloc[idx][cols].reset_index(drop=True)


def weighted_quantiles(posterior: pd.DataFrame, qs=(0.05, 0.5, 0.95)) -> pd.DataFrame:
    w = posterior["_weight"].to_numpy()
    rows = []
    for c in posterior.columns:
        if c.startswith("_"):
            continue
        order = np.argsort(posterior[c].to_numpy())
        v, cw = posterior[c].to_numpy()[order], np.cumsum(w[order])
        rows.append({"key": c, **{f"q{int(q * 100):02d}": float(v[np.searchsorted(cw, q * cw[-1])])
                                  for q in qs}})
    return pd.DataFrame(rows)


def write_posterior(post: pd.DataFrame, out: Path, config_yaml: str, n_draws: int, seed: int) -> None:
    """Write the weighted particles, equally weighted draws, a summary and the config (atomic)."""
    import os

    out = Path(out)
    draws = equal_weight_draws(post, n_draws, seed)
    for name, df in (("posterior.csv", post), ("posterior_draws.csv", draws),
                     ("posterior_summary.csv", weighted_quantiles(post))):
        tmp = out / f".{name}.tmp"
        df.to_csv(tmp, index=False)
        os.replace(tmp, out / name)
    (out / "calibration.yaml").write_text(config_yaml)


def install_posterior(out: Path, configs: Path) -> list[str]:
    """Copy the draws to ``configs/calibration/<name>_posterior.csv`` and set each calibrated key's
    default (in params/default.yaml or the scenario file holding it) to its posterior median,
    with a comment naming the calibration. Returns the changed lines."""
    import datetime
    import re
    import shutil

    import yaml

    out, configs = Path(out), Path(configs)
    conf = yaml.safe_load((out / "calibration.yaml").read_text())
    name = conf.get("name", "pilot")
    shutil.copyfile(out / "posterior_draws.csv", configs / "calibration" / f"{name}_posterior.csv")
    summary = pd.read_csv(out / "posterior_summary.csv").set_index("key")
    stamp = datetime.date.today().isoformat()
    changed = []
    for key, row in summary.iterrows():
        parts = key.split(".")
        if parts[0] == "params":
            path, leaf, section = configs / "params" / "default.yaml", parts[-1], parts[1]
        elif parts[0] == "scenario":
            path, leaf, section = configs / "config.yaml", parts[-1], "scenario"
        else:
            continue
        text = path.read_text().splitlines()
        in_section = False
        for i, line in enumerate(text):
            if re.match(rf"^{section}:\s*(#.*)?$", line):
                in_section = True
                continue
            if in_section and re.match(r"^\S", line):
                in_section = False
            m = re.match(rf"^(\s+){leaf}:\s*([^#\s]+)(\s*)#?\s?(.*)$", line)
            if in_section and m:
                old_comment = re.sub(r"^calibrated \([^)]*\)[^;]*; ", "", m.group(4))
                val = float(f"{row['q50']:.4g}")
                comment = (f"calibrated ({name} ABC-SMC {stamp}: posterior median, 90% "
                           f"[{row['q05']:.3g}, {row['q95']:.3g}]); {old_comment}")
                text[i] = f"{m.group(1)}{leaf}: {val:<10g}{m.group(3) or ' '}# {comment}"
                changed.append(f"{path.name}: {text[i].strip()}")
                break
        path.write_text("\n".join(text) + "\n")
    return changed
