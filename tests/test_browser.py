"""The teachers' dashboard and the planners' report in a real browser (Debian's chromium driven by
playwright; no browser download), offline: every request that does not go to this machine is
refused. Screenshots go to outputs/browser/ (look at them)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "outputs" / "browser"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _ensure_chromium() -> None:
    """Debian's chromium, installed with apt when missing (CI runs as root); elsewhere the tests
    are skipped with the reason, in CI they fail."""
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


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("playwright")
    pytest.importorskip("solara")
    _ensure_chromium()
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _offline_page(browser, width: int, allowed: tuple[str, ...]):
    """A page that refuses every request outside ``allowed`` and records console errors,
    refused requests and failed responses."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    log = {"console": [], "external": [], "failed": []}
    page.on("console", lambda m: log["console"].append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: log["failed"].append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def route(r):
        if r.request.url.startswith(allowed):
            r.continue_()
        else:
            log["external"].append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return page, log


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard():
    pytest.importorskip("solara")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "diversion_sim.dashboard", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
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


def _figure(page) -> str:
    return page.locator("img").first.get_attribute("src") or ""


def _wait_new_figure(page, old: str, what: str, timeout_s: float = 120) -> str:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        src = _figure(page)
        if src and src != old:
            return src
        page.wait_for_timeout(300)
    raise AssertionError(f"the figure did not change after {what}")


def test_dashboard_in_a_browser_offline(browser, dashboard):
    page, log = _offline_page(browser, 1024, ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
    page.goto(dashboard)
    page.wait_for_selector("img", timeout=180_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SHOTS / "dashboard_1024.png"))
    # the pilot's own levers, shown beside the controls (the linkage slider keeps 23%)
    page.get_by_text("Linked to services after release: 23%").wait_for(timeout=30_000)
    page.get_by_text("Coordinators per ward: 1").wait_for()
    # usable at 1,024 px: slider tracks are wide
    widths = [page.locator(".v-slider").nth(i).bounding_box()["width"] for i in range(5)]
    assert min(widths) > 150, widths
    # each control reruns the model and the figure changes
    fig = _figure(page)
    sliders = page.locator("[role=slider]")
    assert sliders.count() == 5
    for i, name in enumerate(["coordinators", "linkage", "stay", "detection", "replicates"]):
        sliders.nth(i).focus()
        sliders.nth(i).press("ArrowRight")
        fig = _wait_new_figure(page, fig, f"moving the {name} control")
    page.screenshot(path=str(SHOTS / "dashboard_moved.png"))
    # another scenario starts from its own levers (release_linkage: 50% linked, 0 coordinators)
    page.locator(".v-select").first.click()
    page.locator(".v-list-item", has_text="release_linkage").first.click()
    page.get_by_text("Linked to services after release: 50%").wait_for(timeout=30_000)
    page.get_by_text("(no effect in this scenario)").wait_for()
    fig = _wait_new_figure(page, fig, "choosing release_linkage")
    page.screenshot(path=str(SHOTS / "dashboard_release_linkage.png"))
    sliders.nth(1).focus()
    sliders.nth(1).press("ArrowLeft")
    page.get_by_text("Linked to services after release: 49%").wait_for()
    page.get_by_role("button", name="Reset to the scenario's levers").click()
    page.get_by_text("Linked to services after release: 50%").wait_for()
    # the people, week by week
    page.get_by_text("Watch the weeks").click()
    page.get_by_role("button", name="Step one week").click()
    page.get_by_text("Week 1 of").wait_for(timeout=60_000)
    page.get_by_text("family strain").first.wait_for()
    page.screenshot(path=str(SHOTS / "dashboard_weeks.png"))
    assert not log["external"], f"requests outside this machine: {log['external'][:5]}"
    assert not log["failed"], log["failed"][:5]
    assert not log["console"], log["console"][:5]
    page.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    root = tmp / "sweep"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "diversion_sim.cli",
            f"output.dir={tmp}",
            f"hydra.sweep.dir={root}",
            "population=pilot_wards",
            "replicates=3",
            "years=1",
        ],
        capture_output=True,
        text=True,
        cwd=tmp,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return root / "report" / "report.html"


def test_report_is_one_self_contained_page(browser, report):
    page, log = _offline_page(browser, 900, ("file://", "data:"))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    imgs = page.eval_on_selector_all("img", "els => els.map(e => [e.src.slice(0, 22), e.naturalWidth])")
    assert len(imgs) >= 8
    assert all(src.startswith("data:image/png;base64") and w > 100 for src, w in imgs), imgs
    for heading in (
        "Executive summary",
        "What was run",
        "Definitions",
        "Assumptions and limitations",
        "Costs and cost-effectiveness",
        "Families",
        "Calibration fit on these runs",
    ):
        page.get_by_role("heading", name=heading).first.wait_for()
    # reads at 900 px: the page itself does not scroll sideways (wide tables scroll in their box)
    assert page.evaluate("document.documentElement.scrollWidth") <= 900
    page.screenshot(path=str(SHOTS / "report_900.png"))
    pdf = page.pdf(path=str(SHOTS / "report_a4.pdf"), format="A4")
    assert len(pdf) > 50_000
    assert not log["external"] and not log["failed"] and not log["console"], log
    page.close()
