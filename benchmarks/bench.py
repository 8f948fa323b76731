"""Speed and memory benchmarks of diversion_sim, measured side by side in one process run.

    python benchmarks/bench.py              # full set (about 4-6 minutes on 2 cores)
    python benchmarks/bench.py --quick      # small sizes, a smoke check of the machinery (~1 min)
    python benchmarks/bench.py --profile    # also print where a national week spends its time

Prints one table: each figure is the median of repeated runs; targets are stated as ratios or
per-person figures, never asserted (tests do not time anything). Rows:

* full model at national scale (210,751 PWUD, 10,000 wards) - agent-steps/s (people x weeks / s)
* a bare numpy 9-state machine of the same size (one draw per person-week by one searchsorted over
  row-shifted CDFs, a detention timer, weekly counts) - the "numpy ceiling"
* an idiomatic per-agent Mesa 3 implementation of the same 9-state rules (``Person.step``,
  ``shuffle_do``) - the baseline the vectorised design is compared with
* memory per person at national scale, with every ``Person`` agent made (eager) and the event table
* a pilot-district run (665 PWUD, 5 years), start-up (imports, Hydra composition) separately
* sweep throughput of the joblib launcher with 2 workers against 1 (runs/s while the sweep runs,
  and the whole command's wall time)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import mesa
import numpy as np

from diversion_sim.model import _BURN_IN_CACHE, DiversionModel

# ----------------------------------------------------------------------------- shared rules
# A 9-state weekly chain (states as in diversion_sim.states.State) used by both baselines:
# using, abstinent, referred, methadone, recovery, residential, detained, dead, moved.
N_STATES = 9
P = np.zeros((N_STATES, N_STATES))
P[0, [0, 2, 3, 6, 7, 8]] = [0.955, 0.02, 0.01, 0.01, 0.001, 0.004]
P[1, [1, 0, 7, 8]] = [0.975, 0.02, 0.001, 0.004]
P[2, [2, 3, 4, 0]] = [0.7, 0.15, 0.1, 0.05]
P[3, [3, 0, 7, 8]] = [0.985, 0.01, 0.001, 0.004]
P[4, [4, 1, 0]] = [0.9, 0.06, 0.04]
P[5, [5, 1, 0]] = [0.92, 0.06, 0.02]
P[6, 6] = 1.0  # detention ends by its timer, not by the chain
P[7, 7] = P[8, 8] = 1.0
assert np.allclose(P.sum(1), 1)
STAY = (52, 104)  # detention timer, weeks


def bare_numpy(n: int, weeks: int, seed: int = 1) -> float:
    """Seconds for ``weeks`` steps of the bare numpy state machine on ``n`` people."""
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(P, axis=1)
    cdf[:, -1] = 1.0 + 1e-9
    shifted = (cdf + np.arange(N_STATES)[:, None]).ravel()  # row s lives in [s, s + 1)
    state = rng.choice(4, n).astype(np.int64)
    timer = np.zeros(n, np.int32)
    counts = np.zeros((weeks, N_STATES), np.int64)
    t0 = time.perf_counter()
    for w in range(weeks):
        u = rng.random(n)
        new = np.searchsorted(shifted, state + u, side="right") - state * N_STATES
        det = state == 6
        timer[det] -= 1
        new[det] = np.where(timer[det] <= 0, 1, 6)
        entering = (new == 6) & ~det
        timer[entering] = rng.integers(STAY[0], STAY[1] + 1, np.count_nonzero(entering))
        state = new
        counts[w] = np.bincount(state, minlength=N_STATES)
    return time.perf_counter() - t0


class _Person(mesa.Agent):
    def __init__(self, model: mesa.Model, state: int) -> None:
        super().__init__(model)
        self.state = state
        self.timer = 0

    def step(self) -> None:
        rnd = self.model.random
        if self.state == 6:
            self.timer -= 1
            if self.timer <= 0:
                self.state = 1
            return
        u = rnd.random()
        row = self.model.cdf[self.state]
        new = 0
        while u >= row[new]:
            new += 1
        if new == 6:
            self.timer = rnd.randint(*STAY)
        self.state = new


class _MesaModel(mesa.Model):
    def __init__(self, n: int, seed: int = 1) -> None:
        super().__init__(rng=seed)
        self.cdf = [list(r) for r in np.cumsum(P, axis=1)]
        for r in self.cdf:
            r[-1] = 1.0 + 1e-9
        _Person.create_agents(self, n, state=[self.random.randrange(4) for _ in range(n)])
        self.counts: list[list[int]] = []

    def step(self) -> None:
        self.agents.shuffle_do("step")
        c = [0] * N_STATES
        for a in self.agents:
            c[a.state] += 1
        self.counts.append(c)


def mesa_per_agent(n: int, weeks: int) -> float:
    m = _MesaModel(n)
    t0 = time.perf_counter()
    for _ in range(weeks):
        m.step()
    return time.perf_counter() - t0


def dashboard_update() -> dict[str, float]:
    """The dashboard's rerun when a teacher moves a control: the chosen scenario's replicates run
    again (the status quo line and the burn-ins are cached in the server process)."""
    from diversion_sim import dashboard as d

    base = d.for_scenario("pilot_diversion", replicates=3)
    t0 = time.perf_counter()
    d.figure(base)
    t1 = time.perf_counter()
    d.figure(d.for_scenario("pilot_diversion", replicates=3, linkage=0.24))
    return {"first": t1 - t0, "update": time.perf_counter() - t1}


# ----------------------------------------------------------------------------- the model
def config(overrides: list[str]):
    from diversion_sim.config import compose_config

    return compose_config(overrides)


def model_run(cfg, replicate: int = 0) -> dict[str, float]:
    """Init (the warm start: burn-in from scratch, not from the cache), stepping and
    result-table times of one run (seconds)."""
    _BURN_IN_CACHE.clear()
    t0 = time.perf_counter()
    m = DiversionModel(cfg, replicate)
    t1 = time.perf_counter()
    while m.running and m.week < m.n_weeks:
        m.step()
    t2 = time.perf_counter()
    m.results()
    t3 = time.perf_counter()
    return {"init": t1 - t0, "step": t2 - t1, "results": t3 - t2, "n": m.pop.n, "weeks": m.n_weeks}


def memory_per_person(overrides: list[str], agents: str) -> dict[str, float]:
    """Bytes held after a run, per person, with ``population.agents=agents``."""
    cfg = config(overrides + [f"population.agents={agents}"])
    gc.collect()
    tracemalloc.start()
    m = DiversionModel(cfg, 0)
    m.run()
    gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n = m.pop.n
    pop_bytes = sum(a.nbytes for a in vars(m.pop).values() if isinstance(a, np.ndarray))
    return {
        "n": n,
        "held_per_person": held / n,
        "peak_per_person": peak / n,
        "columns_per_person": pop_bytes / n,
        "events_per_person": m.metrics.events.nbytes() / n,
        "n_events": m.metrics.events.n,
        "agents": len(m.agents),
    }


def startup() -> dict[str, float]:
    code = (
        "import time; t=time.perf_counter(); import diversion_sim.model, diversion_sim.runner;"
        "t1=time.perf_counter(); from diversion_sim.cli import preflight; preflight(['hydra.mode=RUN']);"
        "print(t1-t, time.perf_counter()-t1)"
    )
    out = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(3)
    ]
    return {
        "imports": statistics.median(float(o[0]) for o in out),
        "compose": statistics.median(float(o[1]) for o in out),
    }


def sweep(n_jobs: int, replicates: int, scenarios: str) -> dict[str, float]:
    """Whole-command wall time and run throughput (runs/s between first and last run)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "diversion_sim.cli",
            f"scenario={scenarios}",
            f"replicates={replicates}",
            f"hydra.launcher.n_jobs={n_jobs}",
            f"output.dir={tmp}",
        ]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.perf_counter() - t0
        metas = sorted(Path(tmp).glob("sweeps/*/runs/*/*/meta.json"))
        stamps = sorted(p.stat().st_mtime for p in metas)
        model = sum(json.loads(p.read_text())["timings_s"]["model"] for p in metas)
    span = stamps[-1] - stamps[0]
    return {"wall": wall, "runs": len(metas), "throughput": (len(metas) - 1) / span, "model_s": model}


def profile_week(overrides: list[str], weeks: int) -> None:
    import cProfile
    import pstats

    m = DiversionModel(config(overrides), 0)
    for _ in range(52):  # leave the initial transient
        m.step()
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(weeks):
        m.step()
    pr.disable()
    print(f"\nProfile of {weeks} national weeks ({overrides}), by own time:")
    pstats.Stats(pr).sort_stats("tottime").print_stats(18)


# ----------------------------------------------------------------------------- report
def median_of(fn, repeats: int):
    runs = [fn() for _ in range(repeats)]
    if isinstance(runs[0], dict):
        return {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke check)")
    ap.add_argument("--profile", action="store_true", help="profile a national week")
    ap.add_argument("--no-sweep", action="store_true", help="skip the launcher benchmark")
    a = ap.parse_args()
    quick = a.quick
    years, reps = (1, 1) if quick else (10, 3)
    # quick mode: a 1-year burn-in (the smoke check needs the machinery, not a warm register)
    nat = ["population=national", f"years={years}"] + (["burn_in_years=1"] if quick else [])
    rows: list[tuple[str, str, str]] = []

    def row(name: str, value: str, target: str) -> None:
        rows.append((name, value, target))
        print(f"  {name:<52} {value:>26}   {target}", flush=True)

    print(
        f"diversion_sim benchmarks (median of {reps}; python {sys.version.split()[0]}, "
        f"numpy {np.__version__}, mesa {mesa.__version__}, {os.cpu_count()} cpus)",
        flush=True,
    )
    rates = {}
    for sc in ("compulsory", "pilot_diversion"):
        r = median_of(lambda sc=sc: model_run(config(nat + [f"scenario={sc}"])), reps)
        rates[sc] = r["n"] * r["weeks"] / r["step"]
        row(
            f"national {years} y, {sc}: step time",
            f"{r['step']:.2f} s ({rates[sc] / 1e6:.1f} M/s)",
            ">= 10 M agent-steps/s",
        )
        row(
            "   burn-in (once per replicate) / result tables",
            f"{r['init']:.2f} s / {r['results']:.2f} s",
            "reported",
        )
    n, weeks = 210_751, 52 * years
    t_np = median_of(lambda: bare_numpy(n, weeks), reps)
    rate_np = n * weeks / t_np
    row("bare numpy 9-state machine, same size", f"{t_np:.2f} s ({rate_np / 1e6:.1f} M/s)", "ceiling")
    worst = min(rates.values())
    row("full model / bare numpy (slower scenario)", f"{worst / rate_np:.2f}x", ">= 0.5x")
    n_mesa, w_mesa = (5_000, 4) if quick else (20_000, 10)
    t_mesa = median_of(lambda: mesa_per_agent(n_mesa, w_mesa), reps)
    rate_mesa = n_mesa * w_mesa / t_mesa
    row(f"idiomatic per-agent Mesa ({n_mesa} agents)", f"{rate_mesa / 1e6:.2f} M/s", "baseline")
    row("full model / per-agent Mesa (slower scenario)", f"{worst / rate_mesa:.0f}x", ">= 50x")

    mem = memory_per_person(nat + ["scenario=pilot_diversion"], "persons")
    row(
        f"memory per person (all Person agents, events, {years} y)",
        f"{mem['held_per_person']:.0f} B",
        "<= 1024 B",
    )
    row(
        "   of which person columns / event table",
        f"{mem['columns_per_person']:.0f} B / {mem['events_per_person']:.0f} B",
        "reported",
    )
    row("   peak during the run, per person", f"{mem['peak_per_person']:.0f} B", "reported")
    eager = memory_per_person(nat + ["scenario=pilot_diversion"], "eager")
    row("   with every Family agent made too", f"{eager['held_per_person']:.0f} B", "reported")

    for sc in ("compulsory", "pilot_diversion"):
        r = median_of(lambda sc=sc: model_run(config([f"scenario={sc}"]), 1), 3 if quick else 9)
        row(
            f"pilot districts 5 y, {sc}: step / tables",
            f"{r['step']:.3f} s / {r['results']:.3f} s",
            "<= 0.2 s model time",
        )
        row("   burn-in (once per replicate, shared by its scenarios)", f"{r['init']:.3f} s", "reported")
    s = startup()
    row(
        "start-up: imports / compose+validate one job",
        f"{s['imports']:.2f} s / {s['compose']:.2f} s",
        "reported",
    )
    d = dashboard_update()
    row(
        "dashboard: a moved control, pilot districts, 3 replicates",
        f"{d['update']:.2f} s (first load {d['first']:.2f} s)",
        "reported (busy state shown)",
    )

    if not a.no_sweep:
        scen, nrep = (
            ("compulsory,pilot_diversion", 3)
            if quick
            else ("compulsory,pilot_diversion,scaled_diversion,law_2026", 20)
        )
        one = sweep(1, nrep, scen)
        two = sweep(2, nrep, scen)
        row(
            f"joblib sweep ({one['runs']} runs): 1 worker wall / runs/s",
            f"{one['wall']:.1f} s / {one['throughput']:.2f}",
            "reported",
        )
        row(
            "joblib sweep: 2 workers wall / runs/s",
            f"{two['wall']:.1f} s / {two['throughput']:.2f}",
            "reported",
        )
        row(
            "2 workers / 1: run throughput (whole command)",
            f"{two['throughput'] / one['throughput']:.2f}x ({one['wall'] / two['wall']:.2f}x)",
            ">= 1.7x",
        )
    if a.profile:
        profile_week(["population=national", "years=3", "scenario=pilot_diversion"], 26)


if __name__ == "__main__":
    main()
