"""Compulsory detention: a stay of fixed length (set at admission, :mod:`.policing`), then
release under supervision; some released people are linked to community services
(``scenario.p_release_linkage``), opioid users to methadone with ``p_linked_methadone``.
Parameters: ``params.detention`` and the scenario's stay lengths."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..states import Drug, Tolerance
from ..states import EventCode as Event
from ..states import ExitCode as Exit
from ..states import ServiceCode as Service
from ..states import StateCode as State
from .base import Batch, Handler, Process, Risk
from .transitions import enter, start_exit, start_treatment

if TYPE_CHECKING:
    from ..model import DiversionModel


def _release(m: DiversionModel, b: Batch) -> np.ndarray:
    return b.fixed_end


def on_release(m: DiversionModel, idx: np.ndarray) -> None:
    """Release from compulsory detention: supervision starts; some are linked to services."""
    p, sc, dp = m.pop, m.cfg.scenario, m.cfg.params.detention
    p_mmt = (
        m.cfg.params.coordination.p_plan_methadone if dp.p_linked_methadone is None else dp.p_linked_methadone
    )
    m.log(Event.RELEASE, idx)
    p.release_week[idx] = m.week
    p.tolerance_week[idx] = m.week
    p.tolerance_kind[idx] = Tolerance.RELEASE
    p.pos_tests[idx] = 0
    p.dossier[idx] = False
    start_exit(m, idx, Exit.RELEASE)
    u = m.streams.uniform("linkage", idx, m.week, slots=2)
    linked = idx[u[0] < sc.p_release_linkage]
    p.linked[linked] = True
    p.services[linked] |= np.uint16(Service.LINKED)
    m.log(Event.LINKED, linked)
    ul = u[1][u[0] < sc.p_release_linkage]
    opioid = p.drug[linked] == Drug.OPIOID
    to_mmt = linked[opioid & (ul < p_mmt)]
    to_rec = np.setdiff1d(linked, to_mmt, assume_unique=True)
    rest = np.setdiff1d(idx, np.concatenate([to_mmt, to_rec]), assume_unique=True)
    left = start_treatment(m, to_mmt, State.METHADONE)
    # released straight onto methadone: its own kind of exit (Wegman 2017's voluntary arm);
    # the relapse clock ends with heroin use on treatment or dropout
    p.exit_type[np.setdiff1d(to_mmt, left, assume_unique=True)] = Exit.RELEASE_METHADONE
    left = np.concatenate([left, start_treatment(m, to_rec, State.RECOVERY)])
    enter(m, np.concatenate([rest, left]), State.ABSTINENT)


PROCESS = Process(
    name="detention",
    doc=__doc__,
    risks=(Risk("release", (State.DETAINED,), _release, Event.RELEASE),),
    handlers=(Handler(Event.RELEASE, on_release, 30),),
)
