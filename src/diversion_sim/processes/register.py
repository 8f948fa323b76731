"""The open register: people enter it (first registration, moves in) and leave it (death, moves
out, deregistration after sustained abstinence), and people who use can stop on their own.

Entries are exogenous: the expected number each week follows the observed trend of the register
(``params.register.rate_register_growth``) and does not depend on the policy, so entrants get the
same rows, attributes and random numbers in every scenario of a replicate (common random numbers).
The register's size at week ``w`` is then whatever the entries and the exits make of it; the
calibration sets the entry rate so that under the status quo it follows the observed trend.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

from .. import hazards as hz
from ..population import FAR_PAST, draw_attributes, draw_history
from ..states import Drug, Tolerance
from ..states import EventCode as Event
from ..states import ExitCode as Exit
from ..states import StateCode as State
from .base import Batch, Handler, Process, Risk
from .schedule import mark
from .transitions import close_episodes, enter, start_exit, start_treatment

if TYPE_CHECKING:
    from ..model import DiversionModel


def trend(m: DiversionModel, week: int | np.ndarray) -> np.ndarray:
    """Expected register size of each district at ``week`` on the observed trend (the configured
    size is the register at week 0, the policy switch)."""
    g = m.cfg.params.register.rate_register_growth
    return np.asarray(m.cfg.population.n_people_by_district, float) * np.exp(g * week / 52.0)


def _counts(m: DiversionModel, site: str, rate: float) -> np.ndarray:
    """Poisson counts per district for this week at ``rate`` per person-year of the trended
    register. Drawn once per run for every week from the burn-in's start to the horizon (one
    generator per site, keyed by seed and replicate): the same in every scenario, and a longer
    horizon only appends weeks."""
    cache = m.__dict__.setdefault("_entry_counts", {})
    if site not in cache:
        weeks = np.arange(-m.burn_weeks + 1, m.n_weeks + 1)
        lam = rate * trend(m, weeks[:, None]) / 52.0
        ss = np.random.SeedSequence([m.streams.seed, m.streams.replicate, zlib.crc32(site.encode())])
        cache[site] = (weeks[0], np.random.default_rng(ss).poisson(lam))
    first, counts = cache[site]
    return counts[m.week - first]


def _add(m: DiversionModel, counts: np.ndarray, kind: int, p_opioid: float, history: bool) -> np.ndarray:
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    p, wards = m.pop, m.wards
    rows = m.add_people(total)
    district = np.repeat(np.arange(counts.size), counts)
    # ward within the district in proportion to the wards' weights (keyed uniform)
    u = m.streams.uniform("entry_ward", rows, 0)
    cum = np.zeros(wards.n)
    for d in np.unique(district):  # districts: a handful, not wards or people
        w = np.flatnonzero(wards.district == d)
        cum[w] = np.cumsum(wards.weight[w])
        sel = district == d
        p.ward[rows[sel]] = w[np.searchsorted(cum[w] / cum[w][-1], u[sel], side="right").clip(0, w.size - 1)]
    draw_attributes(m, rows, p_opioid)
    p.state[rows] = State.USING
    p.since[rows] = m.week
    p.entry_week[rows] = m.week
    m.make_agents(rows)
    m.log(kind, rows)
    if history:  # people moving in bring their history and their place in the community
        _bring_history(m, rows)
        _arrive_in_state(m, rows)
    mark(m, rows)
    return rows


COMMUNITY = (State.USING, State.ABSTINENT, State.METHADONE)


def _history_pool(m: DiversionModel) -> tuple[np.ndarray, np.ndarray]:
    """Compulsory history of the register's community part (times detained, weeks since the last
    release): live during the burn-in (shared by every scenario), frozen at the switch, so that
    movers in get the same history in every scenario of a replicate (common random numbers)."""
    frozen = getattr(m, "_move_in_pool", None)
    if frozen is not None:
        return frozen
    p = m.pop
    live = np.flatnonzero(np.isin(p.state, COMMUNITY))
    return p.n_detentions[live], (m.week - p.release_week[live]).astype(np.int64)


def _freeze_pool(m: DiversionModel) -> None:
    n_det, since = _history_pool(m)
    m._move_in_pool = (n_det.copy(), since.copy())


def _bring_history(m: DiversionModel, rows: np.ndarray) -> None:
    """People moving in are like the register they join: each takes the compulsory history of a
    random member of its community part (a keyed draw), so the history of the register is the
    model's own outcome rather than an input (the initial register's, drawn from the pilot survey
    by ``population.p_ever_detained``, is the fallback when nobody is in the community)."""
    n_det, since = _history_pool(m)
    if n_det.size == 0:
        draw_history(m, rows, int(m.cfg.population.dur_since_release_init))
        return
    p = m.pop
    k = np.minimum(
        (m.streams.uniform("move_in_donor", rows, 0) * n_det.size).astype(np.int64), n_det.size - 1
    )
    ever = n_det[k] > 0
    p.n_detentions[rows] = n_det[k]
    p.release_week[rows] = np.where(ever, m.week - np.maximum(since[k], 1), FAR_PAST)
    p.tolerance_week[rows] = p.release_week[rows]
    p.tolerance_kind[rows] = np.where(ever, Tolerance.RELEASE, Tolerance.NONE)


def _arrive_in_state(m: DiversionModel, rows: np.ndarray) -> None:
    """People moving in are using, abstinent or on methadone in the proportions of the register's
    community part (``population.share_init_*`` without the detained share), so that moves in
    replace moves out (which happen from every community state) without changing the mix."""
    pp, p = m.cfg.population, m.pop
    shares = np.array([pp.share_init_using, pp.share_init_abstinent, pp.share_init_methadone])
    u = m.streams.uniform("move_in_state", rows, 0)
    pick = np.searchsorted(np.cumsum(shares) / shares.sum(), u, side="right").clip(0, 2)
    abst = rows[pick == 1]
    start_exit(m, abst, Exit.REMISSION)
    p.pos_tests[abst] = 0
    enter(m, abst, State.ABSTINENT)
    mmt = rows[(pick == 2) & (p.drug[rows] == Drug.OPIOID)]
    start_treatment(m, mmt, State.METHADONE)  # no place at the clinic: they stay using


def step(m: DiversionModel) -> None:
    """This week's entrants: new registrations and (for an area population) moves in."""
    reg, pp = m.cfg.params.register, m.cfg.population
    _add(m, _counts(m, "entries", reg.rate_entry), Event.ENTER, reg.p_opioid_entrant, history=False)
    if pp.moves == "out_in":
        _add(m, _counts(m, "moves_in", rate_move_in(m.cfg)), Event.MOVE_IN, pp.p_opioid, history=True)


def rate_move_in(cfg) -> float:
    """Moves into an area population per person-year of its trended register: as configured, or
    (``params.movement.rate_move_in: null``) matched in expectation to the moves out, which leave
    from the community part of the register at ``rate_move`` per week (``population.share_init_*``
    without the detained share)."""
    mv, pp = cfg.params.movement, cfg.population
    if mv.rate_move_in is not None:
        return float(mv.rate_move_in)
    return float(mv.rate_move) * hz.WEEKS_PER_YEAR * (1.0 - float(pp.share_init_detained))


def on_remission(m: DiversionModel, idx: np.ndarray) -> None:
    """Stopped using on their own: abstinent in the community, a relapse clock starts."""
    p = m.pop
    m.log(Event.REMISSION, idx)
    p.pos_tests[idx] = 0
    start_exit(m, idx, Exit.REMISSION)
    enter(m, idx, State.ABSTINENT)


def on_deregister(m: DiversionModel, idx: np.ndarray) -> None:
    """Abstinent for ``dur_deregister`` weeks: supervision ends and the person leaves the register
    (their relapse clock is censored here)."""
    close_episodes(m, idx, observed=False)
    m.log(Event.DEREGISTER, idx)
    enter(m, idx, State.MOVED)


def _remission(m: DiversionModel, b: Batch) -> np.ndarray:
    """People using in the community stop on their own (Calabria et al. 2010), unless a dossier
    is pending."""
    p, reg = m.pop, m.cfg.params.register
    rate = (
        np.where(p.drug[b.idx] == Drug.OPIOID, reg.rate_remission_opioid, reg.rate_remission_meth)
        / hz.WEEKS_PER_YEAR
    )
    stop = hz.exponential(m.streams.exponential("remission", b.idx, m.week), rate)
    return np.where(p.dossier[b.idx], np.inf, stop)


def _deregister(m: DiversionModel, b: Batch) -> np.ndarray:
    """Abstinent people leave the register ``dur_deregister`` weeks after their last exit."""
    return (m.pop.since[b.idx] + m.cfg.params.register.dur_deregister - m.week).astype(float)


PROCESS = Process(
    name="register",
    doc=__doc__,
    risks=(
        Risk("remission", (State.USING,), _remission, Event.REMISSION),
        Risk("deregister", (State.ABSTINENT,), _deregister, Event.DEREGISTER),
    ),
    handlers=(Handler(Event.DEREGISTER, on_deregister, 65), Handler(Event.REMISSION, on_remission, 95)),
    start=step,
    on_switch=_freeze_pool,
)
