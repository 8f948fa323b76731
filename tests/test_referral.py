"""Who police refer under diversion, and who engages with the coordinator (issue 11, seed 004)."""

from __future__ import annotations

import numpy as np
from conftest import make_config

from diversion_sim.model import DiversionModel
from diversion_sim.processes import policing
from diversion_sim.states import State


def _detect_once(model: DiversionModel, rows: np.ndarray) -> np.ndarray:
    """Run the police handler for ``rows`` this week; return the rows it referred."""
    before = model.pop.state.copy()
    policing.on_detect(model, rows)
    return rows[(model.pop.state[rows] == State.REFERRED) & (before[rows] != State.REFERRED)]


def test_pilot_refers_at_the_third_positive_test_or_soon_after_release():
    m = DiversionModel(make_config("scenario=pilot_diversion", "years=0.2"), 0)
    p = m.pop
    pool = np.flatnonzero(
        (p.state == State.USING) & p.fixed_address & ~p.has_family & (p.client_until <= m.week) & ~p.dossier
    )
    assert pool.size >= 4
    a, b, c, d = pool[:4]
    p.window_start[[a, b, c, d]] = m.week  # an open test window
    p.pos_tests[a] = 1  # this test is the 2nd: counted, not referred
    p.pos_tests[b] = 2  # the 3rd: referred
    p.pos_tests[[c, d]] = 0
    p.release_week[[a, b, d]] = -(10**5)
    p.release_week[c] = m.week - 10  # released 10 weeks ago: referred at a 1st positive test
    p.release_week[d] = m.week - 60  # released long ago: counted only
    referred = _detect_once(m, np.array([a, b, c, d]))
    assert set(referred.tolist()) == {b, c}
    assert p.pos_tests[a] == 2 and p.pos_tests[d] == 1 and not p.dossier[[a, d]].any()


def test_first_test_referral_when_the_threshold_is_one():
    m = DiversionModel(make_config("scenario=pilot_diversion", "years=0.2", "scenario.n_tests_refer=1"), 0)
    p = m.pop
    pool = np.flatnonzero(
        (p.state == State.USING) & p.fixed_address & ~p.has_family & (p.client_until <= m.week) & ~p.dossier
    )[:5]
    p.pos_tests[pool] = 0
    p.release_week[pool] = -(10**5)
    assert set(_detect_once(m, pool).tolist()) == set(pool.tolist())


def test_engagement_by_district():
    """Nobody in a district whose clients never engage is assessed; the other district is."""
    m = DiversionModel(
        make_config(
            "population=pilot_wards",
            "scenario=pilot_diversion",
            "years=1",
            "population.p_engage_by_district=[0.0,1.0]",
        ),
        0,
    )
    res = m.run()
    ev = res.events
    people = ev.loc[ev["kind"].astype(str) == "assess", "person"].to_numpy()
    district = m.wards.district[m.pop.ward[people]]
    assert people.size > 0 and np.all(district == 1)
    referred = ev.loc[ev["kind"].astype(str) == "refer", "person"].to_numpy()
    assert np.any(m.wards.district[m.pop.ward[referred]] == 0)  # referred, screened only
