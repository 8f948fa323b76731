"""Sweeps: identical tables whatever the launcher, resumable, refusing damaged folders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest

from diversion_sim.sweep import SweepError, aggregate

SMALL = ["replicates=2", "years=1", "scenario=compulsory,pilot_diversion", "population=pilot_wards"]
KEY = ["scenario", "replicate", "week"]


def sweep(tmp_path, name, *args, env=None, code=0):
    root = tmp_path / name
    cmd = [
        sys.executable,
        "-m",
        "diversion_sim.cli",
        f"output.dir={tmp_path}",
        f"hydra.sweep.dir={root}",
        *SMALL,
        *args,
    ]
    r = subprocess.run(
        cmd, capture_output=True, text=True, cwd=tmp_path, timeout=900, env={**os.environ, **(env or {})}
    )
    assert r.returncode == code, r.stderr[-3000:]
    if code:
        return r
    return root


def weekly(root):
    return pd.read_parquet(root / "weekly.parquet").sort_values(KEY).reset_index(drop=True)


@pytest.fixture(scope="module")
def joblib_sweep(tmp_path_factory):
    return sweep(tmp_path_factory.mktemp("joblib"), "s")


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "submitit_local"])
def test_launchers_give_identical_tables(tmp_path, joblib_sweep, launcher):
    other = sweep(tmp_path, launcher, f"hydra/launcher={launcher}")
    pd.testing.assert_frame_equal(weekly(joblib_sweep), weekly(other))
    pd.testing.assert_frame_equal(
        pd.read_csv(joblib_sweep / "summary.csv"), pd.read_csv(other / "summary.csv")
    )


@pytest.mark.slow
@pytest.mark.ray
def test_ray_local_cluster_identical(tmp_path, joblib_sweep):
    """Start a local Ray head as a user would, connect with hydra/launcher=ray_cluster."""
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    ray = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    env = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    start = [
        ray,
        "start",
        "--head",
        "--num-cpus=2",
        "--include-dashboard=false",
        "--disable-usage-stats",
        "--port=6391",
    ]
    subprocess.run(start, check=True, capture_output=True, env={**os.environ, **env}, timeout=120)
    try:
        root = sweep(
            tmp_path,
            "ray",
            "hydra/launcher=ray_cluster",
            "hydra.launcher.ray.init.address=127.0.0.1:6391",
            env=env,
        )
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120)
    pd.testing.assert_frame_equal(weekly(joblib_sweep), weekly(root))


@pytest.mark.slow
def test_resume_redoes_only_missing_runs(tmp_path, joblib_sweep):
    root = tmp_path / "s"
    shutil.copytree(joblib_sweep, root)
    runs = root / "runs"
    kept = runs / "scenario=compulsory" / "replicate=0000"
    stamp = (kept / "meta.json").stat().st_mtime
    shutil.rmtree(runs / "scenario=pilot_diversion" / "replicate=0001")  # lost
    (runs / "scenario=compulsory" / "replicate=0001" / "meta.json").unlink()  # interrupted
    with pytest.raises(SweepError, match="replicate=0001"):
        aggregate(root, json.loads((root / "sweep.json").read_text())["expected"])
    time.sleep(0.01)
    before = {f: f.stat().st_mtime_ns for f in root.rglob("*")}
    r = sweep(tmp_path, "s", code=1)  # the same folder again: refused unless asked to resume
    assert "output.resume=true" in r.stderr and "Traceback" not in r.stderr
    assert {f: f.stat().st_mtime_ns for f in root.rglob("*")} == before, "refused, yet wrote"
    sweep(tmp_path, "s", "output.resume=true")  # finish it
    assert (kept / "meta.json").stat().st_mtime == stamp, "a complete run was redone"
    pd.testing.assert_frame_equal(weekly(joblib_sweep), weekly(root))
    pd.testing.assert_frame_equal(
        pd.read_csv(joblib_sweep / "summary.csv"), pd.read_csv(root / "summary.csv")
    )


def test_aggregate_refuses_damaged_then_allows(tmp_path, joblib_sweep):
    root = tmp_path / "s"
    shutil.copytree(joblib_sweep, root)
    bad = root / "runs" / "scenario=pilot_diversion" / "replicate=0000" / "metrics.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(SweepError, match="metrics.parquet"):
        aggregate(root)
    shutil.rmtree(bad.parent)
    expected = {"compulsory": 2, "pilot_diversion": 2}
    with pytest.raises(SweepError, match="missing"):
        aggregate(root, expected)
    summary = aggregate(root, expected, allow_incomplete=True)
    n = summary.set_index(["scenario", "metric"])["n"]
    assert n.loc[("pilot_diversion", "deaths")] == 1 and n.loc[("compulsory", "deaths")] == 2


def test_summary_paired_difference(joblib_sweep):
    s = pd.read_csv(joblib_sweep / "summary.csv").set_index(["scenario", "metric"])
    assert s.loc[("compulsory", "cum_admissions"), "diff_mean"] == 0
    runs = pd.read_parquet(joblib_sweep / "runs.parquet")
    w = runs[runs.metric == "cum_admissions"].pivot(index="replicate", columns="scenario", values="value")
    diff = (w["pilot_diversion"] - w["compulsory"]).mean()
    assert s.loc[("pilot_diversion", "cum_admissions"), "diff_mean"] == pytest.approx(diff)
