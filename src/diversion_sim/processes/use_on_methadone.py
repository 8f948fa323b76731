"""Use on methadone: patients start methadone not using, then start and stop using heroin while
staying on treatment (Hoang et al. 2015: 14.6-22.9% of patients using at 24 months). While
using, their dropout hazard is ``hr_dropout_using`` times the base (Khue et al. 2017: heroin use
aOR 12.4 for non-compliance) and police can test them positive around the clinics
(:mod:`.policing`, ``params.police.hr_detect_methadone``). Using again on treatment ends a
running relapse clock (people released straight onto methadone, Wegman 2017).

This module is the worked example of the process protocol (:mod:`.base`): it declares its
parameters (``params.use_on_methadone`` in ``configs/params/default.yaml``), the population
column it owns (``mmt_using``), its two event kinds, its competing risk (one row of the
methadone state's competing risks), its handlers and their phase, a hook that ends use on
treatment when treatment ends, one weekly column and one run-level result. Nothing else in the
package names it except the list in ``processes/registry.py``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from omegaconf import MISSING

from .. import hazards as hz
from ..schema import Section
from ..states import StateCode as State
from .base import Batch, Handler, Process, Result, Risk
from .schedule import mark
from .transitions import close_episodes

if TYPE_CHECKING:
    from ..model import DiversionModel


@dataclass
class UseOnMethadoneParams(Section):
    rate_use_on_methadone: float = MISSING  # per week, patients not using start using heroin
    rate_stop_use_on_methadone: float = MISSING  # per week, patients using stop
    hr_dropout_using: float = MISSING  # methadone dropout hazard ratio while using


def _use(m: DiversionModel, b: Batch) -> tuple[np.ndarray, np.ndarray]:
    """Patients not using start at ``rate_use_on_methadone``, those using stop at
    ``rate_stop_use_on_methadone``; returns (wait, event kind)."""
    par, using = m.cfg.params.use_on_methadone, m.pop.mmt_using[b.idx]
    rate = np.where(using, par.rate_stop_use_on_methadone, par.rate_use_on_methadone)
    wait = hz.exponential(m.streams.exponential("use_on_methadone", b.idx, m.week), rate)
    return wait, np.where(using, STOP, USE).astype(np.int8)


def methadone_use_wait(m: DiversionModel, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Waiting time to the next start or stop of use for patients ``idx`` (and which it is)."""
    empty = np.zeros(idx.size)
    return _use(m, Batch(idx, np.full(idx.size, State.METHADONE, np.int8), empty, empty))


def on_use(m: DiversionModel, idx: np.ndarray) -> None:
    m.log(USE, idx)
    close_episodes(m, idx, observed=True)
    m.pop.mmt_using[idx] = True
    mark(m, idx)


def on_stop(m: DiversionModel, idx: np.ndarray) -> None:
    m.log(STOP, idx)
    m.pop.mmt_using[idx] = False
    mark(m, idx)


def on_enter(m: DiversionModel, idx: np.ndarray, old: np.ndarray, state: int) -> None:
    """Use on treatment ends with treatment."""
    if state != State.METHADONE:
        m.pop.mmt_using[idx] = False


def _weekly(m: DiversionModel) -> tuple[float]:
    return (float(np.count_nonzero(m.pop.mmt_using)),)


def _metrics(m: DiversionModel, weekly: dict[str, np.ndarray]) -> dict[str, float]:
    mmt = m.metrics.states[1:, State.METHADONE].sum()
    using = weekly["using_on_methadone"][1:].sum()
    return {"share_weeks_using_on_methadone": float(using / mmt) if mmt else float("nan")}


PROCESS = Process(
    name="use_on_methadone",
    doc=__doc__,
    params=UseOnMethadoneParams,
    columns={"mmt_using": ("?", False)},  # on methadone and using heroin
    events={
        "use_on_methadone": "started using heroin again while staying on methadone",
        "stop_use_on_methadone": "stopped using heroin, still on methadone",
    },
    risks=(Risk("use_on_methadone", (State.METHADONE,), _use),),
    on_enter=on_enter,
    weekly=("using_on_methadone",),
    record=_weekly,
    results=(Result("share_weeks_using_on_methadone", "Share of methadone weeks with heroin use", "share"),),
    metrics=_metrics,
)
USE, STOP = PROCESS.code("use_on_methadone"), PROCESS.code("stop_use_on_methadone")
PROCESS.handlers = (Handler(USE, on_use, 85), Handler(STOP, on_stop, 86))
