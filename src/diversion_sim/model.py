"""DiversionModel: police-mediated diversion vs compulsory detention of PWUD (Vietnam).

Builds on the Hanoi pilot (Oppenheimer et al., J Community Safety Well-Being 2022;7(S1):S45,
seed 004) and published relapse reports (``configs/params/default.yaml`` cites each value).
One step is one week. People are rows of numpy columns (``model.pop``); every process is
vectorised and touches only people whose scheduled event is due (competing risks drawn on
entering a state) plus the coordinator queue, so a national year takes about a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np
import pandas as pd

from .agents import Centre, Coordinator, Family, Person, WardPolice
from .metrics import Recorder, run_metrics
from .params import CENTRE_KINDS, Config
from .population import create_population
from .processes import centres, coordination, events, policing
from .processes.schedule import flush, schedule
from .states import Event, State
from .streams import Streams

# The weekly protocol. Order matters and each phase says why it comes where it does.
PHASES = (
    (Event.DEATH, events.on_death),  # absorbing first: nobody dead is admitted or treated
    (Event.MOVE, events.on_move),  # likewise for people who left the wards
    (Event.RELEASE, events.on_release),  # free beds before this week's admissions
    (Event.COMPLETE, events.on_complete),  # free treatment places before new starts
    (Event.DROPOUT, events.on_dropout),
    (Event.RELAPSE, events.on_relapse),
    (Event.SCREEN_ONLY, events.on_screen_only),  # queue leavers before the coordinator works
    (Event.START_METHADONE, events.on_seek_methadone),
    (Event.ADMIT, events.on_admit),  # dossiers compiled in earlier weeks
    (Event.DETECT, policing.on_detect),  # police: this week's positive tests
)
PHASES = tuple((int(kind), handler) for kind, handler in PHASES)  # numpy compares ints faster


@dataclass
class RunResult:
    """Tables of one run: weekly counts/flows, events, relapse episodes, run-level metrics."""

    weekly: pd.DataFrame
    events: pd.DataFrame
    episodes: pd.DataFrame
    metrics: dict[str, float]


class DiversionModel(mesa.Model):
    """Weekly agent-based model of PWUD under the compulsory or the diversion regime.

    Args:
        cfg: a validated :class:`~diversion_sim.params.Config` (``params.to_config``).
        replicate: replicate number; with ``cfg.seed`` it fixes every random stream.
    """

    def __init__(self, cfg: Config, replicate: int = 0) -> None:
        if cfg.params.posterior_file:  # params=posterior: this replicate's posterior draw
            from .calibration import posterior_draw, with_values

            cfg = with_values(cfg, posterior_draw(cfg, replicate))
        # Every random number derives from (seed, replicate): Mesa's own generator, the initial
        # population (whole-population arrays in row order, so shared by all scenarios) and the
        # per-person keyed draws of every process (common random numbers; see streams.py).
        mesa_seed, pop_seed = np.random.SeedSequence([int(cfg.seed), int(replicate)]).spawn(2)
        super().__init__(rng=int(mesa_seed.generate_state(1)[0]))
        self.cfg = cfg
        self.replicate = int(replicate)
        self.streams = Streams(cfg.seed, replicate)
        self._shuffle: np.random.Generator | None = None  # tests: shuffle every batch's order
        self.week = 0
        self.n_weeks = int(round(cfg.years * 52))

        rng = np.random.default_rng(pop_seed)
        self.pop, self.wards = create_population(cfg, rng)
        self.n_centres = {k: getattr(cfg.population.centres, k).n_centres for k in CENTRE_KINDS}
        self.capacity = {k: getattr(cfg.population.centres, k).n_capacity for k in CENTRE_KINDS}
        self.ward_centre = {k: centres.ward_centres(self.wards.n, self.n_centres[k])
                            for k in CENTRE_KINDS}
        fam = cfg.params.family
        self.burden_weights = np.zeros(len(State), np.float32)
        self.burden_weights[State.USING] = fam.rel_burden_using
        self.burden_weights[State.REFERRED] = fam.rel_burden_using
        self.burden_weights[[State.METHADONE, State.RECOVERY, State.RESIDENTIAL]] = (
            fam.rel_burden_treatment)
        self.burden_weights[State.DETAINED] = fam.rel_burden_detained
        self.metrics = Recorder(self.n_weeks, cfg.output.events)
        self.pending = np.zeros(self.pop.n, bool)  # marked to (re)schedule at the end of the week

        self._make_agents()
        self._initial_schedule(rng)
        self._record()

    # ------------------------------------------------------------------ agents
    def _make_agents(self) -> None:
        n = self.pop.n
        self.ward_police = [WardPolice(self, w) for w in range(self.wards.n)]
        self.coordinators = [Coordinator(self, w) for w in range(self.wards.n)]
        self.centres = [Centre(self, k, i) for k in CENTRE_KINDS for i in range(self.n_centres[k])]
        # row -> agent (None until made): a list costs 8 bytes a person, a dict ~50
        self._people: list[Person | None] = [None] * n
        self._families: list[Family | None] = [None] * n
        mode = self.cfg.population.agents
        if mode in ("eager", "persons"):
            for row in range(n):
                self._people[row] = Person(self, row)
        if mode == "eager":
            for row in np.flatnonzero(self.pop.has_family).tolist():
                self._families[row] = Family(self, row)

    def person(self, row: int) -> Person:
        """The Person agent of population row ``row`` (made on first access when lazy)."""
        row = int(row)
        if not 0 <= row < self.pop.n:
            raise IndexError(f"person row {row} out of range 0..{self.pop.n - 1}")
        agent = self._people[row]
        if agent is None:
            agent = self._people[row] = Person(self, row)
        return agent

    def family(self, row: int) -> Family:
        """The Family agent of person ``row`` (made on first access unless eager)."""
        row = int(row)
        if not 0 <= row < self.pop.n:
            raise IndexError(f"person row {row} out of range 0..{self.pop.n - 1}")
        agent = self._families[row]
        if agent is None:
            if not self.pop.has_family[row]:
                raise KeyError(f"person row {row} has no family")
            agent = self._families[row] = Family(self, row)
        return agent

    def people(self, rows: np.ndarray) -> list[Person]:
        """Person agents for an array of rows, e.g. ``m.people(np.flatnonzero(mask))``."""
        return [self.person(r) for r in rows]

    # ------------------------------------------------------------------ dynamics
    def _initial_schedule(self, rng: np.random.Generator) -> None:
        p, dp = self.pop, self.cfg.params.detention
        n = p.n
        # elapsed time in the initial state (assumption: uniform over a typical spell)
        p.since[:] = 0
        abst = p.state == State.ABSTINENT
        p.since[abst] = -rng.integers(0, 52, n)[abst]
        mmt = p.state == State.METHADONE
        p.since[mmt] = -rng.integers(0, 104, n)[mmt]
        for kind, state in centres.KIND_STATE.items():  # initial occupancy within capacity
            inside = np.flatnonzero(p.state == state)
            p.state[inside] = State.USING
            centres.reset_occupancy(self)
            fits = centres.admit(self, inside, kind)
            p.state[inside[fits]] = state
        centres.reset_occupancy(self)  # from here on kept up to date by transitions.enter
        det = np.flatnonzero(p.state == State.DETAINED)
        p.treat_end[det] = rng.integers(1, int(dp.dur_stay_repeat[1]) + 1, det.size)
        schedule(self, np.arange(n))

    def order(self, idx: np.ndarray) -> np.ndarray:
        """The order in which a batch is processed: as given, or shuffled when a test asks
        (results must not depend on it: draws are keyed by person, capacity ties by row)."""
        return idx if self._shuffle is None else self._shuffle.permutation(idx)

    def log(self, kind: Event, idx: np.ndarray, info: np.ndarray | int = 0) -> None:
        """Record ``kind`` for the people ``idx`` this week (event table and weekly flows)."""
        self.metrics.log(self.week, kind, idx, info)

    def open_burden(self, rows: np.ndarray | int) -> np.ndarray:
        """Family burden of the current spell, not yet added to ``pop.family_burden``."""
        p = self.pop
        return (self.week - p.since[rows]) * self.burden_weights[p.state[rows]] * p.has_family[rows]

    def step(self) -> None:
        """One week: due events in protocol order → coordinators assess → record."""
        self.week += 1
        p = self.pop
        due = np.flatnonzero(p.next_week <= self.week)
        kinds = p.next_event[due]
        for kind, handler in PHASES:
            idx = due[kinds == kind]
            if idx.size:
                idx = idx[(p.next_event[idx] == kind) & (p.next_week[idx] <= self.week)]
                handler(self, self.order(idx))
        coordination.step(self)
        flush(self)  # draw the next event of everyone who changed this week, in one batch
        self._record()
        if self.week >= self.n_weeks:
            self.running = False

    def _record(self) -> None:
        rec, w = self.metrics, self.week
        rec.states[w] = np.bincount(self.pop.state, minlength=len(State))
        if self.cfg.scenario.regime == "diversion":
            case = coordination.caseload(self)
            cap = np.floor(self.wards.n_coordinators * self.cfg.params.coordination.n_caseload_max)
            rec.extra[w] = (case.sum(), np.count_nonzero(case >= cap), rec.states[w, State.REFERRED])

    def run(self) -> RunResult:
        """Run to the horizon (``cfg.years``) and return the result tables."""
        while self.running and self.week < self.n_weeks:
            self.step()
        return self.results()

    def results(self) -> RunResult:
        """Result tables at the current week (open relapse episodes are censored here)."""
        rec, p = self.metrics, self.pop
        open_ = np.flatnonzero(p.exit_type != 0)
        final_burden = p.family_burden + self.open_burden(np.arange(p.n))
        saved = rec.episodes.n
        rec.episodes.add(person=open_, exit_type=p.exit_type[open_], exit_week=p.exit_week[open_],
                         weeks=self.week - p.exit_week[open_], observed=np.zeros(open_.size, bool),
                         linked=p.linked[open_])
        burden, p.family_burden = p.family_burden, final_burden
        try:
            metrics = run_metrics(self)
            episodes = rec.episodes_frame()
        finally:
            rec.episodes.n = saved
            p.family_burden = burden
        return RunResult(weekly=rec.weekly_frame(), events=rec.events_frame(),
                         episodes=episodes, metrics=metrics)
