"""DiversionModel: police-mediated diversion vs compulsory detention of PWUD (Vietnam).

Builds on the Hanoi pilot (Oppenheimer et al., J Community Safety Well-Being 2022;7(S1):S45,
seed 004) and published relapse reports (``configs/params/default.yaml`` cites each value).
One step is one week. People are rows of numpy columns (``model.pop``); every process is
vectorised and touches only people whose scheduled event is due (competing risks drawn on
entering a state) plus the coordinator queue, so a national year takes about a second.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import weakref
from collections import OrderedDict, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import mesa
import numpy as np
import pandas as pd

from .agents import Centre, Coordinator, Family, Person, WardPolice
from .config import with_posterior_draw
from .metrics import SPELL_OPEN, STATE_COLUMNS, Recorder, run_metrics
from .params import CENTRE_KINDS, REGIMES, Config, Regime
from .population import Population, Wards, create_population
from .processes import centres
from .processes.base import Assembly
from .processes.registry import ASSEMBLY
from .processes.schedule import flush, schedule
from .schema import freeze, thaw
from .states import ALIVE_PRESENT, IS_TREATMENT, Service, State
from .streams import Streams

log = logging.getLogger("diversion_sim")

# Burned-in registers of recent runs, by (burn-in config hash, replicate): the scenarios of a
# replicate run in one process (a notebook, the dashboard, the calibration) share one burn-in.
_BURN_IN_CACHE: OrderedDict[str, dict] = OrderedDict()
_BURN_IN_CACHE_SIZE = 8
SERVICE_OF_STATE = {
    State.METHADONE: Service.METHADONE,
    State.RECOVERY: Service.RECOVERY,
    State.RESIDENTIAL: Service.RESIDENTIAL,
    State.DETAINED: Service.DETAINED,
}


class _WeakModelIds(weakref.WeakKeyDictionary):
    """Mesa's per-model agent-id counters (``mesa.Agent._ids``), holding their models weakly.

    Mesa 3.3 keeps the counters in a class-level ``defaultdict`` keyed by the model, so every
    model that ever made an agent stays alive with all its arrays for the rest of the process
    (mesa#3179; Mesa 3.4+ counts ids in the model itself, mesa#3180). Same lookups and the same
    counters, but a finished model is freed once nothing else refers to it."""

    def __init__(self, factory) -> None:
        super().__init__()
        self.factory = factory

    def __getitem__(self, model):
        try:
            return super().__getitem__(model)
        except KeyError:
            counter = self.factory()
            self[model] = counter
            return counter


def hold_models_weakly() -> None:
    """Replace Mesa 3.3's strong ``Agent._ids`` table by :class:`_WeakModelIds` (once per
    process; the counters of living models are kept). Does nothing on a Mesa without that
    table (3.4+) or where it is anything but the plain ``defaultdict`` of 3.3."""
    ids = getattr(mesa.Agent, "_ids", None)
    if type(ids) is not defaultdict or ids.default_factory is None:
        return
    weak = _WeakModelIds(ids.default_factory)
    for model, counter in list(ids.items()):
        try:
            weak[model] = counter
        except TypeError:  # a model that cannot be weakly referenced: leave Mesa's table alone
            return
    mesa.Agent._ids = weak


def status_quo_config(cfg: Config) -> Config:
    """The configuration of the burn-in: ``cfg`` under the status quo's levers."""
    out = thaw(copy.deepcopy(cfg))
    out.scenario = copy.deepcopy(cfg.status_quo)
    return freeze(out)


def burn_in_key(cfg: Config, replicate: int) -> str:
    """What the burn-in depends on: seed, replicate, population, parameters, the status quo and
    its length (not the scenario, the horizon or the output settings)."""
    d = asdict(cfg)
    for k in ("scenario", "years", "output", "replicates"):
        d.pop(k, None)
    d["replicate"] = int(replicate)
    # and the model's make-up: a burn-in saved by code with other processes, columns or event
    # kinds (a sweep resumed after an upgrade) is simulated again, never misread
    from .states import EVENT_NAMES

    d["model"] = {
        "processes": [p.name for p in ASSEMBLY.processes],
        "columns": sorted(ASSEMBLY.columns),
        "events": list(EVENT_NAMES),
    }
    blob = json.dumps(d, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def _count(state: State):
    return lambda m: int(m.metrics.states[m.week - m.metrics.first_week, state])


# Mesa's DataCollector reporters: each reads this week's row of the model's own counts, so
# collecting costs nothing per agent (mesa.batch_run and SolaraViz use them).
MODEL_REPORTERS = {f"n_{s.name.lower()}": _count(s) for s in State}
MODEL_REPORTERS["week"] = lambda m: int(m.week)


@dataclass
class RunResult:
    """Tables of one run: weekly counts/flows, events, relapse episodes, run-level metrics."""

    weekly: pd.DataFrame
    events: pd.DataFrame
    episodes: pd.DataFrame
    metrics: dict[str, float]
    weekly_burn_in: pd.DataFrame | None = None  # with output.burn_in: the burn-in's state counts
    spells: pd.DataFrame | None = None  # treatment spells (methadone, recovery, residential)


_SNAPSHOT_KEYS = (
    "n_created",
    "wards.district",
    "wards.weight",
    "wards.n_coordinators",
    "burn.states",
    "burn.week",
)


def _read_snapshot(path: Path) -> dict[str, np.ndarray] | None:
    """A burned-in register from the cache file, or None when it is damaged in any way (zero
    bytes, truncated, a bad zip, arrays missing): the cache is then treated as absent."""
    try:
        with np.load(path, allow_pickle=False) as z:
            snap = {k: z[k] for k in z.files}
    except Exception:  # noqa: BLE001 - EOFError, BadZipFile, zlib.error, OSError, ValueError, ...
        log.warning("burn-in cache %s is damaged; simulating the burn-in again", path)
        return None
    if not all(k in snap for k in _SNAPSHOT_KEYS) or not any(k.startswith("pop.") for k in snap):
        log.warning("burn-in cache %s is incomplete; simulating the burn-in again", path)
        return None
    return snap


class DiversionModel(mesa.Model):
    """Weekly agent-based model of PWUD under the compulsory or the diversion regime.

    A run has two parts. The **burn-in** (``cfg.burn_in_years``) starts from the register
    ``burn_in_years`` earlier (the configured size, shrunk along the observed trend) and runs
    under the status quo's levers (``cfg.status_quo``); it is the same for every scenario of a
    replicate and is computed once per process (and once per sweep with ``burn_in_dir``). At the
    **switch** (week 0) the people still on the register are kept, the scenario's levers take
    effect and everyone's next event is drawn again; tables and metrics cover weeks 0 to
    ``cfg.years * 52``.

    Args:
        cfg: a validated :class:`~diversion_sim.params.Config` (``params.to_config``).
        replicate: replicate number; with ``cfg.seed`` it fixes every random stream.
        burn_in_dir: optional folder where burned-in registers are kept and shared between
            processes (the sweep passes ``<sweep>/burn_in``).
    """

    assembly: Assembly = ASSEMBLY  # the processes (processes/registry.py), assembled once

    def __init__(
        self,
        cfg: Config | None = None,
        replicate: int = 0,
        burn_in_dir: str | Path | None = None,
        *,
        scenario: str | None = None,
        population: str | None = None,
        years: float | None = None,
        seed: int | None = None,
        overrides: list[str] | tuple[str, ...] = (),
        **keys: object,
    ) -> None:
        if cfg is None:  # Mesa style: DiversionModel(scenario="pilot_diversion", years=2, seed=1)
            from .config import compose_config

            given = [f"scenario={scenario or 'compulsory'}"]
            given += [f"population={population}"] if population else []
            given += [f"years={years}"] if years is not None else []
            given += [f"seed={seed}"] if seed is not None else []
            given += [f"{k}={v}" for k, v in keys.items()]  # e.g. **{"params.police.rate_detect": 0.1}
            cfg = compose_config(given + list(overrides))
        elif scenario or population or years is not None or seed is not None or overrides or keys:
            from .errors import ConfigError

            raise ConfigError(
                "DiversionModel takes either a Config or keyword settings (scenario=, "
                "population=, years=, seed=, overrides=), not both; change a Config "
                "with diversion_sim.config.with_values"
            )
        else:
            from .params import validate

            validate(copy.deepcopy(cfg))  # a Config changed by hand is checked like any other
        cfg = with_posterior_draw(cfg, replicate)  # params=posterior: this replicate's draw
        # Every random number derives from (seed, replicate): Mesa's own generator, the initial
        # population (whole-population arrays in row order, so shared by all scenarios) and the
        # per-person keyed draws of every process (common random numbers; see streams.py).
        mesa_seed, pop_seed = np.random.SeedSequence([int(cfg.seed), int(replicate)]).spawn(2)
        hold_models_weakly()  # Mesa 3.3 would keep this model alive for good (mesa#3179)
        super().__init__(rng=int(mesa_seed.generate_state(1)[0]))
        # the run's own frozen copy: changing a value by hand after the model is built is refused
        # (it would silently make a run its configuration does not describe)
        self.cfg = cfg = freeze(thaw(copy.deepcopy(cfg)))
        self.replicate = int(replicate)
        self.streams = Streams(cfg.seed, replicate, ids=lambda: self.pop.uid)  # keyed by person
        self.ward_streams = Streams(cfg.seed, replicate)  # keyed by ward
        self._shuffle: np.random.Generator | None = None  # tests: shuffle every batch's order
        # the processes' within-run caches (a week's caseload, ...): emptied at the switch, so a
        # run from a cached burn-in and one that simulated it see the same state at week 0
        self.cache: dict = {}
        self.n_weeks = int(round(cfg.years * 52))
        self.burn_weeks = int(round(cfg.burn_in_years * 52))
        self.switched = False  # False during the burn-in (no agents, no run tables)
        self.n_centres = {k: getattr(cfg.population.centres, k).n_centres for k in CENTRE_KINDS}
        self.capacity = {k: getattr(cfg.population.centres, k).n_capacity for k in CENTRE_KINDS}
        self._warm_start(pop_seed, burn_in_dir)
        self._switch()
        self.metrics = Recorder(self.n_weeks, cfg.output.events, self.assembly.weekly)
        self.switched = True
        self._make_agents()
        self._record()
        self.steps = 0  # Mesa's step counter counts the weeks after the switch, not the burn-in
        self.datacollector = mesa.DataCollector(model_reporters=MODEL_REPORTERS)
        self.datacollector.collect(self)

    @property
    def regime(self) -> Regime:
        """The rules of the current regime (the status quo's during the burn-in)."""
        return REGIMES[self.cfg.scenario.regime]

    # ------------------------------------------------------------------ warm start
    def _warm_start(self, pop_seed: np.random.SeedSequence, burn_in_dir: str | Path | None) -> None:
        """The register at week 0: from the cache, the burn-in folder, or simulated."""
        key = burn_in_key(self.cfg, self.replicate)
        snap = _BURN_IN_CACHE.get(key)
        path = Path(burn_in_dir) / f"{key}.npz" if burn_in_dir else None
        if snap is None and path is not None and path.is_file():
            snap = _read_snapshot(path)  # None if damaged: simulate again (and rewrite it)
        if snap is None:
            snap = self._burn_in(pop_seed)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
                np.savez(tmp, **snap)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
                os.replace(tmp, path)  # atomic: concurrent writers write the same content
        _BURN_IN_CACHE[key] = snap
        _BURN_IN_CACHE.move_to_end(key)
        while len(_BURN_IN_CACHE) > _BURN_IN_CACHE_SIZE:
            _BURN_IN_CACHE.popitem(last=False)
        cols = {k[4:]: v for k, v in snap.items() if k.startswith("pop.")}
        self.pop = Population.restore(cols, self.assembly.columns)
        self.n_created = int(snap["n_created"])
        self.wards = Wards(
            district=snap["wards.district"].copy(),
            weight=snap["wards.weight"].copy(),
            n_coordinators=snap["wards.n_coordinators"].copy(),
        )
        self.ward_centre = {k: centres.ward_centres(self.wards.n, self.n_centres[k]) for k in CENTRE_KINDS}
        self.burn_in_weekly = pd.DataFrame(snap["burn.states"], columns=STATE_COLUMNS).assign(
            week=snap["burn.week"]
        )
        self.week = 0
        centres.reset_occupancy(self)

    def _burn_in(self, pop_seed: np.random.SeedSequence) -> dict[str, np.ndarray]:
        """Simulate the status quo from ``-burn_weeks`` to week 0; return the people still on the
        register at week 0 (rows renumbered in order) and the burn-in's weekly state counts."""
        run_cfg, self.cfg = self.cfg, status_quo_config(self.cfg)
        try:
            self.week = -self.burn_weeks
            g = self.cfg.params.register.rate_register_growth
            shrink = np.exp(-g * self.burn_weeks / 52.0)
            n_start = [max(int(round(n * shrink)), 1) for n in self.cfg.population.n_people_by_district]
            rng = np.random.default_rng(pop_seed)
            self.pop, self.wards = create_population(self, n_start, rng, self.assembly.columns)
            self.ward_centre = {
                k: centres.ward_centres(self.wards.n, self.n_centres[k]) for k in CENTRE_KINDS
            }
            self.metrics = Recorder(self.burn_weeks, False, self.assembly.weekly, first_week=-self.burn_weeks)
            self._initial_schedule(rng)
            self._record()
            while self.week < 0:
                type(self).step(self)  # the weekly step itself, not Mesa's counting wrapper
        finally:
            self.cfg = run_cfg
        keep = np.flatnonzero(ALIVE_PRESENT[self.pop.state])
        snap = {f"pop.{k}": v for k, v in self.pop.snapshot(keep).items()}
        snap.update(
            {
                "wards.district": self.wards.district,
                "wards.weight": self.wards.weight,
                "wards.n_coordinators": self.wards.n_coordinators,
                "burn.states": self.metrics.states,
                "n_created": np.array(self.n_created),
                "burn.week": np.arange(-self.burn_weeks, 1, dtype=np.int32),
            }
        )
        return snap

    def _switch(self) -> None:
        """Week 0: the scenario's levers take effect for the people on the register."""
        p, sc = self.pop, self.cfg.scenario
        rows = np.arange(p.n)
        self.cache = {}
        self.wards.n_coordinators[:] = sc.n_coordinators_per_ward
        for hook in self.assembly.switch_hooks:  # e.g. family levers (processes/family.py)
            hook(self)
        # services "during the run": those in a centre or treatment at the switch use it now
        p.services[:] = 0
        for state, flag in SERVICE_OF_STATE.items():
            p.services[p.state == state] |= np.uint16(flag)
        p.pending[:] = False
        if sc.voluntary_only:  # dossiers compiled under the status quo lapse: centres no longer detain
            pending = np.flatnonzero(p.dossier)
            p.dossier[pending] = False
            p.pos_tests[pending] = 0
        # compulsory history of the people using in the community at the switch (the pool the
        # pilot referred from; seed 004 surveyed its clients' history)
        self.history_at_switch = p.n_detentions[p.state == State.USING].copy()
        schedule(self, rows)  # everyone's next event under the scenario's rules, at week 0

    def add_people(self, k: int) -> np.ndarray:
        """Append ``k`` rows to the register (entrants); returns their row numbers. Call
        :meth:`make_agents` once their attributes are set."""
        rows = self.pop.append(k)
        self.pop.uid[rows] = np.arange(self.n_created, self.n_created + k)
        self.n_created += k
        if self.switched:
            self._people.extend([None] * k)
            self._families.extend([None] * k)
        return rows

    def make_agents(self, rows: np.ndarray) -> None:
        """The Person (and Family) agents of ``rows``, as the agent mode asks; none during the
        burn-in (its people are not shown)."""
        mode = self.cfg.population.agents
        if not self.switched or mode == "lazy":
            return
        for row in rows.tolist():
            self._people[row] = Person(self, row)
        if mode == "eager":
            for row in rows[self.pop.has_family[rows]].tolist():
                self._families[row] = Family(self, row)

    # ------------------------------------------------------------------ agents
    def _make_agents(self) -> None:
        n = self.pop.n
        self.ward_police = [WardPolice(self, w) for w in range(self.wards.n)]
        self.coordinators = [Coordinator(self, w) for w in range(self.wards.n)]
        self.centres = [Centre(self, k, i) for k in CENTRE_KINDS for i in range(self.n_centres[k])]
        # row -> agent (None until made): a list costs 8 bytes a person, a dict ~50
        self._people: list[Person | None] = [None] * n
        self._families: list[Family | None] = [None] * n
        # the rule for lazy modes: agents_by_type[Person] and [Family] always exist and hold
        # the agents made so far (every one when eager); person(row) / people(rows) make more
        for cls in (Person, Family):
            if cls not in self.agents_by_type:
                self.agents_by_type[cls] = mesa.agent.AgentSet([], random=self.random)
        self.make_agents(np.arange(n))

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
        p, sc = self.pop, self.cfg.scenario
        n, w = p.n, self.week
        # elapsed time in the initial state: uniform over population.dur_init_abstinent_max /
        # dur_init_methadone_max weeks (assumptions; the burn-in washes them out)
        pp = self.cfg.population
        p.since[:] = w
        abst = p.state == State.ABSTINENT
        p.since[abst] = w - rng.integers(0, int(pp.dur_init_abstinent_max), n)[abst]
        mmt = p.state == State.METHADONE
        p.since[mmt] = w - rng.integers(0, int(pp.dur_init_methadone_max), n)[mmt]
        for kind, state in centres.KIND_STATE.items():  # initial occupancy within capacity
            inside = np.flatnonzero(p.state == state)
            p.state[inside] = State.USING
            centres.reset_occupancy(self)
            fits = centres.admit(self, inside, kind)
            p.state[inside[fits]] = state
        centres.reset_occupancy(self)  # from here on kept up to date by transitions.enter
        det = np.flatnonzero(p.state == State.DETAINED)
        p.treat_end[det] = w + rng.integers(1, int(sc.dur_stay_repeat[1]) + 1, det.size)
        schedule(self, np.arange(n))

    def order(self, idx: np.ndarray) -> np.ndarray:
        """The order in which a batch is processed: as given, or shuffled when a test asks
        (results must not depend on it: draws are keyed by person, capacity ties by row)."""
        return idx if self._shuffle is None else self._shuffle.permutation(idx)

    def log(self, kind: int, idx: np.ndarray, info: np.ndarray | int = 0) -> None:
        """Record ``kind`` for the people ``idx`` this week (event table and weekly flows)."""
        self.metrics.log(self.week, kind, idx, info)

    def step(self) -> None:
        """One week: the processes' start hooks (entrants) → due events in phase order → end
        hooks (coordinators assess) → schedule everyone who changed → record."""
        self.week += 1
        for hook in self.assembly.starts:  # entrants are scheduled with everyone at the end
            hook(self)
        p = self.pop
        due = np.flatnonzero(p.next_week <= self.week)
        kinds = p.next_event[due]
        for kind, handler in self.assembly.phases:
            idx = due[kinds == kind]
            if idx.size:
                idx = idx[(p.next_event[idx] == kind) & (p.next_week[idx] <= self.week)]
                handler(self, self.order(idx))
        for hook in self.assembly.ends:
            hook(self)
        flush(self)  # draw the next event of everyone who changed this week, in one batch
        self._record()
        if self.switched:
            self.datacollector.collect(self)  # Mesa's reporters read the week's counts (O(1))
        if self.week >= self.n_weeks:
            self.running = False

    def _record(self) -> None:
        rec = self.metrics
        w = self.week - rec.first_week
        rec.states[w] = np.bincount(self.pop.state, minlength=len(State))
        for record, cols in self.assembly.records:
            rec.extra[w, cols] = record(self)

    def run(self) -> RunResult:
        """Run to the horizon (``cfg.years``) and return the result tables."""
        while self.running and self.week < self.n_weeks:
            self.step()
        return self.results()

    def results(self) -> RunResult:
        """Result tables at the current week (open relapse episodes are censored here)."""
        rec, p = self.metrics, self.pop
        open_ = np.flatnonzero((p.exit_type != 0) & (p.exit_week >= 0))
        saved = rec.episodes.n
        rec.episodes.add(
            person=open_,
            exit_type=p.exit_type[open_],
            exit_week=p.exit_week[open_],
            weeks=self.week - p.exit_week[open_],
            observed=np.zeros(open_.size, bool),
            linked=p.linked[open_],
            drug=p.drug[open_],
        )
        treat = np.flatnonzero(IS_TREATMENT[p.state] & (p.since >= 0))
        saved_spells = rec.spells.n
        rec.spells.add(
            person=treat,
            state=p.state[treat],
            start_week=p.since[treat],
            weeks=self.week - p.since[treat],
            end=SPELL_OPEN,
        )
        try:
            metrics = run_metrics(self)
            episodes, spells = rec.episodes_frame(), rec.spells_frame()
        finally:
            rec.episodes.n, rec.spells.n = saved, saved_spells
        return RunResult(
            weekly=rec.weekly_frame(),
            events=rec.events_frame(),
            episodes=episodes,
            metrics=metrics,
            spells=spells,
        )
