"""The Python route, for notebooks and scripts: compose, run one model, run scenarios x replicates
in memory, read a finished sweep. The same seeds and tables as the ``diversion-sim`` command::

    import diversion_sim as ds
    res = ds.run("pilot_diversion", years=2)                 # one run: res.weekly, res.metrics, ...
    sw = ds.run_scenarios(["compulsory", "pilot_diversion"], replicates=5, years=2)
    sw.summary                                               # as summary.csv: paired differences
    sw = ds.load_sweep("outputs/sweeps/2026-12-01_10-00-00")
    m = ds.DiversionModel(scenario="pilot_diversion", years=1)   # a Mesa model, step by step
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import compose_config
from .params import Config
from .schema import freeze


def _settings(scenario: str, settings: dict[str, Any]) -> list[str]:
    over = [f"scenario={scenario}"]
    for key in ("population", "years", "seed", "replicates"):
        if key in settings:
            over.append(f"{key}={settings.pop(key)}")
    over += list(settings.pop("overrides", ()))
    over += [f"{k}={v}" for k, v in settings.items()]  # dotted keys: **{"params.police.rate_detect": 0.1}
    return over


def compose(scenario: str = "compulsory", **settings: Any) -> Config:
    """A validated configuration: ``compose("pilot_diversion", years=2, seed=7,
    overrides=["params.police.rate_detect=0.1"])``; bad values raise ConfigError with the
    command's one-paragraph message."""
    return freeze(compose_config(_settings(scenario, dict(settings))))


def run(scenario: str = "compulsory", replicate: int = 0, **settings: Any):
    """One run (:class:`~diversion_sim.model.RunResult`: weekly, events, episodes, spells,
    metrics), exactly as replicate ``replicate`` of the command's sweep."""
    from .model import DiversionModel

    return DiversionModel(compose(scenario, **settings), replicate).run()


@dataclass
class Sweep:
    """Tidy tables of scenarios x replicates (the sweep folder's tables, in memory)."""

    runs: pd.DataFrame  # scenario, replicate, metric, value
    weekly: pd.DataFrame
    episodes: pd.DataFrame
    summary: pd.DataFrame  # as summary.csv: mean, 90% interval, paired differences

    def metric(self, name: str) -> pd.DataFrame:
        """One result, scenario x replicate."""
        return self.runs[self.runs["metric"] == name].pivot(
            index="replicate", columns="scenario", values="value"
        )

    def plot(self, kind: str = "relapse", state: str = "n_detained"):
        """A matplotlib Figure, returned (not saved, and no backend switched, so a notebook shows
        it inline): ``relapse`` (relapse-free survival after release by scenario), ``occupancy``
        (people in ``state`` over time, mean and 90% band) or ``costs`` (total cost by component
        and scenario)."""
        from .metrics import kaplan_meier

        fig = _figure_class()(figsize=(8, 4.5), layout="constrained")
        ax = fig.subplots()
        scenarios = list(dict.fromkeys(self.runs["scenario"]))
        if kind == "relapse":
            weeks = np.arange(105)
            for sc in scenarios:
                ep = self.episodes[
                    (self.episodes["scenario"] == sc) & (self.episodes["exit_type"].astype(str) == "release")
                ]
                surv, _ = kaplan_meier(ep["weeks"].to_numpy(float), ep["observed"].to_numpy(bool), weeks)
                ax.step(weeks, surv, where="post", label=sc)
            ax.set(
                xlabel="weeks since release",
                ylabel="share not yet relapsed",
                ylim=(0, 1),
                title="Relapse-free survival after release (Kaplan-Meier)",
            )
        elif kind == "occupancy":
            for sc in scenarios:
                g = self.weekly[self.weekly["scenario"] == sc].groupby("week")[state]
                mean = g.mean()
                ax.plot(mean.index / 52, mean.to_numpy(), label=sc)
                ax.fill_between(
                    mean.index / 52, g.quantile(0.05).to_numpy(), g.quantile(0.95).to_numpy(), alpha=0.15
                )
            from .report import STATES

            ax.set(
                xlabel="years after the policy switch",
                ylabel="people",
                title=f"People {STATES[state]} (mean and 90% band over replicates)"
                if state in STATES
                else state,
            )
        elif kind == "costs":
            from .processes.costs import COMPONENTS, LABELS

            bottom = np.zeros(len(scenarios))
            for c in COMPONENTS:
                v = (
                    np.array(
                        [
                            self.runs[
                                (self.runs["scenario"] == sc) & (self.runs["metric"] == f"cost_{c}_vnd")
                            ]["value"].mean()
                            for sc in scenarios
                        ]
                    )
                    / 1e9
                )
                v = np.nan_to_num(v)
                ax.bar(scenarios, v, bottom=bottom, label=LABELS[c])
                bottom += v
            ax.set(ylabel="bn VND (discounted)", title="Total cost by component (mean over replicates)")
            ax.tick_params(axis="x", rotation=30)
        else:
            from .errors import ConfigError

            raise ConfigError(f"plot kind {kind!r} is not allowed: 'relapse', 'occupancy' or 'costs'.")
        if kind == "costs":
            fig.set_size_inches(10, 4.5)
            fig.legend(*ax.get_legend_handles_labels(), loc="outside right upper", fontsize=8)
        else:
            ax.legend(fontsize=8)
        return fig


@functools.lru_cache(maxsize=1)
def _figure_class():
    """A matplotlib Figure that a notebook shows as a picture when a cell returns it (``_repr_png_``),
    made without pyplot: nothing is kept open, no backend is switched and it is shown once."""
    from io import BytesIO

    from matplotlib.figure import Figure

    class ShownFigure(Figure):
        def _repr_png_(self) -> bytes:
            buf = BytesIO()
            self.savefig(buf, format="png", dpi=100)
            return buf.getvalue()

    return ShownFigure


def _one(cfg: Config, r: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from .model import DiversionModel

    res = DiversionModel(cfg, r).run()
    ids = {"scenario": cfg.scenario.name, "replicate": r}
    met = pd.DataFrame({"metric": list(res.metrics), "value": list(res.metrics.values())})
    return met.assign(**ids), res.weekly.assign(**ids), res.episodes.assign(**ids)


def run_scenarios(
    scenarios: list[str] | None = None, replicates: int = 5, n_jobs: int = 1, **settings: Any
) -> Sweep:
    """Every scenario in ``scenarios`` (default: all found) x ``replicates``, in memory, on
    ``n_jobs`` processes (joblib); replicate r of each scenario shares its random numbers."""
    from .config import scenario_names
    from .sweep import summarise

    names = scenario_names() if scenarios is None else list(scenarios)
    cfgs = [compose(s, **dict(settings)) for s in names]
    jobs = [(c, r) for c in cfgs for r in range(int(replicates))]
    if n_jobs == 1:
        parts = [_one(c, r) for c, r in jobs]
    else:
        from joblib import Parallel, delayed

        parts = Parallel(n_jobs=n_jobs)(delayed(_one)(c, r) for c, r in jobs)
    runs = pd.concat([p[0] for p in parts], ignore_index=True)
    return Sweep(
        runs=runs,
        weekly=pd.concat([p[1] for p in parts], ignore_index=True),
        episodes=pd.concat([p[2] for p in parts], ignore_index=True),
        summary=summarise(runs),
    )


def load_sweep(folder: str | Path) -> Sweep:
    """The tables of a finished sweep folder (``diversion-sim`` wrote them)."""
    from .sweep import SweepError

    root = Path(folder)
    try:
        return Sweep(
            runs=pd.read_parquet(root / "runs.parquet"),
            weekly=pd.read_parquet(root / "weekly.parquet"),
            episodes=pd.read_parquet(root / "episodes.parquet"),
            summary=pd.read_csv(root / "summary.csv"),
        )
    except (OSError, ValueError) as exc:
        raise SweepError(
            f"{root} is not a summarised sweep folder ({exc}); run diversion-sim-summary {root} first"
        ) from None
