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
from .processes.family import open_burden
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
    """The family of person ``row``: support strategies (seed 000) and burden."""

    def __init__(self, model: DiversionModel, row: int) -> None:
        super().__init__(model)
        self.row = int(row)

    def __repr__(self) -> str:
        return f"Family(row={self.row}, burden={self.burden:.1f})"

    @property
    def close_monitoring(self) -> bool:
        return bool(self.model.pop.family_monitoring[self.row])

    @property
    def employment_help(self) -> bool:
        return bool(self.model.pop.family_employment[self.row])

    @property
    def insists_on_compulsory(self) -> bool:
        return bool(self.model.pop.family_insists[self.row])

    @property
    def supported(self) -> bool:
        """Reached by family support services (scenario family_support)."""
        return bool(self.model.pop.family_supported[self.row])

    @property
    def burden(self) -> float:
        """Burden units so far (weights per week by the relative's state; params.family)."""
        return float(self.model.pop.family_burden[self.row] + open_burden(self.model, self.row))


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
        return int(np.count_nonzero(self._mine() & (p.state != State.DEAD)
                                    & (p.state != State.MOVED)))

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
