"""Calibration to the Hanoi pilot and the relapse reports: the simulator, its summary statistics,
posterior draws and how sweeps use them.

The calibration itself (ABC-SMC with pyabc, resumable) runs from ``experiments/calibrate.py``;
this module holds what the experiment, the pilot replication and the model share:

* :func:`with_values` - a validated copy of a :class:`Config` with some dotted keys changed;
* :func:`pilot_cascade` - the pilot's cascade shares from one run's tables (Tables I-II of seed 004);
* :func:`cohorts.cohort_statistics` - relapse-free and methadone-retention shares of published
  cohorts, drawn through the running model's own code (see :mod:`diversion_sim.cohorts`);
* :func:`simulate` - all summary statistics for one parameter vector (one pilot run + cohorts);
* :func:`posterior_draw` - the parameter values replicate ``r`` uses under ``params=posterior``.
"""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import cohorts
from .config import (  # noqa: F401  (re-exported: the calibration's users import them here)
    INIT_SHARES,
    _read_draws,
    compose_config,
    config_dir,
    posterior_draw,
    posterior_path,
    with_values,
)
from .metrics import growth_per_year
from .params import Config, ConfigError
from .states import Event, Service

# ----------------------------------------------------------------------------- parameters


# ----------------------------------------------------------------------------- statistics
def pilot_cascade(
    events: pd.DataFrame,
    services: np.ndarray,
    moved_or_died: np.ndarray,
    district: np.ndarray,
    district_names: list[str],
    n_registered: list[float],
    weights: dict[str, float] | None = None,
) -> dict[str, float]:
    """The pilot cascade (seed 004 Tables I and II) from one run's event table, as shares.

    * ``referred_<district>``: people referred of the district's registered (``n_registered``);
    * ``assessed_share_<district>``: of the district's referrals, the share assessed;
    * ``assessed``, ``methadone``, ``recovery``, ``hiv``, ``legal``, ``left``: shares of the
      referrals, pooled over the districts with ``weights`` (the pilot's own referrals per
      district, 117 and 87): the model's Nam Tu Liem cannot refer 87 people of its 45 registered,
      so pooling by the model's own referrals would weigh Long Bien's practice more than the
      pilot did. ``weights`` maps district names to weights; a district it does not name (or
      no ``weights``) weighs by the model's own referrals.

    Args:
        events: the run's event table (``kind`` categorical, ``person``).
        services: the ``services`` bit column at the end of the run.
        moved_or_died: boolean per person, left the wards (moved) or died during the run.
        district: district index per person; ``district_names`` name them (population config).
        n_registered: registered people per district at the switch (population config).
    """

    def people(*kinds: Event) -> np.ndarray:
        names = [k.name.lower() for k in kinds]
        return np.unique(events.loc[events["kind"].isin(names), "person"].to_numpy(np.int64))

    referred = people(Event.REFER)
    assessed = np.isin(referred, people(Event.ASSESS))
    flag = services.astype(np.int64)[referred]
    steps = {
        "assessed": assessed,
        "methadone": assessed & np.isin(referred, people(Event.START_METHADONE)),
        # recovery support also follows screening without a full assessment (seed 004 Table II)
        "recovery": np.isin(referred, people(Event.START_RECOVERY, Event.START_RESIDENTIAL)),
        "hiv": (flag & int(Service.HIV_TEST)) > 0,
        "legal": (flag & int(Service.LEGAL)) > 0,
        "left": moved_or_died[referred],
    }
    where = district[referred]
    names = [district_key(n) for n in district_names]
    w = np.array(
        [float((weights or {}).get(n, np.count_nonzero(where == d))) for d, n in enumerate(district_names)],
        float,
    )
    out: dict[str, float] = {}
    for d, name in enumerate(names):
        out[f"referred_{name}"] = float(np.count_nonzero(where == d) / float(n_registered[d]))
    for k, hit in steps.items():
        share = np.array(
            [hit[where == d].mean() if np.any(where == d) else np.nan for d in range(len(names))]
        )
        ok = ~np.isnan(share) & (w > 0)
        out[k] = float(np.sum(w[ok] * share[ok]) / np.sum(w[ok])) if ok.any() else float("nan")
        prefix = "assessed_share" if k == "assessed" else k  # the district's own share
        out.update({f"{prefix}_{n}": float(s) for n, s in zip(names, share)})
    return out


def district_key(name: str) -> str:
    """A district's name as a statistic suffix: 'Long Bien' -> 'long_bien'."""
    return re.sub(r"\W+", "_", name.strip().lower())


def register_stocks(weekly: pd.DataFrame) -> pd.DataFrame:
    """Per week: the living register (everyone not dead or gone) and the share of it in each
    state, from a weekly table of state counts (``n_*``)."""
    cols = [c for c in weekly.columns if c.startswith("n_") and c not in ("n_dead", "n_moved")]
    reg = weekly[cols].sum(axis=1)
    out = pd.DataFrame({"week": weekly["week"].to_numpy(), "register": reg.to_numpy()})
    for c in cols:
        out[f"share_{c[2:]}"] = (weekly[c] / reg.where(reg > 0)).to_numpy()
    return out


def status_quo_statistics(m: Any) -> dict[str, float]:
    """The status quo against the country (issue 10), from one run of the compulsory regime
    (``m`` after :meth:`run`): share of the register in centres and on methadone over the first
    year after the switch; the register's size at the switch and its growth per year (log-linear
    slope over the last 5 burn-in years and the first run year); compulsory history of the
    people using in the community at the switch (the pool the pilot referred from)."""
    run = register_stocks(m.metrics.weekly_frame()).iloc[:53]
    burn = register_stocks(m.burn_in_weekly)
    both = pd.concat([burn[burn["week"] >= -260], run[run["week"] > 0]])
    slope = growth_per_year(both["week"] / 52.0, both["register"])
    hist = m.history_at_switch
    ever = hist[hist > 0]
    return {
        "share_detained": float(run["share_detained"].mean()),
        "share_methadone": float(run["share_methadone"].mean()),
        "register_at_switch": float(run["register"].iloc[0]),
        "register_growth": slope,
        "share_prior_detention": float(np.mean(hist > 0)) if hist.size else np.nan,
        "mean_prior_detentions": float(ever.mean()) if ever.size else np.nan,
    }


def simulation_seed(base_seed: int, values: dict[str, float], salt: int = 0) -> np.random.SeedSequence:
    """A seed derived from the base seed and the parameter values (same values => same run),
    so parallel and resumed calibrations stay reproducible per simulation."""
    blob = ",".join(f"{k}={float(values[k]).hex()}" for k in sorted(values)).encode()
    h = int.from_bytes(hashlib.sha256(blob).digest()[:8], "little")
    return np.random.SeedSequence([int(base_seed), h, int(salt)])


PARTS = ("cascade", "cohorts")  # the default parts; "status_quo" is asked for by its stage


def simulate(
    cfg: Config,
    values: dict[str, float],
    cohort_specs: dict[str, Any],
    salt: int = 0,
    parts: tuple[str, ...] = PARTS,
    weights: dict[str, float] | None = None,
) -> dict[str, float]:
    """Summary statistics for one parameter vector: the pilot cascade (one run of the model)
    and/or the published cohorts (the model's own relapse and dropout samplers). ``weights``:
    the pilot's referrals per district (``targets.cascade.referrals_by_district``), which pool
    the districts' cascade shares (:func:`pilot_cascade`)."""
    return _simulate(cfg, values, cohort_specs, salt, parts, weights)[0]


def _simulate(
    cfg: Config,
    values: dict[str, float],
    cohort_specs: dict[str, Any],
    salt: int,
    parts: tuple[str, ...],
    weights: dict[str, float] | None = None,
) -> tuple[dict[str, float], Any, Any]:
    """:func:`simulate`, also returning the model run (None without the cascade) and its events."""
    from .model import DiversionModel
    from .states import State

    c = with_values(cfg, values)
    ss = simulation_seed(c.seed, values, salt)
    run_seed, cohort_seed = ss.spawn(2)
    stats: dict[str, float] = {}
    m = events = None
    if "cascade" in parts:
        c.seed = int(run_seed.generate_state(1)[0])
        m = DiversionModel(c, 0)
        while m.running and m.week < m.n_weeks:
            m.step()
        gone = (m.pop.state == State.MOVED) | (m.pop.state == State.DEAD)
        events = m.metrics.events_frame()
        stats.update(
            pilot_cascade(
                events,
                m.pop.services,
                gone,
                m.wards.district[m.pop.ward],
                list(c.population.district_names),
                list(c.population.n_people_by_district),
                weights,
            )
        )
    if "cohorts" in parts:
        stats.update(cohorts.cohort_statistics(c, np.random.default_rng(cohort_seed), cohort_specs))
    if "status_quo" in parts:
        sq = copy.deepcopy(c)
        sq.seed = int(run_seed.generate_state(2)[1])
        sq.output.events = False
        ms = DiversionModel(sq, 0)
        ms.run()
        stats.update(status_quo_statistics(ms))
    return stats, m, events


# ----------------------------------------------------------------------------- ABC-SMC
def observed_statistics(
    targets: dict[str, Any], parts: tuple[str, ...] = PARTS
) -> tuple[dict[str, float], dict[str, float]]:
    """Observed summary statistics and their binomial standard deviations (distance scales)."""
    obs, sd = {}, {}
    cas = targets["cascade"]
    for k, spec in cas.get("shares", {}).items() if "cascade" in parts else []:
        p = min(max(float(spec["observed"]), 0.02), 0.98)
        obs[k], sd[k] = float(spec["observed"]), float(np.sqrt(p * (1 - p) / spec["n"]))
    for k, spec in targets["status_quo"].items() if "status_quo" in parts else []:
        obs[k], sd[k] = float(spec["observed"]), float(spec["sd"])
    for name, c in targets["cohorts"].items() if "cohorts" in parts else []:
        cohorts.validate(name, c)
        for key, v in zip(cohorts.statistic_names(name, c), cohorts.observed_values(c)):
            p = min(max(v, 0.02), 0.98)
            obs[key] = float(v)
            sd[key] = float(c["sd"]) if "sd" in c else float(np.sqrt(p * (1 - p) / c["n"]))
    return obs, sd


class Simulator:
    """The model as pyabc sees it: parameter dict in, summary statistics out (picklable)."""

    def __init__(
        self,
        cfg: Config,
        targets: dict[str, Any],
        salt: int = 0,
        parts: tuple[str, ...] = PARTS,
        fixed: dict[str, float] | None = None,
    ) -> None:
        self.cfg, self.targets, self.salt = cfg, targets, salt
        self.parts, self.fixed = tuple(parts), dict(fixed or {})

    def __call__(self, pars: dict[str, float]) -> dict[str, float]:
        values = {**self.fixed, **natural_scale({k: float(pars[k]) for k in pars})}
        try:
            return simulate(
                self.cfg,
                values,
                self.targets["cohorts"],
                self.salt,
                self.parts,
                self.targets["cascade"].get("referrals_by_district"),
            )
        except ConfigError:  # outside the joint domain: reject
            return {k: 1e12 for k in observed_statistics(self.targets, self.parts)[0]}


LOG = "log10:"  # a log-uniform prior is sampled (and perturbed) on the log10 scale


def natural_scale(values: dict[str, float]) -> dict[str, float]:
    """Parameter values on the model's scale (``log10:key`` -> ``key``)."""
    return {
        (k[len(LOG) :] if k.startswith(LOG) else k): (10.0**v if k.startswith(LOG) else v)
        for k, v in values.items()
    }


def prior_distribution(priors: dict[str, dict[str, Any]]):
    """pyabc prior from ``{key: {dist: uniform|loguniform, low, high}}``.

    Log-uniform priors become uniform priors on ``log10:key``: the SMC kernels then perturb on
    the log scale, which avoids the weight degeneracy of a 1/x density over decades."""
    import pyabc

    rvs = {}
    for key, spec in priors.items():
        lo, hi = float(spec["low"]), float(spec["high"])
        if not lo < hi:
            raise ConfigError(
                f"config key 'priors.{key}' = [{lo}, {hi}] is not allowed: low < high is required."
            )
        if spec["dist"] == "uniform":
            rvs[key] = pyabc.RV("uniform", lo, hi - lo)
        elif spec["dist"] == "loguniform":
            if lo <= 0:
                raise ConfigError(
                    f"config key 'priors.{key}.low' = {lo} is not allowed: a log-uniform prior needs low > 0."
                )
            rvs[LOG + key] = pyabc.RV("uniform", np.log10(lo), np.log10(hi) - np.log10(lo))
        else:
            raise ConfigError(
                f"config key 'priors.{key}.dist' = {spec['dist']!r} is not allowed: "
                "one of ['uniform', 'loguniform']."
            )
    return pyabc.Distribution(**rvs)


def run_abc(
    cfg: Config,
    targets: dict[str, Any],
    priors: dict[str, dict[str, Any]],
    out_dir: Path,
    *,
    population_size: int,
    max_generations: int,
    min_epsilon: float = 0.0,
    max_simulations: int = 10**6,
    n_procs: int = 0,
    resume: bool = False,
    seed: int = 0,
    parts: tuple[str, ...] = PARTS,
    fixed: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Run (or resume) ABC-SMC; store every generation in ``out_dir/abc.db``; return the final
    weighted posterior (one column per key, ``_weight``).

    ``parts`` chooses the statistics (``cascade``, ``cohorts``); ``fixed`` holds values of other
    parameters kept constant in this run (e.g. an earlier stage's posterior medians)."""
    import os

    import pyabc

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = out_dir / "abc.db"
    db = f"sqlite:///{db_path.resolve()}"
    obs, sd = observed_statistics(targets, parts)
    distance = pyabc.PNormDistance(p=2, fixed_weights={k: 1.0 / sd[k] for k in obs})
    procs = n_procs or os.cpu_count() or 1
    sampler = (
        pyabc.sampler.SingleCoreSampler()
        if procs == 1
        else pyabc.sampler.MulticoreEvalParallelSampler(n_procs=procs)
    )
    np.random.seed(seed % 2**32)  # pyabc draws proposals from numpy's global generator
    abc = pyabc.ABCSMC(
        Simulator(cfg, targets, parts=parts, fixed=fixed),
        prior_distribution(priors),
        distance,
        population_size=population_size,
        sampler=sampler,
    )
    if db_path.exists():
        if not resume:
            raise ConfigError(
                f"config key 'resume' = False is not allowed here: {db_path} holds "
                "an earlier calibration. Pass resume=true to continue it, or choose "
                "another output folder (hydra.run.dir=...)."
            )
        history = abc.load(db, 1)  # one calibration per folder (a second one is refused above)
        done = history.max_t + 1
    else:
        history = abc.new(db, obs)
        done = 0
    left = max_generations - done
    if left > 0:
        history = abc.run(
            minimum_epsilon=min_epsilon, max_nr_populations=left, max_total_nr_simulations=max_simulations
        )
    df, w = history.get_distribution(m=0, t=history.max_t)
    out = df.reset_index(drop=True)
    for c in list(out.columns):
        if c.startswith(LOG):
            out[c[len(LOG) :]] = 10.0 ** out.pop(c)
    out = out[sorted(out.columns)]
    out["_weight"] = np.asarray(w) / np.sum(w)
    return out


def equal_weight_draws(posterior: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` equally weighted draws (systematic resampling of the weighted particles), in a
    random order (so draws of separate stages can be paired without artificial correlation)."""
    w = posterior["_weight"].to_numpy()
    rng = np.random.default_rng(seed)
    u = (rng.random() + np.arange(n)) / n
    idx = np.minimum(np.searchsorted(np.cumsum(w / w.sum()), u), len(w) - 1)
    cols = [c for c in posterior.columns if not c.startswith("_")]
    return posterior.iloc[rng.permutation(idx)][cols].reset_index(drop=True)


def run_stages(
    cfg: Config,
    targets: dict[str, Any],
    priors: dict[str, dict[str, Any]],
    stages: list[dict[str, Any]],
    out_dir: Path,
    *,
    n_draws: int,
    seed: int,
    stage_cfgs: dict[str, Config] | None = None,
    only: list[str] | None = None,
    previous: pd.DataFrame | None = None,
    **abc_kw: Any,
) -> pd.DataFrame:
    """Calibrate in stages (blocks of parameters informed by separate statistics, e.g. the cohort
    curves, then the pilot cascade); each later stage holds earlier stages' parameters at their
    posterior medians. Returns equally weighted joint draws (stage draws paired at random,
    i.e. blocks treated as independent a posteriori), with ``_weight``.

    ``stage_cfgs`` gives a stage its own model configuration (by stage name). With ``only``, the
    other stages are not rerun: their draws are taken from ``previous`` (an earlier joint
    posterior, e.g. the installed one) and their medians held fixed."""
    out_dir = Path(out_dir)
    fixed: dict[str, float] = {}
    joint = []
    for i, st in enumerate(stages):
        keys = list(st["priors"])
        missing = [k for k in keys if k not in priors]
        if missing:
            raise ConfigError(
                f"config key 'stages[{i}].priors' = {missing} is not allowed: every "
                f"key needs a prior in 'priors' (have {sorted(priors)})."
            )
        if only is not None and st["name"] not in only:
            absent = [k for k in keys if previous is None or k not in previous.columns]
            if absent:
                raise ConfigError(
                    f"config key 'only' = {only} is not allowed: stage "
                    f"'{st['name']}' is not rerun but the earlier posterior has no "
                    f"draws of {absent}."
                )
            assert previous is not None  # absent would have named every key
            prev = previous[keys].reset_index(drop=True)
            fixed.update(prev.median().to_dict())
            joint.append(
                prev.sample(n=n_draws, replace=len(prev) < n_draws, random_state=seed + 100 + i).reset_index(
                    drop=True
                )
            )
            continue
        stage_cfg = (stage_cfgs or {}).get(st["name"], cfg)
        post = run_abc(
            stage_cfg,
            targets,
            {k: priors[k] for k in keys},
            out_dir / st["name"],
            parts=tuple(st["parts"]),
            fixed=dict(fixed),
            seed=seed + i,
            **abc_kw,
        )
        post.to_csv(out_dir / st["name"] / "posterior.csv", index=False)
        fixed.update(weighted_quantiles(post).set_index("key")["q50"].to_dict())
        joint.append(equal_weight_draws(post, n_draws, seed + 100 + i))
    draws = pd.concat(joint, axis=1)
    draws["_weight"] = 1.0 / len(draws)
    return draws


def weighted_quantiles(posterior: pd.DataFrame, qs=(0.05, 0.5, 0.95)) -> pd.DataFrame:
    w = posterior["_weight"].to_numpy()
    rows = []
    for c in posterior.columns:
        if c.startswith("_"):
            continue
        order = np.argsort(posterior[c].to_numpy())
        v, cw = posterior[c].to_numpy()[order], np.cumsum(w[order])
        rows.append(
            {"key": c, **{f"q{int(q * 100):02d}": float(v[np.searchsorted(cw, q * cw[-1])]) for q in qs}}
        )
    return pd.DataFrame(rows)


def write_posterior(post: pd.DataFrame, out: Path, config_yaml: str, n_draws: int, seed: int) -> None:
    """Write the weighted particles, equally weighted draws, a summary and the config (atomic)."""
    import os

    out = Path(out)
    draws = equal_weight_draws(post, n_draws, seed)
    for name, df in (
        ("posterior.csv", post),
        ("posterior_draws.csv", draws),
        ("posterior_summary.csv", weighted_quantiles(post)),
    ):
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
    medians = {k: float(f"{v:.4g}") for k, v in summary["q50"].items()}
    notes = {k: f"posterior median, 90% [{r['q05']:.3g}, {r['q95']:.3g}]" for k, r in summary.iterrows()}
    if "population.share_init_using" in medians:  # the other shares rescale (see with_values)
        pop = yaml.safe_load((configs / "population" / "pilot_districts.yaml").read_text())
        u = medians["population.share_init_using"]
        rest = sum(pop[k] for k in INIT_SHARES[1:])
        for k in INIT_SHARES[1:]:
            medians[f"population.{k}"] = float(f"{(1 - u) * pop[k] / rest:.4g}")
            notes[f"population.{k}"] = "rescaled with share_init_using"
        last = INIT_SHARES[-1]  # keep the sum exactly 1 after rounding
        others = sum(medians[f"population.{k}"] for k in INIT_SHARES[:-1])
        medians[f"population.{last}"] = float(f"{1 - others:.4g}")
    changed = []
    for key, val in medians.items():
        parts = key.split(".")
        if parts[0] == "params":
            path, leaf, section = configs / "params" / "default.yaml", parts[-1], parts[1]
        elif parts[0] == "scenario":
            path, leaf, section = configs / "config.yaml", parts[-1], "scenario"
        elif parts[0] == "population":
            path, leaf, section = configs / "population" / "pilot_districts.yaml", parts[-1], None
        else:
            continue
        if leaf.isdigit():  # one element of a flow-style list: `key: [a, b]  # comment`
            text = path.read_text().splitlines()
            lname, i = parts[-2], int(leaf)
            for j, line in enumerate(text):
                mm = re.match(rf"^(\s*{lname}:\s*)\[([^\]]*)\](\s*)#?\s?(.*)$", line)
                if mm:
                    items = [x.strip() for x in mm.group(2).split(",")]
                    items[i] = f"{val:g}"
                    old_comment = re.sub(r"^calibrated \([^)]*\)[^;]*; ", "", mm.group(4))
                    comment = f"calibrated ({name} ABC-SMC {stamp}: [{i}] {notes[key]}); {old_comment}"
                    text[j] = f"{mm.group(1)}[{', '.join(items)}]{mm.group(3) or ' '}# {comment}"
                    changed.append(f"{path.name}: {text[j].strip()}")
                    break
            path.write_text("\n".join(text) + "\n")
            continue
        text = path.read_text().splitlines()
        in_section = section is None
        for i, line in enumerate(text):
            if section is not None and re.match(rf"^{section}:\s*(&\w+\s*)?(#.*)?$", line):
                in_section = True
                continue
            if section is not None and in_section and re.match(r"^\S", line):
                in_section = False
            indent = r"(\s+)" if section is not None else r"()"
            m = re.match(rf"^{indent}{leaf}:\s*([^#\s]+)(\s*)#?\s?(.*)$", line)
            if in_section and m:
                old_comment = re.sub(r"^calibrated \([^)]*\)[^;]*; ", "", m.group(4))
                comment = f"calibrated ({name} ABC-SMC {stamp}: {notes[key]}); {old_comment}"
                text[i] = f"{m.group(1)}{leaf}: {val:<10g}{m.group(3) or ' '}# {comment}"
                changed.append(f"{path.name}: {text[i].strip()}")
                break
        path.write_text("\n".join(text) + "\n")
    return changed


# ----------------------------------------------------------------------------- pilot replication
CASCADE_LABELS = {
    "referred_long_bien": "referred by police, of Long Bien's registered",
    "referred_nam_tu_liem": "referred by police, of Nam Tu Liem's registered",
    "assessed": "assessed, treatment plan",
    "methadone": "sent to methadone",
    "recovery": "recovery support",
    "hiv": "HIV testing referral",
    "legal": "legal aid",
    "left": "left the pilot",
    "assessed_share_long_bien": "assessed, Long Bien",
    "assessed_share_nam_tu_liem": "assessed, Nam Tu Liem",
    **{  # the district checks (targets.yaml checks), named as the fitted rows are
        f"{what}_{suffix}": f"{what}, {name}"
        for what in ("methadone", "recovery", "left")
        for suffix, name in (("long_bien", "Long Bien"), ("nam_tu_liem", "Nam Tu Liem"))
    },
}


def load_draws(path: str) -> pd.DataFrame:
    p = Path(path)
    if not p.is_absolute():
        p = config_dir() / p
    if not p.is_file():
        raise ConfigError(
            f"config key 'posterior' = {path!r} is not allowed: no such file. Run "
            "experiments/calibrate.py (install=true puts the draws in configs/)."
        )
    return _read_draws(str(p)).copy()


def running_model_tables(run_cfgs: dict[str, Config], values: dict[str, float], salt: int) -> dict[str, Any]:
    """One run of each scenario in ``run_cfgs`` (same parameter values, same random numbers per
    replicate, so one burn-in serves them all), for measuring the cohorts on the running
    model."""
    from .model import DiversionModel

    out = {}
    for name, rc in run_cfgs.items():
        c = with_values(rc, values)
        c.seed = int(simulation_seed(rc.seed, values, salt).generate_state(3)[2])
        c.output.events = True
        out[name] = DiversionModel(c, 0).run()
    return out


def running_checks(tables: dict[str, Any], checks: dict[str, Any]) -> dict[str, float]:
    """The methadone checks of ``targets.checks`` measured on the status quo's run: leaving by
    36 months (dropout, death or arrest), the share of leavers arrested, and the per-year
    dropout among those on methadone at the start of each year."""
    sp = tables["compulsory"].spells
    out: dict[str, float] = {}
    if "methadone_left_156w_haiphong" in checks:
        out["methadone_left_156w_haiphong"] = float(
            1 - cohorts.spell_retention(sp, ["dropout", "death", "arrest"], [156])[0]
        )
    if "share_arrested_of_left_haiphong" in checks:
        out["share_arrested_of_left_haiphong"] = cohorts.share_arrested(sp, 156)
    for k, _ in enumerate(checks.get("methadone_noncompliance_per_year", [])):
        s = cohorts.spell_retention(sp, ["dropout"], [52 * k, 52 * (k + 1)])
        start = 1.0 if k == 0 else s[0]
        out[f"methadone_noncompliance_per_year[{k + 1}]"] = float(1 - s[1] / start)
    return out


CURVE_WEEKS = np.arange(0, 209, 2)
# Curves drawn from the running model's tables beside the fitted cohorts: each kind of exit
# (and drug) has its own relapse curve; (scenario, exit, drug)
EXIT_CURVES = {
    "release_residential_opioid": ("pilot_diversion", "residential", "opioid"),
    "recovery_opioid": ("pilot_diversion", "recovery", "opioid"),
}


def running_curves(tables: dict[str, Any], cohort_specs: dict[str, Any]) -> dict[str, np.ndarray]:
    """Kaplan-Meier curves (at :data:`CURVE_WEEKS`) of every relapse and retention cohort and of
    the other kinds of exit, measured on the running model's tables."""
    out = {}
    specs = dict(cohort_specs)
    specs.update(
        {
            k: {"measure": "relapse_free", "scenario": sc, "exit": ex, "drug": d}
            for k, (sc, ex, d) in EXIT_CURVES.items()
        }
    )
    specs["methadone_any_leave"] = {
        "measure": "retained",
        "scenario": "compulsory",
        "leave": ["dropout", "death", "arrest"],
    }
    for name, spec in specs.items():
        r = tables.get(spec.get("scenario", "compulsory"))
        if r is None or spec["measure"] == "using_on_treatment":
            continue
        if spec["measure"] == "relapse_free":
            out[name] = cohorts.episode_survival(r.episodes, spec, CURVE_WEEKS)
        else:
            out[name] = cohorts.spell_retention(r.spells, spec.get("leave", ["dropout"]), CURVE_WEEKS)
    return out


def _replicate_one(
    cfg: Config,
    sq_cfg: Config | None,
    run_cfgs: dict[str, Config],
    values: dict[str, float],
    targets: dict[str, Any],
    salt: int,
) -> tuple[dict[str, float], dict[str, float], dict[str, np.ndarray]]:
    """One posterior-predictive simulation: the fitted statistics and the checks. The cohort
    statistics are measured on the running model's tables (``run_cfgs``: one run per scenario
    the cohorts name); the side sampler's values are kept as ``sampler:<name>``."""
    from math import gamma

    stats, m, ev = _simulate(
        cfg, values, targets["cohorts"], salt, PARTS, targets["cascade"].get("referrals_by_district")
    )
    if sq_cfg is not None:
        stats.update(_simulate(sq_cfg, values, targets["cohorts"], salt, ("status_quo",))[0])
    extra: dict[str, float] = {}
    curves: dict[str, np.ndarray] = {}
    if run_cfgs:
        tables = running_model_tables(run_cfgs, values, salt)
        curves = running_curves(tables, targets["cohorts"])
        running = cohorts.running_statistics(tables, targets["cohorts"])
        for k, v in running.items():
            extra[f"sampler:{k}"] = stats[k]
            stats[k] = v
        extra.update(running_checks(tables, targets["checks"]))
    referred = np.unique(ev.loc[ev["kind"] == "refer", "person"].to_numpy())
    prior = m.pop.n_detentions[referred] if referred.size else np.zeros(1)
    rp = m.cfg.params.relapse
    admitted = ev.loc[ev["kind"].isin(["admit", "start_residential"]), "person"].to_numpy()
    ntl = m.wards.district[m.pop.ward[admitted]] == 1  # district 1: Nam Tu Liem
    return (
        stats,
        {
            "compulsory_or_residential_nam_tu_liem": float(np.count_nonzero(ntl)),
            "share_prior_detention_referred": float(np.mean(prior > 0)),
            "mean_prior_detentions_referred": (
                float(prior[prior > 0].mean()) if np.any(prior > 0) else np.nan
            ),
            "share_relapsed_first_year": 1.0 - stats["release_relapse_free_52w"],
            "mean_abstinence_years": rp.scale_relapse * gamma(1 + 1 / rp.shape_relapse) / 52.0,
            **extra,
        },
        curves,
    )


def replicate_pilot(
    model: list[str],
    targets: dict[str, Any],
    posterior: str,
    n_sims: int,
    seed: int,
    status_quo_model: list[str] | None = None,
    n_jobs: int = -1,
    running_model: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Posterior-predictive simulations of every target (the pilot cascade with ``model``; the
    status quo with ``status_quo_model``; the relapse and retention cohorts on runs of
    ``running_model`` under each scenario the cohorts name), in parallel; returns (fit table,
    simulations, draws, curves: one row per simulation, curve and week)."""
    from joblib import Parallel, delayed

    draws = load_draws(posterior)
    cfg = compose_config(list(model) + [f"seed={seed}"])
    sq_cfg = compose_config(list(status_quo_model) + [f"seed={seed}"]) if status_quo_model else None
    scen = sorted({c.get("scenario", "compulsory") for c in targets["cohorts"].values()} | {"compulsory"})
    run_cfgs = (
        {sc: compose_config(list(running_model) + [f"scenario={sc}", f"seed={seed}"]) for sc in scen}
        if running_model
        else {}
    )
    out = Parallel(n_jobs=n_jobs)(
        delayed(_replicate_one)(cfg, sq_cfg, run_cfgs, draws.iloc[i % len(draws)].to_dict(), targets, i + 1)
        for i in range(int(n_sims))
    )
    rows, checks = [o[0] for o in out], [o[1] for o in out]
    curves = pd.DataFrame(
        [
            {"sim": i, "curve": name, "week": int(w), "value": float(v)}
            for i, o in enumerate(out)
            for name, c in o[2].items()
            for w, v in zip(CURVE_WEEKS, c)
        ],
        columns=["sim", "curve", "week", "value"],
    )
    sims = pd.DataFrame(rows)
    obs, _ = observed_statistics(targets, PARTS + (("status_quo",) if sq_cfg is not None else ()))
    sq = targets.get("status_quo", {})
    cohort_kind = "cohort share (running model)" if run_cfgs else "cohort share (cohort sampler)"
    fit = []
    for k, v in obs.items():
        s = sims[k].dropna()
        lo, hi = float(s.quantile(0.05)), float(s.quantile(0.95))
        fit.append(
            {
                "target": k,
                "label": CASCADE_LABELS.get(k, k.replace("_", " ")),
                "kind": (
                    "pilot cascade (share)"
                    if k in targets["cascade"].get("shares", {})
                    else "status quo (pilot districts)"
                    if k in sq
                    else cohort_kind
                ),
                "observed": v,
                "simulated_mean": float(s.mean()),
                "q05": lo,
                "q95": hi,
                "inside": "yes" if lo <= v <= hi else "no",
                "fitted": "yes",
            }
        )
    ch = pd.DataFrame(checks)
    expanded: dict[str, float] = {}
    for k, v in targets["checks"].items():
        if isinstance(v, list):
            expanded.update({f"{k}[{i + 1}]": float(x) for i, x in enumerate(v)})
        else:
            expanded[k] = float(v)
    for k, v in expanded.items():
        if k not in ch and k not in sims:
            continue  # a check of the running model, not run (running_model unset)
        s = (ch[k] if k in ch else sims[k]).dropna()
        lo, hi = float(s.quantile(0.05)), float(s.quantile(0.95))
        if k == "share_relapsed_first_year":
            ok = lo > v  # "the majority": a lower bound
        elif k.startswith("methadone_noncompliance_per_year"):
            ok = hi <= v  # dropout alone must stay below dropout-or-non-compliance
        else:
            ok = lo <= v <= hi
        fit.append(
            {
                "target": k,
                "label": CASCADE_LABELS.get(k, k.replace("_", " ")),
                "kind": "check (not fitted)",
                "observed": v,
                "simulated_mean": float(s.mean()),
                "q05": lo,
                "q95": hi,
                "inside": "yes" if ok else "no",
                "fitted": "no",
            }
        )
    return pd.DataFrame(fit), pd.concat([sims, ch], axis=1), draws, curves


# ----------------------------------------------------------------------------- the status quo
def load_observed() -> dict[str, Any]:
    """The national figures the status quo is judged against (configs/calibration/observed.yaml)."""
    import yaml

    return yaml.safe_load((config_dir() / "calibration" / "observed.yaml").read_text())


def status_quo_stocks(weekly: pd.DataFrame, burn_in: pd.DataFrame | None = None) -> pd.DataFrame:
    """Register and state shares per replicate and week, the burn-in (negative weeks) first,
    from weekly tables with a ``replicate`` column (one scenario)."""
    frames = [burn_in[burn_in["week"] < 0]] if burn_in is not None and len(burn_in) else []
    both = pd.concat([*frames, weekly], ignore_index=True)
    out = []
    for r, g in both.groupby("replicate", sort=True):
        s = register_stocks(g.sort_values("week"))
        s.insert(0, "replicate", r)
        out.append(s)
    return pd.concat(out, ignore_index=True)


def status_quo_table(stocks: pd.DataFrame, metrics: pd.DataFrame, observed: dict[str, Any]) -> pd.DataFrame:
    """The status quo against the observed figures: target, observed, model mean and 90% interval
    over replicates, inside yes/no. Shares are means over the first year after the switch (the
    pilot's period); the register's growth is the log-linear slope over every week shown."""
    first = stocks[(stocks["week"] >= 0) & (stocks["week"] <= 52)].groupby("replicate")
    growth = [growth_per_year(g["week"] / 52.0, g["register"]) for _, g in stocks.groupby("replicate")]
    pts = pd.DataFrame(observed["register"])
    g_obs = growth_per_year(pts["year"], pts["value"])
    centres = next(p for p in observed["share_in_centres"] if p.get("fitted"))
    mmt = next(p for p in observed["share_on_methadone"] if p.get("fitted"))
    prior = observed["prior_detention"]
    rows = [
        (
            "share of the register in compulsory centres",
            centres["value"],
            first["share_detained"].mean(),
            centres["source"],
        ),
        ("share of the register on methadone", mmt["value"], first["share_methadone"].mean(), mmt["source"]),
        ("register growth per year", g_obs, growth, "national register 2014-2019 (log-linear)"),
        (
            "ever detained, people using at week 0",
            prior["share_ever"],
            metrics["share_prior_detention"],
            "51/75 pilot clients (seed 004)",
        ),
        (
            "times detained, if ever",
            prior["mean_times"],
            metrics["mean_prior_detentions"],
            "pilot clients: 1.5 on average (seed 004)",
        ),
    ]
    out = []
    for name, obs, sim, source in rows:
        sim = pd.Series(np.asarray(sim, float)).dropna()
        lo, hi = float(sim.quantile(0.05)), float(sim.quantile(0.95))
        out.append(
            {
                "target": name,
                "observed": float(obs),
                "model_mean": float(sim.mean()),
                "q05": lo,
                "q95": hi,
                "inside": "yes" if lo <= obs <= hi else "no",
                "source": source,
            }
        )
    return pd.DataFrame(out)
