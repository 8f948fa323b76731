"""Competing-risk scheduling: when a person enters a state, draw the week of their next event.

Every state has a short list of events that can end it; death and moving away compete in the
community. Each is drawn as a waiting time from the person's own keyed draw for that event and
week (:mod:`diversion_sim.streams`), so it does not depend on who else is rescheduled; the
earliest wins and is
stored in ``next_week`` / ``next_event``. Processes only mark people as changed
(:func:`mark`); all of them are scheduled in one batch at the end of the week, so the cost is
a handful of numpy calls per week whatever the population size, and a weekly step touches only
people whose event is due.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import hazards as hz
from ..states import NEVER, Drug, Event, Exit, State, Tolerance

if TYPE_CHECKING:
    from ..model import DiversionModel

# plain ints: Enum attribute access is slow on Python 3.11 and this is the hot path
USING, ABSTINENT, REFERRED, METHADONE, RECOVERY, RESIDENTIAL, DETAINED, DEAD, MOVED = (
    int(s) for s in State)
COMMUNITY = np.zeros(len(State), bool)
COMMUNITY[[USING, ABSTINENT, REFERRED, METHADONE, RECOVERY]] = True
E_DEATH, E_MOVE, E_DETECT, E_ADMIT, E_SEEK = (int(e) for e in (
    Event.DEATH, Event.MOVE, Event.DETECT, Event.ADMIT, Event.START_METHADONE))
E_RELAPSE, E_LEAVE, E_DROPOUT, E_COMPLETE, E_RELEASE = (int(e) for e in (
    Event.RELAPSE, Event.SCREEN_ONLY, Event.DROPOUT, Event.COMPLETE, Event.RELEASE))
E_REMISSION, E_DEREGISTER = int(Event.REMISSION), int(Event.DEREGISTER)
E_USE_MMT, E_STOP_MMT = int(Event.USE_ON_METHADONE), int(Event.STOP_USE_ON_METHADONE)
X_RESIDENTIAL, X_RECOVERY, X_REMISSION = int(Exit.RESIDENTIAL), int(Exit.RECOVERY), int(Exit.REMISSION)
N_ROWS = 5  # competing risks per person: death, moving, and up to three that end the state
POST_EXIT_BREAKS = np.array([2.0, 4.0])  # weeks 1-2 and 3-4 after an exit (Merrall 2010, Cornish 2010)


def mark(m: DiversionModel, idx: np.ndarray) -> None:
    """Queue ``idx`` for scheduling at the end of this week (their old event is cancelled)."""
    if idx.size:
        m.pop.next_week[idx] = NEVER
        m.pop.pending[idx] = True


def flush(m: DiversionModel) -> None:
    """Schedule everyone marked this week, in one batch.

    A boolean mark column scanned once a week is cheaper than de-duplicating the marked rows
    (``np.unique`` hashing cost a third of a national week)."""
    idx = m.order(np.flatnonzero(m.pop.pending))
    if idx.size:
        m.pop.pending[idx] = False
        schedule(m, idx)


def _death_rate(m: DiversionModel, st: np.ndarray, inject: np.ndarray) -> np.ndarray:
    mp = m.cfg.params.mortality
    table = np.full(len(State), hz.per_week(mp.rate_death_off_oat))
    table[METHADONE] = hz.per_week(mp.rate_death_on_oat)
    table[DETAINED] = hz.per_week(mp.rate_death_detained)
    table[[DEAD, MOVED]] = 0.0
    rate = table[st]
    return np.where(inject, rate * mp.hr_inject, rate)


def relapse_hr(m: DiversionModel, idx: np.ndarray) -> np.ndarray:
    """Relapse hazard ratio of each person: kind of exit, drug, linkage, family, coordinator
    follow-up. The baseline (1) is an opioid user released from compulsory detention with no
    linkage, family monitoring, employment help or follow-up. The calibration's cohorts call
    this same function on people drawn by the population's own code
    (:mod:`diversion_sim.cohorts`), so the running model reproduces what was fitted."""
    rp, sc, p = m.cfg.params.relapse, m.cfg.scenario, m.pop
    ex = p.exit_type[idx]
    hr = np.where(ex == X_RESIDENTIAL, rp.hr_after_residential,
                  np.where(ex == X_RECOVERY, rp.hr_after_recovery,
                           np.where(ex == X_REMISSION, rp.hr_after_remission, 1.0)))
    hr = hr * np.where(p.drug[idx] == Drug.METH, rp.hr_meth, 1.0)
    hr = hr * np.where(p.linked[idx], rp.hr_linked, 1.0)
    hr *= np.where(p.family_monitoring[idx], rp.hr_family_monitoring, 1.0)
    hr *= np.where(p.family_employment[idx], rp.hr_family_employment, 1.0)
    hr *= np.where(p.family_supported[idx], sc.hr_family_support, 1.0)
    hr *= np.where(p.client_until[idx] > m.week, rp.hr_coordinator_followup, 1.0)
    return hr


def tolerance_multipliers(m: DiversionModel) -> np.ndarray:
    """Overdose excess after an exit that lowered tolerance, by :class:`~diversion_sim.states.
    Tolerance` (rows) and segment (weeks 1-2, 3-4, later): after release (Merrall 2010), after
    completed detox or residential treatment (Strang 2003) and after leaving methadone (Cornish
    2010)."""
    mp = m.cfg.params.mortality
    out = np.ones((len(Tolerance), 3))
    out[Tolerance.RELEASE, :2] = mp.mult_post_release_w1_2, mp.mult_post_release_w3_4
    out[Tolerance.DETOX, :2] = mp.mult_after_detox_w1_2, mp.mult_after_detox_w3_4
    out[Tolerance.METHADONE, :2] = mp.mult_after_methadone_w1_2, mp.mult_after_methadone_w3_4
    return out


def death_wait(m: DiversionModel, idx: np.ndarray, st: np.ndarray) -> np.ndarray:
    """Time to death of ``idx`` in states ``st``: the state's rate (on or off methadone, in a
    centre), higher for people who inject, times the overdose excess of weeks 1-4 after the
    last exit that lowered tolerance (release, completed detox or residential treatment,
    leaving methadone; :func:`tolerance_multipliers`). Not inside a compulsory centre."""
    p = m.pop
    since = np.where(st == DETAINED, 1e9, (m.week - p.tolerance_week[idx]).astype(float))
    e = m.streams.exponential("death", idx, m.week)
    rate = _death_rate(m, st, p.inject[idx])
    kind = p.tolerance_kind[idx]
    mults = tolerance_multipliers(m)
    out = np.empty(idx.size)
    for k in np.unique(kind):  # at most four kinds: not a loop over people
        g = kind == k
        out[g] = hz.piecewise_exponential(e[g], rate[g], since[g], POST_EXIT_BREAKS, mults[k])
    return out


def relapse_wait(m: DiversionModel, idx: np.ndarray, elapsed: np.ndarray | float) -> np.ndarray:
    """Time to relapse of abstinent people ``idx`` who have been abstinent ``elapsed`` weeks:
    Weibull(shape_relapse, scale_relapse) under the proportional hazards of :func:`relapse_hr`."""
    rp = m.cfg.params.relapse
    return hz.weibull_residual(m.streams.exponential("relapse", idx, m.week), rp.shape_relapse,
                               rp.scale_relapse, relapse_hr(m, idx), elapsed)


def methadone_dropout_wait(m: DiversionModel, idx: np.ndarray, elapsed: np.ndarray | float
                           ) -> np.ndarray:
    """Time to methadone dropout of ``idx``, on methadone for ``elapsed`` weeks: Weibull, with
    hazard ratio ``hr_dropout_using`` while using heroin on treatment."""
    tp, p = m.cfg.params.treatment, m.pop
    hr = np.where(p.mmt_using[idx], tp.hr_dropout_using, 1.0)
    return hz.weibull_residual(m.streams.exponential("methadone_dropout", idx, m.week),
                               tp.shape_methadone_dropout, tp.scale_methadone_dropout, hr,
                               elapsed)


def methadone_use_wait(m: DiversionModel, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Use on methadone: patients not using start using heroin at ``rate_use_on_methadone``,
    those using stop at ``rate_stop_use_on_methadone`` (per week); returns (wait, event kind)."""
    tp, p = m.cfg.params.treatment, m.pop
    using = p.mmt_using[idx]
    rate = np.where(using, tp.rate_stop_use_on_methadone, tp.rate_use_on_methadone)
    wait = hz.exponential(m.streams.exponential("use_on_methadone", idx, m.week), rate)
    return wait, np.where(using, E_STOP_MMT, E_USE_MMT).astype(np.int8)


def _detect_wait(m: DiversionModel, idx: np.ndarray, rel: float = 1.0) -> np.ndarray:
    """Police detection while using: retesting inside an open test window, else the supervised
    (first ``dur_supervision`` weeks after release) or base detection hazard, times ``rel``
    (e.g. testing around methadone clinics)."""
    pol, p = m.cfg.params.police, m.pop
    window_left = (p.window_start[idx] + pol.dur_test_window - m.week).astype(float)
    open_ = (p.pos_tests[idx] > 0) & (window_left > 0)
    e = m.streams.exponential("detect", idx, m.week, slots=2)
    retest = hz.exponential(e[0], pol.rate_retest * rel)
    start = np.where(open_, window_left, 0.0)
    since = (m.week - p.release_week[idx]).astype(float) + start
    later = hz.piecewise_exponential(
        e[1], np.full(idx.size, pol.rate_detect * rel), since,
        np.array([m.cfg.params.detention.dur_supervision]),
        np.array([pol.hr_detect_supervised, 1.0]))
    return np.where(open_ & (retest <= window_left), retest, start + later)


def schedule(m: DiversionModel, idx: np.ndarray) -> None:
    """Draw the next event of each person in ``idx`` (unique) from their current state."""
    if idx.size == 0:
        return
    p, par = m.pop, m.cfg.params
    st = p.state[idx].astype(np.intp)
    k = idx.size
    wait = np.full((N_ROWS, k), np.inf)
    kind = np.zeros((N_ROWS, k), np.int8)
    # row 0: death (post-release excess in weeks 1-4, Merrall 2010); row 1: moving away
    draw = m.streams.exponential
    wait[0] = death_wait(m, idx, st)
    kind[0] = E_DEATH
    move = hz.exponential(draw("move", idx, m.week), par.movement.rate_move)
    wait[1] = np.where(COMMUNITY[st], move, np.inf)
    kind[1] = E_MOVE
    # rows 2-4: what ends the state itself
    elapsed = (m.week - p.since[idx]).astype(float)
    fixed_end = (p.treat_end[idx] - m.week).astype(float)

    g = np.flatnonzero(st == USING)
    if g.size:
        pend = p.dossier[idx[g]]
        wait[2, g] = np.where(pend, fixed_end[g], _detect_wait(m, idx[g]))
        kind[2, g] = np.where(pend, E_ADMIT, E_DETECT)
        seek = hz.exponential(draw("seek_methadone", idx[g], m.week),
                              par.treatment.rate_seek_methadone)
        wait[3, g] = np.where(pend | (p.drug[idx[g]] != Drug.OPIOID), np.inf, seek)
        kind[3, g] = E_SEEK
        reg = par.register
        rate = np.where(p.drug[idx[g]] == Drug.OPIOID, reg.rate_remission_opioid,
                        reg.rate_remission_meth) / hz.WEEKS_PER_YEAR
        stop = hz.exponential(draw("remission", idx[g], m.week), rate)
        wait[4, g] = np.where(pend, np.inf, stop)
        kind[4, g] = E_REMISSION
    g = np.flatnonzero(st == ABSTINENT)
    if g.size:
        wait[2, g] = relapse_wait(m, idx[g], elapsed[g])
        kind[2, g] = E_RELAPSE
        wait[3, g] = (p.since[idx[g]] + par.register.dur_deregister - m.week).astype(float)
        kind[3, g] = E_DEREGISTER
    g = np.flatnonzero(st == REFERRED)
    if g.size:
        wait[2, g] = hz.exponential(draw("queue_leave", idx[g], m.week),
                                    par.coordination.rate_queue_leave)
        kind[2, g] = E_LEAVE
    g = np.flatnonzero(st == METHADONE)
    if g.size:
        wait[2, g] = methadone_dropout_wait(m, idx[g], elapsed[g])
        kind[2, g] = E_DROPOUT
        # using on treatment: police test around the clinics (seed 004); a dossier leads to
        # admission from methadone (Khue 2017: a quarter of those who left had been arrested)
        pend, using = p.dossier[idx[g]], p.mmt_using[idx[g]]
        det = np.full(g.size, np.inf)
        u = np.flatnonzero(using & ~pend)
        if u.size:
            det[u] = _detect_wait(m, idx[g][u], par.police.hr_detect_methadone)
        wait[3, g] = np.where(pend, fixed_end[g], det)
        kind[3, g] = np.where(pend, E_ADMIT, E_DETECT)
        wait[4, g], kind[4, g] = methadone_use_wait(m, idx[g])
    g = np.flatnonzero((st == RECOVERY) | (st == RESIDENTIAL))
    if g.size:
        tp = par.treatment
        rate = np.where(st[g] == RECOVERY, tp.rate_recovery_dropout, tp.rate_residential_leave)
        wait[2, g] = hz.exponential(draw("treatment_dropout", idx[g], m.week), rate)
        kind[2, g] = E_DROPOUT
        wait[3, g] = fixed_end[g]
        kind[3, g] = E_COMPLETE
    g = np.flatnonzero(st == DETAINED)
    if g.size:
        wait[2, g] = fixed_end[g]
        kind[2, g] = E_RELEASE

    j = np.argmin(wait, axis=0)
    cols = np.arange(k)
    best = wait[j, cols]
    week = hz.to_week(m.week, best, NEVER)
    week[~np.isfinite(best)] = NEVER
    p.next_week[idx] = week
    p.next_event[idx] = kind[j, cols]
