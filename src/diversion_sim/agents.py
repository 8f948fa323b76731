"""The Mesa agents users see, select and inspect.

People and families are *views* onto their row of the model's population columns: reading an
attribute reads the arrays, so an agent can never disagree with the vectorised state. Ward police
and coordinators are views onto a ward; centres onto (kind, index). Ward-level work is done
vectorised by the processes, never by calling one agent per ward per week.

Example:
    >>> m = DiversionModel(cfg)                                  # doctest: +SKIP
    >>> using = m.agents_by_type[Person].select(lambda a: a.state == State.USING)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from .population import FAR_PAST
from .processes import centres as _centres
from .processes import family as _family
from .states import Drug, Exit, Service, State

if TYPE_CHECKING:
    from .model import DiversionModel


class Person(mesa.Agent):
    """A registered person who uses drugs: a view onto row ``row`` of ``model.pop``."""

    def __init__(self, model: DiversionModel, row: int) -> None:
        super().__init__(model)
        self.row = int(row)

    def __repr__(self) -> str:
        return f"Person(row={self.row}, ward={self.ward}, state={self.state.name})"

    @property
    def ward(self) -> int:
        return int(self.model.pop.ward[self.row])

    @property
    def primary_drug(self) -> str:
        return "opioid" if self.model.pop.drug[self.row] == Drug.OPIOID else "methamphetamine"

    @property
    def injects(self) -> bool:
        return bool(self.model.pop.inject[self.row])

    @property
    def fixed_address(self) -> bool:
        return bool(self.model.pop.fixed_address[self.row])

    @property
    def state(self) -> State:
        return State(int(self.model.pop.state[self.row]))

    @property
    def weeks_in_state(self) -> int:
        return int(self.model.week - self.model.pop.since[self.row])

    @property
    def n_detentions(self) -> int:
        """Compulsory stays ever, including before the run (seed 004 survey: mean 1.5)."""
        return int(self.model.pop.n_detentions[self.row])

    @property
    def weeks_since_release(self) -> int | None:
        w = int(self.model.pop.release_week[self.row])
        return None if w <= FAR_PAST else int(self.model.week - w)

    @property
    def positive_tests(self) -> int:
        return int(self.model.pop.pos_tests[self.row])

    @property
    def dossier_pending(self) -> bool:
        return bool(self.model.pop.dossier[self.row])

    @property
    def is_client(self) -> bool:
        """On the ward coordinator's active caseload."""
        return bool(self.model.pop.client_until[self.row] > self.model.week)

    @property
    def relapse_clock(self) -> Exit:
        """How this person last left a centre or treatment, if not yet relapsed."""
        return Exit(int(self.model.pop.exit_type[self.row]))

    @property
    def services(self) -> Service:
        return Service(int(self.model.pop.services[self.row]))

    @property
    def family(self) -> Family | None:
        return self.model.family(self.row) if self.model.pop.has_family[self.row] else None

    @property
    def police(self) -> WardPolice:
        return self.model.ward_police[self.ward]

    @property
    def coordinator(self) -> Coordinator:
        return self.model.coordinators[self.ward]


class Family(mesa.Agent):
    """The family of person ``row``: strain, hope, strategies and decisions (seeds 000, 004;
    processes/family.py). ``history()`` shows what happened to the relative and what the family
    decided, week by week."""

    def __init__(self, model: DiversionModel, row: int) -> None:
        super().__init__(model)
        self.row = int(row)

    def __repr__(self) -> str:
        return (
            f"Family(row={self.row}, strain={self.strain:.1f} weeks, attempts={self.attempts}, "
            f"strategies={self.strategies})"
        )

    def _rows(self) -> np.ndarray:
        return np.array([self.row])

    @property
    def strain(self) -> float:
        """Drug-related strain now, in weeks of recent use (half-life params.family)."""
        return float(_family.strain_now(self.model, self._rows())[0])

    @property
    def attempts(self) -> int:
        """Failed attempts lived through: compulsory stays, relapses, drop-outs."""
        return int(_family.attempts(self.model, self._rows())[0])

    @property
    def hope(self) -> float:
        return float(self.model.cfg.params.family.rel_hope_per_attempt**self.attempts)

    @property
    def strategies(self) -> list[str]:
        """Post-release strategies in use (seed 000): monitoring, employment, conditional."""
        p = self.model.pop
        flags = (p.family_monitoring[self.row], p.family_employment[self.row], p.family_conditional[self.row])
        return [s for s, on in zip(_family.STRATEGIES, flags) if on]

    @property
    def close_monitoring(self) -> bool:
        return bool(self.model.pop.family_monitoring[self.row])

    @property
    def employment_help(self) -> bool:
        return bool(self.model.pop.family_employment[self.row])

    @property
    def insists_on_compulsory(self) -> bool:
        """Would the family ask for compulsory admission if police tested the relative now?"""
        return bool(_family.insists(self.model, self._rows())[0])

    @property
    def engaged(self) -> bool:
        """Engaged with the coordinator's plan (seed 004 Table IV: 88%)."""
        return bool(self.model.pop.family_engaged[self.row])

    @property
    def supported(self) -> bool:
        """Reached by family support services (scenario family_support)."""
        return bool(self.model.pop.family_supported[self.row])

    def history(self):
        """The relative's events and the family's decisions since week 0 (week, kind, info);
        needs the event table (``output.events``, on by default)."""
        import pandas as pd

        ev = self.model.metrics.events
        if not self.model.metrics.keep_events:
            return pd.DataFrame(columns=["week", "kind", "info"])
        sel = ev.column("person") == self.row
        from .states import EVENT_NAMES

        kinds = [EVENT_NAMES[k] for k in ev.column("kind")[sel]]
        return pd.DataFrame({"week": ev.column("week")[sel], "kind": kinds, "info": ev.column("info")[sel]})


class WardPolice(mesa.Agent):
    """The administrative police of one ward: detect, test, compile dossiers or refer."""

    def __init__(self, model: DiversionModel, ward: int) -> None:
        super().__init__(model)
        self.ward = int(ward)

    def _mine(self) -> np.ndarray:
        return self.model.pop.ward == self.ward

    @property
    def n_registered(self) -> int:
        p = self.model.pop
        return int(np.count_nonzero(self._mine() & (p.state != State.DEAD) & (p.state != State.MOVED)))

    @property
    def n_dossiers_pending(self) -> int:
        return int(np.count_nonzero(self._mine() & self.model.pop.dossier))


class Coordinator(mesa.Agent):
    """The ward coordinator (part-time; seed 004): assesses, plans, refers, follows up."""

    def __init__(self, model: DiversionModel, ward: int) -> None:
        super().__init__(model)
        self.ward = int(ward)

    @property
    def n_coordinators(self) -> float:
        return float(self.model.wards.n_coordinators[self.ward])

    @property
    def caseload(self) -> int:
        p = self.model.pop
        return int(np.count_nonzero((p.ward == self.ward) & (p.client_until > self.model.week)))

    @property
    def caseload_capacity(self) -> int:
        return int(self.n_coordinators * self.model.cfg.params.coordination.n_caseload_max)

    @property
    def queue(self) -> int:
        p = self.model.pop
        return int(np.count_nonzero((p.ward == self.ward) & (p.state == State.REFERRED)))


class Centre(mesa.Agent):
    """A centre or service: compulsory, voluntary residential, methadone clinic, services."""

    def __init__(self, model: DiversionModel, kind: str, index: int) -> None:
        super().__init__(model)
        self.kind = kind
        self.index = int(index)

    def __repr__(self) -> str:
        return f"Centre({self.kind}#{self.index}, occupancy={self.occupancy})"

    @property
    def capacity(self) -> int | None:
        return self.model.capacity[self.kind]

    @property
    def occupancy(self) -> int:
        return int(_centres.occupancy(self.model, self.kind)[self.index])
