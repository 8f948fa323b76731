"""Handlers of scheduled person events: deaths, moves, releases, completions, drop-outs,
relapses, queue leaving and self-referral to methadone. Police detection and dossiers are in
``policing.py``. Each handler receives the people whose event of that kind is due this week."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..states import Drug, Tolerance
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
    """Moving away: out of an area population (``moves: out_in``), or to another ward of the
    same district when the population is the whole register (``between_wards``)."""
    if m.cfg.population.moves == "between_wards":
        p, wards = m.pop, m.wards
        u = m.streams.uniform("move_ward", idx, m.week)
        new = np.empty(idx.size, np.int32)
        dist = wards.district[p.ward[idx]]
        for d in np.unique(dist):  # districts: a handful, not wards or people
            w = np.flatnonzero(wards.district == d)
            cum = np.cumsum(wards.weight[w])
            sel = dist == d
            new[sel] = w[np.searchsorted(cum / cum[-1], u[sel], side="right").clip(0, w.size - 1)]
        m.log(Event.MOVE_WARD, idx, p.state[idx])
        centres.change_ward(m, idx, new)
        mark(m, idx)
        return
    close_episodes(m, idx, observed=False)
    m.log(Event.MOVE, idx, m.pop.state[idx])
    enter(m, idx, State.MOVED)


def on_release(m: DiversionModel, idx: np.ndarray) -> None:
    """Release from compulsory detention: supervision starts; some are linked to services."""
    p, sc, cp = m.pop, m.cfg.scenario, m.cfg.params.coordination
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
    to_mmt = linked[opioid & (ul < cp.p_plan_methadone)]
    to_rec = np.setdiff1d(linked, to_mmt, assume_unique=True)
    rest = np.setdiff1d(idx, np.concatenate([to_mmt, to_rec]), assume_unique=True)
    left = start_treatment(m, to_mmt, State.METHADONE)
    # released straight onto methadone: its own kind of exit (Wegman 2017's voluntary arm);
    # the relapse clock ends with heroin use on treatment or dropout
    p.exit_type[np.setdiff1d(to_mmt, left, assume_unique=True)] = Exit.RELEASE_METHADONE
    left = np.concatenate([left, start_treatment(m, to_rec, State.RECOVERY)])
    enter(m, np.concatenate([rest, left]), State.ABSTINENT)


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


def on_use_on_methadone(m: DiversionModel, idx: np.ndarray) -> None:
    """A methadone patient uses heroin again while staying on treatment (Hoang 2015): a relapse
    if a relapse clock runs (released onto methadone); police may now test positive."""
    m.log(Event.USE_ON_METHADONE, idx)
    close_episodes(m, idx, observed=True)
    m.pop.mmt_using[idx] = True
    mark(m, idx)


def on_stop_use_on_methadone(m: DiversionModel, idx: np.ndarray) -> None:
    m.log(Event.STOP_USE_ON_METHADONE, idx)
    m.pop.mmt_using[idx] = False
    mark(m, idx)


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
    """Dossier complete: admission to a compulsory centre if it has a bed; else the dossier
    waits a week, and lapses once it has waited ``dur_dossier_wait_max`` weeks past its date."""
    p, sc, pol = m.pop, m.cfg.scenario, m.cfg.params.police
    ok = centres.admit(m, idx, "compulsory", priority=p.dossier_week[idx])
    got, wait = idx[ok], idx[~ok]
    late = (m.week - p.dossier_week[wait]) >= pol.dur_dossier + pol.dur_dossier_wait_max
    lapsed, wait = wait[late], wait[~late]
    p.dossier[lapsed] = False
    p.pos_tests[lapsed] = 0
    m.log(Event.DOSSIER_LAPSED, lapsed)
    p.treat_end[wait] = m.week + 1
    mark(m, np.concatenate([wait, lapsed]))  # death and moving still compete while waiting
    if got.size == 0:
        return
    close_episodes(m, got, observed=False)  # cannot run while using, kept for safety
    repeat = p.n_detentions[got] > 0
    lo = np.where(repeat, sc.dur_stay_repeat[0], sc.dur_stay_first[0])
    hi = np.where(repeat, sc.dur_stay_repeat[1], sc.dur_stay_first[1])
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
