"""Statistical checks against closed-form expectations (capacities off)."""

from __future__ import annotations

import numpy as np
from conftest import make_config

from diversion_sim.model import DiversionModel
from diversion_sim.states import State

# A two-state world: opioid users either use (enrolling on methadone at constant hazard a) or
# are on methadone (dropping out at constant hazard b: Weibull shape 1); nothing else happens
# (a closed register with no burn-in: the run starts from the configured split).
A, B = 0.05, 0.02


def _two_state(n=20000, weeks=120, seed=3):
    cfg = make_config(
        "scenario=compulsory",
        f"years={weeks / 52}",
        f"seed={seed}",
        f"population.n_people_by_district=[{n // 2},{n - n // 2}]",
        "population.p_opioid=1.0",
        "population.share_init_using=1.0",
        "population.share_init_abstinent=0.0",
        "population.share_init_methadone=0.0",
        "population.share_init_detained=0.0",
        "population.p_ever_detained=0.0",
        "params.police.rate_detect=0",
        f"params.treatment.rate_seek_methadone={A}",
        "params.treatment.shape_methadone_dropout=1.0",
        f"params.treatment.scale_methadone_dropout={1 / B}",
        "params.mortality.rate_death_off_oat=0",
        "params.mortality.rate_death_on_oat=0",
        "params.movement.rate_move=0",
        "output.events=false",
        "params.register.rate_entry=0",
        "params.movement.rate_move_in=0",
        "params.register.rate_remission_opioid=0",
        "params.register.rate_remission_meth=0",
        "params.use_on_methadone.rate_use_on_methadone=0",
        "params.use_on_methadone.hr_dropout_using=1.0",
        "burn_in_years=0",
    )
    m = DiversionModel(cfg, 0)
    m.run()
    return m


def test_methadone_occupancy_matches_markov_chain():
    """Waiting times are whole weeks (ceil of exponential) = geometric: the weekly chain is
    Markov with P(use->mmt) = 1-exp(-a), P(mmt->use) = 1-exp(-b). Its expected occupancy each
    week must match the simulated share within 4 binomial standard errors."""
    m = _two_state()
    n = m.pop.n
    share = m.metrics.states[:, State.METHADONE] / n
    p_in, p_out = 1 - np.exp(-A), 1 - np.exp(-B)
    pi = np.zeros(len(share))
    for w in range(1, len(share)):
        pi[w] = pi[w - 1] * (1 - p_out) + (1 - pi[w - 1]) * p_in
    se = np.sqrt(np.maximum(pi * (1 - pi), 1e-12) / n)
    z = np.abs(share[1:] - pi[1:]) / se[1:]
    assert z.max() < 4.5, f"max |z| = {z.max():.2f} at week {z.argmax() + 1}"
    stationary = p_in / (p_in + p_out)
    late = share[-30:].mean()
    assert abs(late - stationary) < 0.02, (late, stationary)


def test_relapse_after_release_matches_weibull():
    """Kaplan-Meier relapse after release reproduces the configured Weibull (no modifiers)."""
    cfg = make_config(
        "scenario=compulsory",
        "years=3",
        "population.n_people_by_district=[3000,1000]",
        "population.share_init_using=0.0",
        "population.share_init_abstinent=0.0",
        "population.share_init_methadone=0.0",
        "population.share_init_detained=1.0",
        "population.p_family=0",
        "scenario.p_release_linkage=0",
        "population.p_opioid=1.0",
        "scenario.dur_stay_repeat=[10,30]",
        "params.movement.rate_move=0",
        "params.mortality.rate_death_off_oat=0",
        "params.mortality.rate_death_detained=0",
        "params.police.rate_detect=0",
        "params.register.rate_entry=0",
        "params.movement.rate_move_in=0",
        "params.register.rate_remission_opioid=0",
        "params.register.rate_remission_meth=0",
        "burn_in_years=0",
    )
    m = DiversionModel(cfg, 0)
    r = m.run()
    k, lam = cfg.params.relapse.shape_relapse, cfg.params.relapse.scale_relapse
    for t, col in ((26, "relapse_26w_release"), (52, "relapse_52w_release")):
        expected = 1 - np.exp(-((t / lam) ** k))
        # discretisation: relapse happens in week ceil(T); KM at t counts T <= t exactly
        assert abs(r.metrics[col] - expected) < 0.03, (col, r.metrics[col], expected)
