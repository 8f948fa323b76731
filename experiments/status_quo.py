"""Does the status quo look like Vietnam? Run the compulsory regime and compare with the country.

    python experiments/status_quo.py                                  # pilot districts, 20 replicates
    python experiments/status_quo.py --population national --replicates 2
    python experiments/status_quo.py --replicates 4 --out /tmp/sq     # quick look

Runs ``scenario=compulsory`` (burn-in and ``--years`` after the switch) and writes, under
``outputs/status_quo/<population>/``:

* ``status_quo.csv`` - share of the register in centres and on methadone, the register's growth
  and the compulsory history of people using at week 0, against the observed national figures
  (``configs/calibration/observed.yaml``): model mean and 90% interval over replicates;
* ``status_quo.png`` - the same over calendar time, burn-in included, with the observed points
  (fitted ones filled, earlier ones that show only the direction open).

The planners' report draws the same figure and table from a sweep's own ``compulsory`` runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from joblib import Parallel, delayed


def _run(overrides: list[str], replicate: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    from diversion_sim.config import compose_config
    from diversion_sim.model import DiversionModel

    m = DiversionModel(compose_config(overrides), replicate)
    res = m.run()
    return (
        res.weekly.assign(replicate=replicate),
        m.burn_in_weekly.assign(replicate=replicate),
        {"replicate": replicate, **res.metrics},
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--population", default="pilot_districts")
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--years", type=float, default=5)
    ap.add_argument("--seed", type=int, default=20190501)
    ap.add_argument("--jobs", type=int, default=-1, help="parallel runs (joblib; -1: all cores)")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    from diversion_sim import calibration as cal
    from diversion_sim import plots

    out = a.out or Path("outputs") / "status_quo" / a.population
    out.mkdir(parents=True, exist_ok=True)
    overrides = [
        "scenario=compulsory",
        f"population={a.population}",
        f"years={a.years}",
        f"seed={a.seed}",
        "output.events=false",
    ]
    runs = Parallel(n_jobs=a.jobs)(delayed(_run)(overrides, r) for r in range(a.replicates))
    weekly = pd.concat([w for w, _, _ in runs], ignore_index=True)
    burn = pd.concat([b for _, b, _ in runs], ignore_index=True)
    metrics = pd.DataFrame([m for _, _, m in runs])
    observed = cal.load_observed()
    stocks = cal.status_quo_stocks(weekly, burn)
    table = cal.status_quo_table(stocks, metrics, observed)
    table.to_csv(out / "status_quo.csv", index=False)
    stocks.to_csv(out / "status_quo_stocks.csv.gz", index=False)
    plots.status_quo(stocks, metrics, observed, out / "status_quo.png")
    pd.set_option("display.width", 160)
    print(table.drop(columns="source").to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(
        f"\n{int(table['inside'].eq('yes').sum())} of {len(table)} inside the 90% interval; "
        f"figure and table in {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
