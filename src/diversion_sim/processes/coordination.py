"""Ward coordinators, vectorised over wards: assessment under capacity, plans, referrals.

Each week every ward's coordinator(s) can assess ``rate_assess * rel_assess_capacity`` clients
per coordinator (the fractional part by chance) and hold at most ``n_caseload_max`` active
clients each (seed 004: 8-10 clients a month, caseload ~30). The queue is first come, first
served within the ward: a grouped rank over the waiting people, never a loop over wards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import hazards as hz
from ..hazards import grouped_rank
from ..states import Drug
from ..states import EventCode as Event
from ..states import ServiceCode as Service
from ..states import StateCode as State
from .base import Batch, Handler, Process, Risk
from .transitions import enter, start_treatment

if TYPE_CHECKING:
    from ..model import DiversionModel

ANCILLARY = (
    ("p_refer_hiv", Service.HIV_TEST),
    ("p_refer_legal", Service.LEGAL),
    ("p_refer_mental", Service.MENTAL),
    ("p_refer_vocational", Service.VOCATIONAL),
    ("p_peer_support", Service.PEER),
)


def caseload(m: DiversionModel) -> np.ndarray:
    """Active clients per ward this week."""
    p = m.pop
    return np.bincount(p.ward[p.client_until > m.week], minlength=m.wards.n)


def _caseload_after_step(m: DiversionModel) -> np.ndarray:
    """This week's caseload once the coordinators have worked (cached by step for the record)."""
    week, case = m.cache.get("caseload", (None, None))
    return case if week == m.week else caseload(m)


def step(m: DiversionModel) -> None:
    """Assess waiting referrals where the ward has assessment time and caseload room."""
    if not m.regime.coordinators:
        return
    p, cp, sc = m.pop, m.cfg.params.coordination, m.cfg.scenario
    queue = np.flatnonzero(p.state == State.REFERRED)
    case = caseload(m)
    m.cache["caseload"] = (m.week, case)  # the record reads it (plus this week's clients)
    if queue.size == 0:
        return
    rate = m.wards.n_coordinators * cp.rate_assess * sc.rel_assess_capacity
    slots = np.floor(rate).astype(np.int64)
    slots += m.ward_streams.uniform("assess_slots", np.arange(m.wards.n), m.week) < (rate - slots)
    room = np.maximum(np.floor(m.wards.n_coordinators * cp.n_caseload_max).astype(np.int64) - case, 0)
    cap = np.minimum(slots, room)
    w = p.ward[queue]
    served = m.order(queue[grouped_rank(w, p.referral_week[queue], queue) < cap[w]])
    if served.size == 0:
        return
    # a client engages (or not: suspicion of coordinators, seed 004; by district) and an engaged
    # client is fully assessed with p_assess_complete
    engage = np.asarray(m.cfg.population.p_engage_by_district)[m.wards.district[p.ward[served]]]
    complete = m.streams.uniform("assess_complete", served, m.week) < sc.p_assess_complete * engage
    screened = served[~complete]
    m.log(Event.SCREEN_ONLY, screened)
    # screening with a brief intervention can still lead to recovery support (home detox): Long
    # Bien's 88 recovery supports outnumber its 69 full assessments (seed 004 Tables I-II)
    rec = m.streams.uniform("screen_recovery", screened, m.week) < cp.p_recovery_screened
    left = start_treatment(m, screened[rec], State.RECOVERY)
    enter(m, np.concatenate([screened[~rec], left]), State.USING)
    assess(m, served[complete])
    # the newly assessed join the caseload (nobody else's client status changes after this)
    m.cache["caseload"] = (m.week, case + np.bincount(p.ward[served[complete]], minlength=m.wards.n))


def assess(m: DiversionModel, idx: np.ndarray) -> None:
    """Assessment with a treatment plan: ancillary referrals, then one primary treatment."""
    p, cp, sc = m.pop, m.cfg.params.coordination, m.cfg.scenario
    m.log(Event.ASSESS, idx)
    p.services[idx] |= np.uint16(Service.ASSESSED)
    p.client_until[idx] = m.week + int(round(cp.dur_followup))
    u = m.streams.uniform("plan", idx, m.week, slots=len(ANCILLARY) + 1)
    for row, (name, flag) in enumerate(ANCILLARY):
        p.services[idx[u[row] < getattr(cp, name)]] |= np.uint16(flag)
    hiv = idx[u[0] < cp.p_refer_hiv]  # of those referred, some are tested (own keyed draw)
    tested = hiv[m.streams.uniform("hiv_test_done", hiv, m.week) < cp.p_hiv_test_done]
    p.services[tested] |= np.uint16(Service.HIV_TESTED)
    m.log(HIV_TEST, tested)
    m.log(LEGAL_AID, idx[u[1] < cp.p_refer_legal])

    # primary plan: methadone (opioids only) | community ATS (meth, if available) |
    # recovery support | voluntary residential | none (stays using, followed by the coordinator)
    opioid = p.drug[idx] == Drug.OPIOID
    a = cp.p_plan_ats if sc.ats_treatment else 0.0
    p_main = np.where(opioid, cp.p_plan_methadone, a)
    rest = 1.0 - p_main
    p_rec = rest * cp.p_plan_recovery  # shares of those not sent to the primary treatment
    p_res = rest * cp.p_plan_residential
    x = u[-1]
    main = x < p_main
    rec = ~main & (x < p_main + p_rec)
    res = ~main & ~rec & (x < p_main + p_rec + p_res)
    none = ~(main | rec | res)
    left = [
        start_treatment(m, idx[main & opioid], State.METHADONE),
        start_treatment(m, idx[main & ~opioid], State.RECOVERY, Service.ATS),
        start_treatment(m, idx[rec], State.RECOVERY),
        start_treatment(m, idx[res], State.RESIDENTIAL),
    ]
    enter(m, np.concatenate([idx[none], *left]), State.USING)


def _queue_leave(m: DiversionModel, b: Batch) -> np.ndarray:
    return hz.exponential(
        m.streams.exponential("queue_leave", b.idx, m.week), m.cfg.params.coordination.rate_queue_leave
    )


def on_screen_only(m: DiversionModel, idx: np.ndarray) -> None:
    """Referred but left the coordinator's queue before assessment."""
    m.log(Event.SCREEN_ONLY, idx)
    enter(m, idx, State.USING)


def _record(m: DiversionModel) -> tuple[float, float, float]:
    """Active clients, wards at caseload capacity and people waiting, this week."""
    if not m.regime.coordinators:
        return 0.0, 0.0, 0.0
    case = _caseload_after_step(m)
    cap = np.floor(m.wards.n_coordinators * m.cfg.params.coordination.n_caseload_max)
    return (
        float(case.sum()),
        float(np.count_nonzero(case >= cap)),
        float(np.count_nonzero(m.pop.state == State.REFERRED)),
    )


PROCESS = Process(
    name="coordination",
    doc=__doc__,
    risks=(Risk("queue_leave", (State.REFERRED,), _queue_leave, Event.SCREEN_ONLY),),
    handlers=(Handler(Event.SCREEN_ONLY, on_screen_only, 70),),
    end=step,
    weekly=("caseload", "wards_at_capacity", "queue"),
    record=_record,
    events={
        "hiv_test": "tested for HIV after a coordinator's referral",
        "legal_aid": "given legal aid after a coordinator's referral",
    },
)
HIV_TEST, LEGAL_AID = PROCESS.code("hiv_test"), PROCESS.code("legal_aid")
