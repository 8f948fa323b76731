"""Shared helpers: compose configs exactly as the CLI does (Hydra compose API)."""

from __future__ import annotations

import numpy as np
import pytest

from diversion_sim.config import compose_config
from diversion_sim.model import DiversionModel
from diversion_sim.params import Config


def make_config(*overrides: str) -> Config:
    """A validated Config from Hydra overrides, e.g. make_config("scenario=pilot_diversion"),
    composed by the package's one path (:func:`diversion_sim.config.compose_config`)."""
    return compose_config(list(overrides))


def run_model(*overrides: str, replicate: int = 0) -> DiversionModel:
    m = DiversionModel(make_config(*overrides), replicate)
    m.run()
    return m


@pytest.fixture(scope="session")
def small_runs():
    """Compulsory and pilot diversion on the pilot districts, 3 years, same seed (shared)."""
    return {sc: run_model(f"scenario={sc}", "years=3") for sc in ("compulsory", "pilot_diversion")}


def assert_close(a, b, tol, what):
    assert np.all(np.abs(np.asarray(a) - np.asarray(b)) <= tol), f"{what}: {a} vs {b} (tol {tol})"
