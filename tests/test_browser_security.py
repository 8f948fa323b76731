"""In a real browser (Debian's chromium through playwright, offline), markup in a scenario's
description is shown as text and never runs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = "/usr/bin/chromium"
XSS = "<img src=x onerror=window.__pwned=1>"

# the dashboard with a scenario description that carries a script, and no model runs (the figure,
# the key numbers and the weeks tab are stubbed: only the page's text is under test)
APP = textwrap.dedent(
    f"""
    import solara
    from matplotlib.figure import Figure

    import diversion_sim.dashboard as d

    _real = d.defaults
    d.defaults = lambda scenario="pilot_diversion": {{**_real(scenario), "description": {XSS!r}}}
    d.figure = lambda settings: Figure(figsize=(2, 1))
    d.key_numbers = lambda settings: [({XSS!r}, 1.0, 0.0, 2.0, "")]


    @solara.component
    def _weeks():
        solara.Text("weeks")


    d.Weeks = _weeks
    Page = d.Page
    """
)


def _ensure_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=900)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"], env=env, capture_output=True, timeout=1800
        )
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium could not be installed (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def crafted_dashboard(tmp_path):
    pytest.importorskip("solara")
    app = tmp_path / "crafted_app.py"
    app.write_text(APP)
    port = _free_port()
    cmd = [sys.executable, "-m", "solara", "run", str(app), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--production", "--no-open"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"},
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(url, timeout=5).status == 200:
                    break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("the dashboard did not start")
        yield url
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def test_markup_in_a_description_is_text_not_a_script(crafted_dashboard):
    pytest.importorskip("playwright")
    _ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1024, "height": 900})
        page.route(
            "**/*",
            lambda r: (
                r.continue_()
                if r.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:"))
                else r.abort()
            ),
        )
        page.goto(crafted_dashboard)
        page.get_by_text("Policy levers").wait_for(timeout=180_000)
        page.get_by_text(XSS).first.wait_for(timeout=60_000)  # shown as the text it is
        page.wait_for_timeout(1500)
        assert page.locator("img[src='x']").count() == 0
        assert page.evaluate("window.__pwned") is None
        # and again after choosing another scenario (the description is rendered anew)
        page.locator(".v-select").first.click()
        page.locator(".v-list-item", has_text="release_linkage").first.click()
        page.get_by_text("Linked to services after release: 50%").wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        assert page.locator("img[src='x']").count() == 0
        assert page.evaluate("window.__pwned") is None
        browser.close()
