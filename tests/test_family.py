"""Families as actors (issue 18): strain and hope follow the relative's history, decisions follow
from them and respect the regime's rules, support eases strain as the closed form says."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_config

from diversion_sim.model import DiversionModel
from diversion_sim.processes import family
from diversion_sim.states import State

FAMILY_EVENTS = {"family_insists", "family_strategy", "family_gives_up"}


@pytest.fixture(scope="module")
def runs():
    out = {}
    for sc in ("compulsory", "pilot_diversion"):
        m = DiversionModel(make_config(f"scenario={sc}", "years=3"), 0)
        out[sc] = (m, m.run())
    return out


def test_strain_follows_the_closed_form_and_support_eases_it():
    half = 26.0
    delta = np.log(2) / half
    s = family.strain_after(np.array([10.0]), np.array([half]), np.array([False]), np.array([delta]))
    assert s[0] == pytest.approx(5.0)  # halves in a half-life without use
    s2 = family.strain_after(np.array([10.0]), np.array([half]), np.array([False]), np.array([2 * delta]))
    assert s2[0] == pytest.approx(2.5)  # support (twice the relief) eases it twice as fast
    s3 = family.strain_after(np.array([0.0]), np.array([1e4]), np.array([True]), np.array([delta]))
    assert s3[0] == pytest.approx(1 / delta)  # using: approaches 1/delta weeks of recent use


def test_support_services_lower_the_strain_of_the_families_they_reach():
    base = ["scenario=pilot_diversion", "years=3", "scenario.p_family_support_reach=1.0"]
    ms = {}
    for relief in (1.0, 2.0):
        ms[relief] = DiversionModel(make_config(*base, f"scenario.rel_family_relief={relief}"), 0).run()
    assert ms[2.0].metrics["family_strain_mean"] < 0.8 * ms[1.0].metrics["family_strain_mean"]


def test_a_family_with_no_relative_on_the_register_makes_no_decisions(runs):
    for m, res in runs.values():
        ev = res.events
        fam = ev[ev["kind"].astype(str).isin(FAMILY_EVENTS)]
        assert len(fam) > 0
        assert m.pop.has_family[fam["person"].to_numpy()].all()  # no family, no decision
        gone = ev[ev["kind"].astype(str).isin({"death", "move", "deregister"})]
        gone_week = gone.groupby("person")["week"].min()
        after = fam.join(gone_week.rename("gone"), on="person")
        assert not (after["week"] > after["gone"]).any()  # nothing after the relative left


def test_decisions_emerge_from_state_and_differ_between_regimes(runs):
    comp, div = runs["compulsory"][1].metrics, runs["pilot_diversion"][1].metrics
    assert comp["family_insist_decisions"] > 0 and div["family_insist_decisions"] > 0
    assert comp["family_strategies_adopted"] > 0 and comp["family_strategies_given_up"] > 0
    # fewer releases under diversion: fewer families face the post-release choice per person,
    # and less time with a relative detained
    assert div["family_weeks_relative_detained"] < comp["family_weeks_relative_detained"]


def _prepared(scenario: str):
    m = DiversionModel(make_config(f"scenario={scenario}", "years=0.2"), 0)
    p = m.pop
    rows = np.flatnonzero(p.has_family & (p.state == State.USING))[:50]
    p.family_strain[rows] = 1e6  # far past any threshold
    p.family_strain_week[rows] = m.week
    return m, rows


def test_insisting_needs_repeated_failed_attempts():
    m, rows = _prepared("compulsory")
    p = m.pop
    p.n_detentions[rows] = 0
    p.family_failures[rows] = 0
    assert not family.insists(m, rows).any()  # a first attempt is no last resort
    p.family_failures[rows] = m.cfg.params.family.n_attempts_insist
    assert family.insists(m, rows).all()


def test_engaged_families_of_coordinator_clients_do_not_insist_under_diversion():
    for scenario, expect in (("pilot_diversion", False), ("compulsory", True)):
        m, rows = _prepared(scenario)
        p = m.pop
        p.family_failures[rows] = 5
        p.family_engaged[rows] = True
        p.client_until[rows] = m.week + 10
        assert family.insists(m, rows).all() == expect


def test_insisting_families_get_no_detention_where_centres_are_voluntary():
    res = DiversionModel(
        make_config("scenario=voluntary_centres", "years=2", "params.family.strain_insist_mean=1"), 0
    ).run()
    ev = res.events
    assert (ev["kind"].astype(str) == "family_insists").any()
    assert res.metrics["cum_admissions"] == 0


def test_a_teacher_can_open_a_family_and_see_its_history(runs):
    m, _ = runs["compulsory"]
    ev = m.results().events
    row = int(ev.loc[ev["kind"].astype(str) == "family_strategy", "person"].iloc[0])
    f = m.family(row)
    h = f.history()
    assert "family_strategy" in set(h["kind"]) and {"week", "kind", "info"} <= set(h.columns)
    assert f.attempts >= 0 and f.strain >= 0 and isinstance(f.strategies, list)
    assert "strain=" in repr(f)
