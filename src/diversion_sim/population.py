"""PWUD state as columns (numpy arrays) owned by the model, and their creation from parameters.

One row per person. Nothing here loops over people: every process reads and writes these
columns with vectorised numpy, and the Mesa ``Person`` agents are views onto a row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import Config
from .states import NEVER, Drug, Exit, Service, State

FAR_PAST = -(10**6)  # "never released": far enough back that no post-release effect applies


@dataclass
class Wards:
    """Ward-level columns: one row per ward (police and coordinator are processed over these)."""

    district: np.ndarray  # int16
    n_coordinators: np.ndarray  # float32, coordinators (may be fractional: part-time)

    @property
    def n(self) -> int:
        return int(self.district.shape[0])


class Population:
    """Columns of per-person state. Attributes are documented where they are created."""

    def __init__(self, n: int) -> None:
        self.n = n
        # fixed attributes
        self.ward = np.zeros(n, np.int32)
        self.drug = np.zeros(n, np.int8)  # Drug.OPIOID / Drug.METH
        self.inject = np.zeros(n, bool)
        self.fixed_address = np.ones(n, bool)
        self.has_family = np.zeros(n, bool)
        self.family_monitoring = np.zeros(n, bool)
        self.family_employment = np.zeros(n, bool)
        self.family_insists = np.zeros(n, bool)
        self.family_supported = np.zeros(n, bool)  # reached by family support services
        self.family_burden = np.zeros(n, np.float32)  # burden units accumulated this run
        # dynamic state
        self.state = np.zeros(n, np.int8)
        self.since = np.zeros(n, np.int32)  # week the current state was entered
        self.next_week = np.full(n, NEVER, np.int32)  # week of the next scheduled event
        self.next_event = np.zeros(n, np.int8)  # its Event kind
        self.treat_end = np.full(n, NEVER, np.int32)  # fixed end of a stay/episode
        self.n_detentions = np.zeros(n, np.int16)  # ever, including before the run
        self.release_week = np.full(n, FAR_PAST, np.int32)
        self.pos_tests = np.zeros(n, np.int8)  # positive tests in the open window
        self.window_start = np.full(n, FAR_PAST, np.int32)
        self.dossier = np.zeros(n, bool)  # admission pending (dossier compiled)
        self.exit_type = np.zeros(n, np.int8)  # Exit: relapse clock running since exit_week
        self.exit_week = np.zeros(n, np.int32)
        self.linked = np.zeros(n, bool)  # the current exit was linked to services
        self.client_until = np.full(n, FAR_PAST, np.int32)  # coordinator caseload membership
        self.referral_week = np.zeros(n, np.int32)
        self.services = np.zeros(n, np.uint16)  # Service flags ever used in the run

    def nbytes(self) -> int:
        """Bytes held by the columns."""
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray))


def _ward_sizes(cfg: Config, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Assign people to wards: within each district, multinomial over gamma-distributed weights."""
    pop = cfg.population
    wards, districts = [], []
    first = 0
    for d, (n_people, n_wards) in enumerate(zip(pop.n_people_by_district, pop.n_wards_by_district)):
        w = rng.gamma(pop.shape_ward_size, 1.0, n_wards)
        counts = rng.multinomial(n_people, w / w.sum())
        wards.append(np.repeat(np.arange(first, first + n_wards, dtype=np.int32), counts))
        districts.append(np.full(n_wards, d, np.int16))
        first += n_wards
    return np.concatenate(wards), np.concatenate(districts)


def create_population(cfg: Config, rng: np.random.Generator) -> tuple[Population, Wards]:
    """Draw the initial population. Uses only ``rng`` (the population stream) and population
    parameters plus family-support levers, so replicate r of every scenario starts identical
    except where a scenario changes a population-level lever."""
    pp, fam, sc = cfg.population, cfg.params.family, cfg.scenario
    ward, district = _ward_sizes(cfg, rng)
    n = ward.shape[0]
    p = Population(n)
    p.ward[:] = ward
    u = rng.random((9, n))  # one uniform per attribute and person: coupled across scenarios
    p.drug[:] = np.where(u[0] < pp.p_opioid, Drug.OPIOID, Drug.METH)
    p.inject[:] = (p.drug == Drug.OPIOID) & (u[1] < pp.p_inject_given_opioid)
    p.fixed_address[:] = u[2] < pp.p_fixed_address
    p.has_family[:] = u[3] < pp.p_family
    p.family_monitoring[:] = p.has_family & (u[4] < fam.p_monitoring)
    p.family_employment[:] = p.has_family & (u[5] < fam.p_employment_help)
    p.family_supported[:] = p.has_family & (u[6] < sc.p_family_support_reach)
    p_insist = np.where(p.family_supported, fam.p_insists_compulsory * sc.rel_family_insists,
                        fam.p_insists_compulsory)
    p.family_insists[:] = p.has_family & (u[7] < p_insist)

    # prior compulsory history: ever detained, then 1 + Poisson extra stays (mean among ever)
    ever = u[8] < pp.p_ever_detained
    extra = rng.poisson(max(pp.n_mean_prior_detentions - 1.0, 0.0), n)
    p.n_detentions[:] = np.where(ever, 1 + extra, 0)
    # time since last release: uniform over the past 5 years (assumption)
    since_release = rng.integers(1, 261, n)
    p.release_week[:] = np.where(ever, -since_release, FAR_PAST)

    shares = np.array([pp.share_init_using, pp.share_init_abstinent, pp.share_init_methadone,
                       pp.share_init_detained])
    states = np.array([State.USING, State.ABSTINENT, State.METHADONE, State.DETAINED], np.int8)
    s = states[np.searchsorted(np.cumsum(shares), rng.random(n) * shares.sum(), side="right")
               .clip(0, 3)]
    s[(s == State.METHADONE) & (p.drug != Drug.OPIOID)] = State.USING  # methadone: opioids only
    p.state[:] = s
    det = s == State.DETAINED
    p.n_detentions[det] = np.maximum(p.n_detentions[det], 1)
    p.release_week[det] = FAR_PAST
    p.services[det] |= np.uint16(Service.DETAINED)
    p.exit_type[:] = Exit.NONE
    return p, Wards(district=district, n_coordinators=np.full(district.shape[0],
                                                               sc.n_coordinators_per_ward,
                                                               np.float32))
