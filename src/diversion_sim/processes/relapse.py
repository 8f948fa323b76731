"""Relapse: after leaving a centre or treatment (or stopping on one's own), the time to first
use is Weibull(``shape_relapse``, ``scale_relapse``) under proportional hazards for the kind of
exit, the drug, linkage, family strategies and coordinator follow-up (:func:`relapse_hr`).
Parameters: ``params.relapse``; the relapse clock itself is in :mod:`.transitions`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import hazards as hz
from ..states import Drug
from ..states import EventCode as Event
from ..states import ExitCode as Exit
from ..states import StateCode as State
from .base import Batch, Handler, Process, Risk
from .transitions import close_episodes, enter

if TYPE_CHECKING:
    from ..model import DiversionModel


def relapse_hr(m: DiversionModel, idx: np.ndarray) -> np.ndarray:
    """Relapse hazard ratio of each person: kind of exit, drug, linkage, family, coordinator
    follow-up. The baseline (1) is an opioid user released from compulsory detention with no
    linkage, family monitoring, employment help or follow-up. The calibration's cohorts call
    this same function on people drawn by the population's own code
    (:mod:`diversion_sim.cohorts`), so the running model reproduces what was fitted."""
    rp, sc, p = m.cfg.params.relapse, m.cfg.scenario, m.pop
    ex = p.exit_type[idx]
    hr = np.where(
        ex == Exit.RESIDENTIAL,
        rp.hr_after_residential,
        np.where(
            ex == Exit.RECOVERY,
            rp.hr_after_recovery,
            np.where(ex == Exit.REMISSION, rp.hr_after_remission, 1.0),
        ),
    )
    hr = hr * np.where(p.drug[idx] == Drug.METH, rp.hr_meth, 1.0)
    hr = hr * np.where(p.linked[idx], rp.hr_linked, 1.0)
    hr *= np.where(p.family_monitoring[idx], rp.hr_family_monitoring, 1.0)
    hr *= np.where(p.family_employment[idx], rp.hr_family_employment, 1.0)
    hr *= np.where(p.family_conditional[idx], rp.hr_family_conditional, 1.0)
    hr *= np.where(p.family_supported[idx], sc.hr_family_support, 1.0)
    hr *= np.where(p.client_until[idx] > m.week, rp.hr_coordinator_followup, 1.0)
    return hr


def relapse_wait(m: DiversionModel, idx: np.ndarray, elapsed: np.ndarray | float) -> np.ndarray:
    """Time to relapse of abstinent people ``idx`` who have been abstinent ``elapsed`` weeks."""
    rp = m.cfg.params.relapse
    return hz.weibull_residual(
        m.streams.exponential("relapse", idx, m.week),
        rp.shape_relapse,
        rp.scale_relapse,
        relapse_hr(m, idx),
        elapsed,
    )


def _relapse(m: DiversionModel, b: Batch) -> np.ndarray:
    return relapse_wait(m, b.idx, b.elapsed)


def on_relapse(m: DiversionModel, idx: np.ndarray) -> None:
    close_episodes(m, idx, observed=True)
    enter(m, idx, State.USING)


PROCESS = Process(
    name="relapse",
    doc=__doc__,
    risks=(Risk("relapse", (State.ABSTINENT,), _relapse, Event.RELAPSE),),
    handlers=(Handler(Event.RELAPSE, on_relapse, 60),),
)
