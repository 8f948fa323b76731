"""Regenerate the golden baseline (``tests/baseline/*.parquet``) that ``tests/test_baseline.py``
compares every change against.

    python tests/update_baseline.py

Run it only when a change is *meant* to move the model's numbers, and commit the new tables in a
commit of their own that says why (the baseline guards every other change: a refactor must leave it
unchanged). The baseline is small on purpose: two scenarios x two replicates of the six pilot wards
over one year after a two-year burn-in, every table a run writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent / "baseline"
SCENARIOS = ("compulsory", "pilot_diversion")
REPLICATES = 2
OVERRIDES = ["population=pilot_wards", "years=1", "burn_in_years=2", "seed=20261202"]
TABLES = ("metrics", "weekly", "episodes", "spells", "events")


def compute() -> dict[str, pd.DataFrame]:
    """The baseline tables, made by the package's own run path (one model per run)."""
    from diversion_sim.config import compose_config
    from diversion_sim.model import DiversionModel

    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
    for sc in SCENARIOS:
        cfg = compose_config([f"scenario={sc}", *OVERRIDES])
        for r in range(REPLICATES):
            res = DiversionModel(cfg, r).run()
            ids = {"scenario": sc, "replicate": r}
            tables = {
                "metrics": pd.DataFrame({"metric": list(res.metrics), "value": list(res.metrics.values())}),
                "weekly": res.weekly,
                "episodes": res.episodes,
                "spells": res.spells if res.spells is not None else pd.DataFrame(),
                "events": res.events,
            }
            for t, df in tables.items():
                parts[t].append(df.assign(**ids))
    return {t: pd.concat(v, ignore_index=True) for t, v in parts.items()}


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, df in compute().items():
        df.to_parquet(HERE / f"{name}.parquet", index=False, compression="zstd")
        print(f"{name}: {len(df)} rows x {len(df.columns)} columns", file=sys.stderr)


if __name__ == "__main__":
    main()
