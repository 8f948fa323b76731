"""Families as actors: strain, hope and the decisions they take (seeds 000 and 004).

Each family of a person on the register carries two state variables that follow the relative's
history:

- **strain** (``family_strain``): drug-related stress, in *weeks of recent use*. While the
  relative uses (in the community, or waiting for a coordinator) it rises as
  ``ds/dt = 1 - delta * s``; otherwise (abstinent, in treatment, or detained: the "relief" of seed
  000) it decays, ``ds/dt = -delta * s``, with ``delta = ln 2 / dur_strain_half_life``. Family
  support services (``scenario.p_family_support_reach``) speed the relief by
  ``scenario.rel_family_relief``. Between two changes of state the strain has a closed form, so it
  is settled only when the relative's state changes (``on_enter``) and read when a decision needs
  it: never a weekly loop.
- **failed attempts**: the relative's compulsory stays (``n_detentions``, before and during the
  run) plus relapses after an exit and drop-outs from treatment seen in the run
  (``family_failures``); **hope** = ``rel_hope_per_attempt ** family_failures`` (a first exit meets
  the base strategies, as the relapse calibration assumed).

Decisions:

- **Insist on compulsory admission** when police test the relative positive (read by
  :mod:`.policing`): the "last resort after multiple failed attempts" (seed 000) - at least
  ``n_attempts_insist`` failed attempts and strain at or above the family's own threshold
  (exponential with mean ``strain_insist_mean``; divided by ``scenario.rel_family_insists`` for
  supported families). Under diversion a family engaged with the coordinator's plan
  (``p_family_engaged``, 88% of pilot clients' families, seed 004 Table IV) does not insist while
  its relative is a client: they weigh the options with the coordinator (seed 004). What
  insisting leads to is the regime's rule (a dossier; a centre under diversion; an offer of
  voluntary care with voluntary-only centres).
- **Post-release strategy** on each release from a centre and each completed residential or
  recovery-support episode: close monitoring, employment help and conditional support (seed 000's
  three strategies), each taken with its base probability times hope (support services keep hope
  up: ``scenario.rel_family_hope``); their relapse hazard ratios are in ``params.relapse``.
- **Give up**: a relapse or a drop-out ends the strategies in use (and adds a failed attempt).

Burden is reported in interpretable units: weeks with the relative using, detained or in
treatment, the mean strain, and (in :mod:`.costs`) the out-of-pocket costs of clients and families.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from omegaconf import MISSING

from ..population import ATTRIBUTE_WEEK, family_levers
from ..schema import Section
from ..states import ALIVE_PRESENT, N_STATES
from ..states import EventCode as Event
from ..states import StateCode as State
from .base import Process, Result

if TYPE_CHECKING:
    from ..model import DiversionModel

USING_NOW = np.zeros(N_STATES, bool)  # the relative is using drugs in the community
USING_NOW[[State.USING, State.REFERRED]] = True
TREATMENT = np.zeros(N_STATES, bool)
TREATMENT[[State.METHADONE, State.RECOVERY, State.RESIDENTIAL]] = True
LEFT_CENTRE = np.zeros(N_STATES, bool)  # an exit after which families choose a strategy
LEFT_CENTRE[[State.DETAINED]] = True
STRATEGIES = ("monitoring", "employment", "conditional")  # info bits 1, 2, 4 of family_strategy


@dataclass
class FamilyParams(Section):
    p_monitoring: float = MISSING  # at an exit, with full hope: close monitoring
    p_employment_help: float = MISSING  # ... helping the relative into employment
    p_conditional_support: float = MISSING  # ... conditional support
    rel_hope_per_attempt: float = MISSING  # hope = this ** failed attempts
    dur_strain_half_life: float = MISSING  # weeks: strain halves this fast without use
    n_attempts_insist: int = MISSING  # failed attempts before compulsory admission is an option
    strain_insist_mean: float = MISSING  # mean of the families' strain thresholds (weeks of use)
    p_family_engaged: float = MISSING  # families engaged with the coordinator's plan


def decay(m: DiversionModel, rows: np.ndarray) -> np.ndarray:
    """Strain decay rate per week of each family (faster with support services)."""
    base = np.log(2.0) / m.cfg.params.family.dur_strain_half_life
    return np.where(m.pop.family_supported[rows], base * m.cfg.scenario.rel_family_relief, base)


def strain_after(s0: np.ndarray, weeks: np.ndarray, using: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Closed form of ``ds/dt = using - delta * s`` after ``weeks`` from ``s0``."""
    eq = np.where(using, 1.0 / delta, 0.0)
    return eq + (s0 - eq) * np.exp(-delta * weeks)


def strain_now(m: DiversionModel, rows: np.ndarray) -> np.ndarray:
    """Each family's strain this week (from the last settled value and the current state)."""
    p = m.pop
    dt = np.maximum(m.week - p.family_strain_week[rows], 0).astype(float)
    return strain_after(p.family_strain[rows].astype(float), dt, USING_NOW[p.state[rows]], decay(m, rows))


def attempts(m: DiversionModel, rows: np.ndarray) -> np.ndarray:
    """Failed attempts the family has lived through."""
    p = m.pop
    return p.n_detentions[rows].astype(np.int32) + p.family_failures[rows]


def insists(m: DiversionModel, idx: np.ndarray) -> np.ndarray:
    """Whether the family of each person in ``idx`` would insist on compulsory admission now
    (police log the decision where it changes the route: :func:`log_insist`)."""
    p, fp, sc = m.pop, m.cfg.params.family, m.cfg.scenario
    e = m.streams.exponential("family_threshold", idx, ATTRIBUTE_WEEK)
    threshold = fp.strain_insist_mean * e
    threshold = np.where(p.family_supported[idx], threshold / max(sc.rel_family_insists, 1e-9), threshold)
    want = p.has_family[idx] & (attempts(m, idx) >= fp.n_attempts_insist) & (strain_now(m, idx) >= threshold)
    if m.regime.coordinators:  # engaged with the coordinator's plan: options, not detention
        want &= ~(p.family_engaged[idx] & (p.client_until[idx] > m.week))
    return want


def log_insist(m: DiversionModel, idx: np.ndarray) -> None:
    """Record families' insistence that decided a route (a dossier, a centre)."""
    m.log(INSIST, idx)


def on_enter(m: DiversionModel, idx: np.ndarray, old: np.ndarray, state: int) -> None:
    """Settle the strain of the spell that ends; count a failed attempt and give up the
    strategies at a relapse or drop-out; choose strategies after leaving a centre or completing
    treatment."""
    p = m.pop
    p.family_strain[idx] = strain_now(m, idx).astype(np.float32)
    p.family_strain_week[idx] = m.week
    fam = p.has_family[idx]
    if state == State.USING:  # a relapse (from abstinence) or a drop-out (from treatment)
        lost = idx[fam & ((old == State.ABSTINENT) | TREATMENT[old])]
        p.family_failures[lost] += 1
        had = lost[p.family_monitoring[lost] | p.family_employment[lost] | p.family_conditional[lost]]
        p.family_monitoring[had] = False
        p.family_employment[had] = False
        p.family_conditional[had] = False
        m.log(GIVE_UP, had)
        return
    completed = ((old == State.RESIDENTIAL) | (old == State.RECOVERY)) & (state == State.ABSTINENT)
    exited = idx[fam & (LEFT_CENTRE[old] | completed)]
    if exited.size:
        choose_strategies(m, exited)


def choose_strategies(m: DiversionModel, rows: np.ndarray) -> None:
    """Families of ``rows`` (whose relative just left a centre or completed treatment) choose
    their strategies: base probability x hope, support services keeping hope up."""
    p, fp, sc = m.pop, m.cfg.params.family, m.cfg.scenario
    # hope wanes with the failures the family has seen after an exit (a relapse or drop-out),
    # so a first release meets the families' base strategies (as the relapse calibration did)
    hope = fp.rel_hope_per_attempt ** p.family_failures[rows].astype(float)
    hope = np.where(p.family_supported[rows], np.minimum(hope * sc.rel_family_hope, 1.0), hope)
    u = m.streams.uniform("family_strategy", rows, m.week, slots=3)
    p.family_monitoring[rows] = u[0] < fp.p_monitoring * hope
    p.family_employment[rows] = u[1] < fp.p_employment_help * hope
    p.family_conditional[rows] = u[2] < fp.p_conditional_support * hope
    bits = (
        p.family_monitoring[rows] * 1 + p.family_employment[rows] * 2 + p.family_conditional[rows] * 4
    ).astype(np.int8)
    chose = bits > 0
    m.log(STRATEGY, rows[chose], bits[chose])


def on_switch(m: DiversionModel) -> None:
    """Week 0: the scenario's family levers reach families; strain is settled at the switch."""
    p = m.pop
    rows = np.arange(p.n)
    p.family_strain[:] = strain_now(m, rows).astype(np.float32)
    p.family_strain_week[:] = m.week
    family_levers(m, rows)
    u = m.streams.uniform("family_engaged", rows, ATTRIBUTE_WEEK)
    p.family_engaged[:] = p.has_family & (u < m.cfg.params.family.p_family_engaged)


STRAIN_EVERY = 4  # weeks between evaluations of the families' total strain (an O(n) sum)


def _record(m: DiversionModel) -> tuple[float, ...]:
    """Families reached by support services, families whose relative uses / is detained / is in
    treatment this week, and the families' total strain (evaluated every ``STRAIN_EVERY`` weeks
    and held in between: a mean over the run is estimated without bias at a quarter the cost)."""
    p = m.pop
    rows = np.flatnonzero(p.has_family)
    st = p.state[rows]
    n = np.bincount(st, minlength=N_STATES)
    present = rows[ALIVE_PRESENT[st]]
    cache = m.cache.setdefault("family_strain", [None, 0.0])
    if cache[0] is None or m.week - cache[0] >= STRAIN_EVERY:
        cache[:] = [m.week, float(strain_now(m, present).sum()) if present.size else 0.0]
    return (
        float(np.count_nonzero(p.family_supported[present])),
        float(n[USING_NOW].sum()),
        float(n[State.DETAINED]),
        float(n[TREATMENT].sum()),
        cache[1],
    )


def _metrics(m: DiversionModel, weekly: dict[str, np.ndarray]) -> dict[str, float]:
    p, rec = m.pop, m.metrics
    n_fam = int(p.has_family.sum())
    per = (lambda x: float(x / n_fam)) if n_fam else (lambda x: float("nan"))
    w = {
        k: weekly[k][1:]
        for k in (
            "families_relative_using",
            "families_relative_detained",
            "families_relative_treatment",
            "families_strain",
        )
    }
    present = (
        w["families_relative_using"] + w["families_relative_detained"] + w["families_relative_treatment"]
    )
    flows = rec.flows[1:].sum(axis=0)
    detections = float(flows[INSIST])
    tests = float(flows[Event.DETECT])
    out = {
        "family_weeks_relative_using": per(w["families_relative_using"].sum()),
        "family_weeks_relative_detained": per(w["families_relative_detained"].sum()),
        "family_weeks_relative_treatment": per(w["families_relative_treatment"].sum()),
        "family_strain_mean": float(w["families_strain"].sum() / max(present.sum(), 1.0)),
        "family_insist_decisions": detections,
        "share_tests_family_insists": detections / tests if tests else float("nan"),
        "family_strategies_adopted": float(flows[STRATEGY]),
        "family_strategies_given_up": float(flows[GIVE_UP]),
    }
    return out


PROCESS = Process(
    name="family",
    doc=__doc__,
    params=FamilyParams,
    columns={
        "family_strain": ("f4", 0.0),  # weeks of recent use, settled at family_strain_week
        "family_strain_week": ("i4", 0),
        "family_failures": ("i2", 0),  # relapses after an exit and drop-outs seen in the run
        "family_conditional": ("?", False),  # conditional support in use
        "family_engaged": ("?", False),
    },  # engaged with the coordinator's plan
    events={
        "family_insists": "the family insisted on compulsory admission at a positive test",
        "family_strategy": "the family took up strategies after an exit (info: bits 1 "
        "monitoring, 2 employment, 4 conditional support)",
        "family_gives_up": "the family gave up its strategies after a relapse or drop-out",
    },
    on_enter=on_enter,
    on_switch=on_switch,
    weekly=(
        "families_supported",
        "families_relative_using",
        "families_relative_detained",
        "families_relative_treatment",
        "families_strain",
    ),
    record=_record,
    results=(
        Result("family_weeks_relative_using", "Weeks with the relative using, per family", "weeks"),
        Result("family_weeks_relative_detained", "Weeks with the relative detained, per family", "weeks"),
        Result(
            "family_weeks_relative_treatment", "Weeks with the relative in treatment, per family", "weeks"
        ),
        Result("family_strain_mean", "Mean family strain (weeks of recent use)", "weeks"),
        Result(
            "family_insist_decisions",
            "Positive tests at which the family insisted on compulsory admission",
            "tests",
        ),
        Result("share_tests_family_insists", "Share of positive tests with an insisting family", "share"),
        Result("family_strategies_adopted", "Families taking up strategies after an exit", "exits"),
        Result("family_strategies_given_up", "Families giving up their strategies", "times"),
    ),
    metrics=_metrics,
)
INSIST = PROCESS.code("family_insists")
STRATEGY = PROCESS.code("family_strategy")
GIVE_UP = PROCESS.code("family_gives_up")
