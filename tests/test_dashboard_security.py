"""The dashboard trusts nothing from the browser: texts put into HTML are escaped, only listed
choices are accepted (checked before any configuration is composed), and no traceback, server
path or environment value reaches a page."""

from __future__ import annotations

import logging
import time

import pytest

solara = pytest.importorskip("solara")
import ipyvuetify as v  # noqa: E402
import ipywidgets  # noqa: E402

from diversion_sim import dashboard as d  # noqa: E402

XSS = "<img src=x onerror=window.__pwned=1>"
SECRET = "s3cr3t-dashboard-value"
CRAFTED = [
    "${oc.env:DIVERSION_SIM_TEST_SECRET}",
    "../population/national",
    "compulsory,national",
    "",
    None,
    3,
]


def page_text(widget) -> str:
    """Every string a rendered widget tree sends to the browser (HTML, text, items, values)."""
    out, seen = [], set()

    def walk(w):
        if id(w) in seen:
            return
        seen.add(id(w))
        for name in ("unsafe_innerHTML", "value", "children", "v_model", "label", "items", "description"):
            val = getattr(w, name, None)
            for x in val if isinstance(val, list | tuple) else [val]:
                if isinstance(x, str):
                    out.append(x)
                elif isinstance(x, dict):
                    out.extend(str(y) for y in x.values())
                elif isinstance(x, ipywidgets.Widget):
                    walk(x)

    walk(widget)
    return "\n".join(out)


def html_parts(rc) -> list[str]:
    return [w.unsafe_innerHTML or "" for w in rc.find(solara.widgets.HTML).widgets]


@pytest.fixture
def secret(monkeypatch):
    monkeypatch.setenv("DIVERSION_SIM_TEST_SECRET", SECRET)


@pytest.fixture
def no_compose(monkeypatch):
    """Fails a test that composes a configuration (Hydra would resolve ${oc.env:...})."""
    import diversion_sim.config as config

    calls = []
    real = config.compose_config

    def spy(overrides=(), *a, **k):
        calls.append(list(overrides))
        return real(overrides, *a, **k)

    monkeypatch.setattr(config, "compose_config", spy)
    return calls


@pytest.fixture
def page(monkeypatch):
    """The page, rendered, with the reactive state returned to the pilot afterwards."""
    from matplotlib.figure import Figure

    monkeypatch.setattr(d, "figure", lambda s: Figure(figsize=(1, 1)))  # no model runs: the levers are tested
    monkeypatch.setattr(d, "key_numbers", lambda s: [])

    @solara.component
    def weeks():
        solara.Text("weeks")

    monkeypatch.setattr(d, "Weeks", weeks)  # no model either
    box, rc = solara.render(d.Page(), handle_error=False)
    yield box, rc
    rc.close()  # this page stops listening before the shared state is put back
    d.choose("pilot_diversion")
    d.replicates.value = 3
    d.notice.value = ""


def test_esc_escapes_markup_and_quotes():
    assert d.esc(XSS) == "&lt;img src=x onerror=window.__pwned=1&gt;"
    assert d.esc("a & 'b' \"c\"") == "a &amp; &#x27;b&#x27; &quot;c&quot;"
    assert d.esc(3) == "3"


def test_every_html_text_in_the_page_is_escaped(monkeypatch, page):
    """A description (from a scenario file) with markup is shown as text, not run."""
    real = d.defaults
    monkeypatch.setattr(d, "defaults", lambda sc="pilot_diversion": {**real(sc), "description": XSS})
    box, rc = page
    d.choose("release_linkage")  # rerender the levers with the crafted description
    parts = html_parts(rc)
    assert any("&lt;img src=x onerror=window.__pwned=1&gt;" in p for p in parts), parts
    assert not any("<img" in p or "onerror=window" in p.replace("&lt;img src=x onerror", "") for p in parts)


@pytest.mark.parametrize("value", CRAFTED)
def test_a_crafted_scenario_is_refused_before_composing(value, secret, no_compose):
    with pytest.raises(d.Refused) as err:
        d.check_scenario(value)
    with pytest.raises(d.Refused):
        d.defaults(value)  # type: ignore[arg-type]
    with pytest.raises(d.Refused):
        d.Settings(scenario=value)  # type: ignore[arg-type]
    if value is not None:  # None is the chosen scenario
        with pytest.raises(d.Refused):
            d.configure(d.Settings(), value)  # type: ignore[arg-type]
    assert no_compose == []  # refused before Hydra saw it
    assert SECRET not in str(err.value) and "oc.env" not in str(err.value)


def test_a_crafted_scenario_from_the_browser_keeps_the_page(secret, no_compose, page, caplog):
    box, rc = page
    select = rc.find(v.Select).widget
    assert select.items == list(d.allowed_scenarios())
    for value in CRAFTED[:3]:
        with caplog.at_level(logging.WARNING, logger="diversion_sim.dashboard"):
            select.v_model = value
        assert d.scenario.value == "pilot_diversion"  # not changed, nothing composed for it
        assert all(value not in c[0] for c in no_compose if c)
        text = page_text(box)
        assert d.REFUSED_SCENARIO in text
        assert SECRET not in text and "Traceback" not in text
    assert "refused scenario" in caplog.text  # the server's log says what came in
    assert SECRET not in caplog.text
    select.v_model = "release_linkage"  # a listed one still works
    assert d.scenario.value == "release_linkage" and d.notice.value == ""


def test_numbers_are_clamped_to_their_controls_range():
    assert d.check_control("linkage", 7.0) == 1.0
    assert d.check_control("linkage", -1) == 0.0
    assert d.check_control("detect", 1e9) == 0.3
    assert d.check_control("stay_months", 1000) == 36 and isinstance(d.check_control("stay_months", 7.4), int)
    assert d.check_control("replicates", 10_000) == d.REPLICATES[1]
    for bad in (float("nan"), float("inf"), "0.5", "${oc.env:HOME}", None, True, [1]):
        with pytest.raises(d.Refused):
            d.check_control("linkage", bad)
    with pytest.raises(d.Refused):
        d.check_control("__class__", 1)
    s = d.Settings(linkage=5.0, detect=-3.0, replicates=500)
    assert (s.linkage, s.detect, s.replicates) == (1.0, 0.005, d.REPLICATES[1])
    for bad in ({"population": "national"}, {"population": "../scenario/x"}, {"years": 10_000}):
        with pytest.raises(d.Refused):
            d.Settings(**bad)


def test_a_crafted_slider_value_is_clamped_or_refused(page):
    box, rc = page
    linkage = next(w for w in rc.find(v.Slider).widgets if w.max == 1.0)
    linkage.v_model = 50.0
    assert d.values["linkage"].value == 1.0
    before = d.values["linkage"].value
    linkage.v_model = "${oc.env:HOME}"
    assert d.values["linkage"].value == before and d.notice.value == d.REFUSED_VALUE
    reps = next(w for w in rc.find(v.Slider).widgets if w.max == d.REPLICATES[1])
    reps.v_model = 10**9
    assert d.replicates.value == d.REPLICATES[1]


def test_a_failing_rerun_shows_one_sentence_and_logs_the_traceback(monkeypatch, secret, page, caplog):
    box, rc = page
    import os

    def boom(settings):
        raise RuntimeError(f"/srv/secret/path {os.environ['DIVERSION_SIM_TEST_SECRET']}")

    monkeypatch.setattr(d, "figure", boom)
    with caplog.at_level(logging.ERROR, logger="diversion_sim.dashboard"):
        d.values["linkage"].value = 0.42  # a rerun
        rc.find(v.Alert, children=[d.FAILED]).wait_for(timeout=30)
    text = page_text(box)
    assert SECRET not in text and "/srv/secret" not in text and "Traceback" not in text
    assert "RuntimeError" in caplog.text and SECRET in caplog.text  # the traceback, server-side


def test_a_view_that_fails_to_render_shows_one_sentence(monkeypatch, secret, page, caplog):
    box, rc = page
    import os

    real = d.defaults

    def boom(sc="pilot_diversion"):
        raise RuntimeError(f"/srv/secret/path {os.environ['DIVERSION_SIM_TEST_SECRET']}")

    with caplog.at_level(logging.ERROR, logger="diversion_sim.dashboard"):
        monkeypatch.setattr(d, "defaults", boom)
        d.choose("release_linkage")  # the handler and the levers both fail
    text = page_text(box)
    assert d.FAILED in text
    assert SECRET not in text and "/srv/secret" not in text and "Traceback" not in text
    assert SECRET in caplog.text
    monkeypatch.setattr(d, "defaults", real)
    rc.find(v.Btn, children=["Back to the scenario's levers"]).widget.click()
    deadline = time.time() + 30
    while d.FAILED in page_text(box) and time.time() < deadline:
        time.sleep(0.2)  # a rerun thread may still be finishing
    assert d.FAILED not in page_text(box), page_text(box)
    assert any("Policy levers" in p for p in html_parts(rc))  # the levers are back
