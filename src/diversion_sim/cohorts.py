"""Published cohorts simulated through the running model's own code (issue 11).

A calibration target such as "51% opioid-free one month after release from compulsory
detention" describes people who, in the model, carry the population's mix of family monitoring,
employment help and injecting, and whose relapse hazard is the product of every hazard ratio
the running model applies. Fitting the baseline curve to the target on people with hazard
ratio 1 (a side sampler) made the running model miss it. Here a cohort is a small
:class:`~diversion_sim.population.Population` whose attributes are drawn by the population's own
:func:`~diversion_sim.population.draw_attributes` (same keyed streams, same probabilities),
placed at the study's kind of exit and drug, and whose waiting times come from the schedule's
own samplers (:func:`~diversion_sim.processes.schedule.relapse_wait`,
:func:`~diversion_sim.processes.schedule.methadone_dropout_wait`,
:func:`~diversion_sim.processes.schedule.death_wait`). One code path, so the same parameters give
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

from .params import Config
from .population import Population, draw_attributes
from .processes.schedule import death_wait, methadone_dropout_wait, relapse_wait
from .states import Drug, Exit, State
from .streams import Streams

EXITS = {"release": Exit.RELEASE, "residential": Exit.RESIDENTIAL, "recovery": Exit.RECOVERY,
         "remission": Exit.REMISSION}
DRUGS = {"opioid": Drug.OPIOID, "meth": Drug.METH}
MEASURES = ("relapse_free", "retained")
LEAVE = ("dropout", "death")


class CohortModel:
    """The parts of :class:`~diversion_sim.model.DiversionModel` that the person-level samplers
    read (``cfg``, ``week``, ``pop``, ``streams``), for ``n`` people drawn by the population code
    under the status quo's levers (no family support reached unless the spec says so)."""

    def __init__(self, cfg: Config, n: int, seed: int, drug: str) -> None:
        self.cfg = copy.copy(cfg)
        self.cfg.scenario = copy.deepcopy(cfg.status_quo)
        self.week = 0
        self.pop = Population(n)
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
        raise ConfigError(f"config key '{where}.measure' = {spec.get('measure')!r} is not allowed: "
                          f"use one of {list(MEASURES)}.")
    if spec["measure"] == "relapse_free" and (spec.get("exit") not in EXITS
                                              or spec.get("drug") not in DRUGS):
        raise ConfigError(f"config key '{where}' needs 'exit' in {sorted(EXITS)} and 'drug' in "
                          f"{sorted(DRUGS)} (has exit={spec.get('exit')!r}, "
                          f"drug={spec.get('drug')!r}).")
    if spec["measure"] == "retained" and not set(spec.get("leave", [])) <= set(LEAVE):
        raise ConfigError(f"config key '{where}.leave' = {spec.get('leave')!r} is not allowed: "
                          f"a subset of {list(LEAVE)}.")
    vals = observed_values(spec)
    if len(vals) != len(spec.get("weeks", [])) or not all(0.0 <= v <= 1.0 for v in vals):
        raise ConfigError(f"config key '{where}' needs one share in [0, 1] per week in 'weeks' "
                          f"(has weeks={spec.get('weeks')!r}, values={vals}).")


def event_times(cfg: Config, spec: dict[str, Any], n: int, seed: int) -> np.ndarray:
    """Weeks to the cohort's event (relapse; leaving methadone) for ``n`` people drawn and
    scheduled by the running model's own code."""
    measure = spec["measure"]
    m = CohortModel(cfg, n, seed, spec.get("drug", "opioid"))
    p, idx = m.pop, np.arange(n)
    if measure == "relapse_free":
        p.state[:] = State.ABSTINENT
        p.exit_type[:] = EXITS[spec["exit"]]
        p.linked[:] = bool(spec.get("linked", False))
        p.client_until[:] = 1 if spec.get("followup", False) else 0  # > week 0: a client
        return relapse_wait(m, idx, 0.0)
    p.state[:] = State.METHADONE
    p.release_week[:] = -10**6  # long past: no excess mortality after a release
    leave = set(spec.get("leave", LEAVE))
    t = np.full(n, np.inf)
    if "dropout" in leave:
        t = np.minimum(t, methadone_dropout_wait(m, idx, 0.0))
    if "death" in leave:
        t = np.minimum(t, death_wait(m, idx, p.state[idx].astype(np.intp)))
    return t


def statistic_names(name: str, spec: dict[str, Any]) -> list[str]:
    return [f"{name}_{spec['measure']}_{int(w)}w" for w in spec["weeks"]]


def cohort_statistics(cfg: Config, rng: np.random.Generator, cohorts: dict[str, Any]
                      ) -> dict[str, float]:
    """Each cohort's shares at the study's time points, at the study's size (``n``), drawn
    through the running model's code with seeds from ``rng``."""
    out: dict[str, float] = {}
    for name, spec in cohorts.items():
        validate(name, spec)
        seed = int(rng.integers(2**62))
        t = event_times(cfg, spec, int(spec["n"]), seed)
        for key, w in zip(statistic_names(name, spec), spec["weeks"]):
            out[key] = float(np.mean(t > w))
    return out
