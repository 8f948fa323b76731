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

from ..states import EventCode as Event
from ..states import ServiceCode as Service
from ..states import StateCode as State
from .schedule import mark
from .transitions import enter, start_treatment

if TYPE_CHECKING:
    from ..model import DiversionModel


def on_detect(m: DiversionModel, idx: np.ndarray) -> None:
    """Handle this week's positive tests (all of ``idx`` are using, in the community or on
    methadone, with no dossier pending)."""
    p, pol, sc = m.pop, m.cfg.params.police, m.cfg.scenario
    m.log(Event.DETECT, idx)
    fresh = (m.week - p.window_start[idx]) >= pol.dur_test_window
    p.window_start[idx[fresh]] = m.week
    p.pos_tests[idx] = np.where(fresh, 1, np.minimum(p.pos_tests[idx].astype(np.int16) + 1, 127))

    on_mmt = p.state[idx] == State.METHADONE  # using on treatment, tested around the clinics
    if sc.regime == "diversion":
        # the pilot's targets (seed 004): people at their third positive test in the window (where
        # a dossier would be compiled) and people recently released; others' tests are counted
        client = p.client_until[idx] > m.week
        to_centre = ~p.fixed_address[idx] | p.family_insists[idx] | client
        due = ((p.pos_tests[idx] >= sc.n_tests_refer)
               | ((m.week - p.release_week[idx]) <= sc.dur_refer_after_release))
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
    go = p.family_insists[liable] | (m.streams.uniform("dossier", liable, m.week) < pol.p_dossier)
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
        accept = offered & (m.streams.uniform("accept_voluntary", dossier, m.week)
                            < sc.p_accept_voluntary)
        m.log(Event.REFUSED_VOLUNTARY, dossier[offered & ~accept])
        left = start_treatment(m, dossier[accept], State.RESIDENTIAL)
        mark(m, np.concatenate([dossier[~accept], left]))
        return
    p.dossier[dossier] = True
    p.dossier_week[dossier] = m.week
    p.treat_end[dossier] = m.week + max(int(round(pol.dur_dossier)), 1)
    mark(m, dossier)
