"""Calibrate the model to the Hanoi pilot and the relapse reports (ABC-SMC, pyabc), via Hydra.

    python experiments/calibrate.py                       # full run -> outputs/calibration/pilot/
    python experiments/calibrate.py resume=true           # continue an interrupted run (abc.db)
    python experiments/calibrate.py abc.population_size=40 abc.max_generations=2   # small
    python experiments/calibrate.py resume=true install=true   # write the posterior into configs/
    python experiments/calibrate.py 'only=[cascade,status_quo]'  # rerun some stages; the others'
                                                # draws come from the installed posterior (previous)

Runs the stages in ``stages`` (the relapse/retention cohorts, then the pilot cascade); each stage
writes ``<stage>/abc.db`` (every generation, pyabc) and ``<stage>/posterior.csv`` (weighted
particles). The top folder gets ``posterior.csv`` / ``posterior_draws.csv`` (equally weighted
joint draws), ``posterior_summary.csv`` (5/50/95% per key) and ``calibration.yaml`` (the
configuration it came from). ``install=true`` copies the draws to
``configs/calibration/pilot_posterior.csv`` (used by ``params=posterior``) and sets the calibrated
defaults in ``configs/params/default.yaml`` (and scenario files) to the posterior medians.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from diversion_sim.config import config_dir

log = logging.getLogger("calibrate")


@hydra.main(config_path=str(config_dir() / "calibration"), config_name="pilot", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from diversion_sim import calibration as cal
    from diversion_sim.config import compose_config
    from diversion_sim.params import ConfigError

    logging.getLogger("MESA").setLevel(logging.WARNING)
    out = Path(HydraConfig.get().runtime.output_dir)
    try:
        extra = [f"seed={cfg.seed}"]
        if cfg.get("burn_in_years") is not None:  # e.g. a short burn-in for a quick check
            extra.append(f"burn_in_years={cfg.burn_in_years}")
        model_cfg = compose_config(list(cfg.model) + extra)
        targets = OmegaConf.to_container(cfg.targets, resolve=True)
        priors = OmegaConf.to_container(cfg.priors, resolve=True)
        stages = OmegaConf.to_container(cfg.stages, resolve=True)
        stage_cfgs = {
            st["name"]: compose_config(list(st["model"]) + extra) for st in stages if st.get("model")
        }
        only = list(cfg.only) if cfg.get("only") else None
        previous = cal.load_draws(str(cfg.previous)) if only else None
        post = cal.run_stages(
            model_cfg,
            targets,
            priors,
            stages,
            out,
            n_draws=int(cfg.n_draws),
            seed=int(cfg.seed),
            stage_cfgs=stage_cfgs,
            only=only,
            previous=previous,
            population_size=int(cfg.abc.population_size),
            max_generations=int(cfg.abc.max_generations),
            min_epsilon=float(cfg.abc.min_epsilon),
            max_simulations=int(cfg.abc.max_simulations),
            n_procs=int(cfg.abc.n_procs),
            resume=bool(cfg.resume),
        )
    except ConfigError as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        sys.exit(2)
    cal.write_posterior(post, out, OmegaConf.to_yaml(cfg), n_draws=int(cfg.n_draws), seed=int(cfg.seed))
    summary = cal.weighted_quantiles(post)
    print(summary.to_string(index=False))
    if cfg.install:
        cal.install_posterior(out, config_dir())
        print(f"installed the posterior of {out} into {config_dir()}")


if __name__ == "__main__":
    main()
