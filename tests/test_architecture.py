"""The seam (issue 14): import contracts, scenarios discovered from config folders and named by
their files, and the process protocol's assembly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from diversion_sim.config import compose_config, scenario_names
from diversion_sim.params import ConfigError
from diversion_sim.processes import base
from diversion_sim.processes.registry import ASSEMBLY, PROCESSES
from diversion_sim.states import EVENT_NAMES, N_STATES

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- code checks
def _tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT, timeout=600
    )


def test_types_check():
    """mypy (pyproject.toml [tool.mypy]) finds no error in the package: the test extra installs it."""
    r = _tool("mypy")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_code_is_linted_and_formatted():
    """ruff's lint rules (pyproject.toml [tool.ruff]) hold and `ruff format` would change nothing."""
    where = ["src", "tests", "experiments", "benchmarks"]
    lint = _tool("ruff", "check", *where)
    assert lint.returncode == 0, lint.stdout[-4000:]
    fmt = _tool("ruff", "format", "--check", *where)
    assert fmt.returncode == 0, "run `ruff format`: " + fmt.stdout[-2000:]


# ----------------------------------------------------------------------------- imports
def test_import_contracts_hold():
    """pyproject.toml's import-linter contracts: no import cycle among the package's modules
    (type-checking imports aside), nothing imports the CLI, processes never import the model."""
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "3 kept, 0 broken" in r.stdout


def test_no_module_imports_the_cli():
    """Also for modules added later (the contract above lists today's)."""
    import grimp

    graph = grimp.build_graph("diversion_sim", exclude_type_checking_imports=True)
    importers = graph.find_modules_that_directly_import("diversion_sim.cli")
    assert importers == set(), importers


# ----------------------------------------------------------------------------- processes
def test_every_process_declares_what_the_model_assembles():
    names = [p.name for p in PROCESSES]
    assert len(set(names)) == len(names)
    handled = {ev for ev, _ in ASSEMBLY.phases}
    scheduled = {r.event for r in ASSEMBLY.risks if r.event}
    assert scheduled <= handled, "a risk schedules an event nobody handles"
    for p in PROCESSES:  # a process's own event kinds are registered and named
        for ev, code in p.codes.items():
            assert EVENT_NAMES[code] == ev
    # every state on the register can end in death; treatment states have their own ends
    assert ASSEMBLY.at_risk.shape == (len(ASSEMBLY.risks), N_STATES)
    assert ASSEMBLY.at_risk[:, :7].any(axis=0).all()


def test_assembly_rejects_clashes():
    a = base.Process(name="a", doc="", columns={"state": ("i1", 0)})
    with pytest.raises(ValueError, match="already exists"):
        base.assemble([a], core_columns={"state": ("i1", 0)})
    h = base.Handler(1, lambda m, idx: None, 10)
    with pytest.raises(ValueError, match="two handlers"):
        base.assemble(
            [base.Process(name="x", doc="", handlers=(h,)), base.Process(name="y", doc="", handlers=(h,))]
        )
    with pytest.raises(ValueError, match="share a name"):
        base.assemble([base.Process(name="x", doc=""), base.Process(name="x", doc="")])


def test_a_process_section_is_part_of_the_schema():
    """params.use_on_methadone comes from the process's own dataclass: typed and validated."""
    cfg = compose_config(["params.use_on_methadone.rate_use_on_methadone=0.02"])
    assert cfg.params.use_on_methadone.rate_use_on_methadone == 0.02
    with pytest.raises(ConfigError, match="use_on_methadone.rate_use_on_methadone"):
        compose_config(["params.use_on_methadone.rate_use_on_methadone=-1"])
    with pytest.raises(ConfigError, match="not_a_key"):
        compose_config(["params.use_on_methadone.not_a_key=1"])


# ----------------------------------------------------------------------------- scenarios
def _cli(tmp_path, *args):
    flags = [a for i, a in enumerate(args) if a.startswith("--") or (i and args[i - 1] == "--config-dir")]
    rest = [a for a in args if a not in flags]
    cmd = [sys.executable, "-m", "diversion_sim.cli", *flags, f"output.dir={tmp_path / 'out'}", *rest]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=900)


def _user_dir(tmp_path, **files: str) -> Path:
    d = tmp_path / "my_configs" / "scenario"
    d.mkdir(parents=True)
    for name, text in files.items():
        (d / f"{name}.yaml").write_text(text)
    return d.parent


VARIANT = """# @package _global_
defaults:
  - pilot_diversion
  - _self_
scenario:
  description: "Pilot diversion, half of released people linked"
  p_release_linkage: 0.5
"""


def test_scenario_names_are_file_stems():
    for name in scenario_names():
        assert compose_config([f"scenario={name}"]).scenario.name == name
    assert scenario_names()[0] == "compulsory"  # the reference first


def test_a_scenario_name_that_disagrees_with_its_file_is_refused(tmp_path):
    d = _user_dir(tmp_path, renamed="# @package _global_\nscenario:\n  name: pilot_diversion\n")
    with pytest.raises(ConfigError, match="a scenario's name is its file name"):
        compose_config(["scenario=renamed"], config_dirs=[d])
    r = _cli(tmp_path, "--config-dir", str(d), "scenario=renamed", "replicates=1")
    assert r.returncode == 2 and "its file name" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_a_duplicate_scenario_name_is_refused(tmp_path):
    d = _user_dir(tmp_path, compulsory="# @package _global_\nscenario:\n  p_release_linkage: 1.0\n")
    r = _cli(tmp_path, "--config-dir", str(d), "replicates=1")
    assert r.returncode == 2 and "two scenarios are called 'compulsory'" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_dropped_in_scenario_runs_in_the_default_job(tmp_path):
    """One YAML file in a user's config folder: the default sweep finds it, runs it under its
    own file name and summarises it with the packaged scenarios."""
    d = _user_dir(tmp_path, my_variant=VARIANT)
    r = _cli(
        tmp_path,
        "--config-dir",
        str(d),
        "population=pilot_wards",
        "replicates=1",
        "years=0.5",
        "output.report=false",
        "hydra.sweep.dir=" + str(tmp_path / "sweep"),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    runs = pd.read_parquet(tmp_path / "sweep" / "runs.parquet")
    assert set(runs["scenario"]) == set(scenario_names()) | {"my_variant"}
    summary = pd.read_csv(tmp_path / "sweep" / "summary.csv")
    assert "my_variant" in set(summary["scenario"])
    assert "my_variant" in r.stdout


@pytest.mark.slow
def test_a_child_scenario_never_touches_its_parents_runs(tmp_path):
    """``my_variant`` inherits ``pilot_diversion``'s levers, not its name: both run in one sweep
    into their own folders, and the parent's runs are exactly those of a sweep without the
    child."""
    d = _user_dir(tmp_path, my_variant=VARIANT)
    common = ["population=pilot_wards", "replicates=2", "years=0.5", "output.report=false"]
    r = _cli(
        tmp_path,
        "--config-dir",
        str(d),
        "scenario=pilot_diversion,my_variant",
        *common,
        "hydra.sweep.dir=" + str(tmp_path / "both"),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    r = _cli(tmp_path, "scenario=pilot_diversion", *common, "hydra.sweep.dir=" + str(tmp_path / "one"))
    assert r.returncode == 0, r.stderr[-3000:]
    both = pd.read_parquet(tmp_path / "both" / "runs.parquet")
    one = pd.read_parquet(tmp_path / "one" / "runs.parquet")
    assert sorted(both["scenario"].unique()) == ["my_variant", "pilot_diversion"]
    for folder in ("my_variant", "pilot_diversion"):
        assert len(list((tmp_path / "both" / "runs" / f"scenario={folder}").glob("replicate=*"))) == 2
    parent = both[both["scenario"] == "pilot_diversion"].reset_index(drop=True)
    pd.testing.assert_frame_equal(parent, one.reset_index(drop=True))
    child = both[both["scenario"] == "my_variant"].set_index(["replicate", "metric"])["value"]
    par = parent.set_index(["replicate", "metric"])["value"]
    assert not np.allclose(child.to_numpy(), par.to_numpy(), equal_nan=True)  # its own lever
