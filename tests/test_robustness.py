"""Interrupted sweeps, folders never overwritten silently, and tools fed bad folders (issue 6)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from diversion_sim.cli import summary_main

SMALL = [
    "replicates=4",
    "years=2",
    "scenario=compulsory,pilot_diversion",
    "population=pilot_wards",
    "hydra/launcher=basic",
]


def command(tmp_path, root, *args):
    return [
        sys.executable,
        "-m",
        "diversion_sim.cli",
        f"output.dir={tmp_path}",
        f"hydra.sweep.dir={root}",
        *SMALL,
        *args,
    ]


def run(cmd, cwd):
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    r = run(command(tmp, tmp / "ref"), tmp)
    assert r.returncode == 0, r.stderr[-3000:]
    return tmp / "ref"


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(2))
def test_sigkill_then_resume_equals_uninterrupted(tmp_path, reference, attempt):
    """Kill a running multirun with SIGKILL at a random point, re-run it, compare."""
    seed = int(os.environ.get("DIVERSION_SIM_KILL_SEED", time.time_ns())) + attempt
    delay = random.Random(seed).uniform(2.5, 8.0)  # start-up ~3 s, runs until ~7 s, then tables
    root = tmp_path / "s"
    proc = subprocess.Popen(
        command(tmp_path, root),
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    what = f"(killed after {delay:.2f} s, DIVERSION_SIM_KILL_SEED={seed})"
    # whatever was left: a folder with meta.json holds every table, readable
    for meta in root.glob("runs/*/*/meta.json"):
        for t in json.loads(meta.read_text())["tables"]:
            pd.read_parquet(meta.parent / f"{t}.parquet")
    r = run(command(tmp_path, root, "output.resume=true"), tmp_path)
    assert r.returncode == 0, f"{what}\n{r.stderr[-3000:]}"
    runs = pd.read_parquet(root / "runs.parquet")
    assert not runs.duplicated(["scenario", "replicate", "metric"]).any(), f"a run twice {what}"
    assert runs.groupby("scenario")["replicate"].nunique().eq(4).all(), what
    assert not list(root.glob("runs/*/.replicate=*")), f"temporary folders left {what}"
    pd.testing.assert_frame_equal(
        pd.read_csv(reference / "summary.csv"), pd.read_csv(root / "summary.csv"), obj=what
    )


@pytest.mark.slow
def test_finished_sweep_folder_is_never_overwritten(tmp_path, reference):
    root = tmp_path / "done"
    shutil.copytree(reference, root)
    before = {f: f.stat().st_mtime_ns for f in root.rglob("*")}
    r = run(command(tmp_path, root, "seed=99"), tmp_path)
    assert r.returncode == 1 and "already holds a finished sweep" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert {f: f.stat().st_mtime_ns for f in root.rglob("*")} == before
    single = tmp_path / "single"  # a single run into a used run folder: refused likewise
    shutil.copytree(reference, single)
    r = run(
        [
            sys.executable,
            "-m",
            "diversion_sim.cli",
            "hydra.mode=RUN",
            f"hydra.run.dir={single}",
            "population=pilot_wards",
            "years=1",
            "replicates=1",
        ],
        tmp_path,
    )
    assert r.returncode == 1 and "output.resume=true" in r.stderr, r.stderr


# ------------------------------------------------------------------ tools fed bad folders
def summary_error(capsys, *args):
    with pytest.raises(SystemExit) as info:
        summary_main([str(a) for a in args])
    err = capsys.readouterr().err
    assert info.value.code == 1 and err.startswith("diversion-sim: ") and "Traceback" not in err
    return err


def test_summary_tool_rebuilds_a_good_folder(tmp_path, reference, capsys):
    root = tmp_path / "copy"
    shutil.copytree(reference, root)
    (root / "summary.csv").unlink()
    summary_main([str(root)])
    assert "pilot_diversion" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_csv(reference / "summary.csv"), pd.read_csv(root / "summary.csv"))


def test_bad_folders_get_clear_messages(tmp_path, reference, capsys):
    assert "is not a folder" in summary_error(capsys, tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    assert "no complete runs" in summary_error(capsys, tmp_path / "empty")

    def copy(name):
        root = tmp_path / name
        shutil.copytree(reference, root)
        return root, root / "runs" / "scenario=compulsory" / "replicate=0001"

    root, run1 = copy("missing")
    (run1 / "weekly.parquet").unlink()
    err = summary_error(capsys, root)
    assert "replicate=0001: missing weekly.parquet" in err and "allow_incomplete" in err

    root, run1 = copy("corrupt")
    (run1 / "metrics.parquet").write_bytes(b"PAR1 this is not a parquet file")
    err = summary_error(capsys, root)
    # a replaced table no longer matches the sha256 its run recorded: refused before it is read
    assert "replicate=0001" in err and "metrics.parquet is not the table this run wrote" in err

    root, run1 = copy("version")
    meta = json.loads((run1 / "meta.json").read_text())
    (run1 / "meta.json").write_text(json.dumps({**meta, "version": "0.0.1"}))
    assert "written by diversion_sim 0.0.1" in summary_error(capsys, root)

    root, run1 = copy("meta")
    (run1 / "meta.json").write_text("{half a json")
    assert "no readable meta.json" in summary_error(capsys, root)

    root, _ = copy("plan")
    (root / "sweep.json").write_text("[]")
    assert "sweep.json is damaged" in summary_error(capsys, root)

    from diversion_sim.report import main as report_main

    with pytest.raises(SystemExit):
        report_main([str(tmp_path / "empty")])
    err = capsys.readouterr().err
    assert "summary.csv is missing" in err and "diversion-sim-summary" in err and "Traceback" not in err

    root, run1 = copy("allowed")  # told to, it summarises the complete runs only
    shutil.rmtree(run1)
    summary_main([str(root), "--allow-incomplete"])
    n = pd.read_csv(root / "summary.csv").set_index(["scenario", "metric"])["n"]
    assert n.loc[("compulsory", "deaths")] == 3 and n.loc[("pilot_diversion", "deaths")] == 4


def test_config_values_are_never_evaluated(tmp_path):
    """A value that looks like code stays a string: nothing runs it (here: a scenario name)."""
    run(
        [
            sys.executable,
            "-m",
            "diversion_sim.cli",
            f"output.dir={tmp_path}",
            "hydra.mode=RUN",
            "scenario.name=__import__('os').system('touch pwned')",
            "population=pilot_wards",
            "years=0.1",
            "replicates=1",
        ],
        tmp_path,
    )
    assert not (tmp_path / "pwned").exists()


def test_stale_temp_folders_of_dead_writers_are_removed(tmp_path):
    """A sweep killed while writing leaves `.replicate=N.tmp-PID`; resuming removes it when that
    process is gone, and leaves a live writer's folder alone."""
    from diversion_sim.runner import _remove_stale_temp

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = tmp_path / "runs" / "scenario=compulsory" / "replicate=0001"
    folder.parent.mkdir(parents=True)
    stale = folder.parent / f".replicate=0001.tmp-{dead.pid}"
    live = folder.parent / f".replicate=0001.tmp-{os.getpid()}"
    for d in (stale, live):
        d.mkdir()
        (d / "weekly.parquet").write_bytes(b"partial")
    _remove_stale_temp(folder)
    assert not stale.exists() and live.exists()
