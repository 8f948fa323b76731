"""The Mesa agents users see are views that always agree with the population arrays."""

from __future__ import annotations

import numpy as np
from conftest import make_config

from diversion_sim.agents import Centre, Coordinator, Family, Person, WardPolice
from diversion_sim.model import DiversionModel
from diversion_sim.states import State


def test_all_roles_registered_and_consistent(small_runs):
    m = small_runs["pilot_diversion"]
    people = list(m.agents_by_type[Person])
    assert len(people) == m.pop.n
    assert len(m.agents_by_type[Family]) == int(m.pop.has_family.sum())
    assert len(m.agents_by_type[WardPolice]) == m.wards.n
    assert len(m.agents_by_type[Coordinator]) == m.wards.n
    assert len(m.agents_by_type[Centre]) == sum(m.n_centres.values())
    for a in people[::37]:
        r = a.row
        assert a.state == State(m.pop.state[r])
        assert a.ward == m.pop.ward[r]
        assert a.n_detentions == m.pop.n_detentions[r]
        assert int(a.services) == int(m.pop.services[r])
        assert (a.family is not None) == bool(m.pop.has_family[r])
        assert a.coordinator.ward == a.ward == a.police.ward


def test_select_by_state_matches_counts(small_runs):
    m = small_runs["compulsory"]
    detained = m.agents_by_type[Person].select(lambda a: a.state == State.DETAINED)
    assert len(detained) == int(np.count_nonzero(m.pop.state == State.DETAINED))
    occ = sum(c.occupancy for c in m.agents_by_type[Centre] if c.kind == "compulsory")
    assert occ == len(detained)


def test_coordinator_views(small_runs):
    m = small_runs["pilot_diversion"]
    total = sum(c.caseload for c in m.agents_by_type[Coordinator])
    assert total == int(np.count_nonzero(m.pop.client_until > m.week))
    assert all(c.caseload <= c.caseload_capacity for c in m.agents_by_type[Coordinator])


def test_lazy_agents_made_on_access():
    m = DiversionModel(make_config("population=pilot_wards", "population.agents=lazy"), 0)
    # the rule: the types are always there, holding the agents made so far
    assert len(m.agents_by_type[Person]) == 0 and len(m.agents_by_type[Family]) == 0
    a = m.person(5)
    assert m.person(5) is a and len(m.agents_by_type[Person]) == 1
    assert a.state == State(m.pop.state[5])
