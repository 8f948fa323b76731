"""Interactive dashboard for teaching (Solara, Mesa's visualisation stack).

    pip install -e ".[viz]"
    diversion-sim-dashboard                  # http://127.0.0.1:8765 (this machine only)
    diversion-sim-dashboard --host 0.0.0.0   # other machines too (only on a trusted network)

Move a slider (scenario, coordinators per ward, post-release linkage, stay length, detection rate)
and the curves move: the model reruns at once on the pilot districts (665 people; a few replicates
take well under a second) and the page shows relapse-free survival after release, people in each
state over time and the service cascade, each against the status quo (compulsory) on the same random
numbers. The model behind the curves is the package's ``DiversionModel``; nothing is precomputed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from .params import REGIMES


@dataclass(frozen=True)
class Settings:
    """What the sliders set (hashable, so results are cached per setting). A lever left at None
    keeps the value in configs/ (calibrated defaults and the scenario's own settings)."""

    scenario: str = "pilot_diversion"
    coordinators: float | None = None   # scenario.n_coordinators_per_ward (diversion regimes only)
    linkage: float | None = None        # scenario.p_release_linkage
    stay_months: float | None = None    # centre of scenario.dur_stay_first, width kept
    detect: float | None = None         # params.police.rate_detect
    years: int = 5
    replicates: int = 2
    population: str = "pilot_districts"


def configure(settings: Settings, scenario: str | None = None):
    """The validated Config of ``scenario`` (default: the chosen one) with the levers applied.
    Stay and detection apply to both runs; linkage and coordinators only to the chosen scenario,
    so the reference stays the status quo."""
    from .config import compose_config, with_values

    sc = scenario or settings.scenario
    cfg = compose_config([f"scenario={sc}", f"population={settings.population}",
                          f"years={settings.years}"])
    values: dict = {}
    if settings.detect is not None:
        values["params.police.rate_detect"] = settings.detect
    if settings.stay_months is not None:
        lo, hi = cfg.scenario.dur_stay_first
        mid = settings.stay_months * 52 / 12
        values["scenario.dur_stay_first"] = [max(mid - (hi - lo) / 2, 1.0), mid + (hi - lo) / 2]
    if sc == settings.scenario:
        if settings.linkage is not None:
            values["scenario.p_release_linkage"] = settings.linkage
        if settings.coordinators is not None and REGIMES[cfg.scenario.regime].coordinators:
            values["scenario.n_coordinators_per_ward"] = settings.coordinators
    return with_values(cfg, values)


def defaults(scenario: str = "pilot_diversion") -> dict[str, float]:
    """The slider start values: what configs/ says for ``scenario``."""
    cfg = configure(Settings(scenario=scenario))
    lo, hi = cfg.scenario.dur_stay_first
    return {"coordinators": cfg.scenario.n_coordinators_per_ward,
            "linkage": cfg.scenario.p_release_linkage,
            "stay_months": round((lo + hi) / 2 * 12 / 52), "detect": cfg.params.police.rate_detect}


@lru_cache(maxsize=64)
def simulate(settings: Settings, scenario: str | None = None) -> dict[str, pd.DataFrame]:
    """Weekly counts, relapse episodes and metrics over ``settings.replicates`` replicates."""
    from .model import DiversionModel

    cfg = configure(settings, scenario)
    weekly, episodes, metrics = [], [], []
    for r in range(settings.replicates):
        res = DiversionModel(cfg, r).run()
        weekly.append(res.weekly.assign(replicate=r))
        episodes.append(res.episodes.assign(replicate=r))
        metrics.append(pd.DataFrame({"metric": list(res.metrics), "value": list(res.metrics.values()),
                                     "replicate": r}))
    return {"weekly": pd.concat(weekly), "episodes": pd.concat(episodes),
            "metrics": pd.concat(metrics)}


def relapse_curve(episodes: pd.DataFrame, horizon: int = 104) -> pd.DataFrame:
    """Kaplan-Meier relapse-free survival after release (:func:`~diversion_sim.metrics.
    kaplan_meier`), weeks 0..horizon (NaN past the last follow-up)."""
    from .metrics import kaplan_meier

    ep = episodes[episodes["exit_type"].astype(str) == "release"]
    weeks = np.arange(horizon + 1)
    surv, _ = kaplan_meier(ep["weeks"].to_numpy(float), ep["observed"].to_numpy(bool), weeks)
    return pd.DataFrame({"week": weeks, "survival": surv})


def figure(settings: Settings):
    """The dashboard's figure: chosen scenario against compulsory, same random numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from .report import CASCADE, LABEL, STATES

    ref, cur = simulate(settings, "compulsory"), simulate(settings)
    fig = Figure(figsize=(13, 7.5), layout="constrained")
    axs = fig.subplots(2, 3)
    colours = {"compulsory (status quo)": "#7f7f7f", settings.scenario: "#1f77b4"}
    runs = {"compulsory (status quo)": ref, settings.scenario: cur}
    ax = axs[0, 0]
    for name, res in runs.items():
        c = relapse_curve(res["episodes"])
        ax.step(c["week"], c["survival"], where="post", color=colours[name], label=name)
    ax.set(xlim=(0, 104), ylim=(0, 1), xlabel="weeks since release", ylabel="share not relapsed",
           title="Relapse-free survival after release")
    ax.legend(fontsize=8)
    for ax, col in zip([axs[0, 1], axs[0, 2], axs[1, 0], axs[1, 1]],
                       ["n_detained", "n_methadone", "n_using", "n_abstinent"]):
        for name, res in runs.items():
            m = res["weekly"].groupby("week")[col].mean()
            ax.plot(m.index / 52, m.to_numpy(), color=colours[name], label=name)
        ax.set(xlabel="years", ylabel="people", title=f"People {STATES[col]}")
        ax.set_ylim(bottom=0)
    ax = axs[1, 2]
    x = np.arange(len(CASCADE))
    for k, (name, res) in enumerate(runs.items()):
        met = res["metrics"].groupby("metric")["value"].mean()
        ax.barh(x + 0.4 * k, [100 * met.get(m, np.nan) for m in CASCADE], height=0.4,
                color=colours[name], label=name)
    ax.set_yticks(x + 0.2, [LABEL[m].replace("Ever ", "") for m in CASCADE], fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="% of registered PWUD", title="Service cascade")
    fig.suptitle(f"{settings.scenario} vs compulsory: {settings.population}, {settings.years} years, "
                 f"mean of {settings.replicates} replicates", fontsize=11)
    plt.close("all")
    return fig


try:
    import solara
except ImportError:  # pragma: no cover - the [viz] extra is not installed
    solara = None

if solara is not None:
    from .config import scenario_names

    SCENARIOS = scenario_names()
    _start = defaults()
    scenario = solara.reactive("pilot_diversion")
    coordinators = solara.reactive(float(_start["coordinators"]))
    linkage = solara.reactive(float(_start["linkage"]))
    stay = solara.reactive(int(_start["stay_months"]))
    detect = solara.reactive(float(_start["detect"]))

    @solara.component
    def Page():  # noqa: N802 - Solara's convention
        settings = Settings(scenario.value, coordinators.value, linkage.value, stay.value,
                            detect.value)
        solara.Title("diversion_sim")
        with solara.Columns([1, 3]):
            with solara.Column():
                solara.Markdown("### Policy levers")
                solara.Select("Scenario", values=SCENARIOS, value=scenario)
                solara.SliderFloat("Coordinators per ward (diversion)", value=coordinators,
                                   min=0.25, max=4.0, step=0.25)
                solara.SliderFloat("Linked to services after release", value=linkage, min=0.0,
                                   max=1.0, step=0.05)
                solara.SliderInt("Mean first compulsory stay (months)", value=stay, min=6, max=36)
                solara.SliderFloat("Police detection rate (per week)", value=detect, min=0.005,
                                   max=0.3, step=0.005)
                solara.Markdown("Each change reruns the model on the pilot districts (665 people) "
                                "against the status quo on the same random numbers.")
            solara.FigureMatplotlib(figure(settings), format="png")


def _port(text: str) -> int:
    """A TCP port a user may bind: 1024-65535 (below needs root and is for system services)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--port {text!r} is not a number: give 1024-65535") from None
    if not 1024 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"--port {port} is out of range: give 1024-65535")
    return port


def main(argv: list[str] | None = None) -> None:
    """``diversion-sim-dashboard``: serve the dashboard (127.0.0.1 unless --host is given)."""
    ap = argparse.ArgumentParser(prog="diversion-sim-dashboard", description=main.__doc__)
    ap.add_argument("--host", default="127.0.0.1", help="interface to bind (default: this machine only)")
    ap.add_argument("--port", type=_port, default=8765, help="TCP port, 1024-65535 (default 8765)")
    a = ap.parse_args(argv)
    if solara is None:
        print("diversion-sim-dashboard: the dashboard needs the [viz] extra: "
              "pip install -e \".[viz]\"", file=sys.stderr)
        sys.exit(2)
    cmd = [sys.executable, "-m", "solara", "run", "diversion_sim.dashboard", "--host", a.host,
           "--port", str(a.port), "--production", "--no-open"]
    sys.exit(subprocess.call(cmd, env={**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}))


if __name__ == "__main__":
    main()
