"""Morris screening (SALib) of what drives the policy effect, via Hydra.

    python experiments/sensitivity.py                   # -> outputs/sensitivity/morris/
    python experiments/sensitivity.py trajectories=4 years=1 outputs=[cum_admissions]

Each Morris point is run under ``scenario`` and under ``compulsory`` on the same random numbers
(replicate 0), and the elementary effects are computed on the difference, so they measure how a
parameter changes the *effect of the policy*. Writes ``morris_samples.csv`` (points and outputs),
``morris.csv`` (parameter x output: mu*, its 95% bootstrap interval, sigma) and ``morris.png``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from diversion_sim.config import config_dir


@hydra.main(config_path=str(config_dir() / "sensitivity"), config_name="morris", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from diversion_sim import sensitivity
    from diversion_sim.params import ConfigError

    logging.getLogger("MESA").setLevel(logging.WARNING)
    out = Path(HydraConfig.get().runtime.output_dir)
    try:
        samples, table = sensitivity.morris(
            OmegaConf.to_container(cfg.bounds, resolve=True),
            list(cfg.outputs),
            trajectories=int(cfg.trajectories),
            num_levels=int(cfg.num_levels),
            seed=int(cfg.seed),
            base=[f"population={cfg.population}", f"years={cfg.years}", f"seed={cfg.seed}"],
            scenario=str(cfg.scenario),
            n_jobs=int(cfg.n_jobs),
        )
    except ConfigError as exc:
        print(f"sensitivity: {exc}", file=sys.stderr)
        sys.exit(2)
    samples.to_csv(out / "morris_samples.csv", index=False)
    table.to_csv(out / "morris.csv", index=False)
    sensitivity.plot(table, out / "morris.png", str(cfg.scenario))
    print(table.to_string(index=False))
    print(f"\ntables and figure in {out}")


if __name__ == "__main__":
    main()
