"""State changes shared by all processes: enter a state (and reschedule), start treatment,
close relapse episodes. Every change of ``pop.state`` goes through :func:`enter`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..states import IS_TREATMENT, NEVER
from ..states import EventCode as Event
from ..states import ExitCode as Exit
from ..states import ServiceCode as Service
from ..states import StateCode as State
from . import centres
from .schedule import mark

if TYPE_CHECKING:
    from ..model import DiversionModel

TREATMENT_START = {
    State.METHADONE: (Event.START_METHADONE, Service.METHADONE, "methadone"),
    State.RECOVERY: (Event.START_RECOVERY, Service.RECOVERY, "services"),
    State.RESIDENTIAL: (Event.START_RESIDENTIAL, Service.RESIDENTIAL, "residential"),
}


def enter(m: DiversionModel, idx: np.ndarray, state: State) -> None:
    """Move ``idx`` into ``state`` this week and draw their next event."""
    if idx.size == 0:
        return
    p = m.pop
    old = p.state[idx]
    ended = idx[IS_TREATMENT[old] & (p.since[idx] >= 0)]
    if ended.size:  # treatment spells started in the run's period (week >= 0) end here
        m.metrics.spells.add(
            person=ended,
            state=p.state[ended],
            start_week=p.since[ended],
            weeks=m.week - p.since[ended],
            end=int(state),
        )
    centres.move_occupancy(m, idx, old, state)
    for hook in m.assembly.enter_hooks:  # processes that follow changes of state
        hook(m, idx, old, state)
    p.state[idx] = state
    p.since[idx] = m.week
    if state in (State.DEAD, State.MOVED, State.DETAINED):  # leaves the community
        p.client_until[idx] = np.minimum(p.client_until[idx], m.week)  # leaves the caseload
        p.dossier[idx] = False  # a pending dossier ends with admission, death or moving away
    mark(m, idx)


def close_episodes(m: DiversionModel, idx: np.ndarray, observed: bool) -> None:
    """End the relapse clock of those in ``idx`` that have one (relapse or censoring)."""
    p = m.pop
    has = idx[p.exit_type[idx] != Exit.NONE]
    if has.size == 0:
        return
    rec = has[p.exit_week[has] >= m.metrics.first_week]  # clocks started before the switch
    m.metrics.episodes.add(
        person=rec,
        exit_type=p.exit_type[rec],  # are not in the run's table
        exit_week=p.exit_week[rec],
        weeks=m.week - p.exit_week[rec],
        observed=np.full(rec.size, observed),
        linked=p.linked[rec],
        drug=p.drug[rec],
    )
    if observed:
        m.log(Event.RELAPSE, has, p.exit_type[has])
    p.exit_type[has] = Exit.NONE
    p.linked[has] = False


def start_exit(m: DiversionModel, idx: np.ndarray, exit_type: Exit) -> None:
    """Start the relapse clock (unless one already runs: it counts from the first exit)."""
    p = m.pop
    new = idx[p.exit_type[idx] == Exit.NONE]
    p.exit_type[new] = exit_type
    p.exit_week[new] = m.week


def start_treatment(m: DiversionModel, idx: np.ndarray, state: State, flag: int = 0) -> np.ndarray:
    """Start methadone / recovery support / residential for ``idx`` where a place is free.

    Returns the people who could not get a place (they stay where they are).
    """
    if idx.size == 0:
        return idx
    event, service, kind = TREATMENT_START[state]
    ok = centres.admit(m, idx, kind)
    got, left = idx[ok], idx[~ok]
    p = m.pop
    if state == State.RESIDENTIAL:
        p.treat_end[got] = m.week + int(round(m.cfg.params.treatment.dur_residential))
    elif state == State.RECOVERY:
        tp = m.cfg.params.treatment
        u = m.streams.uniform("recovery_duration", got, m.week)
        cum = np.cumsum(tp.p_recovery_options)
        pick = np.searchsorted(cum / cum[-1], u, side="right").clip(0, len(cum) - 1)
        dur = np.asarray(tp.dur_recovery_options)[pick]
        p.treat_end[got] = m.week + np.maximum(np.round(dur), 1).astype(np.int32)
    else:
        p.treat_end[got] = NEVER
    p.services[got] |= np.uint16(service | flag)
    m.log(event, got)
    enter(m, got, state)
    return left
