"""Common random numbers that hold: per-person keyed draws (streams.py).

A person whose circumstances a policy does not touch lives the same life in both scenarios;
results do not depend on the order in which a batch is processed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_config

from diversion_sim.model import DiversionModel
from diversion_sim.streams import Streams, splitmix64


def test_splitmix64_reference_outputs():
    """The published first outputs of SplitMix64 seeded with 0 (Steele, Lea & Flood 2014)."""
    assert [int(x) for x in splitmix64(0, 4)] == [
        0xE220A8397B1DCDAF,
        0x6E789E6AA1B965F4,
        0x06C45D188009454F,
        0xF88BB8A8724C81EC,
    ]


def test_draw_belongs_to_person_site_week_slot():
    s = Streams(seed=7, replicate=3)
    idx = np.array([5, 0, 999, 12, 40_000_000])
    u = s.uniform("relapse", idx, week=10, slots=3)
    # the same person, site, week and slot: the same number, whoever else is in the batch
    for j, i in enumerate(idx):
        np.testing.assert_array_equal(s.uniform("relapse", np.array([i]), 10, 3)[:, 0], u[:, j])
    perm = np.array([3, 1, 4, 0, 2])
    np.testing.assert_array_equal(s.uniform("relapse", idx[perm], 10, 3), u[:, perm])
    # another site, week, slot, replicate or seed: another number
    others = [
        s.uniform("death", idx, 10),
        s.uniform("relapse", idx, 11),
        Streams(7, 4).uniform("relapse", idx, 10),
        Streams(8, 3).uniform("relapse", idx, 10),
    ]
    for o in [*others, u[1]]:
        assert not np.any(o == u[0])
    # weeks of a burn-in (negative) are keyed too
    assert s.uniform("relapse", idx, -500).shape == (5,)
    with pytest.raises(ValueError, match="outside the range"):
        s.uniform("relapse", idx, 1 << 24)


def test_draws_are_uniform_and_independent():
    """Moments within 5 standard errors; no correlation between sites, weeks or neighbours."""
    s = Streams(seed=1, replicate=0)
    n = 200_000
    idx = np.arange(n)
    u = s.uniform("a", idx, 0)
    e = s.exponential("a", idx, 0)
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 5 * np.sqrt(1 / 180 / n)
    assert abs(e.mean() - 1.0) < 5 / np.sqrt(n)
    np.testing.assert_allclose(e, -np.log((np.floor(u * 2.0**53) + 0.5) * 2.0**-53))
    counts = np.bincount((u * 100).astype(int), minlength=100)
    chi2 = ((counts - n / 100) ** 2 / (n / 100)).sum()
    assert chi2 < 99 + 5 * np.sqrt(2 * 99), chi2  # mean 99, sd 14 for 99 degrees of freedom
    for other in (s.uniform("b", idx, 0), s.uniform("a", idx, 1), np.roll(u, 1)):
        assert abs(np.corrcoef(u, other)[0, 1]) < 5 / np.sqrt(n)


def _events(m: DiversionModel) -> pd.DataFrame:
    ev = m.metrics.events_frame()
    return ev.sort_values(["person", "week", "kind", "info"], kind="stable").reset_index(drop=True)


def test_people_a_policy_does_not_touch_live_the_same_life():
    """release_linkage vs compulsory: everyone never detained in either run (linkage acts only
    on released people) has an identical event history, deaths and moves included."""
    a = DiversionModel(make_config("scenario=compulsory", "years=5"), 0)
    b = DiversionModel(make_config("scenario=release_linkage", "years=5"), 0)
    initially_detained = a.pop.state == 6
    a.run()
    b.run()
    ea, eb = _events(a), _events(b)
    touched = set(ea.loc[ea["kind"] == "admit", "person"]) | set(eb.loc[eb["kind"] == "admit", "person"])
    touched |= set(np.flatnonzero(initially_detained))
    keep_a = ea[~ea["person"].isin(touched)].reset_index(drop=True)
    keep_b = eb[~eb["person"].isin(touched)].reset_index(drop=True)
    # a real test: many people never detained, with deaths, moves and detections among them
    assert a.pop.n - len(touched) > 50 and len(keep_a) > 200
    assert {"death", "move", "detect"} <= set(keep_a["kind"])
    pd.testing.assert_frame_equal(keep_a, keep_b)
    # and the policy did change something for the people it touches
    assert not ea.equals(eb)


def test_lever_that_affects_nobody_gives_identical_tables():
    """Levers without effect under the compulsory regime leave every table bit-identical."""
    base = DiversionModel(make_config("scenario=compulsory", "years=3"), 1).run()
    inert = DiversionModel(
        make_config(
            "scenario=compulsory",
            "years=3",
            "scenario.p_accept_voluntary=0.9",
            "params.coordination.p_plan_ats=0.9",
            "params.coordination.p_refer_hiv=0.1",
            "scenario.n_tests_refer=1",
            "scenario.dur_refer_after_release=100",
            "population.p_engage_by_district=[0.1,0.2]",
        ),
        1,
    ).run()
    pd.testing.assert_frame_equal(base.weekly, inert.weekly)
    pd.testing.assert_frame_equal(base.events, inert.events)
    pd.testing.assert_frame_equal(base.episodes, inert.episodes)
    assert np.array_equal(
        np.array(list(base.metrics.values())), np.array(list(inert.metrics.values())), equal_nan=True
    )


@pytest.mark.parametrize(
    "overrides",
    [
        ("scenario=pilot_diversion",),
        # capacities that bind: admission order must not decide who gets a place
        (
            "scenario=scaled_diversion",
            "population.centres.compulsory.n_capacity=40",
            "population.centres.methadone.n_capacity=25",
            "population.centres.residential.n_capacity=3",
        ),
    ],
    ids=["pilot_diversion", "tight_capacity"],
)
def test_results_do_not_depend_on_batch_order(overrides):
    """Shuffling the order in which due people are processed within every week (every handler
    batch, the coordinators' served list and the end-of-week scheduling) changes nothing."""
    cfg = make_config(*overrides, "years=3")
    a, b = DiversionModel(cfg, 0), DiversionModel(cfg, 0)
    b._shuffle = np.random.default_rng(123)
    ra, rb = a.run(), b.run()
    pd.testing.assert_frame_equal(ra.weekly, rb.weekly)
    pd.testing.assert_frame_equal(_events(a), _events(b))
    key = ["person", "exit_week", "weeks"]
    pd.testing.assert_frame_equal(
        ra.episodes.sort_values(key).reset_index(drop=True),
        rb.episodes.sort_values(key).reset_index(drop=True),
    )
    np.testing.assert_array_equal(a.pop.state, b.pop.state)
