"""Outputs that prove themselves (issue 25): a resumed, killed or tampered sweep never publishes
numbers that are not its own. Each test names the defect of the issue it closes (numbered as
there); each failed on the code before the manifest, the job records and the table checks."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from diversion_sim.config import compose_config
from diversion_sim.params import ConfigError

SMALL = ["population=pilot_wards", "years=0.2", "burn_in_years=1", "hydra/launcher=basic"]
TWO = ["scenario=compulsory,pilot_diversion", "replicates=2"]


def cli(tmp_path: Path, root: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "diversion_sim.cli", f"output.dir={tmp_path / 'out'}", *SMALL, *args]
    cmd.append(f"hydra.sweep.dir={root}")
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=900)


def tool(module: str, *args: str) -> subprocess.CompletedProcess:
    code = (
        f"from diversion_sim.{module} import {'summary_main' if module == 'cli' else 'main'} as m; "
        f"m({list(args)!r})"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)


def report(folder: Path) -> subprocess.CompletedProcess:
    return tool("report", str(folder))


def summary(folder: Path, *flags: str) -> subprocess.CompletedProcess:
    return tool("cli", str(folder), *flags)


def one_paragraph(r: subprocess.CompletedProcess) -> bool:
    err = "\n".join(line for line in r.stderr.splitlines() if not line.startswith("["))
    return "Traceback" not in r.stderr and err.strip().count("\n") == 0


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished two-scenario sweep with its report, and one with another seed."""
    tmp = tmp_path_factory.mktemp("proof")
    root, other = tmp / "sweep", tmp / "other"
    r = cli(tmp, root, *TWO)
    assert r.returncode == 0, r.stderr[-3000:]
    r = cli(tmp, other, *TWO, "seed=99", "output.report=false")
    assert r.returncode == 0, r.stderr[-3000:]
    return tmp, root, other


def copy(root: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(root, dst)
    return dst


def hashes(root: Path) -> dict[str, set[str]]:
    runs = pd.read_parquet(root / "runs.parquet")
    out: dict[str, set[str]] = {}
    for sc, reps in runs.groupby("scenario")["replicate"].unique().items():
        for r in reps:
            meta = json.loads(
                (root / "runs" / f"scenario={sc}" / f"replicate={r:04d}" / "meta.json").read_text()
            )
            out.setdefault(sc, set()).add(meta["config_hash"])
    return out


# 1 ------------------------------------------------------------------- resume mixes configurations
@pytest.mark.slow
def test_a_resume_with_a_changed_lever_summarises_only_its_own_runs(finished, tmp_path):
    _, root, _ = finished
    dst = copy(root, tmp_path)
    r = cli(tmp_path, dst, *TWO[:1], "replicates=1", "scenario.p_release_linkage=0.9", "output.resume=true")
    assert r.returncode == 0, r.stderr[-3000:]
    runs = pd.read_parquet(dst / "runs.parquet")
    assert runs.groupby("scenario")["replicate"].nunique().to_dict() == {
        "compulsory": 1,
        "pilot_diversion": 1,
    }
    assert all(len(h) == 1 for h in hashes(dst).values())  # one configuration per scenario
    manifest = json.loads((dst / "manifest.json").read_text())
    assert sorted(manifest["left_out"]) == [
        "runs/scenario=compulsory/replicate=0001",
        "runs/scenario=pilot_diversion/replicate=0001",
    ]


@pytest.mark.slow
def test_a_resume_of_one_scenario_never_pairs_it_with_the_others_old_runs(finished, tmp_path):
    _, root, _ = finished
    dst = copy(root, tmp_path)
    r = cli(
        tmp_path,
        dst,
        "scenario=compulsory",
        "replicates=2",
        "params.police.rate_detect=0.3",
        "output.resume=true",
        "output.report=false",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    runs = pd.read_parquet(dst / "runs.parquet")
    assert set(runs["scenario"]) == {"compulsory"}
    assert "pilot_diversion" not in [line.strip() for line in r.stdout.splitlines()]  # no block of its own
    assert "not in this sweep's plan and were left out" in r.stdout + r.stderr


@pytest.mark.slow
def test_a_plan_whose_jobs_did_not_start_is_not_summarised(finished, tmp_path):
    """A resume killed after writing its plan but before a job started: that job's runs are of the
    earlier command, and the summary says so instead of passing them off as the new plan's."""
    _, root, _ = finished
    dst = copy(root, tmp_path)
    plan = json.loads((dst / "sweep.json").read_text())
    plan["generation"] = "0" * 32  # what a new command writes first
    (dst / "sweep.json").write_text(json.dumps(plan))
    r = summary(dst)
    assert r.returncode != 0 and "has not started since this sweep's plan" in r.stderr, r.stderr
    assert one_paragraph(r), r.stderr


# 2 ------------------------------------------------------------------- stale summary published
def test_an_interrupted_summary_leaves_tables_no_report_accepts(finished, tmp_path, monkeypatch):
    from diversion_sim import report, sweep
    from diversion_sim.errors import SweepError

    _, root, _ = finished
    dst = copy(root, tmp_path)
    plan = json.loads((dst / "sweep.json").read_text())

    def killed(df, path):
        raise KeyboardInterrupt  # stands for SIGKILL between runs.parquet and summary.csv

    monkeypatch.setattr(sweep, "_atomic_csv", killed)
    with pytest.raises(KeyboardInterrupt):
        sweep.aggregate(dst, plan)
    assert not (dst / "manifest.json").exists()
    with pytest.raises(SweepError, match="manifest.json is missing"):
        report.write_report(dst)


# 3 ------------------------------------------------------------------- the report trusts any summary
@pytest.mark.slow
@pytest.mark.parametrize("how", ["other seed", "edited mean"])
def test_the_report_refuses_a_summary_that_is_not_its_sweeps(finished, tmp_path, how):
    _, root, other = finished
    dst = copy(root, tmp_path)
    if how == "other seed":
        shutil.copy(other / "summary.csv", dst / "summary.csv")
    else:
        s = pd.read_csv(dst / "summary.csv")
        s.loc[s["metric"] == "cum_admissions", "mean"] = 999
        s.to_csv(dst / "summary.csv", index=False)
    r = report(dst)
    assert r.returncode != 0 and "summary.csv is not the file the summary wrote" in r.stderr, r.stderr
    assert one_paragraph(r), r.stderr


def test_the_report_recomputes_the_summary_from_the_runs(finished, tmp_path):
    """Even with a manifest that vouches for it, a summary.csv whose numbers are not the runs' is refused."""
    from diversion_sim import manifest, report
    from diversion_sim.errors import SweepError

    _, root, _ = finished
    dst = copy(root, tmp_path)
    s = pd.read_csv(dst / "summary.csv")
    s.loc[s["metric"] == "cum_admissions", "mean"] = 999
    s.to_csv(dst / "summary.csv", index=False)
    m = json.loads((dst / "manifest.json").read_text())
    m["files"]["summary.csv"]["sha256"] = manifest.sha256_file(dst / "summary.csv")
    (dst / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(SweepError, match="cum_admissions mean is 999"):
        report.write_report(dst)


def test_tables_copied_with_their_manifest_from_another_sweep_are_refused(finished, tmp_path):
    from diversion_sim import report
    from diversion_sim.errors import SweepError

    _, root, other = finished
    dst = copy(root, tmp_path)
    from diversion_sim.manifest import MANIFEST, SWEEP_FILES

    for name in (*SWEEP_FILES, MANIFEST):
        if (other / name).is_file():
            shutil.copy(other / name, dst / name)
    with pytest.raises(SweepError, match="holds another configuration"):
        report.write_report(dst)


# 4 ------------------------------------------------------------------- run tables vs their folder
def _fake_digest(folder: Path) -> None:
    """Make meta.json vouch for a replaced table (so the table's own checks are what refuse it)."""
    from diversion_sim.manifest import table_digests

    meta = json.loads((folder / "meta.json").read_text())
    meta["tables_sha256"] = table_digests(folder, meta["tables"])
    (folder / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("vouched", [False, True])
def test_a_table_copied_from_another_replicate_is_refused(finished, tmp_path, vouched):
    from diversion_sim import sweep
    from diversion_sim.errors import SweepError

    _, root, _ = finished
    dst = copy(root, tmp_path)
    runs = dst / "runs" / "scenario=compulsory"
    shutil.copy(runs / "replicate=0000" / "metrics.parquet", runs / "replicate=0001" / "metrics.parquet")
    if vouched:
        _fake_digest(runs / "replicate=0001")
    plan = json.loads((dst / "sweep.json").read_text())
    needle = "column 'replicate' holds 0" if vouched else "is not the table this run wrote"
    with pytest.raises(SweepError, match=needle):
        sweep.aggregate(dst, plan)


@pytest.mark.parametrize(
    "damage, needle",
    [
        (lambda d: d.assign(stray=1), "unexpected columns"),
        (lambda d: d.assign(value=d["value"].where(d["metric"] != "cum_admissions", -5.0)), "outside"),
        (lambda d: d.assign(value=d["value"].where(d["metric"] != "deaths", float("inf"))), "not a finite"),
    ],
)
def test_a_bad_run_table_never_overwrites_a_good_summary(finished, tmp_path, damage, needle):
    from diversion_sim import sweep
    from diversion_sim.errors import SweepError

    _, root, _ = finished
    dst = copy(root, tmp_path)
    folder = dst / "runs" / "scenario=compulsory" / "replicate=0001"
    damage(pd.read_parquet(folder / "metrics.parquet")).to_parquet(folder / "metrics.parquet", index=False)
    _fake_digest(folder)
    before = (dst / "summary.csv").read_bytes()
    plan = json.loads((dst / "sweep.json").read_text())
    with pytest.raises(SweepError, match=needle):
        sweep.aggregate(dst, plan)
    assert (dst / "summary.csv").read_bytes() == before
    assert not (dst / "manifest.json").exists()  # and the old summary is no longer vouched for


# 5 ------------------------------------------------------------------- the report shows the values used
@pytest.mark.slow
def test_the_report_shows_the_values_the_runs_used(tmp_path):
    root = tmp_path / "s"
    r = cli(
        tmp_path,
        root,
        "scenario=compulsory,pilot_diversion",
        "replicates=1",
        "params.police.rate_retest=0.5",
        "params.costs.rate_discount=0.03,0.08",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    pages = sorted((root / "report").glob("variant=*/report.html"))
    assert len(pages) == 2
    for page in pages:
        text = page.read_text()
        rate = "8%" if "0.08" in page.parent.name else "3%"
        assert f"discounted at {rate} a year" in text, page
        assert "<th>police.rate_retest</th><td>0.5</td>" in text
        assert "To reproduce:" in text and "params.costs.rate_discount=0.03,0.08" in text


@pytest.mark.slow
def test_a_sweep_over_a_lever_with_integer_values_is_reported(tmp_path):
    root = tmp_path / "s"
    r = cli(
        tmp_path,
        root,
        "scenario=compulsory,release_linkage",
        "replicates=1",
        "scenario.p_release_linkage=1,0.5",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(list((root / "report").glob("variant=*/report.html"))) == 2


# 6 ------------------------------------------------------------------- scenario files set only scenario.*
def _user_scenario(tmp_path: Path, name: str, text: str) -> Path:
    d = tmp_path / "mine"
    (d / "scenario").mkdir(parents=True, exist_ok=True)
    (d / "scenario" / f"{name}.yaml").write_text(text)
    return d


def test_a_scenario_file_that_sets_model_parameters_is_refused(tmp_path):
    d = _user_scenario(
        tmp_path,
        "sneaky",
        "# @package _global_\nscenario:\n  description: x\nparams:\n  police:\n    rate_detect: 0.5\n",
    )
    with pytest.raises(ConfigError, match="sets 'params', which is not allowed.*burn-in"):
        compose_config(["scenario=compulsory"], config_dirs=[d])


@pytest.mark.parametrize(
    "files, needle",
    [
        ({"loop": "defaults:\n  - loop\n  - _self_\nscenario:\n  description: x\n"}, "inherits itself"),
        (
            {
                "a": "defaults:\n  - b\n  - _self_\nscenario:\n  description: a\n",
                "b": "defaults:\n  - a\n  - _self_\nscenario:\n  description: b\n",
            },
            "inherits itself",
        ),
        ({"broken": "scenario: [unclosed\n"}, "broken.yaml cannot be read (line"),
    ],
)
def test_bad_scenario_files_get_one_paragraph_before_anything_runs(tmp_path, files, needle):
    for name, text in files.items():
        d = _user_scenario(tmp_path, name, "# @package _global_\n" + text)
    r = subprocess.run(
        [sys.executable, "-m", "diversion_sim.cli", "--config-dir", str(d), "scenario=compulsory"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert r.returncode == 2 and needle in r.stderr, r.stderr[-2000:]
    assert one_paragraph(r) and "RecursionError" not in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / "outputs").exists()


# 11 (files) ---------------------------------------------------------- no leftovers on a full disk
def test_a_full_disk_during_the_summary_leaves_no_temporary_file(finished, tmp_path, monkeypatch):
    from diversion_sim import sweep
    from diversion_sim.errors import SweepError

    _, root, _ = finished
    dst = copy(root, tmp_path)
    plan = json.loads((dst / "sweep.json").read_text())

    def full(self, path, *a, **k):
        Path(path).write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    with pytest.raises(SweepError, match=r"cannot write .*summary.csv \(No space left on device\)"):
        sweep.aggregate(dst, plan)
    assert not list(dst.glob(".*tmp*")) and not (dst / "manifest.json").exists()


# provenance ----------------------------------------------------------------------------------
def test_every_run_and_the_manifest_say_which_code_made_them(finished):
    import diversion_sim as ds
    from diversion_sim.provenance import git_state

    _, root, _ = finished
    meta = json.loads(next(root.glob("runs/*/*/meta.json")).read_text())
    manifest = json.loads((root / "manifest.json").read_text())
    for prov in (meta["provenance"], manifest["provenance"]):
        assert prov["version"] == ds.__version__
        assert prov["python"].count(".") == 2 and "numpy" in prov["packages"]
        assert prov["command"].startswith("diversion-sim ") and "replicates=2" in prov["command"]
    g = git_state()
    if g["commit"]:  # a checkout: the version names the commit
        assert (
            meta["provenance"]["git_commit"] == g["commit"] and f"+g{g['code_commit'][:7]}" in ds.__version__
        )
    assert meta["config"]["scenario"]["name"] == meta["scenario"]


def test_a_negative_net_benefit_or_growth_passes_the_domain_check(tmp_path):
    from diversion_sim.manifest import check_table

    meta = {"scenario": "compulsory", "replicate": 0, "variant": {}}
    df = pd.DataFrame(
        {
            "metric": ["net_benefit_low_vnd", "register_growth_per_year", "cum_admissions"],
            "value": [-4.4e7, -0.01, 3.0],
            "scenario": "compulsory",
            "replicate": 0,
        }
    )
    assert check_table(df, "metrics", tmp_path, meta, []) is None
    bad = df.assign(value=[-4.4e7, -0.01, -3.0])
    assert "cum_admissions = -3.0 is outside" in str(check_table(bad, "metrics", tmp_path, meta, []))
