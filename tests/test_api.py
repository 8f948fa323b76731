"""The Python route and Mesa interop (issue 15, first part): keyword constructor, datacollector,
mesa.batch_run and SolaraViz, the in-memory API with the command's seeds, validation of a
configuration changed by hand."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import diversion_sim as ds
from diversion_sim import ConfigError


def test_keyword_constructor_and_mesa_counters():
    m = ds.DiversionModel(scenario="pilot_diversion", years=1, seed=1)
    assert m.cfg.scenario.name == "pilot_diversion" and m.cfg.seed == 1 and m.steps == 0
    m.step()
    assert m.steps == 1 and m.week == 1  # the burn-in is not counted as Mesa steps
    df = m.datacollector.get_model_vars_dataframe()
    assert len(df) == 2 and df["n_using"].iloc[-1] == int(np.sum(m.pop.state == ds.State.USING))
    d = ds.DiversionModel(population="pilot_wards", years=0.5)  # the status quo by default
    assert d.cfg.scenario.name == "compulsory"
    with pytest.raises(ConfigError, match="either a Config or keyword"):
        ds.DiversionModel(d.cfg, scenario="pilot_diversion")


def test_mesa_batch_run_works_out_of_the_box():
    import mesa

    out = pd.DataFrame(
        mesa.batch_run(
            ds.DiversionModel,
            parameters={
                "scenario": ["compulsory", "pilot_diversion"],
                "population": "pilot_wards",
                "years": 1,
                "replicate": [0, 1],
            },
            iterations=1,
            max_steps=52,
            display_progress=False,
        )
    )
    assert len(out) == 4 and (out["Step"] == out["week"]).all() and (out["week"] >= 51).all()
    det = out.groupby("scenario")["n_detained"].mean()
    assert det["pilot_diversion"] < det["compulsory"]


def test_solara_viz_builds_a_page_from_the_datacollector():
    pytest.importorskip("solara")
    import solara
    from mesa.visualization import SolaraViz, make_plot_component

    m = ds.DiversionModel(population="pilot_wards", years=0.5)
    page = SolaraViz(m, components=[make_plot_component("n_detained")], name="diversion_sim")
    solara.render(page, handle_error=False)


def test_a_configuration_changed_by_hand_is_checked():
    from diversion_sim.config import compose_config  # the internal, mutable route

    cfg = compose_config(["scenario=pilot_diversion", "years=1"])
    cfg.params.police.rate_detect = -1
    with pytest.raises(ConfigError, match="params.police.rate_detect"):
        ds.DiversionModel(cfg)
    with pytest.raises(ConfigError, match="there is no scenario called"):
        ds.compose("nonsense")


@pytest.mark.slow
def test_in_memory_scenarios_equal_the_command_and_a_sweep_loads(tmp_path):
    common = {"population": "pilot_wards", "years": 0.5}
    sw = ds.run_scenarios(["compulsory", "pilot_diversion"], replicates=2, **common)
    root = tmp_path / "sweep"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "diversion_sim.cli",
            f"output.dir={tmp_path}",
            f"hydra.sweep.dir={root}",
            "scenario=compulsory,pilot_diversion",
            "replicates=2",
            "population=pilot_wards",
            "years=0.5",
            "output.report=false",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    loaded = ds.load_sweep(root)
    key = ["scenario", "replicate", "metric"]
    a = sw.runs.sort_values(key).reset_index(drop=True)
    b = loaded.runs.sort_values(key).reset_index(drop=True)[a.columns]
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert set(sw.summary.columns) == set(loaded.summary.columns)
    assert sw.metric("cum_admissions").shape == (2, 2)


def test_version_and_packaging_files():
    from pathlib import Path

    r = subprocess.run(
        [sys.executable, "-m", "diversion_sim.cli", "--version"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0 and f"diversion-sim {ds.__version__}" in r.stdout
    root = Path(__file__).resolve().parents[1]
    for name in ("LICENSE", "CITATION.cff", "CHANGELOG.md", "src/diversion_sim/py.typed"):
        assert (root / name).is_file(), name


def test_console_summary_is_for_a_reader():
    from diversion_sim.sweep import format_summary, summarise

    rows = []
    for sc, adm, share in (("compulsory", 100.0, 0.20), ("pilot_diversion", 60.0, 0.45)):
        for r in range(3):
            rows += [
                {"scenario": sc, "replicate": r, "metric": "cum_admissions", "value": adm + r},
                {"scenario": sc, "replicate": r, "metric": "share_methadone", "value": share},
                {"scenario": sc, "replicate": r, "metric": "cost_total_vnd", "value": 1.5e9 * (1 + r)},
            ]
    out = format_summary(summarise(pd.DataFrame(rows)))
    assert "Compulsory admissions" in out and "Ever on methadone" in out  # labels, not code names
    assert "45.0%" in out and "+25.0 pp" in out  # shares in %, differences in points
    assert "bn" in out and "e+" not in out
    assert "vs compulsory -40" in out
    assert max(len(line) for line in out.splitlines()) <= 130  # was 170 columns of snake_case


def test_help_describes_every_choice_and_completion_works():
    from diversion_sim.config import options, scenario_names

    r = subprocess.run(
        [sys.executable, "-m", "diversion_sim.cli", "--help"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0
    for name in scenario_names() + options("population"):  # a new scenario must be described here
        assert name in r.stdout, f"--help does not mention {name}"
    assert "calibration=" not in r.stdout and "sensitivity=" not in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "diversion_sim.cli", "-sc", "install=bash"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "complete" in r.stdout


def test_plots_are_returned_as_figures_without_switching_the_backend():
    import matplotlib
    from matplotlib.figure import Figure

    backend = matplotlib.get_backend()
    sw = ds.run_scenarios(
        ["compulsory", "pilot_diversion"], replicates=2, population="pilot_wards", years=0.5
    )
    for kind in ("relapse", "occupancy", "costs"):
        fig = sw.plot(kind)
        assert isinstance(fig, Figure) and fig.axes and fig.axes[0].has_data()
    assert matplotlib.get_backend() == backend
    with pytest.raises(ConfigError, match="plot kind"):
        sw.plot("pie")


def test_composed_configuration_is_immutable():
    """ds.compose and a model's cfg refuse changes by hand with the key in the message; a changed
    copy comes from with_values (validated, frozen like its source) or from composing again."""
    from diversion_sim.config import with_values

    cfg = ds.compose("pilot_diversion", years=1)
    with pytest.raises(ds.ConfigError, match=r"params\.police\.rate_detect.*frozen"):
        cfg.params.police.rate_detect = -1
    with pytest.raises(AttributeError, match=r"scenario\.n_coordinators_per_ward"):
        cfg.scenario.n_coordinators_per_ward = 3
    copy_ = with_values(cfg, {"params.police.rate_detect": 0.2})
    assert copy_.params.police.rate_detect == 0.2 and cfg.params.police.rate_detect != 0.2
    with pytest.raises(ds.ConfigError):
        copy_.years = 3
    with pytest.raises(ds.ConfigError, match="rate_detect"):
        with_values(cfg, {"params.police.rate_detect": -1.0})
    m = ds.DiversionModel(scenario="compulsory", population="pilot_wards", years=0.1)
    with pytest.raises(ds.ConfigError, match=r"params\.family\.strain_insist_mean"):
        m.cfg.params.family.strain_insist_mean = 1.0  # a process's own section too
