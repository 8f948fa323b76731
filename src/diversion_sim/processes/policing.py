"""Ward police: a positive test of a person using drugs, then a dossier or a referral.

Compulsory regime (Law 15/2012 art. 103; seed 004): the third positive test within the test
window makes a person liable to a dossier; police compile one, and the district People's
Committee approves it, with probability ``p_dossier`` (always when the family insists); otherwise
the count starts again (``dossier_declined``). Admission follows after ``dur_dossier`` weeks if
a bed is free; a dossier that finds no bed within ``dur_dossier_wait_max`` lapses.
Diversion (the Hanoi pilot; seed 004): police refer the person to the ward coordinator instead, at
the positive test where a dossier would be compiled (``scenario.n_tests_refer``) or at any positive
test soon after release (``scenario.dur_refer_after_release``): the pilot's two target groups.
Compulsory admission remains for people with no fixed address, for families who insist, and for
coordinator clients who use again without adhering (the dossier threshold still applies to them).
With ``voluntary_only`` centres, a dossier becomes an offer of voluntary residential treatment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import hazards as hz
from ..states import EventCode as Event
from ..states import ServiceCode as Service
from ..states import StateCode as State
from . import centres, family
from .base import Batch, Handler, Process, Risk
from .schedule import mark
from .transitions import close_episodes, enter, start_treatment

if TYPE_CHECKING:
    from ..model import DiversionModel


def detect_wait(m: DiversionModel, idx: np.ndarray, rel: float = 1.0) -> np.ndarray:
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
        e[1],
        np.full(idx.size, pol.rate_detect * rel),
        since,
        np.array([m.cfg.params.detention.dur_supervision]),
        np.array([pol.hr_detect_supervised, 1.0]),
    )
    return np.where(open_ & (retest <= window_left), retest, start + later)


def _police(m: DiversionModel, b: Batch) -> tuple[np.ndarray, np.ndarray]:
    """People using, in the community or on methadone (``mmt_using``, tested around the clinics,
    seed 004): a pending dossier leads to admission at its date (from methadone too: Khue 2017,
    a quarter of those who left had been arrested); otherwise the next positive test."""
    p, pol = m.pop, m.cfg.params.police
    pend = p.dossier[b.idx]
    on_mmt = b.state == State.METHADONE
    det = np.full(b.idx.size, np.inf)
    u = np.flatnonzero(~on_mmt & ~pend)
    if u.size:
        det[u] = detect_wait(m, b.idx[u])
    u = np.flatnonzero(on_mmt & p.mmt_using[b.idx] & ~pend)
    if u.size:
        det[u] = detect_wait(m, b.idx[u], pol.hr_detect_methadone)
    wait = np.where(pend, b.fixed_end, det)
    return wait, np.where(pend, Event.ADMIT, Event.DETECT).astype(np.int8)


def on_detect(m: DiversionModel, idx: np.ndarray) -> None:
    """Handle this week's positive tests (all of ``idx`` are using, in the community or on
    methadone, with no dossier pending)."""
    p, pol, sc = m.pop, m.cfg.params.police, m.cfg.scenario
    m.log(Event.DETECT, idx)
    fresh = (m.week - p.window_start[idx]) >= pol.dur_test_window
    p.window_start[idx[fresh]] = m.week
    p.pos_tests[idx] = np.where(fresh, 1, np.minimum(p.pos_tests[idx].astype(np.int16) + 1, 127))

    on_mmt = p.state[idx] == State.METHADONE  # using on treatment, tested around the clinics
    insisting = np.zeros(p.n, bool)  # families insisting now (processes/family.py)
    insisting[idx[family.insists(m, idx)]] = True
    if m.regime.police_refer:
        # the pilot's targets (seed 004): people at their third positive test in the window (where
        # a dossier would be compiled) and people recently released; others' tests are counted
        client = p.client_until[idx] > m.week
        to_centre = ~p.fixed_address[idx] | insisting[idx] | client
        family.log_insist(m, idx[insisting[idx] & p.fixed_address[idx] & ~client])
        due = (p.pos_tests[idx] >= sc.n_tests_refer) | (
            (m.week - p.release_week[idx]) <= sc.dur_refer_after_release
        )
        divert = ~to_centre
        refer = idx[divert & due & ~on_mmt]
        treated = idx[divert & due & on_mmt]  # already in treatment: not referred, no dossier
        p.pos_tests[treated] = 0
        mark(m, np.concatenate([treated, idx[divert & ~due]]))  # counted, not yet referred
        idx = idx[to_centre]
        p.services[refer] |= np.uint16(Service.REFERRED)
        p.referral_week[refer] = m.week
        p.pos_tests[refer] = 0
        m.log(Event.REFER, refer)
        enter(m, refer, State.REFERRED)

    due = p.pos_tests[idx] >= pol.n_tests_dossier
    liable, later = idx[due], idx[~due]
    mark(m, later)
    if liable.size == 0:
        return
    drawn = m.streams.uniform("dossier", liable, m.week) < pol.p_dossier
    go = insisting[liable] | drawn
    family.log_insist(m, liable[insisting[liable] & ~drawn])  # the family's request decided it
    declined = liable[~go]
    m.log(Event.DOSSIER_DECLINED, declined)
    p.pos_tests[declined] = 0
    mark(m, declined)
    dossier = liable[go]
    if dossier.size == 0:
        return
    m.log(Event.DOSSIER, dossier)
    p.pos_tests[dossier] = 0
    if sc.voluntary_only:  # an offer of voluntary care (methadone patients are in it already)
        offered = p.state[dossier] != State.METHADONE
        accept = offered & (m.streams.uniform("accept_voluntary", dossier, m.week) < sc.p_accept_voluntary)
        m.log(Event.REFUSED_VOLUNTARY, dossier[offered & ~accept])
        left = start_treatment(m, dossier[accept], State.RESIDENTIAL)
        mark(m, np.concatenate([dossier[~accept], left]))
        return
    p.dossier[dossier] = True
    p.dossier_week[dossier] = m.week
    p.treat_end[dossier] = m.week + max(int(round(pol.dur_dossier)), 1)
    mark(m, dossier)


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


PROCESS = Process(
    name="policing",
    doc=__doc__,
    risks=(Risk("police", (State.USING, State.METHADONE), _police),),
    handlers=(Handler(Event.ADMIT, on_admit, 90), Handler(Event.DETECT, on_detect, 100)),
)
