"""Reliability, second pass (issue 17): every swept run kept, concurrent and damaged sweeps
refused, runs that belong together, no silent wrong numbers, one rule for bounds and for names."""

from __future__ import annotations

import errno
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from diversion_sim.config import compose_config, config_dir, safe_name
from diversion_sim.params import ConfigError

SMALL = ["population=pilot_wards", "years=0.2", "burn_in_years=1", "output.report=false"]


def cli(tmp_path, *args, root=None, wait=True):
    cmd = [sys.executable, "-m", "diversion_sim.cli", f"output.dir={tmp_path / 'out'}", *args]
    if root is not None:
        cmd.append(f"hydra.sweep.dir={root}")
    if not wait:
        return subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=900)


# 1 ------------------------------------------------------------------- parameter sweeps
@pytest.mark.slow
def test_a_sweep_over_a_parameter_keeps_every_job(tmp_path):
    root = tmp_path / "sweep"
    r = cli(
        tmp_path,
        "scenario=compulsory,pilot_diversion",
        "params.police.rate_detect=0.01,0.5",
        "replicates=2",
        *SMALL,
        root=root,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    runs = pd.read_parquet(root / "runs.parquet")
    assert sorted(runs["params.police.rate_detect"].unique()) == [0.01, 0.5]
    n = runs.groupby(["params.police.rate_detect", "scenario"])["replicate"].nunique()
    assert (n == 2).all() and len(n) == 4  # 2 values x 2 scenarios x 2 replicates, none lost
    summary = pd.read_csv(root / "summary.csv")
    assert "params.police.rate_detect" in summary.columns
    adm = summary[summary["metric"] == "cum_admissions"].set_index(["params.police.rate_detect", "scenario"])[
        "mean"
    ]
    assert adm.loc[(0.5, "compulsory")] > adm.loc[(0.01, "compulsory")]  # the values took effect
    # paired differences are within the same swept value
    d = summary[(summary["scenario"] == "compulsory")]["diff_mean"]
    assert (d.fillna(0) == 0).all()
    assert "params.police.rate_detect" in r.stdout
    assert "progress: 8/8 runs (100%)" in r.stderr  # one overall count for the whole sweep
    assert len(list(root.glob("*/diversion-sim.log"))) == 4  # a log file for every job


# 2 ------------------------------------------------------------------- concurrent sweeps
@pytest.mark.slow
def test_two_sweeps_into_one_folder_cannot_both_run(tmp_path):
    root = tmp_path / "sweep"
    args = ["scenario=compulsory", "replicates=3", *SMALL]
    a = cli(tmp_path, *args, "seed=7", root=root, wait=False)
    b = cli(tmp_path, *args, "seed=8", root=root, wait=False)
    outs = [p.communicate(timeout=900) for p in (a, b)]
    codes = [a.returncode, b.returncode]
    assert sorted(codes)[0] == 0 and sorted(codes)[1] != 0, (codes, [o[1][-500:] for o in outs])
    loser = outs[codes.index(max(codes))][1]
    assert "another diversion-sim" in loser or "already holds" in loser, loser
    seeds = {json.loads(m.read_text())["seed"] for m in root.glob("runs/*/*/meta.json")}
    assert len(seeds) == 1  # nothing mixed
    assert not (root / ".lock").exists()  # released at the end


# 3, 4 ---------------------------------------------------------------- runs belong together
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("finished")
    root = tmp / "sweep"
    r = cli(tmp, "scenario=compulsory", "replicates=2", *SMALL, root=root)
    assert r.returncode == 0, r.stderr[-3000:]
    other = tmp / "other"
    r = cli(tmp, "scenario=compulsory", "replicates=2", "seed=99", *SMALL, root=other)
    assert r.returncode == 0, r.stderr[-3000:]
    return tmp, root, other


def _copy(root: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(root, dst)
    return dst


def _summary(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"from diversion_sim.cli import summary_main; summary_main([{str(folder)!r}])",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_a_run_from_another_configuration_is_refused(finished, tmp_path):
    _, root, other = finished
    dst = _copy(root, tmp_path)
    slot = dst / "runs" / "scenario=compulsory" / "replicate=0001"
    shutil.rmtree(slot)
    shutil.copytree(other / "runs" / "scenario=compulsory" / "replicate=0001", slot)
    r = _summary(dst)
    assert r.returncode != 0 and "different configuration" in r.stderr, r.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage, needle",
    [
        (lambda m: {**m, "replicate": 0}, "does not belong in this folder"),
        (lambda m: {**m, "scenario": "pilot_diversion"}, "does not belong in this folder"),
        (lambda m: {**m, "tables": []}, "lists no result tables"),
    ],
)
def test_a_meta_json_that_disagrees_is_refused(finished, tmp_path, damage, needle):
    _, root, _ = finished
    dst = _copy(root, tmp_path)
    meta = dst / "runs" / "scenario=compulsory" / "replicate=0001" / "meta.json"
    meta.write_text(json.dumps(damage(json.loads(meta.read_text()))))
    r = _summary(dst)
    assert r.returncode != 0 and needle in r.stderr, r.stderr


@pytest.mark.slow
def test_resume_repairs_a_run_with_a_missing_table_and_says_how(finished, tmp_path):
    tmp, root, _ = finished
    dst = _copy(root, tmp_path)
    (dst / "runs" / "scenario=compulsory" / "replicate=0000" / "weekly.parquet").unlink()
    r = _summary(dst)
    assert r.returncode != 0 and "output.resume=true" in r.stderr, r.stderr
    r = cli(tmp_path, "scenario=compulsory", "replicates=2", *SMALL, "output.resume=true", root=dst)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (dst / "runs" / "scenario=compulsory" / "replicate=0000" / "weekly.parquet").is_file()
    fresh = pd.read_parquet(dst / "runs.parquet")
    ref = pd.read_parquet(root / "runs.parquet")
    pd.testing.assert_frame_equal(
        fresh.sort_values(list(fresh.columns)).reset_index(drop=True),
        ref.sort_values(list(ref.columns)).reset_index(drop=True),
    )


@pytest.mark.slow
def test_an_edited_posterior_file_is_not_mixed_on_resume(tmp_path):
    post = tmp_path / "post.csv"
    shutil.copy(config_dir() / "calibration" / "pilot_posterior.csv", post)
    root = tmp_path / "sweep"
    args = [
        "scenario=compulsory",
        "replicates=2",
        *SMALL,
        "params=posterior",
        f"params.posterior_file={post}",
    ]
    assert cli(tmp_path, *args, root=root).returncode == 0
    hashes = {json.loads(m.read_text())["config_hash"] for m in root.glob("runs/*/*/meta.json")}
    df = pd.read_csv(post)
    df["params.police.rate_detect"] = df["params.police.rate_detect"] * 2
    df.to_csv(post, index=False)
    r = cli(tmp_path, *args, "output.resume=true", root=root)
    assert r.returncode == 0, r.stderr[-3000:]
    new = {json.loads(m.read_text())["config_hash"] for m in root.glob("runs/*/*/meta.json")}
    assert len(new) == 1 and not (new & hashes)  # every run redone with the new draws


# 5 ------------------------------------------------------------------- SIGTERM
def _children(pid: int) -> list[int]:
    from diversion_sim.cli import _descendants

    return _descendants(pid)


@pytest.mark.slow
def test_sigterm_stops_the_workers_too(tmp_path):
    p = cli(
        tmp_path,
        "scenario=compulsory,pilot_diversion",
        "replicates=40",
        "years=2",
        "population=pilot_wards",
        "hydra.launcher.n_jobs=2",
        root=tmp_path / "sweep",
        wait=False,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_children(p.pid)) < 2:
        time.sleep(0.3)
    kids = _children(p.pid)
    assert kids, "the sweep started no worker processes"
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=60)
    assert p.returncode == 128 + signal.SIGTERM
    deadline = time.monotonic() + 15
    alive = kids
    while time.monotonic() < deadline and alive:
        alive = [
            k
            for k in alive
            if Path(f"/proc/{k}").exists()
            and "Z" not in Path(f"/proc/{k}/stat").read_text().rsplit(")", 1)[1].split()[0]
        ]
        time.sleep(0.2)
    assert not alive, f"workers still running after SIGTERM: {alive}"


# 6 ------------------------------------------------------------------- one rule for bounds
@pytest.mark.parametrize(
    "override, needle",
    [
        ("years=0.001", "at least one week"),
        ("years=500", "limits.max_years"),
        ("burn_in_years=500", "limits.max_years"),
        ("replicates=100000", "limits.max_replicates"),
        ("population.n_people_by_district=[5000000,1]", "limits.max_people"),
        ("population.n_wards_by_district=[200000,1]", "limits.max_wards"),
        ("scenario.n_coordinators_per_ward=1e12", "limits.max_count"),
        ("population.centres.compulsory.n_capacity=100000000000", "limits.max_count"),
        ("seed=-3", "a seed is a whole number"),
    ],
)
def test_values_that_would_run_wrong_or_forever_are_refused(override, needle):
    with pytest.raises(ConfigError) as info:
        compose_config([override])
    assert needle in str(info.value)


def test_a_bound_can_be_raised_by_a_user_who_means_it():
    cfg = compose_config(["replicates=20000", "limits.max_replicates=50000"])
    assert cfg.replicates == 20000


# 7 ------------------------------------------------------------------- names as paths
@pytest.mark.parametrize("name", ["../../escape", "a b/c", "x" * 300, ".hidden", "ok_name-1.2"])
def test_safe_name_never_leaves_the_folder(name, tmp_path):
    s = safe_name(name)
    assert "/" not in s and not s.startswith(".") and len(s) <= 80 and ".." not in s
    assert (tmp_path / s).resolve().parent == tmp_path.resolve()
    if name == "ok_name-1.2":
        assert s == name
    assert safe_name("a b") != safe_name("a_b")  # changed names keep apart


@pytest.mark.slow
def test_a_scenario_whose_name_needs_sanitising_runs_and_is_summarised(tmp_path):
    d = tmp_path / "mine" / "scenario"
    d.mkdir(parents=True)
    (d / "my variant.yaml").write_text("# @package _global_\nscenario:\n  p_release_linkage: 0.5\n")
    root = tmp_path / "sweep"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "diversion_sim.cli",
            "--config-dir",
            str(d.parent),
            f"output.dir={tmp_path / 'out'}",
            "scenario=my variant",
            "replicates=1",
            *SMALL,
            f"hydra.sweep.dir={root}",
            "-m",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    folders = [p.name for p in (root / "runs").iterdir()]
    assert folders == [f"scenario={safe_name('my variant')}"]
    assert set(pd.read_parquet(root / "runs.parquet")["scenario"]) == {"my variant"}


# 8 ------------------------------------------------------------------- clear messages
@pytest.mark.parametrize(
    "args, needle",
    [
        (["output.dir=/proc/diversion"], "cannot be created or written"),
        (["hydra.launcher.n_jobs=0"], "hydra.launcher.n_jobs"),
        (["hydra.launcher.n_jobs=-50"], "hydra.launcher.n_jobs"),
        (["scenario=null"], "set to null"),
        (["hydra/launcher=nope"], "valid hydra/launcher names: basic"),
    ],
)
def test_bad_settings_give_one_paragraph(tmp_path, args, needle):
    r = subprocess.run(
        [sys.executable, "-m", "diversion_sim.cli", *args, "replicates=1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert r.returncode == 2, r.stderr[-2000:]
    assert needle in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / "outputs").exists()


def test_a_file_as_output_folder_is_refused(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    r = subprocess.run(
        [sys.executable, "-m", "diversion_sim.cli", f"hydra.sweep.dir={f}", "replicates=1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert r.returncode == 2 and "is a file" in r.stderr, r.stderr


@pytest.mark.parametrize("port", ["0", "80", "70000", "http"])
def test_dashboard_port_out_of_range(port):
    from diversion_sim.dashboard import main

    with pytest.raises(SystemExit) as info:
        main(["--port", port])
    assert info.value.code == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "plan, needle",
    [
        ({"expected": {"compulsory": 10**9}}, "out of range"),
        ({"expected": ["compulsory"]}, "not a mapping"),
        ({"jobs": [{"scenario": 3, "replicates": 1}]}, "a job is not"),
    ],
)
def test_a_damaged_sweep_json_is_refused(finished, tmp_path, plan, needle):
    _, root, _ = finished
    dst = _copy(root, tmp_path)
    (dst / "sweep.json").write_text(json.dumps(plan))
    r = _summary(dst)
    assert r.returncode != 0 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.slow
def test_a_truncated_summary_is_refused_by_the_report(finished, tmp_path):
    _, root, _ = finished
    dst = _copy(root, tmp_path)
    lines = (dst / "summary.csv").read_text().splitlines()
    (dst / "summary.csv").write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    r = subprocess.run(
        [sys.executable, "-m", "diversion_sim.report", str(dst)], capture_output=True, text=True, timeout=300
    )
    # the manifest's sha256 catches it first (the recomputed summary would too)
    assert r.returncode != 0 and "summary.csv is not the file the summary wrote" in r.stderr, r.stderr
    assert not (dst / "report" / "report.html").exists()


def test_a_full_disk_names_the_folder_and_leaves_nothing_half_written(tmp_path, monkeypatch):
    from diversion_sim import runner
    from diversion_sim.model import DiversionModel

    cfg = compose_config(SMALL[:3])
    res = DiversionModel(cfg, 0).run()

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    folder = runner.run_folder(tmp_path, "compulsory", 0)
    with pytest.raises(OSError, match="cannot write the run into .*replicate=0000"):
        runner.write_run(res, folder, cfg, 0, {})
    assert not folder.exists() and not list(folder.parent.glob(".*tmp*"))


def test_a_full_disk_leaves_no_empty_figure(tmp_path, monkeypatch):
    import matplotlib.figure

    from diversion_sim import plots

    plt, _ = plots.setup()
    fig, _ = plt.subplots()

    def full(self, path, *a, **k):
        Path(path).write_bytes(b"")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
    with pytest.raises(OSError, match="cannot write the figure"):
        plots.finish(fig, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_a_failing_sweep_start_stops_the_jobs(tmp_path):
    root = tmp_path / "sweep"
    (root / "sweep.json").mkdir(parents=True)  # the plan cannot be written
    r = cli(tmp_path, "scenario=compulsory", "replicates=1", *SMALL, root=root)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert not (root / "runs").exists()
    assert not (root / ".lock").exists()
