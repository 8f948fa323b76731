"""The benchmark script runs and prints every row (figures are never asserted: no timed tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_config

from diversion_sim.agents import Family, Person
from diversion_sim.model import DiversionModel

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.benchmark
@pytest.mark.slow
def test_benchmark_script_quick_mode_prints_the_table():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick", "--no-sweep"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for needle in (
        "national 1 y, compulsory",
        "bare numpy",
        "per-agent Mesa",
        "memory per person",
        "pilot districts 5 y",
        "start-up",
        "burn-in",
        "dashboard: a moved control",
    ):
        assert needle in out.stdout, f"row {needle!r} missing from\n{out.stdout}"


@pytest.mark.parametrize(
    "mode, persons, families", [("eager", True, True), ("persons", True, False), ("lazy", False, False)]
)
def test_agent_modes_make_agents_when_asked(mode, persons, families):
    m = DiversionModel(make_config("population=pilot_wards", "years=1", f"population.agents={mode}"))
    n_fam = int(m.pop.has_family.sum())
    assert len(m.agents_by_type.get(Person, [])) == (m.pop.n if persons else 0)
    assert len(m.agents_by_type.get(Family, [])) == (n_fam if families else 0)
    row = int(m.pop.has_family.nonzero()[0][0])
    assert m.family(row) is m.family(row) and m.person(row) is m.person(row)  # made once, then kept
    assert m.person(row).row == row and m.family(row).row == row


@pytest.mark.benchmark
def test_crn_benchmark_prints_paired_and_unpaired_variances():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "crn.py"), "--replicates", "4", "--years", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for needle in (
        "variance_ratio",
        "relapse_52w_release",
        "person_years_detained",
        "deaths",
        "release_linkage",
        "pilot_diversion",
        "shared (same person, same week)",
    ):
        assert needle in out.stdout, f"{needle!r} missing from\n{out.stdout}"
