"""Outputs that prove themselves (issue 25): an honest folder lock (7), cost domains and the
reading of "dominant" (9), and one paragraph, never a traceback, for bad YAML, damaged caches,
bad posterior files, a read-only sweep, a missing Ray cluster and oversized text (11)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from diversion_sim.config import compose_config
from diversion_sim.economics import classify, icer_table
from diversion_sim.params import ConfigError

TINY = ["population=pilot_wards", "years=0.1", "replicates=1", "burn_in_years=0.2", "output.report=false"]


def cli(
    tmp_path: Path, *args: str, env: dict | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "diversion_sim.cli", f"output.dir={tmp_path / 'out'}", *args]
    return subprocess.run(
        cmd, capture_output=True, text=True, cwd=tmp_path, timeout=timeout, env={**os.environ, **(env or {})}
    )


def one_paragraph(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.startswith("diversion-sim: ")]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


# 9 ------------------------------------------------------------------- cost domains
@pytest.mark.parametrize(
    "override, key",
    [
        ("params.costs.detention.value=-1", "params.costs.detention.value"),
        ("params.costs.vnd_per_usd=0", "params.costs.vnd_per_usd"),
        ("params.costs.vnd_per_usd=-24426", "params.costs.vnd_per_usd"),
        ("params.costs.vnd_per_usd_history=[0]", "params.costs.vnd_per_usd_history[0]"),
        (
            "params.costs.cpi_growth=[0.066,0.04,0.006,0.026,0.035,0.035,0.028,-1,0.018,0.031,0.032]",
            "params.costs.cpi_growth[7]",
        ),
        (
            "params.costs.cpi_growth=[0.066,0.04,0.006,0.026,0.035,0.035,0.028,-1.5,0.018,0.031,0.032]",
            "params.costs.cpi_growth[7]",
        ),
    ],
)
def test_costs_that_cannot_be_real_are_refused(override, key):
    with pytest.raises(ConfigError) as info:
        compose_config([override])
    msg = str(info.value)
    assert f"config key '{key}'" in msg and "is not allowed" in msg and "\n" not in msg, msg


def test_costs_at_the_edge_of_their_domain_are_accepted():
    cfg = compose_config(["params.costs.detention.value=0", "params.costs.vnd_per_usd=1"])
    assert cfg.params.costs.detention.value == 0


def test_a_zero_cost_difference_is_not_dominant():
    assert classify(0.0, 2.0, 1.0, 3.0) == "same cost, gains effect"
    assert classify(0.0, -2.0, -3.0, -1.0) == "same cost, loses effect"
    assert classify(-1.0, 2.0, 1.0, 3.0).startswith("dominant")
    assert classify(1.0, -2.0, -3.0, -1.0).startswith("dominated")
    # every unit cost 0: both scenarios cost 0, the effect differs
    rows = [
        {"scenario": sc, "replicate": r, "metric": m, "value": v}
        for r in range(4)
        for sc, gain in (("compulsory", 0.0), ("pilot_diversion", 5.0 + r))
        for m, v in (("cost_total_vnd", 0.0), ("drug_free_person_years_disc", 10.0 + gain), ("deaths", 1.0))
    ]
    table = icer_table(pd.DataFrame(rows), "compulsory", n_boot=50)
    dfpy = table[table["effect"] == "drug-free person-year"].iloc[0]
    assert dfpy["reading"] == "same cost, gains effect"
    assert not table["reading"].str.startswith("dominant").any()
