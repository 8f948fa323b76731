"""Bad input: every mistake stops the command before anything runs, with one paragraph naming the
key, the value and what is allowed (issue 6). ``preflight`` is exactly what ``diversion-sim`` runs
first; a sample also goes through the real command (exit code 2, no traceback)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from diversion_sim.cli import preflight
from diversion_sim.params import ConfigError

# (overrides, text the message must contain) - each a distinct mistake a user can make
BAD = [
    (["scenario=nonsense"], "valid scenario names: compulsory"),
    (["population=mars"], "valid population names"),
    (["params=nope"], "valid params names"),
    (["scenario=compulsory,nonsense"], "valid scenario names"),
    (["params.police.rate_detect=-0.1"], "params.police.rate_detect"),
    (["params.police.rate_detect=abc"], "params.police.rate_detect"),
    (["params.police.rate_detect=nan"], "finite"),
    (["params.coordination.p_refer_hiv=62"], "Write 0.6, not 60"),
    (["population.p_opioid=75.8"], "Write 0.6, not 60"),
    (["scenario.p_assess_complete=1.2"], "scenario.p_assess_complete"),
    (["scenario.dur_stay_first=[104,52]"], "Did you mean [52, 104]"),
    (["scenario.dur_stay_repeat=[52]"], "a range must be [min, max]"),
    (["scenario.dur_stay_first=oops"], "scenario.dur_stay_first"),
    (["years=-1"], "'years' = -1"),
    (["years=0"], "horizon must be > 0"),
    (["years=inf"], "finite"),
    (["replicates=0"], "at least 1 replicate"),
    (["replicates=abc"], "replicates"),
    (["seed=1.5"], "seed"),
    (["population.n_people_by_district=[0,0]"], "at least one person"),
    (["population.n_people_by_district=[100]"], "one entry per district"),
    (["population.n_wards_by_district=[0,10]"], "population.n_wards_by_district[0]"),
    (["population.share_init_using=0.9"], "must sum to 1"),
    (["population.agents=sometimes"], "population.agents"),
    (["population.centres.compulsory.n_capacity=-5"], "a count must be >= 0"),
    (["population.centres.compulsory.n_capacity=2.5"], "population.centres.compulsory.n_capacity"),
    (["params.police.n_tests_dossier=2.5"], "params.police.n_tests_dossier"),
    (["params.relapse.shape_relapse=0"], "Weibull shape or scale must be > 0"),
    (["params.relapse.scale_relapse=-5"], "params.relapse.scale_relapse"),
    (["params.mortality.hr_inject=-1"], "params.mortality.hr_inject"),
    (["params.treatment.p_recovery_options=[0.5,0.2,0.2]"], "must sum to 1"),
    (["params.treatment.p_recovery_options=[1.0]"], "one probability per entry"),
    (["params.coordination.p_plan_recovery=0.95"], "must be <= 1"),
    (["scenario=pilot_diversion", "scenario.n_coordinators_per_ward=0"], "needs > 0 per ward"),
    (["scenario=pilot_diversion", "params.coordination.rate_assess=0"], "must be able to assess"),
    (["scenario.regime=lenient"], "one of ['compulsory', 'diversion']"),
    (["params.police.rate_detekt=0.1"], "params.police.rate_detekt"),
    (["+params.police.extra=1"], "params.police.extra"),
    (["output.events=maybe"], "output.events"),
    (["hydra.mode=RUN", "scenario=compulsory,pilot_diversion"], "several values"),
    (["scenario"], "scenario"),
    (["paramz.police.rate_detect=0.1"], "Did you mean 'params'"),
]


@pytest.mark.parametrize("overrides, needle", BAD, ids=[" ".join(o) for o, _ in BAD])
def test_bad_input_is_refused_with_a_clear_message(overrides, needle):
    with pytest.raises(ConfigError) as info:
        preflight(overrides)
    msg = str(info.value)
    assert needle in msg, msg
    assert "\n" not in msg.strip() and len(msg) < 700, f"not one short paragraph: {msg}"


def test_at_least_30_distinct_bad_inputs():
    assert len({tuple(o) for o, _ in BAD}) >= 30


@pytest.mark.parametrize("overrides, needle", [BAD[0], BAD[7], BAD[10], BAD[19], BAD[33], BAD[37]])
def test_command_exits_2_without_traceback(tmp_path, overrides, needle):
    r = subprocess.run(
        [sys.executable, "-m", "diversion_sim.cli", f"output.dir={tmp_path}", *overrides],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "DIVERSION_SIM_DEBUG"},
    )
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("diversion-sim: ") and r.stderr.count("\n") == 1, r.stderr
    assert not any(tmp_path.iterdir()), "a refused command wrote output"


def test_traceback_on_request(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "diversion_sim.cli", f"output.dir={tmp_path}", "years=-1"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DIVERSION_SIM_DEBUG": "1"},
    )
    assert r.returncode != 0 and "Traceback" in r.stderr and re.search(r"ConfigError", r.stderr)
