"""Community treatment: methadone (self-enrolment of opioid users, Weibull dropout), recovery
support and voluntary residential treatment (drop-out at a constant rate, or completion at the
planned end). Starts under capacity are in :func:`.transitions.start_treatment`; referrals come
from the coordinators (:mod:`.coordination`) and linkage at release (:mod:`.detention`).
Parameters: ``params.treatment``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import hazards as hz
from ..states import Drug, Tolerance
from ..states import EventCode as Event
from ..states import ExitCode as Exit
from ..states import StateCode as State
from .base import Batch, Handler, Process, Risk
from .transitions import close_episodes, enter, start_exit, start_treatment

if TYPE_CHECKING:
    from ..model import DiversionModel


def methadone_dropout_wait(m: DiversionModel, idx: np.ndarray, elapsed: np.ndarray | float) -> np.ndarray:
    """Time to methadone dropout of ``idx``, on methadone for ``elapsed`` weeks: Weibull, with
    hazard ratio ``params.use_on_methadone.hr_dropout_using`` while using heroin on treatment."""
    tp, p = m.cfg.params.treatment, m.pop
    hr = np.where(p.mmt_using[idx], m.cfg.params.use_on_methadone.hr_dropout_using, 1.0)
    return hz.weibull_residual(
        m.streams.exponential("methadone_dropout", idx, m.week),
        tp.shape_methadone_dropout,
        tp.scale_methadone_dropout,
        hr,
        elapsed,
    )


def _seek(m: DiversionModel, b: Batch) -> np.ndarray:
    """Opioid users with no dossier pending enrol on methadone on their own."""
    p = m.pop
    seek = hz.exponential(
        m.streams.exponential("seek_methadone", b.idx, m.week), m.cfg.params.treatment.rate_seek_methadone
    )
    return np.where(p.dossier[b.idx] | (p.drug[b.idx] != Drug.OPIOID), np.inf, seek)


def _methadone_dropout(m: DiversionModel, b: Batch) -> np.ndarray:
    return methadone_dropout_wait(m, b.idx, b.elapsed)


def _treatment_dropout(m: DiversionModel, b: Batch) -> np.ndarray:
    tp = m.cfg.params.treatment
    rate = np.where(b.state == State.RECOVERY, tp.rate_recovery_dropout, tp.rate_residential_leave)
    return hz.exponential(m.streams.exponential("treatment_dropout", b.idx, m.week), rate)


def _complete(m: DiversionModel, b: Batch) -> np.ndarray:
    return b.fixed_end


def on_complete(m: DiversionModel, idx: np.ndarray) -> None:
    p = m.pop
    m.log(Event.COMPLETE, idx, p.state[idx])
    res = idx[p.state[idx] == State.RESIDENTIAL]
    rec = idx[p.state[idx] == State.RECOVERY]
    start_exit(m, res, Exit.RESIDENTIAL)
    start_exit(m, rec, Exit.RECOVERY)
    p.tolerance_week[idx] = m.week  # detox completed: tolerance lost (Strang 2003)
    p.tolerance_kind[idx] = Tolerance.DETOX
    enter(m, idx, State.ABSTINENT)


def on_dropout(m: DiversionModel, idx: np.ndarray) -> None:
    """Leaving treatment early means using again: a relapse if a relapse clock runs. Leaving
    methadone starts the weeks of excess overdose risk (Cornish 2010)."""
    p = m.pop
    m.log(Event.DROPOUT, idx, p.state[idx])
    close_episodes(m, idx, observed=True)
    mmt = idx[p.state[idx] == State.METHADONE]
    p.tolerance_week[mmt] = m.week
    p.tolerance_kind[mmt] = Tolerance.METHADONE
    enter(m, idx, State.USING)


def on_seek_methadone(m: DiversionModel, idx: np.ndarray) -> None:
    """Opioid users enrolling on their own; a full clinic turns them away (they try again)."""
    left = start_treatment(m, idx, State.METHADONE)
    enter(m, left, State.USING)


PROCESS = Process(
    name="treatment",
    doc=__doc__,
    risks=(
        Risk("seek_methadone", (State.USING,), _seek, Event.START_METHADONE),
        Risk("methadone_dropout", (State.METHADONE,), _methadone_dropout, Event.DROPOUT),
        Risk("treatment_dropout", (State.RECOVERY, State.RESIDENTIAL), _treatment_dropout, Event.DROPOUT),
        Risk("complete", (State.RECOVERY, State.RESIDENTIAL), _complete, Event.COMPLETE),
    ),
    handlers=(
        Handler(Event.COMPLETE, on_complete, 40),
        Handler(Event.DROPOUT, on_dropout, 50),
        Handler(Event.START_METHADONE, on_seek_methadone, 80),
    ),
)
