"""PWUD state as columns (numpy arrays) owned by the model, and their creation from parameters.

One row per person who has ever been on the register during the run (the register is open:
people enter and leave, :mod:`diversion_sim.processes.register`). Nothing here loops over
people: every process reads and writes these columns with vectorised numpy, and the Mesa
``Person`` agents are views onto a row. Columns grow by doubling (amortised O(1) per entrant);
read them through the population (``m.pop.state``), never keep a column across weeks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .states import NEVER, Drug, Exit, Service, State, Tolerance

if TYPE_CHECKING:
    from .params import Config

FAR_PAST = -(10**6)  # "never released": far enough back that no post-release effect applies

# The core columns, name: (dtype, value of a new row), documented beside each. Processes add
# their own (``Process.columns``); a population is built with the assembly's full set.
COLUMNS: dict[str, tuple[str, int | float | bool]] = {
    # fixed attributes
    "uid": ("i4", -1),  # person id, unique over the run and its burn-in (rows are renumbered at the
    # switch): every keyed draw of a person uses it (model.streams maps rows to uids)
    "ward": ("i4", 0),
    "drug": ("i1", 0),  # Drug.OPIOID / Drug.METH
    "inject": ("?", False),
    "fixed_address": ("?", True),
    "has_family": ("?", False),
    "family_monitoring": ("?", False),
    "family_employment": ("?", False),
    "family_supported": ("?", False),  # reached by family support services
    "entry_week": ("i4", FAR_PAST),  # week the person joined the register (FAR_PAST: at the start)
    # dynamic state
    "state": ("i1", 0),
    "since": ("i4", 0),  # week the current state was entered
    "next_week": ("i4", NEVER),  # week of the next scheduled event
    "next_event": ("i1", 0),  # its Event kind
    "treat_end": ("i4", NEVER),  # fixed end of a stay/episode
    "n_detentions": ("i2", 0),  # ever, including before the run
    "release_week": ("i4", FAR_PAST),
    "tolerance_week": ("i4", FAR_PAST),  # week of the last exit that lowered opioid tolerance
    "tolerance_kind": ("i1", 0),  # its kind (states.Tolerance): the overdose excess after it
    "pos_tests": ("i1", 0),  # positive tests in the open window
    "window_start": ("i4", FAR_PAST),
    "dossier": ("?", False),  # admission pending (dossier compiled)
    "dossier_week": ("i4", FAR_PAST),  # week the pending dossier was compiled
    "exit_type": ("i1", 0),  # Exit: relapse clock running since exit_week
    "exit_week": ("i4", 0),
    "linked": ("?", False),  # the current exit was linked to services
    "client_until": ("i4", FAR_PAST),  # coordinator caseload membership
    "referral_week": ("i4", 0),
    "services": ("u2", 0),  # Service flags ever used in the run
    "pending": ("?", False),  # marked to (re)schedule at the end of the week
}


@dataclass
class Wards:
    """Ward-level columns: one row per ward (police and coordinator are processed over these)."""

    district: np.ndarray  # int16
    n_coordinators: np.ndarray  # float32, coordinators (may be fractional: part-time)
    weight: np.ndarray  # float64, share of its district's register living in the ward

    @property
    def n(self) -> int:
        return int(self.district.shape[0])


class Population:
    """Columns of per-person state, growable by :meth:`append`.

    Args:
        n: rows to start with.
        columns: name -> (dtype, value of a new row); the model passes its assembly's columns
            (the core :data:`COLUMNS` and those its processes declare).
    """

    def __init__(self, n: int, columns: dict[str, tuple[str, Any]] | None = None) -> None:
        self.columns = dict(COLUMNS if columns is None else columns)
        self.n = 0
        self._cap = 0
        self._buf: dict[str, np.ndarray] = {}
        self.append(n)

    if TYPE_CHECKING:  # the columns are attributes set by append(), one array each

        def __getattr__(self, name: str) -> np.ndarray: ...

    def append(self, k: int) -> np.ndarray:
        """Add ``k`` rows with their new-row values; returns their row numbers."""
        n, need = self.n, self.n + int(k)
        if need > self._cap or not self._buf:
            cap = max(need, 2 * self._cap, 16)
            for name, (dt, _) in self.columns.items():
                buf = np.empty(cap, dt)
                if n:
                    buf[:n] = self._buf[name][:n]
                self._buf[name] = buf
            self._cap = cap
        for name, (_, value) in self.columns.items():
            self._buf[name][n:need] = value
            setattr(self, name, self._buf[name][:need])
        self.n = need
        return np.arange(n, need)

    def nbytes(self) -> int:
        """Bytes held by the columns (their buffers)."""
        return sum(b.nbytes for b in self._buf.values())

    def snapshot(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Copies of every column (of ``rows`` only, if given)."""
        sel = slice(None) if rows is None else rows
        return {name: getattr(self, name)[sel].copy() for name in self.columns}

    @classmethod
    def restore(
        cls, cols: dict[str, np.ndarray], columns: dict[str, tuple[str, Any]] | None = None
    ) -> Population:
        p = cls(0, columns)
        n = len(cols["state"])
        p.append(n)
        for name in p.columns:
            getattr(p, name)[:] = cols[name]
        return p


def _ward_sizes(
    cfg: Config, n_by_district: list[int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Assign people to wards: within each district, multinomial over gamma-distributed weights."""
    pop = cfg.population
    wards, districts, weights = [], [], []
    first = 0
    for d, (n_people, n_wards) in enumerate(zip(n_by_district, pop.n_wards_by_district)):
        w = rng.gamma(pop.shape_ward_size, 1.0, n_wards)
        w = w / w.sum()
        counts = rng.multinomial(n_people, w)
        wards.append(np.repeat(np.arange(first, first + n_wards, dtype=np.int32), counts))
        districts.append(np.full(n_wards, d, np.int16))
        weights.append(w)
        first += n_wards
    return np.concatenate(wards), np.concatenate(districts), np.concatenate(weights)


ATTRIBUTE_WEEK = 0  # attributes are keyed by person (uid) only: the same uniform in every scenario
# and at every time, so the switch re-decides family levers on each person's own numbers


def family_levers(m, rows: np.ndarray) -> None:
    """Which families family support services reach under the current scenario's levers. Keyed
    by person, so the switch from the status quo re-decides it on the same numbers (whether a
    family insists on detention is a decision of the family process, processes/family.py)."""
    p, sc = m.pop, m.cfg.scenario
    u = m.streams.uniform("family_levers", rows, ATTRIBUTE_WEEK, slots=2)
    p.family_supported[rows] = p.has_family[rows] & (u[0] < sc.p_family_support_reach)


def draw_attributes(m, rows: np.ndarray, p_opioid: float) -> None:
    """Fixed attributes of ``rows`` (drug, injecting, address, family) from keyed draws."""
    p, pp, fam = m.pop, m.cfg.population, m.cfg.params.family
    u = m.streams.uniform("attributes", rows, ATTRIBUTE_WEEK, slots=6)
    p.drug[rows] = np.where(u[0] < p_opioid, Drug.OPIOID, Drug.METH)
    p.inject[rows] = (p.drug[rows] == Drug.OPIOID) & (u[1] < pp.p_inject_given_opioid)
    p.fixed_address[rows] = u[2] < pp.p_fixed_address
    p.has_family[rows] = u[3] < pp.p_family
    p.family_monitoring[rows] = p.has_family[rows] & (u[4] < fam.p_monitoring)
    p.family_employment[rows] = p.has_family[rows] & (u[5] < fam.p_employment_help)
    family_levers(m, rows)


def draw_history(m, rows: np.ndarray, since_release_max: int) -> None:
    """Compulsory history before joining the model: ever detained, then 1 + Poisson extra stays
    (mean among ever), last release uniform over the past ``since_release_max`` weeks."""
    pp, p = m.cfg.population, m.pop
    u = m.streams.uniform("history", rows, ATTRIBUTE_WEEK, slots=3)
    ever = u[0] < pp.p_ever_detained
    mu = max(pp.n_mean_prior_detentions - 1.0, 0.0)
    k = np.arange(30)
    extra = np.zeros(rows.size, np.int64)
    if mu > 0:
        logpmf = k * np.log(mu) - mu - np.cumsum(np.log(np.maximum(k, 1)))
        extra = np.searchsorted(np.cumsum(np.exp(logpmf)), u[1] * (1 - 1e-12), side="right")
    p.n_detentions[rows] = np.where(ever, 1 + extra, 0)
    since = 1 + np.floor(u[2] * since_release_max).astype(np.int32)
    p.release_week[rows] = np.where(ever, m.week - since, FAR_PAST)
    p.tolerance_week[rows] = p.release_week[rows]
    p.tolerance_kind[rows] = np.where(ever, Tolerance.RELEASE, Tolerance.NONE)


def create_population(
    m, n_by_district: list[int], rng: np.random.Generator, columns: dict[str, tuple[str, Any]] | None = None
) -> tuple[Population, Wards]:
    """Draw the register at the start (of the burn-in). Ward sizes use ``rng``; every per-person
    value is a keyed draw (:mod:`~diversion_sim.streams`), so replicate r of every scenario
    starts from the same people."""
    cfg = m.cfg
    pp = cfg.population
    ward, district, weight = _ward_sizes(cfg, n_by_district, rng)
    n = ward.shape[0]
    p = m.pop = Population(n, columns)
    wards = Wards(
        district=district,
        weight=weight,
        n_coordinators=np.full(district.shape[0], cfg.scenario.n_coordinators_per_ward, np.float32),
    )
    p.ward[:] = ward
    rows = np.arange(n)
    p.uid[:] = rows
    m.n_created = n
    draw_attributes(m, rows, pp.p_opioid)
    draw_history(m, rows, int(pp.dur_since_release_init))

    shares = np.array(
        [pp.share_init_using, pp.share_init_abstinent, pp.share_init_methadone, pp.share_init_detained]
    )
    states = np.array([State.USING, State.ABSTINENT, State.METHADONE, State.DETAINED], np.int8)
    u = m.streams.uniform("initial_state", rows, ATTRIBUTE_WEEK)
    s = states[np.searchsorted(np.cumsum(shares), u * shares.sum(), side="right").clip(0, 3)]
    s[(s == State.METHADONE) & (p.drug != Drug.OPIOID)] = State.USING  # methadone: opioids only
    p.state[:] = s
    det = s == State.DETAINED
    p.n_detentions[det] = np.maximum(p.n_detentions[det], 1)
    p.release_week[det] = FAR_PAST
    p.tolerance_week[det] = FAR_PAST
    p.tolerance_kind[det] = Tolerance.NONE
    p.services[det] |= np.uint16(Service.DETAINED)
    p.exit_type[:] = Exit.NONE
    return p, wards
