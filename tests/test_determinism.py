"""Same seed and config => identical tables; different seeds differ; CRN across scenarios."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import make_config

from diversion_sim.model import DiversionModel


def _tables(*overrides, replicate=0):
    m = DiversionModel(make_config(*overrides), replicate)
    return m.run()


def test_same_seed_identical():
    a = _tables("scenario=pilot_diversion", "years=2", "seed=11")
    b = _tables("scenario=pilot_diversion", "years=2", "seed=11")
    pd.testing.assert_frame_equal(a.weekly, b.weekly)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert a.metrics == b.metrics or all(
        (np.isnan(a.metrics[k]) and np.isnan(b.metrics[k])) or a.metrics[k] == b.metrics[k] for k in a.metrics
    )


def test_different_seed_or_replicate_differs():
    a = _tables("years=2", "seed=11")
    b = _tables("years=2", "seed=12")
    c = _tables("years=2", "seed=11", replicate=1)
    assert not a.weekly.equals(b.weekly)
    assert not a.weekly.equals(c.weekly)


def test_common_random_numbers_initial_population():
    """Replicate r of two scenarios starts from the same people in the same states."""
    cfg_a = make_config("scenario=compulsory", "seed=5")
    cfg_b = make_config("scenario=scaled_diversion", "seed=5")
    a, b = DiversionModel(cfg_a, 2), DiversionModel(cfg_b, 2)
    for col in (
        "ward",
        "drug",
        "inject",
        "fixed_address",
        "has_family",
        "state",
        "n_detentions",
        "treat_end",
    ):
        np.testing.assert_array_equal(getattr(a.pop, col), getattr(b.pop, col), err_msg=col)
    # first-week draws of processes the policy does not touch are shared (deaths, moves)
    a.step()
    b.step()
    ra, rb = a.results().events, b.results().events
    for kind in ("death", "move", "release"):
        pa = ra[ra["kind"] == kind]["person"].to_numpy()
        pb = rb[rb["kind"] == kind]["person"].to_numpy()
        np.testing.assert_array_equal(np.sort(pa), np.sort(pb), err_msg=kind)


def test_a_run_from_the_burn_in_cache_equals_one_that_simulated_it():
    """Caches kept by processes during the burn-in must not leak into the run (they are emptied
    at the switch): a run whose burn-in was simulated and one read from the cache are identical."""
    from diversion_sim import model as model_module

    cfg = make_config("scenario=pilot_diversion", "years=1", "seed=23")
    model_module._BURN_IN_CACHE.clear()
    a = DiversionModel(cfg, 0).run()  # simulates the burn-in
    b = DiversionModel(cfg, 0).run()  # reads it from the cache
    pd.testing.assert_frame_equal(a.weekly, b.weekly)
    assert all(
        (np.isnan(a.metrics[k]) and np.isnan(b.metrics[k])) or a.metrics[k] == b.metrics[k] for k in a.metrics
    )


def test_the_burn_in_key_changes_with_the_model_make_up(monkeypatch):
    """A saved burn-in of a model with other columns is not reused (it would be misread)."""
    from diversion_sim import model as model_module

    cfg = make_config("years=1")
    key = model_module.burn_in_key(cfg, 0)
    assert key == model_module.burn_in_key(cfg, 0)
    cols = dict(model_module.ASSEMBLY.columns, extra_column=("?", False))
    monkeypatch.setattr(model_module.ASSEMBLY, "columns", cols)
    assert model_module.burn_in_key(cfg, 0) != key
