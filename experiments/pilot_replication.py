"""Rerun the Hanoi pilot with the calibrated model and show the fit.

    python experiments/pilot_replication.py            # -> outputs/pilot_replication/
    python experiments/pilot_replication.py n_sims=50 posterior=/abs/path/posterior_draws.csv

Writes ``pilot_fit.csv`` (target, observed, simulated mean, 90% posterior-predictive interval,
inside yes/no, source), ``pilot_cascade.png`` (observed vs simulated cascade) and
``relapse_curves.png`` (relapse-free survival by kind of exit and methadone retention, measured
on the running model's tables, against every published point used) and ``pilot_curves.csv``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from diversion_sim.config import config_dir


@hydra.main(config_path=str(config_dir() / "calibration"), config_name="replication", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from diversion_sim import calibration as cal
    from diversion_sim.params import ConfigError

    logging.getLogger("MESA").setLevel(logging.WARNING)
    out = Path(HydraConfig.get().runtime.output_dir)
    try:
        targets = OmegaConf.to_container(cfg.targets, resolve=True)
        fit, sims, draws, curves = cal.replicate_pilot(
            list(cfg.model),
            targets,
            str(cfg.posterior),
            int(cfg.n_sims),
            int(cfg.seed),
            status_quo_model=list(cfg.status_quo_model) if cfg.get("status_quo_model") else None,
            n_jobs=int(cfg.n_jobs),
            running_model=list(cfg.running_model) if cfg.get("running_model") else None,
        )
    except ConfigError as exc:
        print(f"pilot_replication: {exc}", file=sys.stderr)
        sys.exit(2)
    fit.to_csv(out / "pilot_fit.csv", index=False)
    sims.to_csv(out / "pilot_simulations.csv", index=False)
    curves.to_csv(out / "pilot_curves.csv", index=False)
    from diversion_sim import plots

    plots.pilot_cascade(fit, out / "pilot_cascade.png")
    plots.relapse_curves(curves, targets, out / "relapse_curves.png")
    print(fit.to_string(index=False))
    fitted = fit[fit["fitted"] == "yes"]
    print(
        f"\n{int(fitted['inside'].eq('yes').sum())} of {len(fitted)} fitted targets inside their 90% "
        f"posterior-predictive interval; tables and figures in {out}"
    )


if __name__ == "__main__":
    main()
