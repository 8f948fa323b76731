"""Outputs that prove themselves (issue 25): an honest folder lock (7), cost domains and the
reading of "dominant" (9), and one paragraph, never a traceback, for bad YAML, damaged caches,
bad posterior files, a read-only sweep, a missing Ray cluster and oversized text (11)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from diversion_sim.cli import FolderLocked, folder_lock
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


# 7 ------------------------------------------------------------------- the folder lock
def _take(root: str, start, results, release) -> None:
    start.wait()
    try:
        folder_lock(Path(root)).__enter__()
    except FolderLocked:
        results.put("refused")
        return
    results.put("held")
    release.wait(10)  # hold it while the others try


def test_of_many_processes_taking_the_lock_at_once_exactly_one_holds_it(tmp_path):
    ctx = mp.get_context("fork")
    for trial in range(5):
        root = tmp_path / f"t{trial}"
        root.mkdir()
        (root / ".lock").write_text("999999999")  # a stale lock of the old kind (a dead PID)
        start, release, results = ctx.Event(), ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_take, args=(str(root), start, results, release)) for _ in range(6)]
        for p in procs:
            p.start()
        start.set()
        got = [results.get(timeout=30) for _ in procs]
        release.set()
        for p in procs:
            p.join(10)
        assert got.count("held") == 1, (trial, got)
        with folder_lock(root) as lock:  # the holder has exited: its lock went with it
            assert lock.held


def _hold(root: str, ready, pid_to_write: int | None) -> None:
    lock = folder_lock(Path(root)).__enter__()
    if pid_to_write is not None:  # as a holder in another PID namespace (another host) looks here
        info = json.loads(lock.path.read_text())
        lock.path.write_text(json.dumps({**info, "pid": pid_to_write}))
    ready.set()
    time.sleep(60)


def test_a_killed_holders_lock_is_free_and_a_live_holder_is_named_and_never_robbed(tmp_path):
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    # a holder whose PID means nothing here (another PID namespace or host) keeps its lock
    holder = ctx.Process(target=_hold, args=(str(tmp_path), ready, 999999999))
    holder.start()
    assert ready.wait(20)
    with pytest.raises(FolderLocked) as info:
        folder_lock(tmp_path).__enter__()
    msg = str(info.value)
    assert f"PID 999999999 on host {socket.gethostname()}, started " in msg, msg
    assert "delete" in msg and str(tmp_path / ".lock") in msg  # how to clear a genuinely stale one
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(10)
    assert (tmp_path / ".lock").exists()  # the file is left, but the kernel released the lock
    with folder_lock(tmp_path) as lock:
        assert lock.held
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    assert not (tmp_path / ".lock").exists()


def test_a_lock_file_naming_a_live_unrelated_process_is_not_a_lock(tmp_path):
    (tmp_path / ".lock").write_text(str(os.getppid()))  # a PID reused by an unrelated process
    with folder_lock(tmp_path) as lock:
        assert lock.held


@pytest.mark.slow
def test_ctrl_c_leaves_no_lock_and_prints_one_paragraph(tmp_path):
    root = tmp_path / "sweep"
    cmd = [
        sys.executable,
        "-m",
        "diversion_sim.cli",
        f"output.dir={tmp_path / 'out'}",
        f"hydra.sweep.dir={root}",
        "scenario=compulsory",
        "population=pilot_wards",
        "years=3",
        "replicates=6",
        "burn_in_years=3",
        "hydra.launcher.n_jobs=1",
        "output.report=false",
    ]
    p = subprocess.Popen(
        cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (root / "runs").exists():
        time.sleep(0.2)
    assert (root / ".lock").exists()
    os.killpg(p.pid, signal.SIGINT)  # Ctrl-C in a terminal signals the whole process group
    _, err = p.communicate(timeout=60)
    assert p.returncode == 128 + signal.SIGINT, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    assert "stopped (Ctrl-C)" in err and "output.resume=true" in err
    assert not (root / ".lock").exists()


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
