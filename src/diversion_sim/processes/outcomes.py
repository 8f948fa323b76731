"""Health outcomes of a run: drug-free weeks in every state and quality-adjusted life-years.

A process that only reads the run (no risks, no handlers), like :mod:`.costs`. Two outcomes,
both computed from the weekly state counts (weeks 1 to the horizon) and discounted as costs are
(``params.costs.rate_discount`` a year from week 0):

- **Drug-free weeks**: weeks *not using drugs*, whatever the state. Abstinent, in recovery
  support or in residential treatment: not using; on methadone: not using unless using heroin
  on treatment (``using_on_methadone``, :mod:`.use_on_methadone`); in a compulsory centre: not
  using with probability ``1 - p_use_detained`` a week (drugs do get into centres; an expected
  value from the weekly count of people detained); using in the community or waiting for the
  coordinator: using.
- **QALYs**: each person-week alive on the register weighs its state's health utility
  (``utility_*``) / 52. People using in the community (or waiting for the coordinator) weigh
  ``utility_using_opioid``, ``utility_injecting`` if they inject opioids, or
  ``utility_using_meth`` for methamphetamine (the weekly columns ``using_injecting`` and
  ``using_meth`` count them); on methadone ``utility_methadone`` or, while using heroin,
  ``utility_methadone_using``; abstinent ``utility_abstinent``; in recovery support or
  residential treatment ``utility_recovery`` / ``utility_residential``; detained
  ``utility_detained`` (whether or not they use inside). Dead and moved people add nothing, so
  deaths lose QALYs. Not modelled: an HIV decrement (the model has no HIV status yet) and
  use on methadone by injection (every patient using on methadone weighs the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from omegaconf import MISSING

from ..schema import Section
from ..states import Drug
from ..states import StateCode as State
from .base import Process, Result

if TYPE_CHECKING:
    from ..model import DiversionModel

UTILITIES = (
    "utility_using_opioid",
    "utility_injecting",
    "utility_using_meth",
    "utility_methadone",
    "utility_methadone_using",
    "utility_abstinent",
    "utility_recovery",
    "utility_residential",
    "utility_detained",
)


@dataclass
class OutcomesParams(Section):
    p_use_detained: float = MISSING  # probability of any drug use in a week in a compulsory centre
    utility_using_opioid: float = MISSING  # using opioids, not injecting, in the community
    utility_injecting: float = MISSING  # injecting opioids in the community
    utility_using_meth: float = MISSING  # using methamphetamine in the community
    utility_methadone: float = MISSING  # on methadone, not using heroin
    utility_methadone_using: float = MISSING  # on methadone, using heroin
    utility_abstinent: float = MISSING  # abstinent in the community
    utility_recovery: float = MISSING  # in recovery support or community ATS treatment
    utility_residential: float = MISSING  # in voluntary residential treatment
    utility_detained: float = MISSING  # in a compulsory centre


def check(par: OutcomesParams) -> None:
    """Utilities lie between the worst value of the Vietnamese EQ-5D-5L tariff and full health."""
    from ..errors import ConfigError

    for name in UTILITIES:
        v = getattr(par, name)
        if not -0.5115 <= v <= 1.0:
            raise ConfigError(
                f"config key 'params.outcomes.{name}' = {v} is not allowed: a health utility must be "
                "in [-0.5115, 1] (the range of the Vietnamese EQ-5D-5L value set; 1 = full health)."
            )


def discount_factors(rate: float, n_weeks: int) -> np.ndarray:
    """(1 + rate) ** -(week / 52) for weeks 1..n_weeks."""
    return (1.0 + rate) ** (-np.arange(1, n_weeks + 1) / 52.0)


def drug_free_weeks(m: DiversionModel, weekly: dict[str, np.ndarray]) -> np.ndarray:
    """People not using drugs, whatever their state, week by week (1..horizon): abstinent, in
    recovery support or residential treatment, on methadone without using heroin, and detained
    people times ``1 - p_use_detained`` (the expected number not using inside)."""
    s = m.metrics.states[1:].astype(float)
    free = s[:, [State.ABSTINENT, State.METHADONE, State.RECOVERY, State.RESIDENTIAL]].sum(axis=1)
    if "using_on_methadone" in weekly:
        free = free - weekly["using_on_methadone"][1:]
    return free + s[:, State.DETAINED] * (1.0 - m.cfg.params.outcomes.p_use_detained)


def qaly_weeks(states: np.ndarray, weekly: dict[str, np.ndarray], par: OutcomesParams) -> np.ndarray:
    """Utility-weighted person-weeks, week by week, from the weekly state counts ``states``
    (weeks x states) and the weekly columns ``using_injecting``, ``using_meth`` and
    ``using_on_methadone`` of the same weeks; divide by 52 for QALYs."""
    s = states.astype(float)
    zero = np.zeros(s.shape[0])
    inject = weekly.get("using_injecting", zero)
    meth = weekly.get("using_meth", zero)
    mmt_using = weekly.get("using_on_methadone", zero)
    using = s[:, State.USING] + s[:, State.REFERRED]
    return (
        (using - inject - meth) * par.utility_using_opioid
        + inject * par.utility_injecting
        + meth * par.utility_using_meth
        + (s[:, State.METHADONE] - mmt_using) * par.utility_methadone
        + mmt_using * par.utility_methadone_using
        + s[:, State.ABSTINENT] * par.utility_abstinent
        + s[:, State.RECOVERY] * par.utility_recovery
        + s[:, State.RESIDENTIAL] * par.utility_residential
        + s[:, State.DETAINED] * par.utility_detained
    )


def run_qalys(m: DiversionModel, weekly: dict[str, np.ndarray]) -> np.ndarray:
    """This run's utility-weighted person-weeks, weeks 1..horizon."""
    tail = {k: v[1:] for k, v in weekly.items()}
    return qaly_weeks(m.metrics.states[1:], tail, m.cfg.params.outcomes)


def _record(m: DiversionModel) -> tuple[float, float]:
    p = m.pop
    using = (p.state == State.USING) | (p.state == State.REFERRED)
    return (
        float(np.count_nonzero(using & p.inject)),
        float(np.count_nonzero(using & (p.drug == Drug.METH))),
    )


def _metrics(m: DiversionModel, weekly: dict[str, np.ndarray]) -> dict[str, float]:
    n = m.metrics.states.shape[0] - 1
    disc = discount_factors(m.cfg.params.costs.rate_discount, n)
    free = drug_free_weeks(m, weekly)
    q = run_qalys(m, weekly)
    return {
        "drug_free_person_years": float(free.sum() / 52.0),
        "drug_free_person_years_disc": float(np.sum(free * disc) / 52.0),
        "qalys": float(q.sum() / 52.0),
        "qalys_disc": float(np.sum(q * disc) / 52.0),
    }


RESULTS = (
    Result("drug_free_person_years", "Drug-free person-years (not using, in any state)", "person-years"),
    Result("drug_free_person_years_disc", "Drug-free person-years, discounted", "person-years"),
    Result("qalys", "Quality-adjusted life-years (QALYs)", "QALYs"),
    Result("qalys_disc", "QALYs, discounted", "QALYs"),
)

PROCESS = Process(
    name="outcomes",
    doc=__doc__,
    params=OutcomesParams,
    weekly=("using_injecting", "using_meth"),
    record=_record,
    results=RESULTS,
    metrics=_metrics,
    check=check,
)
