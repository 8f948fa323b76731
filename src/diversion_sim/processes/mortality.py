"""Mortality: death in every state on the register, higher off methadone and for people who
inject, with the overdose excess of the first weeks after an exit that lowered tolerance
(release: Merrall 2010; completed detox or residential treatment: Strang 2003; leaving
methadone: Cornish 2010). Parameters: ``params.mortality``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import hazards as hz
from ..states import N_STATES, Tolerance
from ..states import EventCode as Event
from ..states import StateCode as State
from .base import Batch, Handler, Process, Result, Risk
from .transitions import close_episodes, enter

if TYPE_CHECKING:
    from ..model import DiversionModel

ON_REGISTER = (
    State.USING,
    State.ABSTINENT,
    State.REFERRED,
    State.METHADONE,
    State.RECOVERY,
    State.RESIDENTIAL,
    State.DETAINED,
)


def _death_rate(m: DiversionModel, st: np.ndarray, inject: np.ndarray) -> np.ndarray:
    mp = m.cfg.params.mortality
    table = np.full(N_STATES, hz.per_week(mp.rate_death_off_oat))
    table[State.METHADONE] = hz.per_week(mp.rate_death_on_oat)
    table[State.DETAINED] = hz.per_week(mp.rate_death_detained)
    table[[State.DEAD, State.MOVED]] = 0.0
    rate = table[st]
    return np.where(inject, rate * mp.hr_inject, rate)


def tolerance_multipliers(m: DiversionModel) -> np.ndarray:
    """Overdose excess after an exit that lowered tolerance, by :class:`~diversion_sim.states.
    Tolerance` (rows) and segment (the weeks of ``dur_excess_segments``, then later)."""
    mp = m.cfg.params.mortality
    out = np.ones((len(Tolerance), 3))
    out[Tolerance.RELEASE, :2] = mp.mult_post_release_w1_2, mp.mult_post_release_w3_4
    out[Tolerance.DETOX, :2] = mp.mult_after_detox_w1_2, mp.mult_after_detox_w3_4
    out[Tolerance.METHADONE, :2] = mp.mult_after_methadone_w1_2, mp.mult_after_methadone_w3_4
    return out


def death_wait(m: DiversionModel, idx: np.ndarray, st: np.ndarray) -> np.ndarray:
    """Time to death of ``idx`` in states ``st``: the state's rate (on or off methadone, in a
    centre), higher for people who inject, times the overdose excess of the weeks after the
    last exit that lowered tolerance (:func:`tolerance_multipliers`). Not inside a compulsory
    centre."""
    p = m.pop
    since = np.where(st == State.DETAINED, 1e9, (m.week - p.tolerance_week[idx]).astype(float))
    e = m.streams.exponential("death", idx, m.week)
    rate = _death_rate(m, st, p.inject[idx])
    kind = p.tolerance_kind[idx]
    mults = tolerance_multipliers(m)
    breaks = np.asarray(m.cfg.params.mortality.dur_excess_segments, float)
    out = np.empty(idx.size)
    for k in np.unique(kind):  # at most four kinds: not a loop over people
        g = kind == k
        out[g] = hz.piecewise_exponential(e[g], rate[g], since[g], breaks, mults[k])
    return out


def _death(m: DiversionModel, b: Batch) -> np.ndarray:
    return death_wait(m, b.idx, b.state)


def excess_fraction(m: DiversionModel, idx: np.ndarray) -> np.ndarray:
    """Share of each person's current death hazard that is the overdose excess after an exit
    that lowered tolerance, (multiplier - 1) / multiplier: 0 outside the excess weeks."""
    p = m.pop
    since = (m.week - p.tolerance_week[idx]).astype(float)
    breaks = np.asarray(m.cfg.params.mortality.dur_excess_segments, float)
    seg = np.searchsorted(breaks, since, side="left")  # weeks (0, b1] -> 0, (b1, b2] -> 1, later 2
    mult = tolerance_multipliers(m)[p.tolerance_kind[idx], np.minimum(seg, 2)]
    mult = np.where(p.state[idx] == State.DETAINED, 1.0, mult)
    return (mult - 1.0) / mult


def on_death(m: DiversionModel, idx: np.ndarray) -> None:
    m.cache["excess_deaths"] = (m.week, float(excess_fraction(m, idx).sum()))
    close_episodes(m, idx, observed=False)
    m.log(Event.DEATH, idx, m.pop.state[idx])
    enter(m, idx, State.DEAD)


def _record(m: DiversionModel) -> tuple[float]:
    week, value = m.cache.get("excess_deaths", (None, 0.0))
    return (value if week == m.week else 0.0,)


def _metrics(m: DiversionModel, weekly: dict[str, np.ndarray]) -> dict[str, float]:
    return {"overdose_deaths_after_exit": float(weekly["overdose_deaths_after_exit"][1:].sum())}


PROCESS = Process(
    name="mortality",
    doc=__doc__,
    risks=(Risk("death", ON_REGISTER, _death, Event.DEATH),),
    handlers=(Handler(Event.DEATH, on_death, 10),),
    # expected number of this week's deaths that are the overdose excess after release, detox
    # or leaving methadone: the sum over deaths of (multiplier - 1) / multiplier
    weekly=("overdose_deaths_after_exit",),
    record=_record,
    results=(
        Result(
            "overdose_deaths_after_exit",
            "Overdose deaths after release, detox or leaving methadone (attributable)",
            "deaths",
        ),
    ),
    metrics=_metrics,
)
