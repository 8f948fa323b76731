"""Finished models are freed: Mesa 3.3's ``Agent._ids`` kept every model alive (mesa#3179),
+0.4 MB a run in one process (the Python route, the dashboard, long sweeps)."""

from __future__ import annotations

import gc
import weakref
from collections import defaultdict

import mesa
import pytest

from diversion_sim.config import compose_config
from diversion_sim.model import DiversionModel, hold_models_weakly


@pytest.fixture(scope="module")
def tiny():
    """The smallest run there is: the pilot wards, one week after a burn-in of none."""
    return compose_config(
        ["scenario=pilot_diversion", "population=pilot_wards", "years=0.02", "burn_in_years=0"]
    )


def test_finished_models_are_freed(tiny):
    refs = []
    for i in range(30):
        m = DiversionModel(tiny, i % 2)
        m.run()
        assert len(m.agents) > 0  # it made agents, so Mesa's id table saw it
        refs.append(weakref.ref(m))
        del m
    gc.collect()
    alive = sum(r() is not None for r in refs)
    assert alive <= 1, f"{alive} of 30 finished models are still alive"


def test_agent_ids_stay_unique_per_model(tiny):
    lazy = compose_config(
        [
            "scenario=pilot_diversion",
            "population=pilot_wards",
            "years=0.02",
            "burn_in_years=0",
            "population.agents=lazy",
        ]
    )
    a, b, c = DiversionModel(tiny, 0), DiversionModel(tiny, 1), DiversionModel(lazy, 0)
    for m in (a, b, c):
        m.run()
        ids = [x.unique_id for x in m.agents]
        assert min(ids) == 1 and len(set(ids)) == len(ids)
    # a lazy agent made after the run continues its model's count (no id used twice)
    top = max(x.unique_id for x in c.agents)
    assert c.person(0).unique_id == top + 1
    gc.collect()
    assert c.person(1).unique_id == top + 2


def test_weak_table_keeps_living_counters_and_is_idempotent(monkeypatch):
    """Mesa 3.3's table is replaced once, keeping the counters of models still alive; any other
    kind of table (Mesa 3.4+ has none) is left alone."""
    kept = mesa.Model()
    table = defaultdict(lambda: iter(range(1, 10**9)))
    next(table[kept])  # kept has drawn id 1
    monkeypatch.setattr(mesa.Agent, "_ids", table, raising=False)
    hold_models_weakly()
    weak = mesa.Agent._ids
    assert type(weak) is not defaultdict
    assert next(weak[kept]) == 2  # its counter survived
    hold_models_weakly()
    assert mesa.Agent._ids is weak  # once per process
    other: dict = {}
    monkeypatch.setattr(mesa.Agent, "_ids", other, raising=False)
    hold_models_weakly()
    assert mesa.Agent._ids is other  # not Mesa 3.3's table: untouched
    monkeypatch.delattr(mesa.Agent, "_ids", raising=False)
    hold_models_weakly()  # no table at all (Mesa 3.4+)
    assert not hasattr(mesa.Agent, "_ids")
