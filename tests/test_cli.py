"""End to end: run the `diversion-sim` command as a user would."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from diversion_sim.config import scenario_names


def _run(tmp_path, *args):
    cmd = [sys.executable, "-m", "diversion_sim.cli", f"output.dir={tmp_path}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600)


@pytest.mark.slow
def test_default_sweep_small(tmp_path):
    """The default multirun (every scenario), shrunk to 2 replicates x 1 year."""
    r = _run(tmp_path, "replicates=2", "years=1")
    assert r.returncode == 0, r.stderr[-3000:]
    sweeps = list((tmp_path / "sweeps").iterdir())
    assert len(sweeps) == 1
    root = sweeps[0]
    for name in ("runs.parquet", "weekly.parquet", "events.parquet", "summary.csv"):
        assert (root / name).is_file(), name
    runs = pd.read_parquet(root / "runs.parquet")
    assert runs.groupby("scenario")["replicate"].nunique().eq(2).all()
    assert set(runs["scenario"]) == set(scenario_names())  # every scenario found in configs/
    summary = pd.read_csv(root / "summary.csv")
    assert {"mean", "q05", "q95", "diff_mean"} <= set(summary.columns)
    assert "compulsory" in r.stdout and "pilot_diversion" in r.stdout
    html = (root / "report" / "report.html").read_text()  # the planners' report
    for png in (
        "headline.png",
        "differences.png",
        "relapse.png",
        "cascade.png",
        "occupancy.png",
        "ce_plane.png",
        "ceac.png",
        "fit.png",
    ):
        assert (root / "report" / png).stat().st_size > 10_000, png
    assert html.count("src='data:image/png;base64,") >= 9  # self-contained: every figure embedded
    assert "Costs and cost-effectiveness" in html and "Clients and families" in html
    econ = pd.read_csv(root / "economics.csv")  # one row per scenario and effect
    assert set(econ["scenario"]) == set(scenario_names()) - {"compulsory"}
    assert {"drug-free person-year", "QALY", "death averted", "net monetary benefit"} == set(econ["effect"])
    assert {"cost_total_vnd", "cost_client_vnd", "drug_free_person_years"} <= set(runs["metric"])
    assert "law_2026" in html and "Compulsory admissions" in html


def test_single_run(tmp_path):
    r = _run(
        tmp_path,
        "hydra.mode=RUN",
        "scenario=pilot_diversion",
        "replicates=1",
        "years=1",
        "population=pilot_wards",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1
    m = pd.read_parquet(runs[0] / "runs.parquet")
    assert set(m["scenario"]) == {"pilot_diversion"}
    folder = runs[0] / "runs" / "scenario=pilot_diversion" / "replicate=0000"
    assert (folder / "meta.json").is_file()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["scenario=nonsense"], "valid scenario names"),
        (["params.police.rate_detect=-1"], "params.police.rate_detect"),
        (["params.coordination.p_refer_hiv=62"], "percentage"),
        (["scenario.dur_stay_first=[104,52]"], "min <= max"),
    ],
)
def test_bad_input_clear_message(tmp_path, args, needle):
    r = _run(tmp_path, "hydra.mode=RUN", *args)
    assert r.returncode == 2
    assert needle in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
