"""Morris elementary-effects screening (SALib) of the policy effect, run in parallel (joblib).

The output of each Morris point is the paired difference ``scenario - compulsory`` of run-level
metrics on the same random numbers (replicate 0 of both), so an effect is a change of the policy
effect, not noise; a parameter that cannot act on an output has mu* exactly 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .params import ConfigError


def _run_pair(cfgs: dict[str, Any], values: dict[str, float], outputs: list[str]) -> dict[str, float]:
    """``outputs`` of the first scenario in ``cfgs`` minus those of the second (compulsory)."""
    from .config import with_values
    from .model import DiversionModel

    res = [DiversionModel(with_values(c, values), 0).run().metrics for c in cfgs.values()]
    return {o: float(res[0][o] - res[1][o]) for o in outputs}


def morris(
    bounds: dict[str, list[float]],
    outputs: list[str],
    *,
    trajectories: int,
    num_levels: int,
    seed: int,
    base: list[str],
    scenario: str,
    n_jobs: int = -1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sample, run and analyse; returns (samples with outputs, parameter x output table)."""
    from joblib import Parallel, delayed
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    from .metrics import RESULT_NAMES

    bad = [o for o in outputs if o not in RESULT_NAMES]
    if bad:
        raise ConfigError(
            f"config key 'outputs' = {bad} is not allowed: outputs are run-level "
            f"metrics, one of {RESULT_NAMES}."
        )
    for k, (lo, hi) in bounds.items():
        if not lo < hi:
            raise ConfigError(
                f"config key 'bounds.{k}' = [{lo}, {hi}] is not allowed: low < high is required."
            )
    names = list(bounds)
    problem = {"num_vars": len(names), "names": names, "bounds": [list(bounds[n]) for n in names]}
    X = sample.sample(problem, trajectories, num_levels=num_levels, seed=seed)
    from .config import compose_config, with_values

    cfgs = {sc: compose_config(base + [f"scenario={sc}"]) for sc in (scenario, "compulsory")}
    with_values(cfgs[scenario], dict(zip(names, X[0])))  # fail fast on a bad key or value
    rows = Parallel(n_jobs=n_jobs)(delayed(_run_pair)(cfgs, dict(zip(names, x)), outputs) for x in X)
    samples = pd.concat([pd.DataFrame(X, columns=names), pd.DataFrame(rows)], axis=1)
    table = []
    for o in outputs:
        r = analyze.analyze(problem, X, samples[o].to_numpy(), num_levels=num_levels, seed=seed)
        for i, n in enumerate(names):
            table.append(
                {
                    "output": o,
                    "parameter": n,
                    "mu_star": float(r["mu_star"][i]),
                    "mu_star_conf": float(r["mu_star_conf"][i]),
                    "sigma": float(r["sigma"][i]),
                    "mu": float(r["mu"][i]),
                }
            )
    return samples, pd.DataFrame(table)


def plot(table: pd.DataFrame, path: Path, scenario: str) -> Path:
    """mu* (with 95% bootstrap interval) per parameter, one panel per output, normalised by the
    largest mu* of the output so panels compare."""
    from .metrics import RESULTS
    from .plots import finish, setup

    plt, sns = setup()
    label = {r.name: r.label for r in RESULTS}
    outs = list(dict.fromkeys(table["output"]))
    ncol = min(3, len(outs))
    nrow = int(np.ceil(len(outs) / ncol))
    height = 0.38 * table["parameter"].nunique() * nrow + 1.6 * nrow
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, height), squeeze=False)
    for ax, o in zip(axes.flat, outs):
        d = table[table["output"] == o].sort_values("mu_star")
        if d["mu_star"].isna().all():
            ax.set_title(label.get(o, o), fontsize=9)
            ax.text(0.5, 0.5, "not estimable at this horizon", ha="center", transform=ax.transAxes)
            ax.set_yticks([])
            continue
        top = max(d["mu_star"].max(), 1e-12)
        y = np.arange(len(d))
        ax.barh(
            y,
            d["mu_star"] / top,
            xerr=d["mu_star_conf"] / top,
            color=sns.color_palette()[0],
            alpha=0.8,
            error_kw={"lw": 1},
        )
        ax.set_yticks(y, [p.split(".")[-1] for p in d["parameter"]], fontsize=8)
        ax.set_xlim(0, 1.3)
        ax.set_title(f"{label.get(o, o)}\n(difference {scenario} - compulsory)", fontsize=9)
        ax.set_xlabel("mu* / largest mu*", fontsize=8)
    fig.suptitle("Morris screening: what moves the policy effect (calibrated 90% ranges)", y=1.0)
    return finish(fig, path, axes=axes, used=len(outs))
