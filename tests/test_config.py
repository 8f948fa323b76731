"""Every scenario and population composes and validates; values keep their sources."""

from __future__ import annotations

import re

import pytest
from conftest import make_config

from diversion_sim.config import config_dir, options
from diversion_sim.params import ConfigError


@pytest.mark.parametrize("population", options("population"))
@pytest.mark.parametrize("scenario", options("scenario"))
def test_compose_every_scenario_and_population(scenario, population):
    cfg = make_config(f"scenario={scenario}", f"population={population}")
    assert cfg.scenario.name == scenario
    assert cfg.population.name == population


def test_scenario_library_complete():
    expected = {
        "compulsory",
        "pilot_diversion",
        "scaled_diversion",
        "diversion_plus_ats",
        "release_linkage",
        "family_support",
        "voluntary_centres",
        "law_2026",
    }
    assert expected <= set(options("scenario"))
    assert {"pilot_wards", "pilot_districts", "national"} <= set(options("population"))


def test_every_parameter_value_cites_a_source():
    """Each value line in params/ and population/ carries a comment saying where it comes from."""
    missing = []
    for path in [*(config_dir() / "params").glob("*.yaml"), *(config_dir() / "population").glob("*.yaml")]:
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"^\s+\w+:\s*[^\s{#]", line) or re.match(r"^\w+:\s*\[?[\d.]", line):
                if "#" not in line:
                    missing.append(f"{path.name}:{i}: {line.strip()}")
    assert not missing, "values without a source:\n" + "\n".join(missing)


@pytest.mark.parametrize(
    "override, key",
    [
        ("params.police.rate_detect=-0.1", "params.police.rate_detect"),
        ("params.coordination.p_refer_hiv=62", "params.coordination.p_refer_hiv"),
        ("scenario.dur_stay_first=[104,52]", "scenario.dur_stay_first"),
        ("years=-1", "years"),
        ("population.n_people_by_district=[0,0]", "population.n_people_by_district"),
        ("scenario.regime=lenient", "scenario.regime"),
    ],
)
def test_bad_values_name_the_key(override, key):
    with pytest.raises(ConfigError, match=re.escape(key)):
        make_config(override)


def test_parameter_docs_match_configs():
    """docs/parameters.md is generated from configs/ (python -m diversion_sim.docs)."""
    from diversion_sim.docs import docs_path, render

    assert docs_path().read_text() == render(), "run: python -m diversion_sim.docs"
    text = render()
    for key in (
        "params.police.rate_detect",
        "params.relapse.shape_relapse",
        "population.p_opioid",
        "scenario.regime",
        "cascade.shares.referred_long_bien.observed",
    ):
        assert f"`{key}`" in text, key
