"""How much do common random numbers sharpen a paired comparison? Measured, not assumed.

    python benchmarks/crn.py                   # 40 replicates, pilot districts, 5 years (~1 min)
    python benchmarks/crn.py --replicates 20 --years 3

For each policy scenario against ``compulsory`` and each key outcome, over replicates r:

* paired: the variance of d_r = Y_policy(r) - Y_compulsory(r), both runs on replicate r's numbers;
* unpaired: Var Y_policy + Var Y_compulsory, the variance of the difference of two independent
  runs (what a comparison without common random numbers would carry);
* their ratio (> 1: pairing removes noise; 1: it does nothing), with a bootstrap 90% interval.

Also the share of deaths of never-detained people that happen to the same person in the same
week in both runs (1.0 when common random numbers hold for people the policy does not touch).
Runs on whatever ``diversion_sim`` is importable, so the same script measures an older commit
(``PYTHONPATH=/path/to/old/src python benchmarks/crn.py``).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from diversion_sim.config import compose_config
from diversion_sim.model import DiversionModel

OUTCOMES = (
    "relapse_52w_release",
    "person_years_detained",
    "deaths",
    "cum_admissions",
    "drug_free_weeks_per_person",
)
POLICIES = ("release_linkage", "pilot_diversion")


def _config(scenario: str, years: float, seed: int):
    return compose_config([f"scenario={scenario}", f"years={years}", f"seed={seed}"])


def _run(scenario: str, years: float, seed: int, r: int) -> tuple[dict, pd.DataFrame, np.ndarray]:
    m = DiversionModel(_config(scenario, years, seed), r)
    detained0 = m.pop.state == 6
    res = m.run()
    return res.metrics, res.events, detained0


def _shared_deaths(ea: pd.DataFrame, eb: pd.DataFrame, detained0: np.ndarray) -> tuple[int, int]:
    touched = set(ea.loc[ea["kind"] == "admit", "person"]) | set(eb.loc[eb["kind"] == "admit", "person"])
    touched |= set(np.flatnonzero(detained0))
    da = ea.loc[(ea["kind"] == "death") & ~ea["person"].isin(touched), ["person", "week"]]
    db = eb.loc[(eb["kind"] == "death") & ~eb["person"].isin(touched), ["person", "week"]]
    return len(da.merge(db)), max(len(da), len(db))


def measure(replicates: int, years: float, seed: int) -> pd.DataFrame:
    rows, shared = [], {p: [0, 0] for p in POLICIES}
    for r in range(replicates):
        base, ev0, det0 = _run("compulsory", years, seed, r)
        for pol in POLICIES:
            met, ev, _ = _run(pol, years, seed, r)
            same, total = _shared_deaths(ev0, ev, det0)
            shared[pol][0] += same
            shared[pol][1] += total
            rows += [
                {"policy": pol, "replicate": r, "metric": k, "base": base[k], "policy_value": met[k]}
                for k in OUTCOMES
            ]
    df = pd.DataFrame(rows)
    rng = np.random.default_rng(0)
    out = []
    for (pol, metric), g in df.groupby(["policy", "metric"], sort=False):
        a, b = g["policy_value"].to_numpy(), g["base"].to_numpy()
        ok = np.isfinite(a) & np.isfinite(b)
        a, b = a[ok], b[ok]
        paired = np.var(a - b, ddof=1)
        unpaired = np.var(a, ddof=1) + np.var(b, ddof=1)
        boot = []
        for _ in range(400):
            i = rng.integers(0, a.size, a.size)
            pv = np.var(a[i] - b[i], ddof=1)
            boot.append((np.var(a[i], ddof=1) + np.var(b[i], ddof=1)) / pv if pv > 0 else np.inf)
        lo, hi = np.quantile(boot, [0.05, 0.95])
        out.append(
            {
                "policy": pol,
                "metric": metric,
                "n": a.size,
                "mean_diff": np.mean(a - b),
                "sd_paired": np.sqrt(paired),
                "sd_unpaired": np.sqrt(unpaired),
                "variance_ratio": unpaired / paired if paired > 0 else np.inf,
                "ratio_90lo": lo,
                "ratio_90hi": hi,
            }
        )
    res = pd.DataFrame(out)
    res.attrs["shared_deaths"] = {p: f"{s}/{t}" for p, (s, t) in shared.items()}
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=40)
    ap.add_argument("--years", type=float, default=5)
    ap.add_argument("--seed", type=int, default=20190501)
    a = ap.parse_args(argv)

    res = measure(a.replicates, a.years, a.seed)
    pd.set_option("display.width", 140)
    print(
        f"Common random numbers: paired vs unpaired variance of the difference from compulsory "
        f"(pilot districts, {a.years:g} years, {a.replicates} replicates)"
    )
    print(res.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print("deaths of never-detained people shared (same person, same week):", res.attrs["shared_deaths"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
