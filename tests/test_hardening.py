"""Outputs that prove themselves (issue 25): an honest folder lock (7), cost domains and the
reading of "dominant" (9), and one paragraph, never a traceback, for bad YAML, damaged caches,
bad posterior files, a read-only sweep, a missing Ray cluster and oversized text (11)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from diversion_sim.cli import FolderLocked, folder_lock
from diversion_sim.config import check_posterior, compose_config, config_dir
from diversion_sim.economics import classify, icer_table
from diversion_sim.model import _BURN_IN_CACHE, DiversionModel, burn_in_key
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


# 11 ------------------------------------------------------------------ one paragraph
def _scenario(folder: Path, name: str, body: str) -> Path:
    (folder / "scenario").mkdir(parents=True, exist_ok=True)
    f = folder / "scenario" / f"{name}.yaml"
    f.write_text("# @package _global_\n" + body)
    return f


@pytest.mark.parametrize(
    "body, needle",
    [
        ('scenario:\n  description: "unclosed\n  p_release_linkage: [0.5\n', "cannot be read"),
        (
            "scenario:\n  p_release_linkage: 0.5\n  p_release_linkage: 0.6\n",
            "duplicate key p_release_linkage",
        ),
    ],
)
def test_malformed_yaml_in_a_users_config_dir_is_one_paragraph(tmp_path, body, needle):
    f = _scenario(tmp_path / "mine", "broken", body)
    r = cli(tmp_path, "--config-dir", str(tmp_path / "mine"), "scenario=broken", *TINY)
    assert r.returncode == 2
    msg = one_paragraph(r.stderr)
    assert needle in msg and f"the YAML file {f} cannot be read (line " in msg, msg


@pytest.mark.parametrize("damage", ["zero", "truncated", "arrays missing"])
def test_a_damaged_burn_in_cache_file_is_recomputed(tmp_path, damage):
    cfg = compose_config(["population=pilot_wards", "years=0.1", "burn_in_years=0.2"])
    _BURN_IN_CACHE.clear()  # this process's cache would spare reading the file
    ref = DiversionModel(cfg, 0, burn_in_dir=tmp_path)
    key = burn_in_key(cfg, 0)
    path = tmp_path / f"{key}.npz"
    good = path.read_bytes()
    if damage == "zero":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    else:
        np.savez(path, n_created=np.array(3))
    _BURN_IN_CACHE.clear()
    m = DiversionModel(cfg, 0, burn_in_dir=tmp_path)
    assert m.n_created == ref.n_created and len(m.pop.state) == len(ref.pop.state)
    with np.load(path) as z:  # rewritten whole
        assert "burn.states" in z.files


def _posterior(tmp_path: Path, edit) -> Path:
    df = pd.read_csv(config_dir() / "calibration" / "pilot_posterior.csv")
    out = tmp_path / "post.csv"
    text = edit(df)
    if isinstance(text, pd.DataFrame):
        text.to_csv(out, index=False)
    else:
        out.write_text(text)
    return out


def _csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False)


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda df: _csv(df) + _csv(df.head(3)), "line 202 repeats the header"),
        (
            lambda df: _csv(df).replace("params.relapse.hr_meth", "params.relapse.shape_relapse", 1),
            "names params.relapse.shape_relapse more than once",
        ),
        (lambda df: df.assign(**{"params.police.rate_detect": [np.nan] + [0.1] * (len(df) - 1)}), "line 2"),
        (
            lambda df: df.assign(**{"params.police.rate_detect": [0.1] * 7 + [np.inf] * (len(df) - 7)}),
            "line 9",
        ),
        (lambda df: df.assign(**{"params.relapse.hr_meth": [0.5] * 4 + [-0.5] * (len(df) - 4)}), "line 6"),
        (
            lambda df: df.drop(columns=["params.police.rate_detect", "params.relapse.hr_meth"]),
            "no column for params.relapse.hr_meth, params.police.rate_detect",
        ),
        (
            lambda df: df.assign(
                **{"params.coordination.p_plan_recovery": [0.5] * 10 + [0.95] * (len(df) - 10)}
            ),
            "its line 12 is not a valid draw: config key 'params.coordination.p_plan_recovery'",
        ),
    ],
    ids=["repeated header", "a key twice", "NaN", "inf", "negative", "missing columns", "cross-field"],
)
def test_a_bad_posterior_file_is_refused_before_anything_runs(tmp_path, edit, needle):
    post = _posterior(tmp_path, edit)
    cfg = compose_config(["params=posterior", f"params.posterior_file={post}"])
    with pytest.raises(ConfigError) as info:
        check_posterior(cfg)
    msg = str(info.value)
    assert "config key 'params.posterior_file'" in msg and needle in msg and "\n" not in msg, msg


def test_a_posterior_missing_a_column_is_refused_by_the_command_before_any_run(tmp_path):
    post = _posterior(tmp_path, lambda df: df.drop(columns=["params.police.rate_detect"]))
    root = tmp_path / "sweep"
    r = cli(tmp_path, "params=posterior", f"params.posterior_file={post}", f"hydra.sweep.dir={root}", *TINY)
    assert r.returncode == 2
    msg = one_paragraph(r.stderr)
    assert "no column for params.police.rate_detect" in msg and "pilot.yaml" in msg, msg
    assert not root.exists()
    # the model refuses it too (the Python route)
    cfg = compose_config(["population=pilot_wards", "params=posterior", f"params.posterior_file={post}"])
    with pytest.raises(ConfigError, match="no column for params.police.rate_detect"):
        DiversionModel(cfg, 0)


def test_the_installed_posterior_passes():
    check_posterior(compose_config(["params=posterior"]))


def test_a_read_only_sweep_folder_is_refused_on_resume(tmp_path):
    """Run without the capability to override file permissions (as any user but root)."""
    if shutil.which("setpriv") is None and os.geteuid() == 0:
        pytest.skip("root without setpriv: permissions cannot be tested")
    root = tmp_path / "sweep"
    r = cli(tmp_path, "scenario=compulsory", f"hydra.sweep.dir={root}", "hydra.launcher.n_jobs=1", *TINY)
    assert r.returncode == 0, r.stderr[-3000:]
    for f in [*root.iterdir(), *root.glob("runs/**")]:  # the folder itself stays writable
        f.chmod(f.stat().st_mode & ~0o222)
    cmd = [
        sys.executable,
        "-m",
        "diversion_sim.cli",
        f"output.dir={tmp_path / 'out'}",
        f"hydra.sweep.dir={root}",
    ]
    cmd += ["scenario=compulsory", "hydra.launcher.n_jobs=1", *TINY, "replicates=2", "output.resume=true"]
    if os.geteuid() == 0:
        drop = "-dac_override,-dac_read_search"
        cmd = ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", *cmd]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    finally:
        for f in [*root.iterdir(), *root.glob("runs/**")]:
            f.chmod(f.stat().st_mode | 0o200)
    assert r.returncode == 2, r.stderr[-3000:]
    msg = one_paragraph(r.stderr)
    assert "output.resume=true" in msg and "read-only" in msg and "chmod -R u+w" in msg, msg
    assert len(list(root.glob("runs/*/replicate=*"))) == 1  # nothing written


def test_ray_cluster_refused_when_nothing_listens(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = cli(
        tmp_path, "hydra/launcher=ray_cluster", f"hydra.launcher.ray.init.address=127.0.0.1:{port}", *TINY
    )
    assert r.returncode == 2
    msg = one_paragraph(r.stderr)
    assert f"no Ray cluster answers at 127.0.0.1:{port}" in msg and "ray start --head" in msg, msg
    r = cli(
        tmp_path, "hydra/launcher=ray_cluster", *TINY, env={"RAY_ADDRESS": "", "RAY_TMPDIR": str(tmp_path)}
    )
    assert r.returncode == 2
    assert "no Ray cluster was started on this machine" in one_paragraph(r.stderr)


@pytest.mark.slow
def test_ray_cluster_that_does_not_answer_as_ray_is_one_paragraph(tmp_path):
    """Something listens but is not Ray: the launcher fails; one paragraph and no lock left."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    root = tmp_path / "sweep"
    try:
        r = cli(
            tmp_path,
            "hydra/launcher=ray_cluster",
            f"hydra.launcher.ray.init.address=127.0.0.1:{port}",
            f"hydra.sweep.dir={root}",
            *TINY,
            env={"RAY_gcs_server_port_wait_time_s": "1"},
            timeout=120,
        )
    finally:
        srv.close()
    assert r.returncode != 0
    msg = one_paragraph(r.stderr)
    assert "the Ray launcher cannot start" in msg or "no Ray cluster answers" in msg, msg
    assert not (root / ".lock").exists()


def test_text_longer_than_the_limit_is_refused(tmp_path):
    with pytest.raises(ConfigError) as info:
        compose_config(["scenario.description=" + "x" * 2001])
    msg = str(info.value)
    assert "config key 'scenario.description'" in msg and "limits.max_text_chars" in msg
    assert "2,001" in msg and len(msg) < 600, msg
    compose_config(["scenario.description=" + "x" * 2001, "limits.max_text_chars=5000"])
    with pytest.raises(ConfigError, match="population.district_names"):
        compose_config(["population=pilot_wards", "population.district_names=[" + "a" * 3000 + "]"])


def test_a_scenario_file_with_a_huge_description_is_refused_by_the_preflight(tmp_path):
    _scenario(tmp_path / "mine", "verbose", f'scenario:\n  description: "{"y" * 50_000}"\n')
    root = tmp_path / "sweep"
    r = cli(
        tmp_path, "--config-dir", str(tmp_path / "mine"), "scenario=verbose", f"hydra.sweep.dir={root}", *TINY
    )
    assert r.returncode == 2
    msg = one_paragraph(r.stderr)
    assert "scenario.description" in msg and "limits.max_text_chars" in msg and len(msg) < 800, msg
    assert not root.exists()
