"""Published cohorts simulated through the running model's own code (issue 11).

A calibration target such as "51% opioid-free one month after release from compulsory
detention" describes people who, in the model, carry the population's mix of family monitoring,
employment help and injecting, and whose relapse hazard is the product of every hazard ratio
the running model applies. Fitting the baseline curve to the target on people with hazard
ratio 1 (a side sampler) made the running model miss it. Here a cohort is a small
:class:`~diversion_sim.population.Population` whose attributes are drawn by the population's own
:func:`~diversion_sim.population.draw_attributes` (same keyed streams, same probabilities),
placed at the study's kind of exit and drug, and whose waiting times come from the schedule's
own samplers (:func:`~diversion_sim.processes.relapse.relapse_wait`,
:func:`~diversion_sim.processes.treatment.methadone_dropout_wait`,
:func:`~diversion_sim.processes.mortality.death_wait`). One code path, so the same parameters give
the same curve in calibration and in a run (``tests/test_cohorts.py`` checks this against model
runs).

Cohort specifications live in ``configs/calibration/targets.yaml`` (``cohorts:``); each says
what it measures (``relapse_free`` or ``retained``), the people (``exit``, ``drug``, whether they
are coordinator clients at the exit, ``followup``), how many (``n``), when (``weeks``) and the
published values (``observed``, or ``cumulative_hazard`` where the source reports that).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd

from . import hazards as hz
from .params import Config
from .population import Population, draw_attributes
from .processes.mortality import death_wait
from .processes.registry import ASSEMBLY
from .processes.relapse import relapse_wait
from .processes.treatment import methadone_dropout_wait
from .processes.use_on_methadone import methadone_use_wait
from .schema import thaw
from .states import DRUG_NAMES, NEVER, Drug, Event, Exit, State
from .streams import Streams

EXITS = {
    "release": Exit.RELEASE,
    "release_methadone": Exit.RELEASE_METHADONE,
    "residential": Exit.RESIDENTIAL,
    "recovery": Exit.RECOVERY,
    "remission": Exit.REMISSION,
}
DRUGS = dict(zip(DRUG_NAMES, (Drug.OPIOID, Drug.METH)))
MEASURES = ("relapse_free", "retained", "using_on_treatment")
LEAVE = ("dropout", "death")
E_DROPOUT, E_DEATH = int(Event.DROPOUT), int(Event.DEATH)


class CohortModel:
    """The parts of :class:`~diversion_sim.model.DiversionModel` that the person-level samplers
    read (``cfg``, ``week``, ``pop``, ``streams``), for ``n`` people drawn by the population code
    under the status quo's levers (no family support reached unless the spec says so)."""

    def __init__(self, cfg: Config, n: int, seed: int, drug: str) -> None:
        self.cfg = thaw(copy.deepcopy(cfg))
        self.cfg.scenario = copy.deepcopy(cfg.status_quo)
        self.week = 0
        self.pop = Population(n, ASSEMBLY.columns)
        self.pop.uid[:] = np.arange(n)
        self.streams = Streams(seed, 0, ids=lambda: self.pop.uid)
        draw_attributes(self, np.arange(n), 1.0 if drug == "opioid" else 0.0)


def observed_values(spec: dict[str, Any]) -> list[float]:
    """The published values of a cohort as the model measures them: shares still relapse-free
    or retained at ``weeks``. A source that reports a cumulative hazard H (e.g. of dropout)
    gives exp(-H)."""
    if "cumulative_hazard" in spec:
        return [float(np.exp(-h)) for h in spec["cumulative_hazard"]]
    return [float(v) for v in spec["observed"]]


def validate(name: str, spec: dict[str, Any]) -> None:
    """One clear error for a malformed cohort specification."""
    from .params import ConfigError

    where = f"targets.cohorts.{name}"
    if spec.get("measure") not in MEASURES:
        raise ConfigError(
            f"config key '{where}.measure' = {spec.get('measure')!r} is not allowed: "
            f"use one of {list(MEASURES)}."
        )
    if spec["measure"] == "relapse_free" and (spec.get("exit") not in EXITS or spec.get("drug") not in DRUGS):
        raise ConfigError(
            f"config key '{where}' needs 'exit' in {sorted(EXITS)} and 'drug' in "
            f"{sorted(DRUGS)} (has exit={spec.get('exit')!r}, "
            f"drug={spec.get('drug')!r})."
        )
    if spec["measure"] != "relapse_free" and not set(spec.get("leave", [])) <= set(LEAVE):
        raise ConfigError(
            f"config key '{where}.leave' = {spec.get('leave')!r} is not allowed: a subset of {list(LEAVE)}."
        )
    vals = observed_values(spec)
    if len(vals) != len(spec.get("weeks", [])) or not all(0.0 <= v <= 1.0 for v in vals):
        raise ConfigError(
            f"config key '{where}' needs one share in [0, 1] per week in 'weeks' "
            f"(has weeks={spec.get('weeks')!r}, values={vals})."
        )


def methadone_course(
    cfg: Config, spec: dict[str, Any], n: int, seed: int
) -> tuple[np.ndarray, dict[int, float]]:
    """``n`` patients starting methadone at week 0 (not using), followed week by week to the
    last of ``spec['weeks']`` with the schedule's own samplers: heroin use on treatment starts
    and stops, dropout (more likely while using), and death when ``leave`` lists it. Returns
    the week each left (``inf``: still on methadone) and, at each week in ``weeks``, the share
    of the patients still on methadone who are using."""
    m: Any = CohortModel(cfg, n, seed, "opioid")  # the samplers' model: duck-typed
    p = m.pop
    p.state[:] = State.METHADONE
    p.since[:] = 0
    leave = set(spec.get("leave", ["dropout"]))
    weeks = sorted(int(w) for w in spec["weeks"])
    nxt = np.full(n, NEVER, np.int64)
    kind = np.zeros(n, np.int8)
    left = np.full(n, np.inf)
    on = np.ones(n, bool)

    def draw(idx: np.ndarray) -> None:
        waits = [methadone_dropout_wait(m, idx, (m.week - p.since[idx]).astype(float))]
        kinds = [np.full(idx.size, E_DROPOUT, np.int8)]
        w, k = methadone_use_wait(m, idx)
        waits.append(w)
        kinds.append(k)
        if "death" in leave:
            waits.append(death_wait(m, idx, p.state[idx].astype(np.intp)))
            kinds.append(np.full(idx.size, E_DEATH, np.int8))
        wait, kk = np.vstack(waits), np.vstack(kinds)
        j = np.argmin(wait, axis=0)
        best = wait[j, np.arange(idx.size)]
        nxt[idx] = np.where(np.isfinite(best), hz.to_week(m.week, best, NEVER), NEVER)
        kind[idx] = kk[j, np.arange(idx.size)]

    m.week = 0
    draw(np.arange(n))
    prevalence: dict[int, float] = {}
    for week in range(1, weeks[-1] + 1):
        m.week = week
        due = np.flatnonzero(on & (nxt == week))
        if due.size:
            out = due[(kind[due] == E_DROPOUT) | (kind[due] == E_DEATH)]
            on[out] = False
            left[out] = week
            toggle = np.setdiff1d(due, out, assume_unique=True)
            p.mmt_using[toggle] = ~p.mmt_using[toggle]
            draw(toggle)
        if week in weeks:
            prevalence[week] = float(np.mean(p.mmt_using[on])) if on.any() else float("nan")
    return left, prevalence


def event_times(cfg: Config, spec: dict[str, Any], n: int, seed: int) -> np.ndarray:
    """Weeks to the cohort's event (relapse; leaving methadone) for ``n`` people drawn and
    scheduled by the running model's own code."""
    measure = spec["measure"]
    if measure != "relapse_free":
        return methadone_course(cfg, spec, n, seed)[0]
    m: Any = CohortModel(cfg, n, seed, spec.get("drug", "opioid"))  # duck-typed, as above
    p, idx = m.pop, np.arange(n)
    p.exit_type[:] = EXITS[spec["exit"]]
    p.linked[:] = bool(spec.get("linked", spec["exit"] == "release_methadone"))
    p.client_until[:] = 1 if spec.get("followup", False) else 0  # > week 0: a client
    if spec["exit"] == "release_methadone":  # on methadone from release: relapse is the first
        p.state[:] = State.METHADONE  # heroin use on treatment or dropout (Wegman 2017)
        p.since[:] = 0
        use, _ = methadone_use_wait(m, idx)
        return np.minimum(use, methadone_dropout_wait(m, idx, 0.0))
    p.state[:] = State.ABSTINENT
    return relapse_wait(m, idx, 0.0)


def statistic_names(name: str, spec: dict[str, Any]) -> list[str]:
    return [f"{name}_{spec['measure']}_{int(w)}w" for w in spec["weeks"]]


def cohort_statistics(cfg: Config, rng: np.random.Generator, cohorts: dict[str, Any]) -> dict[str, float]:
    """Each cohort's shares at the study's time points, at the study's size (``n``), drawn
    through the running model's code with seeds from ``rng``."""
    out: dict[str, float] = {}
    for name, spec in cohorts.items():
        validate(name, spec)
        seed = int(rng.integers(2**62))
        if spec["measure"] == "using_on_treatment":
            _, prev = methadone_course(cfg, spec, int(spec["n"]), seed)
            for key, w in zip(statistic_names(name, spec), spec["weeks"]):
                out[key] = prev[int(w)]
            continue
        t = event_times(cfg, spec, int(spec["n"]), seed)
        for key, w in zip(statistic_names(name, spec), spec["weeks"]):
            out[key] = float(np.mean(t > w))
    return out


# ----------------------------------------------------------------------------- running model
# The same cohorts measured on the running model's own tables (pilot replication, tests): the
# people are whoever the model releases, discharges or starts on methadone, with every hazard
# ratio of the run (linkage, family, follow-up, police, capacity) applied.
SPELL_LEAVE = {"dropout": "using", "death": "dead", "arrest": "detained"}


def episode_survival(episodes: pd.DataFrame, spec: dict[str, Any], weeks) -> np.ndarray:
    """Kaplan-Meier relapse-free share at ``weeks`` of the run's episodes of the cohort's kind of
    exit and drug (censored at death, moving, deregistration and the end of the run)."""
    from .metrics import kaplan_meier

    ep = episodes[
        (episodes["exit_type"].astype(str) == spec["exit"])
        & (episodes["drug"].astype(str) == spec.get("drug", "opioid"))
    ]
    return kaplan_meier(
        ep["weeks"].to_numpy(float), ep["observed"].to_numpy(bool), [float(w) for w in weeks]
    )[0]


def spell_retention(spells: pd.DataFrame, leave, weeks) -> np.ndarray:
    """Kaplan-Meier share still on methadone at ``weeks`` after starting, leaving by the kinds in
    ``leave`` (dropout, death, arrest); other ends (moving away, still on it) censor."""
    from .metrics import retention

    return retention(spells, [float(w) for w in weeks], "methadone", tuple(SPELL_LEAVE[k] for k in leave))


def share_arrested(spells: pd.DataFrame, week: float) -> float:
    """Of the methadone spells that ended by dropout, death or arrest within ``week`` weeks, the
    share that ended in detention (Khue 2017: 24% of those who left had been arrested)."""
    sp = spells[spells["state"].astype(str) == "methadone"]
    end = sp["end"].astype(str)
    left = sp[end.isin(list(SPELL_LEAVE.values())) & (sp["weeks"] <= week)]
    return float(np.mean(left["end"].astype(str) == "detained")) if len(left) else float("nan")


def using_at(spells: pd.DataFrame, events: pd.DataFrame, week: int) -> float:
    """Share using heroin ``week`` weeks after starting methadone, among the spells still on
    methadone then (Hoang 2015's measure), from the spells and the use-on-treatment events."""
    sp = spells[(spells["state"].astype(str) == "methadone") & (spells["weeks"] >= week)]
    sp = sp[(sp["end"].astype(str) == "open") | (sp["weeks"] > week)]
    if sp.empty:
        return float("nan")
    kinds = events["kind"].astype(str)
    ev = events[kinds.isin(["use_on_methadone", "stop_use_on_methadone"])]
    at = pd.DataFrame(
        {
            "person": sp["person"].to_numpy(),
            "start": sp["start_week"].to_numpy(),
            "week": (sp["start_week"] + week).to_numpy(),
        }
    ).sort_values("week")
    e = pd.DataFrame(
        {
            "person": ev["person"].to_numpy(),
            "week": ev["week"].to_numpy().astype(int),
            "using": (ev["kind"].astype(str) == "use_on_methadone").to_numpy(),
            "ev_week": ev["week"].to_numpy().astype(int),
        }
    ).sort_values("week")
    at["week"] = at["week"].astype(int)
    j = pd.merge_asof(at, e, on="week", by="person", direction="backward")
    using = j["using"].astype("boolean").fillna(False).to_numpy(bool) & (
        j["ev_week"].fillna(-1).to_numpy() >= j["start"].to_numpy()
    )
    return float(using.mean())


def running_statistics(tables: dict[str, Any], cohorts: dict[str, Any]) -> dict[str, float]:
    """Every cohort statistic measured on model runs: ``tables`` maps a scenario name to that
    run's ``episodes``, ``spells`` and ``events`` frames (a :class:`~diversion_sim.model.
    RunResult`); each cohort is measured on the run of its ``scenario``."""
    out: dict[str, float] = {}
    for name, spec in cohorts.items():
        r = tables[spec.get("scenario", "compulsory")]
        keys = statistic_names(name, spec)
        vals: Any
        if spec["measure"] == "relapse_free":
            vals = episode_survival(r.episodes, spec, spec["weeks"])
        elif spec["measure"] == "retained":
            vals = spell_retention(r.spells, spec.get("leave", ["dropout"]), spec["weeks"])
        else:
            vals = [using_at(r.spells, r.events, int(w)) for w in spec["weeks"]]
        out.update({k: float(v) for k, v in zip(keys, vals)})
    return out
