"""Costs and cost-effectiveness (issue 12): components and payers add up, a zero unit cost removes
exactly its component, discounting, price conversion, paired differences and the ICER."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_config

from diversion_sim.config import with_values
from diversion_sim.economics import acceptability, classify, icer_table, paired_differences
from diversion_sim.model import DiversionModel
from diversion_sim.processes.costs import COMPONENTS, price_factor, unit_costs
from diversion_sim.sweep import summarise


@pytest.fixture(scope="module")
def diversion_run():
    cfg = make_config("scenario=pilot_diversion", "years=2", "scenario.p_family_support_reach=0.5")
    return cfg, DiversionModel(cfg, 0).run().metrics


def test_components_and_payers_add_up_to_the_total(diversion_run):
    _, m = diversion_run
    parts = sum(m[f"cost_{c}_vnd"] for c in COMPONENTS)
    assert parts == pytest.approx(m["cost_total_vnd"], rel=1e-12)
    assert m["cost_government_vnd"] + m["cost_client_vnd"] == pytest.approx(m["cost_total_vnd"])
    assert m["cost_societal_vnd"] == pytest.approx(m["cost_total_vnd"])  # societal = both payers
    assert all(m[f"cost_{c}_vnd"] > 0 for c in COMPONENTS), "every component is used here"
    assert m["cost_client_vnd"] > 0  # methadone co-payment, the residential 30%, families' payments


def test_a_zero_unit_cost_removes_exactly_its_component(diversion_run):
    cfg, m = diversion_run
    m0 = DiversionModel(with_values(cfg, {"params.costs.methadone.value": 0.0}), 0).run().metrics
    assert m0["cost_methadone_vnd"] == 0.0
    for c in COMPONENTS:
        if c != "methadone":
            assert m0[f"cost_{c}_vnd"] == m[f"cost_{c}_vnd"]
    assert m0["cost_total_vnd"] == pytest.approx(m["cost_total_vnd"] - m["cost_methadone_vnd"])
    assert m0["drug_free_person_years"] == m["drug_free_person_years"]  # costs change no one


def test_discounting_at_zero_is_the_plain_sum():
    cfg = make_config("years=2", "params.costs.rate_discount=0")
    model = DiversionModel(cfg, 0)
    res = model.run()
    w = res.weekly.iloc[1:]
    unit = unit_costs(cfg.params.costs)
    assert res.metrics["cost_detention_vnd"] == pytest.approx(w["n_detained"].sum() / 52 * unit["detention"])
    assert res.metrics["cost_methadone_vnd"] == pytest.approx(w["n_methadone"].sum() * 7 * unit["methadone"])
    assert res.metrics["drug_free_person_years_disc"] == pytest.approx(res.metrics["drug_free_person_years"])
    disc = DiversionModel(make_config("years=2"), 0).run().metrics
    assert disc["cost_detention_vnd"] < res.metrics["cost_detention_vnd"]  # 3% a year lowers it


def test_price_conversion_chains_the_cpi_and_converts_usd():
    costs = make_config().params.costs
    g = dict(zip(costs.cpi_years, costs.cpi_growth))
    assert price_factor(costs, costs.price_year, "VND") == 1.0
    assert price_factor(costs, 2021, "VND") == pytest.approx((1 + g[2022]) * (1 + g[2023]))
    rate = dict(zip(costs.vnd_per_usd_years, costs.vnd_per_usd_history))[2013]
    expect = rate * np.prod([1 + g[y] for y in range(2014, costs.price_year + 1)])
    assert price_factor(costs, 2013, "USD") == pytest.approx(expect)
    assert price_factor(costs, costs.price_year, "USD") == costs.vnd_per_usd
    with pytest.raises(ValueError, match="no CPI change"):
        price_factor(costs, 1999, "VND")


def _runs(pairs: dict[str, list[tuple[float, float, float]]]) -> pd.DataFrame:
    """A runs table: scenario -> per replicate (cost, drug-free person-years, deaths)."""
    rows = []
    for sc, reps in pairs.items():
        for r, (cost, dfy, deaths) in enumerate(reps):
            rows += [
                {"scenario": sc, "replicate": r, "metric": "cost_total_vnd", "value": cost},
                {"scenario": sc, "replicate": r, "metric": "drug_free_person_years_disc", "value": dfy},
                {"scenario": sc, "replicate": r, "metric": "deaths", "value": deaths},
            ]
    return pd.DataFrame(rows)


def test_icer_sign_interval_and_dominance_on_a_constructed_case():
    ref = [(100.0, 10.0, 5.0), (110.0, 12.0, 6.0), (90.0, 9.0, 4.0), (105.0, 11.0, 5.0)]
    cheaper_better = [(c - 20, e + 3, d - 1) for c, e, d in ref]
    dearer_better = [(c + 30 + i, e + 2 + 0.1 * i, d) for i, (c, e, d) in enumerate(ref)]
    t = icer_table(
        _runs({"compulsory": ref, "a": cheaper_better, "b": dearer_better}), "compulsory", n_boot=500
    ).set_index(["scenario", "effect"])
    a = t.loc[("a", "drug-free person-year")]
    assert a["reading"].startswith("dominant") and np.isnan(a["icer"])
    assert a["d_cost_mean"] == pytest.approx(-20) and a["d_effect_mean"] == pytest.approx(3)
    b = t.loc[("b", "drug-free person-year")]
    assert b["reading"] == "costs more, gains effect"
    assert b["icer"] == pytest.approx(31.5 / 2.15)
    assert b["icer_q05"] <= b["icer"] <= b["icer_q95"]
    # deaths: a averts one death in every pair; b's difference is exactly zero
    assert t.loc[("a", "death averted"), "d_effect_mean"] == pytest.approx(1.0)
    assert t.loc[("b", "death averted"), "reading"] == "effect not distinguishable from zero"
    assert classify(10, -1, -2, -0.5).startswith("dominated")
    ceac = acceptability(
        _runs({"compulsory": ref, "a": cheaper_better}), "compulsory", wtp=np.array([0.0, 100.0])
    )
    assert (ceac["p_cost_effective"] == 1.0).all()  # dominant: cost-effective at any price


def test_paired_differences_are_per_replicate_pair():
    ref = [(100.0, 10.0, 5.0), (200.0, 10.0, 5.0), (300.0, 10.0, 5.0)]
    sc = [(101.0, 10.0, 5.0), (203.0, 10.0, 5.0), (299.0, 10.0, 5.0)]
    runs = _runs({"compulsory": ref, "x": sc})
    d = paired_differences(runs, "compulsory", ["cost_total_vnd"]).sort_values("replicate")
    assert d["d_cost_total_vnd"].tolist() == [1.0, 3.0, -1.0]
    s = summarise(runs).set_index(["scenario", "metric"]).loc[("x", "cost_total_vnd")]
    assert s["diff_mean"] == pytest.approx(1.0)  # unpaired, the spread would be ~100
    assert s["diff_q05"] == pytest.approx(np.quantile([1.0, 3.0, -1.0], 0.05))
    assert bool(s["diff_spans_zero"])


@pytest.mark.parametrize(
    "override, needle",
    [
        ("params.costs.methadone.currency=EUR", "'VND' or 'USD'"),
        ("params.costs.hiv_test.year=2010", "no exchange rate"),
        ("params.costs.detention.year=2005", "no CPI change"),
        ("params.costs.rate_discount=-0.01", "must be >= 0"),
        ("params.costs.methadone.share_client=1.5", "[0, 1]"),
    ],
)
def test_bad_cost_settings_are_refused_clearly(override, needle):
    from diversion_sim.params import ConfigError

    with pytest.raises(ConfigError, match="params.costs") as info:
        make_config(override)
    assert needle in str(info.value)
