"""Morris screening runs end to end and tells an inert parameter from an active one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytest.importorskip("SALib")
ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path, *args):
    cmd = [
        sys.executable,
        str(ROOT / "experiments" / "sensitivity.py"),
        f"hydra.run.dir={tmp_path}",
        "years=1",
        "trajectories=2",
        "n_jobs=2",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)


@pytest.mark.slow
def test_morris_command(tmp_path):
    r = _run(tmp_path, "outputs=[cum_admissions,share_methadone]")
    assert r.returncode == 0, r.stderr[-3000:]
    t = pd.read_csv(tmp_path / "morris.csv").set_index(["output", "parameter"])
    k = len(yaml.safe_load((ROOT / "configs" / "sensitivity" / "morris.yaml").read_text())["bounds"])
    assert len(t) == 2 * k
    # the control cannot act on these outputs: exactly zero on common random numbers
    assert (t.xs("params.costs.vnd_per_usd", level="parameter")["mu_star"] == 0).all()
    assert t.loc[("share_methadone", "params.coordination.p_plan_methadone"), "mu_star"] > 0.01
    assert len(pd.read_csv(tmp_path / "morris_samples.csv")) == 2 * (k + 1)
    assert (tmp_path / "morris.png").stat().st_size > 10_000


def test_morris_bad_output_name(tmp_path):
    r = _run(tmp_path, "outputs=[admissions]")
    assert r.returncode == 2 and "cum_admissions" in r.stderr and "Traceback" not in r.stderr
