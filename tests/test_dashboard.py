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
import ipywidgets  # noqa: E402

from diversion_sim import dashboard as d  # noqa: E402


def test_settings_make_valid_configs_and_change_results():
    base = d.Settings(years=1, replicates=1)
    more = d.Settings(years=1, replicates=1, linkage=0.9)
    a, b = d.simulate(base), d.simulate(more)
    assert a["metrics"].equals(d.simulate(base)["metrics"])  # cached, deterministic
    linked = lambda r: r["weekly"]["new_linked"].sum()  # noqa: E731
    assert linked(b) > linked(a)
    # the reference run ignores the levers, so the comparison is always against the status quo
    assert d.simulate(base, "compulsory")["metrics"].equals(d.simulate(more, "compulsory")["metrics"])


def test_slider_reruns_the_model_and_the_figure_changes():
    d.linkage.set(0.23)
    box, rc = solara.render(d.Page(), handle_error=False)
    labels = [w.label for w in rc.find(v.Slider).widgets]
    assert "Linked to services after release" in labels and len(labels) == 4
    first = bytes(rc.find(ipywidgets.Image).widget.value)
    rc.find(v.Slider, label="Linked to services after release").widget.v_model = 0.8
    assert d.linkage.value == 0.8
    assert bytes(rc.find(ipywidgets.Image).widget.value) != first, "the curves did not move"
    d.linkage.set(0.23)


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
    proc = subprocess.Popen([sys.executable, "-m", "diversion_sim.dashboard", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
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
