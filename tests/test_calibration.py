"""Calibration: the ABC machinery recovers known parameters from data the model made itself;
the calibrate and pilot-replication commands run end to end; params=posterior uses the draws."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import make_config

from diversion_sim import calibration as cal
from diversion_sim import cohorts
from diversion_sim.config import config_dir
from diversion_sim.model import DiversionModel
from diversion_sim.params import ConfigError

pytest.importorskip("pyabc")
ROOT = Path(__file__).resolve().parents[1]
TARGETS = yaml.safe_load((config_dir() / "calibration" / "targets.yaml").read_text())
MODEL = ["population=pilot_wards", "scenario=pilot_diversion", "years=1.1538461538"]
FAST = [*MODEL, "burn_in_years=0.5"]  # the ABC machinery, not the warm start, is under test


def test_with_values_sets_keys_and_checks_them():
    cfg = make_config(*MODEL)
    c = cal.with_values(cfg, {"params.police.rate_detect": 0.05, "population.share_init_using": 0.8})
    assert c.params.police.rate_detect == 0.05 and cfg.params.police.rate_detect != 0.05
    shares = [getattr(c.population, k) for k in cal.INIT_SHARES]
    assert shares[0] == 0.8 and sum(shares) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="params.police.rate_detekt"):
        cal.with_values(cfg, {"params.police.rate_detekt": 0.05})
    with pytest.raises(ConfigError, match="params.police.rate_detect"):
        cal.with_values(cfg, {"params.police.rate_detect": -1.0})


def test_simulation_is_a_function_of_the_parameters():
    cfg = make_config(*MODEL)
    v = {"params.police.rate_detect": 0.05}
    a = cal.simulate(cfg, v, TARGETS["cohorts"])
    assert a == cal.simulate(cfg, v, TARGETS["cohorts"])
    assert a != cal.simulate(cfg, {"params.police.rate_detect": 0.0500001}, TARGETS["cohorts"])
    assert set(cal.observed_statistics(TARGETS)[0]) <= set(a)  # and the district shares checked
    only = cal.simulate(cfg, v, TARGETS["cohorts"], parts=("cohorts",))
    assert set(only) == set(cal.observed_statistics(TARGETS, ("cohorts",))[0])
    assert all(only[k] == a[k] for k in only), "a stage's statistics differ from the joint ones"


@pytest.mark.slow
def test_abc_recovers_known_parameters(tmp_path):
    """Synthetic data from known values; a small ABC-SMC must put them inside the 90% posterior
    and learn (posterior interval well inside the prior)."""
    cfg = make_config(*FAST)
    truth = {
        "params.police.rate_detect": 0.04,
        "params.relapse.shape_relapse": 0.6,
        "params.coordination.p_refer_legal": 0.45,
    }
    priors = {
        "params.police.rate_detect": {"dist": "loguniform", "low": 0.005, "high": 0.3},
        "params.relapse.shape_relapse": {"dist": "uniform", "low": 0.2, "high": 1.2},
        "params.coordination.p_refer_legal": {"dist": "uniform", "low": 0.0, "high": 1.0},
    }
    synthetic = cal.simulate(
        cfg, truth, TARGETS["cohorts"], salt=99, weights=TARGETS["cascade"]["referrals_by_district"]
    )
    targets = yaml.safe_load(yaml.safe_dump(TARGETS))
    for k, spec in targets["cascade"].get("shares", {}).items():
        spec["observed"] = synthetic[k]
    for name, c in targets["cohorts"].items():
        c.pop("cumulative_hazard", None)
        c["observed"] = [synthetic[k] for k in cohorts.statistic_names(name, c)]
    post = cal.run_abc(
        cfg, targets, priors, tmp_path, population_size=60, max_generations=4, n_procs=1, seed=3
    )
    q = cal.weighted_quantiles(post).set_index("key")
    for k, v in truth.items():
        lo, hi = q.loc[k, "q05"], q.loc[k, "q95"]
        assert lo <= v <= hi, f"{k}: true {v} outside the 90% posterior [{lo:.3g}, {hi:.3g}]"
        p = priors[k]
        assert hi - lo < 0.6 * (p["high"] - p["low"]), f"{k}: nothing learnt [{lo:.3g}, {hi:.3g}]"


def _run(script, tmp_path, *args):
    cmd = [sys.executable, str(ROOT / "experiments" / script), f"hydra.run.dir={tmp_path}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)


@pytest.mark.slow
def test_calibrate_command_runs_resumes_and_refuses_to_overwrite(tmp_path):
    small = ["abc.population_size=12", "abc.n_procs=1", "burn_in_years=0.5"]
    r = _run("calibrate.py", tmp_path, *small, "abc.max_generations=1")
    assert r.returncode == 0, r.stderr[-3000:]
    for f in (
        "cohorts/abc.db",
        "cascade/abc.db",
        "status_quo/abc.db",
        "posterior.csv",
        "posterior_draws.csv",
        "posterior_summary.csv",
        "calibration.yaml",
    ):
        assert (tmp_path / f).is_file(), f
    r = _run("calibrate.py", tmp_path, *small, "abc.max_generations=2")
    assert r.returncode == 2 and "resume=true" in r.stderr and "Traceback" not in r.stderr
    r = _run("calibrate.py", tmp_path, *small, "abc.max_generations=2", "resume=true")
    assert r.returncode == 0, r.stderr[-3000:]
    import pyabc

    for stage in ("cohorts", "cascade", "status_quo"):  # each stage went on by one generation
        assert pyabc.History(f"sqlite:///{tmp_path / stage / 'abc.db'}").max_t == 1
    draws = pd.read_csv(tmp_path / "posterior_draws.csv")
    assert len(draws) == 200 and {"params.police.rate_detect", "params.police.p_dossier"} <= set(draws)
    # rerun one stage only: the others' draws come from the installed posterior
    (tmp_path / "only").mkdir()
    r = _run("calibrate.py", tmp_path / "only", *small, "abc.max_generations=1", "only=[status_quo]")
    assert r.returncode == 0, r.stderr[-3000:]
    assert not (tmp_path / "only" / "cascade").exists()
    draws = pd.read_csv(tmp_path / "only" / "posterior_draws.csv")
    installed = pd.read_csv(config_dir() / "calibration" / "pilot_posterior.csv")
    assert set(draws["params.relapse.shape_relapse"]) <= set(installed["params.relapse.shape_relapse"])


@pytest.mark.slow
def test_pilot_replication_command(tmp_path):
    r = _run("pilot_replication.py", tmp_path, "n_sims=6")
    assert r.returncode == 0, r.stderr[-3000:]
    fit = pd.read_csv(tmp_path / "pilot_fit.csv")
    assert {"target", "observed", "simulated_mean", "q05", "q95", "inside"} <= set(fit.columns)
    assert {
        "referred_long_bien",
        "assessed",
        "methadone",
        "release_relapse_free_26w",
        "release_methadone_relapse_free_52w",
        "methadone_thai_nguyen_retained_156w",
    } <= set(fit["target"])
    assert (fit["q05"] <= fit["q95"]).all()
    for png in ("pilot_cascade.png", "relapse_curves.png"):
        assert (tmp_path / png).stat().st_size > 10_000


def test_params_posterior_draw_per_replicate():
    """params=posterior: replicate r uses draw r mod n, in every scenario alike."""
    draws = pd.read_csv(config_dir() / "calibration" / "pilot_posterior.csv")
    for r in (0, 1, len(draws) + 1):
        row = draws.iloc[r % len(draws)]
        for sc in ("compulsory", "pilot_diversion"):
            m = DiversionModel(make_config(f"scenario={sc}", "params=posterior", "years=0.1"), r)
            assert m.cfg.params.police.rate_detect == pytest.approx(row["params.police.rate_detect"])
            assert m.cfg.params.relapse.shape_relapse == pytest.approx(row["params.relapse.shape_relapse"])
            assert m.cfg.params.coordination.p_plan_methadone == pytest.approx(
                row["params.coordination.p_plan_methadone"]
            )


def test_posterior_file_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError, match="params.posterior_file"):
        DiversionModel(make_config(f"params.posterior_file={bad}", "years=0.1"), 0)
    with pytest.raises(ConfigError, match="params.posterior_file"):
        DiversionModel(make_config(f"params.posterior_file={tmp_path / 'none.csv'}", "years=0.1"), 0)


def test_pilot_cascade_shares_pool_districts_by_the_pilots_referrals():
    """Shares of the referrals, per district and pooled with the pilot's own referral counts as
    weights (seed 004 Table I: 117 and 87), not the model's; coverage of Long Bien's register."""
    # persons 0-3 in district 0, 4-5 in district 1; 0, 1, 4, 5 referred; 0 and 4 assessed
    ev = pd.DataFrame(
        {
            "person": [0, 1, 4, 5, 0, 4, 4],
            "kind": ["refer", "refer", "refer", "refer", "assess", "assess", "start_methadone"],
        }
    )
    district = np.array([0, 0, 0, 0, 1, 1])
    gone = np.array([False, True, False, False, False, False])
    out = cal.pilot_cascade(
        ev,
        np.zeros(6, np.uint16),
        gone,
        district,
        ["Long Bien", "Nam Tu Liem"],
        [4, 2],
        {"Long Bien": 117, "Nam Tu Liem": 87},
    )
    assert out["referred_long_bien"] == 0.5 and out["referred_nam_tu_liem"] == 1.0
    assert out["assessed_share_long_bien"] == 0.5 and out["assessed_share_nam_tu_liem"] == 0.5
    assert out["assessed"] == pytest.approx(0.5)
    assert out["methadone_long_bien"] == 0.0 and out["methadone_nam_tu_liem"] == 0.5
    assert out["methadone"] == pytest.approx(87 * 0.5 / 204)  # weighted as the pilot referred
    assert out["left"] == pytest.approx(117 * 0.5 / 204)
    unweighted = cal.pilot_cascade(
        ev, np.zeros(6, np.uint16), gone, district, ["Long Bien", "Nam Tu Liem"], [4, 2]
    )
    assert unweighted["methadone"] == pytest.approx(0.25)  # the model's own 2 + 2 referrals
