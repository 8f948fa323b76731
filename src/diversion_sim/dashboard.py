"""Interactive dashboard for teaching (Solara, Mesa's visualisation stack).

    pip install -e ".[viz]"
    diversion-sim-dashboard                  # http://127.0.0.1:8765 (this machine only)
    diversion-sim-dashboard --host 0.0.0.0   # every machine that can reach this one (see below)

Choose a scenario: its own levers (from configs/scenario/) set the controls, and *Reset* returns to
them. Move a control and the model reruns on the pilot districts (665 people, a few replicates in a
second or two; a newer change cancels a run in progress) against the status quo, which never changes:
relapse-free survival after release, people in each state over time with bands over replicates, the
service cascade and the key differences. The second tab steps one run week by week and follows a
handful of people and their families. Works offline with the ``[viz]`` extra (it installs
``solara-assets``). Nothing is precomputed: the curves come from ``DiversionModel``.

Security. The page has no authentication. ``--host 0.0.0.0`` serves it to anyone who can reach
this machine's port: they all see the page and can move the controls, and every move runs the
model on this server's CPU (a few replicates at a time, one run at a time per server), so one
visitor can keep it busy for everyone. Share it only on a network you trust, for as long as the
class needs it. What the browser sends is checked before any configuration is composed: only the
listed scenarios (``config.scenario_names()``) are accepted and numbers are clamped to each
control's range (:func:`check_scenario`, :func:`check_control`); every text put into HTML is
escaped (:func:`esc`); an error shows one sentence on the page and its traceback only in the
server's log.
"""

from __future__ import annotations

import argparse
import functools
import html
import logging
import math
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .params import REGIMES

log = logging.getLogger(__name__)
REFERENCE = "compulsory"
# control -> (label, one-line explanation, min, max, step)
CONTROLS = {
    "coordinators": (
        "Coordinators per ward",
        "part-time ward coordinators who assess referred people (diversion only; the pilot had 1)",
        0.25,
        4.0,
        0.25,
    ),
    "linkage": (
        "Linked to services after release",
        "share of people released from a centre who are linked to methadone or recovery support",
        0.0,
        1.0,
        0.01,
    ),
    "stay_months": (
        "Mean first compulsory stay (months)",
        "the law sets 12-24 months; the 2026 amendment 24",
        6,
        36,
        1,
    ),
    "detect": (
        "Police detection rate (per week)",
        "chance a week that police test a person who uses drugs positive",
        0.005,
        0.3,
        0.005,
    ),
}


REPLICATES = (1, 8)  # replicates a setting may ask for (the slider offers 2-8)
POPULATIONS = ("pilot_wards", "pilot_districts")  # the dashboard never runs the national register
MAX_YEARS = 20

# the one sentence a page shows when something fails (the traceback goes to the server's log)
FAILED = (
    "The model could not run for these settings. Try other settings or Reset; "
    "the server's log has the details."
)
REFUSED_SCENARIO = "Only the scenarios in the list can be chosen; the dashboard kept the current one."
REFUSED_VALUE = "That value is not allowed for this control; the control kept its value."


class Refused(ValueError):
    """A value (from the browser) that is not one of the allowed choices. Raised before anything
    is composed; its message is a fixed sentence that never repeats the value."""


def esc(value: object) -> str:
    """``value`` as text safe inside HTML (``<``, ``>``, ``&`` and quotes escaped). Every text put
    into ``solara.HTML`` goes through here."""
    return html.escape(str(value), quote=True)


@functools.lru_cache(maxsize=1)
def allowed_scenarios() -> tuple[str, ...]:
    """The scenarios the dashboard accepts: those listed in its menu (``configs/scenario/``)."""
    from .config import scenario_names

    return tuple(scenario_names())


def check_scenario(name: object) -> str:
    """``name`` if it is a listed scenario, else :class:`Refused`: a crafted value
    (``${oc.env:HOME}``, ``../population/national``) never reaches Hydra."""
    if not isinstance(name, str) or name not in allowed_scenarios():
        raise Refused(REFUSED_SCENARIO)
    return name


def check_control(key: str, value: object) -> float | int:
    """``value`` of control ``key`` (a ``CONTROLS`` key or ``"replicates"``) clamped to its range;
    :class:`Refused` for an unknown control or anything but a finite number."""
    lo: float
    hi: float
    step: float
    if key == "replicates":
        lo, hi, step = REPLICATES[0], REPLICATES[1], 1
    elif key in CONTROLS:
        _, _, lo, hi, step = CONTROLS[key]
    else:
        raise Refused(REFUSED_VALUE)
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise Refused(REFUSED_VALUE)
    x = float(value)
    if not math.isfinite(x):
        raise Refused(REFUSED_VALUE)
    x = min(max(x, float(lo)), float(hi))
    return int(round(x)) if isinstance(step, int) else x


@dataclass(frozen=True)
class Settings:
    """What the sliders set (hashable, so results are cached per setting). A lever left at None
    keeps the value in configs/ (calibrated defaults and the scenario's own settings)."""

    scenario: str = "pilot_diversion"
    coordinators: float | None = None  # scenario.n_coordinators_per_ward (diversion regimes only)
    linkage: float | None = None  # scenario.p_release_linkage
    stay_months: float | None = None  # centre of scenario.dur_stay_first, width kept
    detect: float | None = None  # params.police.rate_detect
    years: int = 5
    replicates: int = 3
    population: str = "pilot_districts"

    def __post_init__(self) -> None:
        """Only allowed choices: a listed scenario and population, numbers clamped to their
        controls' ranges (:class:`Refused` otherwise, before anything is composed)."""
        check_scenario(self.scenario)
        if self.population not in POPULATIONS:
            raise Refused(REFUSED_VALUE)
        if (
            isinstance(self.years, bool)
            or not isinstance(self.years, int)
            or not 1 <= self.years <= MAX_YEARS
        ):
            raise Refused(REFUSED_VALUE)
        for key in CONTROLS:
            v = getattr(self, key)
            if v is not None:
                object.__setattr__(self, key, check_control(key, v))
        object.__setattr__(self, "replicates", check_control("replicates", self.replicates))


def configure(settings: Settings, scenario: str | None = None):
    """The validated Config of ``scenario`` (default: the chosen one) with the controls applied.
    The controls apply only to the chosen scenario: the status quo (``compulsory``) is always the
    configs' own, so its line never moves."""
    from .config import compose_config, with_values

    sc = check_scenario(settings.scenario if scenario is None else scenario)
    cfg = compose_config([f"scenario={sc}", f"population={settings.population}", f"years={settings.years}"])
    if scenario is not None and (scenario != settings.scenario or scenario == REFERENCE):
        return cfg  # the reference line, or another scenario: as configured
    values: dict = {}
    if settings.detect is not None:
        values["params.police.rate_detect"] = settings.detect
    if settings.stay_months is not None:
        lo, hi = cfg.scenario.dur_stay_first
        mid = settings.stay_months * 52 / 12
        values["scenario.dur_stay_first"] = [max(mid - (hi - lo) / 2, 1.0), mid + (hi - lo) / 2]
    if settings.linkage is not None:
        values["scenario.p_release_linkage"] = settings.linkage
    if settings.coordinators is not None and REGIMES[cfg.scenario.regime].coordinators:
        values["scenario.n_coordinators_per_ward"] = settings.coordinators
    return with_values(cfg, values)


def defaults(scenario: str = "pilot_diversion") -> dict[str, Any]:
    """The control values a scenario starts from: what its configs say."""
    return dict(_defaults(check_scenario(scenario)))


@functools.lru_cache(maxsize=64)
def _defaults(scenario: str) -> dict[str, Any]:
    from .config import compose_config

    cfg = compose_config([f"scenario={scenario}"])
    lo, hi = cfg.scenario.dur_stay_first
    return {
        "coordinators": float(cfg.scenario.n_coordinators_per_ward),
        "linkage": float(cfg.scenario.p_release_linkage),
        "stay_months": int(round((lo + hi) / 2 * 12 / 52)),
        "detect": float(cfg.params.police.rate_detect),
        "has_coordinators": bool(REGIMES[cfg.scenario.regime].coordinators),
        "description": cfg.scenario.description,
    }


def for_scenario(scenario: str, **changes) -> Settings:
    """Settings at ``scenario``'s own levers, with ``changes`` applied."""
    d = defaults(scenario)
    base = Settings(
        scenario=scenario,
        coordinators=d["coordinators"],
        linkage=d["linkage"],
        stay_months=d["stay_months"],
        detect=d["detect"],
    )
    return replace(base, **changes)


@functools.lru_cache(maxsize=64)
def simulate(settings: Settings, scenario: str | None = None) -> dict[str, pd.DataFrame]:
    """Weekly counts, relapse episodes and metrics over ``settings.replicates`` replicates."""
    from .model import DiversionModel

    cfg = configure(settings, scenario)
    weekly, episodes, metrics = [], [], []
    for r in range(settings.replicates):
        res = DiversionModel(cfg, r).run()
        weekly.append(res.weekly.assign(replicate=r))
        episodes.append(res.episodes.assign(replicate=r))
        metrics.append(
            pd.DataFrame({"metric": list(res.metrics), "value": list(res.metrics.values()), "replicate": r})
        )
    return {"weekly": pd.concat(weekly), "episodes": pd.concat(episodes), "metrics": pd.concat(metrics)}


def relapse_curve(episodes: pd.DataFrame, horizon: int = 104) -> pd.DataFrame:
    """Kaplan-Meier relapse-free survival after release (:func:`~diversion_sim.metrics.
    kaplan_meier`), weeks 0..horizon (NaN past the last follow-up)."""
    from .metrics import kaplan_meier

    ep = episodes[episodes["exit_type"].astype(str) == "release"]
    weeks = np.arange(horizon + 1)
    surv, _ = kaplan_meier(ep["weeks"].to_numpy(float), ep["observed"].to_numpy(bool), weeks)
    return pd.DataFrame({"week": weeks, "survival": surv})


KEY_NUMBERS = (
    ("cum_admissions", "compulsory admissions", 1.0, ""),
    ("relapse_52w_release", "relapsed within a year of release", 100.0, " pp"),
    ("drug_free_person_years", "drug-free person-years", 1.0, ""),
    ("cost_total_vnd", "total cost (bn VND)", 1e-9, ""),
)


def key_numbers(settings: Settings) -> list[tuple[str, float, float, float, str]]:
    """(label, mean, 5%, 95%, unit) of the chosen scenario minus the status quo, paired by
    replicate."""
    ref = simulate(settings, REFERENCE)["metrics"].pivot(index="replicate", columns="metric", values="value")
    cur = simulate(settings)["metrics"].pivot(index="replicate", columns="metric", values="value")
    out = []
    for metric, label, scale, unit in KEY_NUMBERS:
        if metric in cur and metric in ref:
            d = (cur[metric] - ref[metric]).to_numpy(float) * scale
            out.append(
                (
                    label,
                    float(np.nanmean(d)),
                    float(np.nanquantile(d, 0.05)),
                    float(np.nanquantile(d, 0.95)),
                    unit,
                )
            )
    return out


COLOURS = {"status quo": "#555555", "scenario": "#1f77b4"}  # the report's tab10 blue and a grey


def figure(settings: Settings):
    """Chosen scenario against the status quo, same random numbers: means and 90% bands."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from .report import CASCADE, LABEL, STATES

    ref, cur = simulate(settings, REFERENCE), simulate(settings)
    fig = Figure(figsize=(11, 7.2), layout="constrained")
    axs = fig.subplots(2, 3)
    runs = {
        f"status quo ({REFERENCE})": (ref, COLOURS["status quo"]),
        settings.scenario: (cur, COLOURS["scenario"]),
    }
    ax = axs[0, 0]
    for name, (res, col) in runs.items():
        c = relapse_curve(res["episodes"])
        ax.step(c["week"], c["survival"], where="post", color=col, label=name)
    ax.set(
        xlim=(0, 104),
        ylim=(0, 1),
        xlabel="weeks since release",
        ylabel="share not relapsed",
        title="Relapse-free survival after release",
    )
    ax.legend(fontsize=9)
    for ax, colname in zip(
        [axs[0, 1], axs[0, 2], axs[1, 0], axs[1, 1]], ["n_detained", "n_methadone", "n_using", "n_abstinent"]
    ):
        for name, (res, col) in runs.items():
            g = res["weekly"].groupby("week")[colname]
            mean, lo, hi = g.mean(), g.quantile(0.05), g.quantile(0.95)
            ax.plot(mean.index / 52, mean.to_numpy(), color=col, label=name)
            ax.fill_between(mean.index / 52, lo.to_numpy(), hi.to_numpy(), color=col, alpha=0.18, lw=0)
        ax.set(xlabel="years after the policy switch", ylabel="people", title=f"People {STATES[colname]}")
        ax.set_ylim(bottom=0)
    ax = axs[1, 2]
    x = np.arange(len(CASCADE))
    for k, (name, (res, col)) in enumerate(runs.items()):
        met = res["metrics"].groupby("metric")["value"].mean()
        ax.barh(x + 0.4 * k, [100 * met.get(m, np.nan) for m in CASCADE], height=0.4, color=col, label=name)
    ax.set_yticks(x + 0.2, [LABEL[m].replace("Ever ", "") for m in CASCADE], fontsize=10)
    ax.invert_yaxis()
    ax.set(xlabel="% of registered people who use drugs", title="Service cascade")
    for a in axs.flat:
        a.tick_params(labelsize=10)
    fig.suptitle(
        f"{settings.scenario} vs the status quo: {settings.population}, {settings.years} "
        f"years, mean and 90% band over {settings.replicates} replicates",
        fontsize=12,
    )
    return fig


def people_table(model, rows: np.ndarray) -> pd.DataFrame:
    """A handful of people and their families at the model's current week, with each person's
    latest event (their history so far: ``model.family(row).history()``)."""
    from .states import EVENT_NAMES

    ev = model.metrics.events
    week, person_col, kind = ev.column("week"), ev.column("person"), ev.column("kind")
    out = []
    for r in rows:
        person = model.person(int(r))
        fam = model.family(int(r)) if model.pop.has_family[r] else None
        mine = np.flatnonzero(person_col == r)
        last = f"{EVENT_NAMES[kind[mine[-1]]]} (week {week[mine[-1]]})" if mine.size else "none yet"
        out.append(
            {
                "person": int(r),
                "state": person.state.name.lower(),
                "weeks in state": int(model.week - model.pop.since[r]),
                "times detained": person.n_detentions,
                "latest event": last,
                "family strain (weeks)": round(fam.strain, 1) if fam else None,
                "family strategies": ", ".join(fam.strategies) if fam else "no family",
                "family would insist": fam.insists_on_compulsory if fam else None,
            }
        )
    return pd.DataFrame(out)


try:
    import solara
except ImportError:  # pragma: no cover - the [viz] extra is not installed
    solara = None  # type: ignore[assignment]

if solara is not None:
    import threading
    import time

    SCENARIOS = list(allowed_scenarios())
    _start = defaults("pilot_diversion")
    scenario = solara.reactive("pilot_diversion")
    values = {k: solara.reactive(_start[k]) for k in CONTROLS}
    replicates = solara.reactive(3)
    notice = solara.reactive("")  # one sentence: why the last choice from the browser was refused
    _run_lock = threading.Lock()  # one model run at a time per server process

    def Html(text: str, style: str = "") -> None:  # noqa: N802
        """A paragraph of HTML (solara.Markdown pulls katex from a CDN path that solara-assets
        does not serve: a 404 on every load, offline or not). Every text in ``text`` that does
        not come from this module's own markup must be passed through :func:`esc`."""
        solara.HTML(tag="div", unsafe_innerHTML=text, style=style)

    def _refused(what: str, value: object, sentence: str) -> None:
        log.warning("dashboard: refused %s %.80r from the browser", what, value)
        notice.value = sentence

    def _handler(f: Any) -> Any:
        """An event handler that never raises into Solara (which would show the traceback):
        the traceback goes to the server's log, the page shows one sentence."""

        @functools.wraps(f)
        def guarded(*args: Any) -> None:
            try:
                f(*args)
            except Exception:
                log.exception("dashboard: %s failed", f.__name__)
                notice.value = FAILED

        return guarded

    @_handler
    def reset(sc: str | None = None) -> None:
        d = defaults(sc or scenario.value)
        for k in CONTROLS:
            values[k].value = d[k]
        notice.value = ""

    @_handler
    def choose(sc: object) -> None:
        """The scenario control's handler: a listed scenario, or refused (nothing composed)."""
        try:
            name = check_scenario(sc)
        except Refused:
            _refused("scenario", sc, REFUSED_SCENARIO)
            return
        scenario.value = name
        reset(name)  # each scenario starts from its own levers

    @_handler
    def set_control(key: str, value: object) -> None:
        """A slider's handler: the value clamped to the control's range, or refused."""
        try:
            x = check_control(key, value)
        except Refused:
            _refused(key, value, REFUSED_VALUE)
            return
        (replicates if key == "replicates" else values[key]).value = x
        notice.value = ""

    def Slider(key: str, value: float, lo: float, hi: float, step: float, disabled: bool = False) -> Any:  # noqa: N802
        """A Vuetify slider whose every value from the browser goes through :func:`set_control`
        (Solara's own sliders cast it with float()/int() first, which raises on a crafted text)."""
        from solara.alias import rv

        return rv.Slider(
            v_model=value,
            on_v_model=lambda x: set_control(key, x),
            label="",
            min=lo,
            max=hi,
            step=step,
            thumb_label=False,
            hide_details=True,
            disabled=disabled,
        )

    @solara.component
    def Control(key: str, disabled: bool = False):  # noqa: N802
        label, why, lo, hi, step = CONTROLS[key]
        v = values[key].value
        shown = f"{v:.0%}" if key == "linkage" else (f"{v:g}")
        with solara.Column(gap="0px", style={"margin-bottom": "10px"}):
            Html(f"<b>{esc(label)}: {esc(shown)}</b>" + (" (no effect in this scenario)" if disabled else ""))
            Slider(key, v, lo, hi, step, disabled=disabled)
            solara.Text(why, style={"font-size": "13px", "color": "#555"})

    @solara.component
    def Curves():  # noqa: N802
        settings = Settings(
            scenario.value,
            values["coordinators"].value,
            values["linkage"].value,
            values["stay_months"].value,
            values["detect"].value,
            replicates=replicates.value,
        )

        def work():
            time.sleep(0.25)  # debounce: a newer change within 0.25 s cancels this run
            try:
                with _run_lock:
                    return figure(settings), key_numbers(settings)
            except Exception:  # the traceback to the server's log, one sentence to the page
                log.exception("dashboard: the rerun failed for %r", settings)
                raise

        result = solara.use_thread(work, dependencies=[settings])
        last = solara.use_ref(None)
        if result.state == solara.ResultState.FINISHED:
            last.current = result.value
        busy = result.state == solara.ResultState.RUNNING
        with solara.Column():
            if busy:
                solara.ProgressLinear(True)
                solara.Info("Running the model for the new settings ...", dense=True)
            if last.current is not None:
                fig, numbers = last.current
                rows = "".join(
                    f"<tr><td>{esc(lab)}</td><td>{esc(f'{m:+,.1f}{u}')}</td>"
                    f"<td>{esc(f'[{a:+,.1f}, {b:+,.1f}]{u}')}</td></tr>"
                    for lab, m, a, b, u in numbers
                )
                Html(
                    f"<b>{esc(settings.scenario)} minus the status quo</b> (mean and 90% interval over "
                    f"{esc(settings.replicates)} paired replicates)<table style='margin:6px 0'>"
                    "<tr><th></th><th>difference</th><th>90% interval</th></tr>" + rows + "</table>"
                )
                solara.FigureMatplotlib(fig, format="png")
            elif result.state == solara.ResultState.ERROR:
                solara.Error(FAILED)  # never the exception's text: it may hold paths or values

    @solara.component
    def Levers():  # noqa: N802
        d = defaults(scenario.value)
        Html("<h3>Policy levers</h3>")
        solara.Select("Scenario", values=SCENARIOS, value=scenario.value, on_value=choose)
        if notice.value:
            solara.Warning(notice.value, dense=True)
        Html(f"<i>{esc(d['description'])}</i>", style="margin-bottom: 12px")
        for key in CONTROLS:
            Control(key, disabled=(key == "coordinators" and not d["has_coordinators"]))
        with solara.Column(gap="0px"):
            Html(f"<b>Replicates: {esc(replicates.value)}</b>")
            Slider("replicates", replicates.value, 2, REPLICATES[1], 1)
            solara.Text(
                "more replicates: narrower bands, slower reruns", style={"font-size": "13px", "color": "#555"}
            )
        solara.Button("Reset to the scenario's levers", on_click=lambda: reset(), outlined=True)
        Html(
            "The grey line is the status quo (compulsory) as configured: it never changes with the controls.",
            style="margin-top: 10px",
        )

    @solara.component
    def Weeks():  # noqa: N802
        """One run of the chosen scenario, a week at a time, and a handful of people."""
        from .model import DiversionModel

        settings = Settings(
            scenario.value,
            values["coordinators"].value,
            values["linkage"].value,
            values["stay_months"].value,
            values["detect"].value,
            replicates=1,
        )
        model = solara.use_memo(lambda: DiversionModel(configure(settings), 0), [settings])
        week, set_week = solara.use_state(0, key=str(settings))
        playing, set_playing = solara.use_state(False)

        def step(n: int = 1) -> None:
            try:
                for _ in range(n):
                    if model.week < model.n_weeks:
                        model.step()
            except Exception:  # the traceback to the server's log, one sentence to the page
                log.exception("dashboard: stepping the run failed for %r", settings)
                notice.value = FAILED
                set_playing(False)
            set_week(model.week)

        def play(cancel: threading.Event) -> None:
            while playing and not cancel.is_set() and model.week < model.n_weeks:
                step()
                time.sleep(0.4)

        solara.use_thread(play, dependencies=[playing, model])
        p = model.pop
        rows = np.flatnonzero(p.has_family)[:8]
        with solara.Column():
            with solara.Row():
                solara.Button("Step one week", on_click=lambda: step(1))
                solara.Button("Step a year", on_click=lambda: step(52))
                solara.Button("Pause" if playing else "Play", on_click=lambda: set_playing(not playing))
            counts = np.bincount(p.state, minlength=9)
            Html(
                f"<b>{esc(f'Week {week} of {model.n_weeks}')}</b>: "
                + esc(
                    f"using {counts[0]}, abstinent {counts[1]}, waiting for a coordinator {counts[2]}, "
                    f"on methadone {counts[3]}, recovery support {counts[4]}, residential {counts[5]}, "
                    f"detained {counts[6]}"
                )
            )
            solara.DataFrame(people_table(model, rows))

    @solara.component
    def Guarded(view: Any):  # noqa: N802
        """``view()``, or, if it raises while rendering, one sentence and a way back: the
        traceback goes to the server's log only (Solara itself would show it on the page)."""
        exc, clear = solara.use_exception()
        logged: Any = solara.use_ref(None)
        if exc is None:
            view()
            return
        if logged.current is not exc:
            logged.current = exc
            log.error("dashboard: a view failed", exc_info=exc)

        def back() -> None:
            clear()
            reset()

        with solara.Column():
            solara.Error(FAILED)
            solara.Button("Back to the scenario's levers", on_click=back, outlined=True)

    @solara.component
    def Page():  # noqa: N802 - Solara's convention
        solara.Title("diversion_sim")
        solara.Style(
            ".v-slider {min-width: 180px;} .v-application {font-size: 15px;} "
            "img {max-width: 100%; height: auto;}"
        )
        with solara.Columns([1, 2.4], style={"min-width": "960px"}):
            with solara.Column(style={"min-width": "300px"}):
                Guarded(Levers)
            with solara.lab.Tabs():
                with solara.lab.Tab("Curves"):
                    Guarded(Curves)
                with solara.lab.Tab("Watch the weeks"):
                    Guarded(Weeks)


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
        print(
            'diversion-sim-dashboard: the dashboard needs the [viz] extra: pip install -e ".[viz]"',
            file=sys.stderr,
        )
        sys.exit(2)
    cmd = [
        sys.executable,
        "-m",
        "solara",
        "run",
        "diversion_sim.dashboard",
        "--host",
        a.host,
        "--port",
        str(a.port),
        "--production",
        "--no-open",
    ]
    sys.exit(subprocess.call(cmd, env={**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}))


if __name__ == "__main__":
    main()
