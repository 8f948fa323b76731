"""Handlers of scheduled person events: deaths, moves, releases, completions, drop-outs,
relapses, queue leaving and self-referral to methadone. Police detection and dossiers are in
``policing.py``. Each handler receives the people whose event of that kind is due this week."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..states import Drug
from ..states import EventCode as Event
from ..states import ExitCode as Exit
from ..states import ServiceCode as Service
from ..states import StateCode as State
from . import centres
from .schedule import mark
from .transitions import close_episodes, enter, start_exit, start_treatment

if TYPE_CHECKING:
    from ..model import DiversionModel


def on_death(m: DiversionModel, idx: np.ndarray) -> None:
    close_episodes(m, idx, observed=False)
    m.log(Event.DEATH, idx, m.pop.state[idx])
    enter(m, idx, State.DEAD)


def on_move(m: DiversionModel, idx: np.ndarray) -> None:
    close_episodes(m, idx, observed=False)
    m.log(Event.MOVE, idx, m.pop.state[idx])
    enter(m, idx, State.MOVED)


def on_release(m: DiversionModel, idx: np.ndarray) -> None:
    """Release from compulsory detention: supervision starts; some are linked to services."""
    p, sc, cp = m.pop, m.cfg.scenario, m.cfg.params.coordination
    m.log(Event.RELEASE, idx)
    p.release_week[idx] = m.week
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
    to_mmt = linked[opioid & (ul < cp.p_plan_methadone)]
    to_rec = np.setdiff1d(linked, to_mmt, assume_unique=True)
    rest = np.setdiff1d(idx, np.concatenate([to_mmt, to_rec]), assume_unique=True)
    left = start_treatment(m, to_mmt, State.METHADONE)
    left = np.concatenate([left, start_treatment(m, to_rec, State.RECOVERY)])
    enter(m, np.concatenate([rest, left]), State.ABSTINENT)


def on_complete(m: DiversionModel, idx: np.ndarray) -> None:
    p = m.pop
    m.log(Event.COMPLETE, idx, p.state[idx])
    res = idx[p.state[idx] == State.RESIDENTIAL]
    rec = idx[p.state[idx] == State.RECOVERY]
    start_exit(m, res, Exit.RESIDENTIAL)
    start_exit(m, rec, Exit.RECOVERY)
    enter(m, idx, State.ABSTINENT)


def on_dropout(m: DiversionModel, idx: np.ndarray) -> None:
    """Leaving treatment early means using again: a relapse if a relapse clock runs."""
    m.log(Event.DROPOUT, idx, m.pop.state[idx])
    close_episodes(m, idx, observed=True)
    enter(m, idx, State.USING)


def on_relapse(m: DiversionModel, idx: np.ndarray) -> None:
    close_episodes(m, idx, observed=True)
    enter(m, idx, State.USING)


def on_screen_only(m: DiversionModel, idx: np.ndarray) -> None:
    """Referred but left the coordinator's queue before assessment."""
    m.log(Event.SCREEN_ONLY, idx)
    enter(m, idx, State.USING)


def on_seek_methadone(m: DiversionModel, idx: np.ndarray) -> None:
    """Opioid users enrolling on their own; a full clinic turns them away (they try again)."""
    left = start_treatment(m, idx, State.METHADONE)
    enter(m, left, State.USING)


def on_admit(m: DiversionModel, idx: np.ndarray) -> None:
    """Dossier complete: admission to a compulsory centre if it has a bed, else wait a week."""
    p, dp = m.pop, m.cfg.params.detention
    ok = centres.admit(m, idx, "compulsory", priority=p.treat_end[idx])
    got, wait = idx[ok], idx[~ok]
    p.treat_end[wait] = m.week + 1
    mark(m, wait)  # wait a week for a bed (death and moving still compete)
    if got.size == 0:
        return
    close_episodes(m, got, observed=False)  # cannot run while using, kept for safety
    repeat = p.n_detentions[got] > 0
    lo = np.where(repeat, dp.dur_stay_repeat[0], dp.dur_stay_first[0])
    hi = np.where(repeat, dp.dur_stay_repeat[1], dp.dur_stay_first[1])
    u = m.streams.uniform("stay", got, m.week)
    stay = np.floor(lo + u * (hi - lo + 1)).astype(np.int32)
    stay = np.minimum(stay, hi.astype(np.int32)).clip(1)
    p.n_detentions[got] += 1
    p.dossier[got] = False
    p.pos_tests[got] = 0
    p.treat_end[got] = m.week + stay
    p.services[got] |= np.uint16(Service.DETAINED)
    m.log(Event.ADMIT, got, repeat.astype(np.int8))
    enter(m, got, State.DETAINED)
