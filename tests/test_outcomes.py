"""Health outcomes and net benefit (issue 26): drug-free weeks count use in every state (centres
too), QALYs add up from the weekly states and the utility weights, net monetary benefit is
WTP x effect - cost per pair, and costs by perspective add up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_config

from diversion_sim.config import with_values
from diversion_sim.economics import NMB, acceptability, icer_table
from diversion_sim.model import DiversionModel
from diversion_sim.processes.costs import COMPONENTS, PAYERS, wtp_per_qaly
from diversion_sim.processes.outcomes import UTILITIES, qaly_weeks
from diversion_sim.states import State


@pytest.fixture(scope="module")
def compulsory_run():
    cfg = make_config("years=2", "params.costs.rate_discount=0")
    res = DiversionModel(cfg, 0).run()
    return cfg, res


def test_drug_free_weeks_count_use_in_every_state_centres_too(compulsory_run):
    """With p_use_detained = 0 every detained week is drug-free, with 1 none is; in between it is
    the expected share 1 - p; the other states are unchanged."""
    cfg, base = compulsory_run
    w = base.weekly.iloc[1:]
    outside = (
        w[["n_abstinent", "n_methadone", "n_recovery", "n_residential"]].to_numpy().sum()
        - w["using_on_methadone"].sum()
    )
    detained = w["n_detained"].sum()
    assert detained > 0
    got = {}
    for p in (0.0, 1.0):
        m = DiversionModel(with_values(cfg, {"params.outcomes.p_use_detained": p}), 0).run().metrics
        got[p] = m["drug_free_person_years"] * 52
        # the per-person count is the same definition (the register's size is the same)
        per_person = base.metrics["drug_free_weeks_per_person"] / (
            base.metrics["drug_free_person_years"] * 52
        )
        assert m["drug_free_weeks_per_person"] == pytest.approx(got[p] * per_person)
    assert got[0.0] == pytest.approx(outside + detained)
    assert got[1.0] == pytest.approx(outside)
    p = cfg.params.outcomes.p_use_detained
    assert base.metrics["drug_free_person_years"] * 52 == pytest.approx(outside + (1 - p) * detained)
    # p changes how weeks are counted, nothing that happens
    assert base.metrics["cost_total_vnd"] == pytest.approx(
        DiversionModel(with_values(cfg, {"params.outcomes.p_use_detained": 1.0}), 0)
        .run()
        .metrics["cost_total_vnd"]
    )


def test_qalys_add_up_from_weekly_states_and_weights_on_a_constructed_case():
    """Two weeks, hand-counted: each person-week weighs its state's utility; dead and moved
    people weigh nothing."""
    par = make_config().params.outcomes
    states = np.zeros((2, len(State)), int)
    states[0, [State.USING, State.REFERRED, State.METHADONE, State.ABSTINENT]] = [10, 2, 5, 3]
    states[1, [State.RECOVERY, State.RESIDENTIAL, State.DETAINED, State.DEAD, State.MOVED]] = [4, 1, 6, 7, 9]
    weekly = {
        "using_injecting": np.array([4.0, 0.0]),  # of the 12 using or waiting in week 0
        "using_meth": np.array([3.0, 0.0]),
        "using_on_methadone": np.array([2.0, 0.0]),  # of the 5 on methadone
    }
    q = qaly_weeks(states, weekly, par)
    u = {k: getattr(par, k) for k in UTILITIES}
    week0 = (
        5 * u["utility_using_opioid"]
        + 4 * u["utility_injecting"]
        + 3 * u["utility_using_meth"]
        + 3 * u["utility_methadone"]
        + 2 * u["utility_methadone_using"]
        + 3 * u["utility_abstinent"]
    )
    week1 = 4 * u["utility_recovery"] + u["utility_residential"] + 6 * u["utility_detained"]
    assert q == pytest.approx([week0, week1])


def test_qalys_of_a_run_are_the_weekly_utilities_discounted(compulsory_run):
    cfg, res = compulsory_run
    w = res.weekly.iloc[1:]
    states = w[[f"n_{s.name.lower()}" for s in State]].to_numpy()
    cols = {k: w[k].to_numpy(float) for k in ("using_injecting", "using_meth", "using_on_methadone")}
    q = qaly_weeks(states, cols, cfg.params.outcomes)
    assert res.metrics["qalys"] == pytest.approx(q.sum() / 52)
    assert res.metrics["qalys_disc"] == pytest.approx(res.metrics["qalys"])  # rate 0
    assert (w["using_injecting"] + w["using_meth"] <= w["n_using"] + w["n_referred"]).all()
    assert (w["using_injecting"] > 0).all() and (w["using_meth"] > 0).all()
    disc = DiversionModel(make_config("years=2"), 0).run().metrics
    assert disc["qalys_disc"] < disc["qalys"] == pytest.approx(res.metrics["qalys"])
    # all utilities 1: QALYs are the person-years alive on the register
    ones = {f"params.outcomes.{k}": 1.0 for k in UTILITIES}
    m1 = DiversionModel(with_values(cfg, ones), 0).run().metrics
    alive = np.delete(states, [State.DEAD, State.MOVED], axis=1).sum()
    assert m1["qalys"] == pytest.approx(alive / 52)


def test_costs_by_perspective_add_up(compulsory_run):
    cfg, res = compulsory_run
    m = res.metrics
    assert m["cost_government_vnd"] + m["cost_client_vnd"] == pytest.approx(m["cost_societal_vnd"])
    assert m["cost_societal_vnd"] == pytest.approx(m["cost_total_vnd"])
    assert sum(m[f"cost_{c}_vnd"] for c in COMPONENTS) == pytest.approx(m["cost_societal_vnd"])
    client = sum(m[f"cost_{c}_vnd"] * getattr(cfg.params.costs, c).share_client for c in COMPONENTS)
    assert m["cost_client_vnd"] == pytest.approx(client)
    assert PAYERS == ("government", "client")
    # the new components are used under the status quo: families pay for detention, dossiers
    assert m["cost_detention_family_vnd"] > 0 and m["cost_dossier_vnd"] > 0
    w = res.weekly.iloc[1:]
    assert m["cost_dossier_vnd"] == pytest.approx(w["new_dossier"].sum() * cfg.params.costs.dossier.value)
    fam = cfg.params.costs.detention_family.value
    assert m["cost_detention_family_vnd"] == pytest.approx(w["n_detained"].sum() / 52 * fam)
    # what families pay for detention is theirs, not the government's
    zero = DiversionModel(with_values(cfg, {"params.costs.detention_family.value": 0.0}), 0).run().metrics
    assert zero["cost_government_vnd"] == pytest.approx(m["cost_government_vnd"])
    assert zero["cost_client_vnd"] == pytest.approx(m["cost_client_vnd"] - m["cost_detention_family_vnd"])


def test_net_benefit_of_a_run_is_wtp_times_qalys_minus_cost(compulsory_run):
    cfg, res = compulsory_run
    m = res.metrics
    wtp = wtp_per_qaly(cfg.params.costs)
    assert wtp["central"] == pytest.approx(cfg.params.costs.gdp_per_capita)  # 1x GDP of the price year
    assert wtp["low"] < wtp["central"] < wtp["high"]
    for t, w in wtp.items():
        assert m[f"wtp_{t}_vnd"] == w
        assert m[f"net_benefit_{t}_vnd"] == pytest.approx(w * m["qalys_disc"] - m["cost_total_vnd"])


def _runs(reps: dict[str, list[tuple[float, float]]], wtp: dict[str, float]) -> pd.DataFrame:
    rows = []
    for sc, pairs in reps.items():
        for r, (cost, q) in enumerate(pairs):
            rows += [
                {"scenario": sc, "replicate": r, "metric": "cost_total_vnd", "value": cost},
                {"scenario": sc, "replicate": r, "metric": "qalys_disc", "value": q},
            ]
            rows += [
                {"scenario": sc, "replicate": r, "metric": f"wtp_{t}_vnd", "value": w} for t, w in wtp.items()
            ]
    return pd.DataFrame(rows)


def test_net_benefit_equals_wtp_times_effect_minus_cost_per_pair():
    wtp = {"low": 50.0, "central": 100.0, "high": 300.0}
    ref = [(1000.0, 10.0), (1200.0, 12.0), (900.0, 9.0), (1100.0, 11.0), (1000.0, 10.5)]
    dc = np.array([30.0, -10.0, 50.0, 5.0, 20.0])
    dq = np.array([0.5, 0.1, 0.2, 0.4, 0.05])
    sc = [(c + x, q + y) for (c, q), x, y in zip(ref, dc, dq)]
    t = icer_table(_runs({"compulsory": ref, "x": sc}, wtp), "compulsory", n_boot=200)
    nmb = t[t["effect"] == NMB].set_index("wtp")
    assert set(nmb.index) == set(wtp)
    for name, w in wtp.items():
        per_pair = w * dq - dc
        row = nmb.loc[name]
        assert row["wtp_vnd"] == w
        assert row["nmb_mean"] == pytest.approx(per_pair.mean())
        assert row["nmb_q05"] == pytest.approx(np.quantile(per_pair, 0.05))
        assert row["nmb_q95"] == pytest.approx(np.quantile(per_pair, 0.95))
        assert row["p_nmb_positive"] == pytest.approx(np.mean(per_pair > 0))
    q = t[t["effect"] == "QALY"].iloc[0]
    assert q["icer"] == pytest.approx(dc.mean() / dq.mean())
    # the acceptability curve on net benefit, per QALY, with the thresholds on its grid
    ceac = acceptability(_runs({"compulsory": ref, "x": sc}, wtp), "compulsory")
    ceac = ceac[ceac["effect"] == "QALY"].set_index("wtp_vnd")
    for w in wtp.values():
        assert ceac.loc[w, "p_cost_effective"] == pytest.approx(np.mean(w * dq - dc > 0))
    assert ceac.index.min() == 0 and ceac.index.max() == pytest.approx(1.5 * wtp["high"])


def test_dominant_needs_a_strictly_lower_cost():
    from diversion_sim.economics import classify

    assert classify(-1.0, 1.0, 0.5, 1.5).startswith("dominant")
    assert not classify(0.0, 1.0, 0.5, 1.5).startswith("dominant")


@pytest.mark.parametrize(
    "override, needle",
    [
        ("params.outcomes.utility_detained=1.2", "params.outcomes.utility_detained"),
        ("params.outcomes.p_use_detained=1.5", "params.outcomes.p_use_detained"),
        ("params.costs.wtp_gdp_multiple_high=-1", "params.costs.wtp_gdp_multiple_high"),
        ("params.costs.gdp_per_capita_year=1990", "params.costs.gdp_per_capita_year"),
    ],
)
def test_bad_outcome_settings_are_refused_clearly(override, needle):
    from diversion_sim.params import ConfigError

    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        make_config(override)
