"""The teaching dashboard: sliders rerun the model and the curves move; it serves on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

solara = pytest.importorskip("solara")
import ipyvuetify as v  # noqa: E402

from diversion_sim import dashboard as d  # noqa: E402


def test_settings_make_valid_configs_and_change_results():
    base = d.for_scenario("pilot_diversion", years=1, replicates=1)
    more = d.for_scenario("pilot_diversion", years=1, replicates=1, linkage=0.9)
    a, b = d.simulate(base), d.simulate(more)
    assert a["metrics"].equals(d.simulate(base)["metrics"])  # cached, deterministic
    linked = lambda r: r["weekly"]["new_linked"].sum()  # noqa: E731
    assert linked(b) > linked(a)
    # the reference run ignores the controls: the comparison is always the configured status quo
    assert d.simulate(base, "compulsory")["metrics"].equals(d.simulate(more, "compulsory")["metrics"])
    comp = d.for_scenario("compulsory", years=1, replicates=1, linkage=0.9)
    assert d.simulate(comp, "compulsory")["metrics"].equals(d.simulate(base, "compulsory")["metrics"])


@pytest.mark.parametrize("scenario", ["release_linkage", "scaled_diversion", "law_2026"])
def test_each_scenario_starts_from_its_own_levers(scenario):
    from diversion_sim.config import compose_config

    cfg = compose_config([f"scenario={scenario}"])
    start = d.defaults(scenario)
    assert start["linkage"] == cfg.scenario.p_release_linkage  # 0.5, not the slider's last value
    lo, hi = cfg.scenario.dur_stay_first
    assert start["stay_months"] == round((lo + hi) / 2 * 12 / 52)
    d.choose(scenario)
    assert d.values["linkage"].value == cfg.scenario.p_release_linkage
    d.values["linkage"].set(0.99)
    d.reset()
    assert d.values["linkage"].value == cfg.scenario.p_release_linkage
    d.choose("pilot_diversion")
    assert d.values["linkage"].value == 0.23  # the pilot's calibrated value survives the step


def test_the_page_renders_the_levers_and_a_reset():
    box, rc = solara.render(d.Page(), handle_error=False)
    assert len(rc.find(v.Slider).widgets) == 5  # four levers and the replicates
    rc.find(v.Btn, children=["Reset to the scenario's levers"]).assert_single()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _other_address() -> str | None:
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return None
    addrs = [a for a in out.split() if "." in a and not a.startswith("127.")]
    return addrs[0] if addrs else None


@pytest.mark.slow
def test_server_binds_loopback_only():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "diversion_sim.dashboard", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline, ok = time.time() + 120, False
        while time.time() < deadline and not ok:
            try:
                ok = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).status == 200
            except OSError:
                time.sleep(1)
        assert ok, "dashboard did not answer on 127.0.0.1"
        other = _other_address()
        if other:
            with pytest.raises(OSError):
                socket.create_connection((other, port), timeout=3).close()
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
