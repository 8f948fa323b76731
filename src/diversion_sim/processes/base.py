"""The process protocol: what one process declares, and how the model assembles them.

A *process* is one module that ends with ``PROCESS = Process(...)``. It declares

- ``params``: a dataclass of its parameters, read as ``cfg.params.<name>`` and written in
  ``configs/params/default.yaml`` under ``<name>:`` with a source beside each value (a process
  whose values live in a shared section, e.g. ``params.police``, leaves it ``None``);
- ``columns``: the population columns it owns, ``name: (numpy dtype, value of a new row)``;
- ``events``: new event kinds, ``name: meaning`` (codes are given at registration, after the
  core vocabulary of :class:`~diversion_sim.states.Event`; tables show them by name);
- ``risks``: its competing risks, each a sampler of waiting times for people in given states
  (:class:`Risk`); the schedule draws every risk of a person's state and keeps the earliest;
- ``handlers``: what happens when one of its events is due (:class:`Handler`; ``phase`` orders
  the handlers of a week, see :data:`PHASE_GUIDE`);
- weekly hooks: ``start`` (before due events, e.g. entrants), ``end`` (after them, e.g. the
  coordinators' assessments), ``on_enter`` (called on every change of state, before it is
  made), ``on_switch`` (week 0, when the scenario's levers take effect);
- results: ``weekly`` columns (one number a week each, from ``record``) and run-level
  ``results`` (name, label, unit) with a ``metrics`` function that computes them.

:func:`assemble` turns the list of processes (``processes/registry.py``) into the phase order,
the competing-risk table by state, the population columns, the parameter sections and the
result registry. Nothing here loops over people: a risk samples a whole group of people in
one call, and the weekly loop runs over processes and phases (a few dozen Python calls a week).

Worked example: ``processes/use_on_methadone.py`` (use of heroin while on methadone) is one
module plus its YAML section ``params.use_on_methadone``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..states import N_STATES, add_event

if TYPE_CHECKING:
    from ..model import DiversionModel

# Guide to handler phases (lower runs first within a week). Handlers of one week touch disjoint
# people (one due event each) but share capacities, so order matters where beds or places free.
PHASE_GUIDE = {
    10: "absorbing exits first (death): nobody dead is admitted or treated",
    20: "moving away",
    30: "releases: free beds before this week's admissions",
    40: "completions: free treatment places before new starts",
    50: "drop-outs, 60: relapses",
    65: "deregistration: leaves the register before anything else happens to them",
    70: "queue leavers before the coordinators work",
    80: "starts and changes of treatment",
    90: "admissions of dossiers compiled in earlier weeks",
    95: "natural remission, before police test this week",
    100: "police: this week's positive tests",
}


@dataclass(frozen=True)
class Batch:
    """People being scheduled who are in one of a risk's states, with what samplers need."""

    idx: np.ndarray  # population rows
    state: np.ndarray  # their state codes
    elapsed: np.ndarray  # weeks in the current state
    fixed_end: np.ndarray  # weeks to the fixed end of the current stay (``treat_end``)


Sampler = Callable[["DiversionModel", Batch], "np.ndarray | tuple[np.ndarray, np.ndarray]"]


@dataclass(frozen=True)
class Risk:
    """A competing risk: for people in ``states``, the waiting time to ``event`` (or, when the
    sampler returns ``(wait, kind)``, to the event kinds it chooses per person). ``np.inf``
    means "not at risk"."""

    name: str
    states: tuple[int, ...]
    sample: Sampler
    event: int = 0


@dataclass(frozen=True)
class Handler:
    event: int
    handle: Callable[[DiversionModel, np.ndarray], None]
    phase: float


@dataclass(frozen=True)
class Result:
    """A run-level result: name (column of runs.parquet), label and unit (for reports)."""

    name: str
    label: str
    unit: str


@dataclass
class Process:
    """One process of the model; see the module docstring for what each field means."""

    name: str
    doc: str
    params: type | None = None
    columns: dict[str, tuple[str, Any]] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)
    risks: tuple[Risk, ...] = ()
    handlers: tuple[Handler, ...] = ()
    start: Callable[[DiversionModel], None] | None = None
    end: Callable[[DiversionModel], None] | None = None
    on_enter: Callable[[DiversionModel, np.ndarray, np.ndarray, int], None] | None = None
    on_switch: Callable[[DiversionModel], None] | None = None  # week 0: the scenario's levers
    weekly: tuple[str, ...] = ()  # names of its weekly columns
    record: Callable[[DiversionModel], tuple[float, ...]] | None = None  # their values this week
    results: tuple[Result, ...] = ()
    metrics: Callable[[DiversionModel, dict[str, np.ndarray]], dict[str, float]] | None = None
    # cross-field rules of its parameters: check(params section) -> None, raising
    # ConfigError with the key, the value and what is allowed
    check: Callable[[Any], None] | None = None
    codes: dict[str, int] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for ev, meaning in self.events.items():
            self.codes[ev] = add_event(ev, meaning)

    def code(self, event: str) -> int:
        """The code of one of this process's own event kinds."""
        return self.codes[event]


@dataclass
class Assembly:
    """What the model needs from the list of processes, computed once."""

    processes: tuple[Process, ...]
    phases: tuple[tuple[int, Callable], ...]
    risks: tuple[Risk, ...]  # rows of the competing-risk matrix, in this order
    at_risk: np.ndarray  # (risk, state) -> the risk applies to people in that state
    columns: dict[str, tuple[str, Any]]
    starts: tuple[Callable, ...]
    ends: tuple[Callable, ...]
    enter_hooks: tuple[Callable, ...]
    switch_hooks: tuple[Callable, ...]
    weekly: tuple[str, ...]  # every weekly column, in process order
    records: tuple[tuple[Callable, slice], ...]  # each process's record hook and its columns
    results: tuple[Result, ...]
    metrics: tuple[Callable, ...]

    def process(self, name: str) -> Process:
        for p in self.processes:
            if p.name == name:
                return p
        raise KeyError(f"no process called {name!r}; processes: {[p.name for p in self.processes]}")


def assemble(
    processes: tuple[Process, ...] | list[Process], core_columns: dict[str, tuple[str, Any]] | None = None
) -> Assembly:
    """Assemble ``processes`` (in order: risks of a state are drawn in this order, hooks run in
    it, and handlers of equal phase keep it). Names, columns and event kinds must not clash."""
    processes = tuple(processes)
    names = [p.name for p in processes]
    if len(set(names)) != len(names):
        raise ValueError(f"two processes share a name: {names}")
    columns: dict[str, tuple[str, Any]] = dict(core_columns or {})
    for p in processes:
        for col, spec in p.columns.items():
            if col in columns:
                raise ValueError(f"process {p.name!r} declares column {col!r}, which already exists")
            columns[col] = spec
    handlers = sorted(
        ((h.phase, i, h) for i, p in enumerate(processes) for h in p.handlers), key=lambda t: (t[0], t[1])
    )
    seen: dict[int, str] = {}
    for _, i, h in handlers:
        if h.event in seen:
            raise ValueError(f"event {h.event} has two handlers ({seen[h.event]}, {processes[i].name})")
        seen[h.event] = processes[i].name
    risks = tuple(r for p in processes for r in p.risks)
    weekly: list[str] = []
    records = []
    for p in processes:
        if p.weekly and p.record is None:
            raise ValueError(f"process {p.name!r} declares weekly columns but no record hook")
        if set(p.weekly) & set(weekly):
            raise ValueError(f"weekly columns {sorted(set(p.weekly) & set(weekly))} declared twice")
        if p.record is not None:
            records.append((p.record, slice(len(weekly), len(weekly) + len(p.weekly))))
        weekly.extend(p.weekly)
    return Assembly(
        processes=processes,
        phases=tuple((int(h.event), h.handle) for _, _, h in handlers),
        risks=risks,
        at_risk=np.array([[s in r.states for s in range(N_STATES)] for r in risks], bool).reshape(
            len(risks), N_STATES
        ),
        columns=columns,
        starts=tuple(p.start for p in processes if p.start is not None),
        ends=tuple(p.end for p in processes if p.end is not None),
        enter_hooks=tuple(p.on_enter for p in processes if p.on_enter is not None),
        switch_hooks=tuple(p.on_switch for p in processes if p.on_switch is not None),
        weekly=tuple(weekly),
        records=tuple(records),
        results=tuple(r for p in processes for r in p.results),
        metrics=tuple(p.metrics for p in processes if p.metrics is not None),
    )
