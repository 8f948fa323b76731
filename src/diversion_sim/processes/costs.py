"""Costs of every programme component, by payer and perspective, in one currency and price year.

A process that only reads the run (no risks, no handlers): each week's use of a component (people
detained, patient-days on methadone, coordinator hours, HIV tests done, ...) times its unit
cost, converted to the price year (``params.costs.price_year``) with the consumer price index of
Viet Nam (``cpi_growth``: the General Statistics Office's annual average change) and discounted
at ``rate_discount`` per year from the policy switch (week 0). Each unit cost
(``params.costs.<component>``) states its value, currency, price year and the share its client
or family pays (``share_client``); the rest is the government's. Results are in VND of the price
year and in USD at that year's exchange rate (``vnd_per_usd``).

Perspectives: the **government** (the state budget: centres, the dossier process, the
programme's staff, its share of treatment), **clients and families** (co-payments, fees and what
families pay for a detained relative) and **societal**, their sum (``cost_societal_vnd`` =
``cost_total_vnd``, the cost the cost-effectiveness analysis uses; productivity and time costs
are not counted).

Net monetary benefit of a run at a willingness to pay per QALY ``w``: ``w x qalys_disc -
cost_total_vnd`` (:mod:`.outcomes`), at three thresholds tied to Viet Nam's GDP per capita
(``gdp_per_capita`` of ``gdp_per_capita_year``, brought to the price year, times
``wtp_gdp_multiple_low/central/high``). Its paired difference is the incremental net monetary
benefit ``w x d_qalys - d_cost`` (:mod:`diversion_sim.economics`).

Components and their use (weeks 1 to the horizon):

- ``detention``: person-years in compulsory centres (the state's full cost: operating, staff,
  food, capital);
- ``detention_family``: the same person-years, priced at what families pay for a detained
  relative (food and fees; clients and families);
- ``dossier``: dossiers compiled for compulsory admission (police, commune and district
  People's Committee, district LISA office and the district court hearing);
- ``methadone``: patient-days on methadone;
- ``residential``: person-years in voluntary residential treatment (the client's 30%, seed 004);
- ``recovery``: person-weeks of recovery support or community ATS treatment;
- ``coordinator``: coordinator hours (``n_hours_per_month`` per coordinator, seed 004) where the
  regime has coordinators;
- ``support_staff``: staff-months of counsellors and peer recovery coaches
  (``scenario.n_support_staff_per_district``);
- ``hiv_test``: HIV tests done after a coordinator's referral;
- ``legal_aid``: clients given legal aid;
- ``family_support``: family-years reached by family support services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from omegaconf import MISSING

from ..schema import Section
from ..states import EventCode as Event
from ..states import StateCode as State
from .base import Process, Result
from .outcomes import discount_factors, run_qalys

if TYPE_CHECKING:
    from ..model import DiversionModel

COMPONENTS = (
    "detention",
    "detention_family",
    "dossier",
    "methadone",
    "residential",
    "recovery",
    "coordinator",
    "support_staff",
    "hiv_test",
    "legal_aid",
    "family_support",
)
PAYERS = ("government", "client")  # societal = their sum
THRESHOLDS = ("low", "central", "high")  # willingness to pay per QALY (wtp_gdp_multiple_*)
LABELS = {
    "detention": "Compulsory detention",
    "detention_family": "Compulsory detention: families' payments",
    "dossier": "Dossier and decision process (police, People's Committee, court)",
    "methadone": "Methadone",
    "residential": "Voluntary residential treatment",
    "recovery": "Recovery support and community ATS treatment",
    "coordinator": "Ward coordinators",
    "support_staff": "Counsellors and recovery coaches",
    "hiv_test": "HIV testing",
    "legal_aid": "Legal aid",
    "family_support": "Family support services",
}
UNITS = {
    "detention": "person-year",
    "detention_family": "person-year",
    "dossier": "dossier",
    "methadone": "patient-day",
    "residential": "person-year",
    "recovery": "person-week",
    "coordinator": "hour",
    "support_staff": "staff-month",
    "hiv_test": "test",
    "legal_aid": "client",
    "family_support": "family-year",
}


@dataclass
class UnitCost(Section):
    value: float = MISSING  # cost of one unit (UNITS) in ``currency`` of ``year``
    currency: str = MISSING  # "VND" or "USD"
    year: int = MISSING  # price year of ``value``
    share_client: float = MISSING  # share paid by the client or family (the rest: government)


def _unit() -> UnitCost:
    return UnitCost()


@dataclass
class CostsParams(Section):
    price_year: int = MISSING  # results are in prices of this year
    vnd_per_usd: float = MISSING  # exchange rate of the price year (results in USD)
    cpi_years: list[int] = MISSING  # years of ``cpi_growth``
    cpi_growth: list[float] = MISSING  # annual average CPI change of each year over the previous
    vnd_per_usd_years: list[int] = MISSING  # years of ``vnd_per_usd_history``
    vnd_per_usd_history: list[float] = MISSING  # exchange rates of source years (USD unit costs)
    rate_discount: float = MISSING  # per year, costs and effects, from week 0
    n_hours_per_month: float = MISSING  # hours a coordinator works on the programme a month
    gdp_per_capita: float = MISSING  # VND, GDP per capita (willingness-to-pay thresholds)
    gdp_per_capita_year: int = MISSING  # year of ``gdp_per_capita`` (VND of that year)
    wtp_gdp_multiple_low: float = MISSING  # willingness to pay per QALY, x GDP per capita
    wtp_gdp_multiple_central: float = MISSING
    wtp_gdp_multiple_high: float = MISSING
    detention: UnitCost = field(default_factory=_unit)
    detention_family: UnitCost = field(default_factory=_unit)
    dossier: UnitCost = field(default_factory=_unit)
    methadone: UnitCost = field(default_factory=_unit)
    residential: UnitCost = field(default_factory=_unit)
    recovery: UnitCost = field(default_factory=_unit)
    coordinator: UnitCost = field(default_factory=_unit)
    support_staff: UnitCost = field(default_factory=_unit)
    hiv_test: UnitCost = field(default_factory=_unit)
    legal_aid: UnitCost = field(default_factory=_unit)
    family_support: UnitCost = field(default_factory=_unit)


def price_factor(costs: CostsParams, year: int, currency: str) -> float:
    """VND of the price year per unit of ``currency`` of ``year``: USD are converted at the
    source year's rate, then VND are carried to the price year with the CPI (forward or back)."""
    vnd = 1.0
    if currency == "USD":
        rates = dict(zip(costs.vnd_per_usd_years, costs.vnd_per_usd_history))
        if year == costs.price_year:
            vnd = costs.vnd_per_usd
        elif year in rates:
            vnd = rates[year]
        else:
            raise ValueError(f"params.costs: no exchange rate for {year} (vnd_per_usd_years)")
    elif currency != "VND":
        raise ValueError(f"params.costs: currency {currency!r} is not VND or USD")
    growth = dict(zip(costs.cpi_years, costs.cpi_growth))
    lo, hi = sorted((int(year), int(costs.price_year)))
    missing = [y for y in range(lo + 1, hi + 1) if y not in growth]
    if missing:
        raise ValueError(f"params.costs: no CPI change for {missing} (cpi_years)")
    index = float(np.prod([1.0 + growth[y] for y in range(lo + 1, hi + 1)]))
    return vnd * (index if year <= costs.price_year else 1.0 / index)


def check(costs: CostsParams) -> None:
    """Every unit cost can be brought to the price year: a known currency, a CPI change for
    every year in between, an exchange rate for every US$ year."""
    from ..errors import ConfigError

    if len(costs.cpi_years) != len(costs.cpi_growth):
        raise ConfigError(
            f"config key 'params.costs.cpi_growth' = {list(costs.cpi_growth)} is not "
            f"allowed: one change per year of cpi_years ({len(costs.cpi_years)})."
        )
    if len(costs.vnd_per_usd_years) != len(costs.vnd_per_usd_history):
        raise ConfigError(
            "config key 'params.costs.vnd_per_usd_history' is not allowed: one rate "
            "per year of vnd_per_usd_years."
        )
    try:
        price_factor(costs, costs.gdp_per_capita_year, "VND")
    except ValueError as exc:
        raise ConfigError(
            f"config key 'params.costs.gdp_per_capita_year' = {costs.gdp_per_capita_year} is not "
            f"allowed: {exc}."
        ) from None
    for t in THRESHOLDS:
        if getattr(costs, f"wtp_gdp_multiple_{t}") < 0:
            raise ConfigError(
                f"config key 'params.costs.wtp_gdp_multiple_{t}' = "
                f"{getattr(costs, f'wtp_gdp_multiple_{t}')} is not allowed: it must be >= 0."
            )
    for c in COMPONENTS:
        u = getattr(costs, c)
        if u.currency not in ("VND", "USD"):
            raise ConfigError(
                f"config key 'params.costs.{c}.currency' = {u.currency!r} is not allowed: 'VND' or 'USD'."
            )
        try:
            price_factor(costs, u.year, u.currency)
        except ValueError as exc:
            raise ConfigError(
                f"config key 'params.costs.{c}.year' = {u.year} is not allowed: {exc}."
            ) from None


def unit_costs(costs: CostsParams) -> dict[str, float]:
    """Each component's unit cost in VND of the price year."""
    return {
        c: getattr(costs, c).value * price_factor(costs, getattr(costs, c).year, getattr(costs, c).currency)
        for c in COMPONENTS
    }


def wtp_per_qaly(costs: CostsParams) -> dict[str, float]:
    """The willingness-to-pay thresholds per QALY, VND of the price year (low, central, high)."""
    gdp = costs.gdp_per_capita * price_factor(costs, costs.gdp_per_capita_year, "VND")
    return {t: gdp * getattr(costs, f"wtp_gdp_multiple_{t}") for t in THRESHOLDS}


def weekly_use(m: DiversionModel, weekly: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Units of each component used in weeks 1..horizon (arrays of one value a week)."""
    rec, sc, cp = m.metrics, m.cfg.scenario, m.cfg.params.costs
    s = rec.states[1:].astype(float)
    flows = rec.flows[1:].astype(float)
    n = s.shape[0]
    coordinators = float(m.wards.n_coordinators.sum()) if m.regime.coordinators else 0.0
    n_districts = len(m.cfg.population.district_names)
    staff = float(sc.n_support_staff_per_district) * n_districts if m.regime.coordinators else 0.0
    return {
        "detention": s[:, State.DETAINED] / 52.0,
        "detention_family": s[:, State.DETAINED] / 52.0,
        "dossier": flows[:, Event.DOSSIER],
        "methadone": s[:, State.METHADONE] * 7.0,
        "residential": s[:, State.RESIDENTIAL] / 52.0,
        "recovery": s[:, State.RECOVERY],
        "coordinator": np.full(n, coordinators * cp.n_hours_per_month * 12.0 / 52.0),
        "support_staff": np.full(n, staff * 12.0 / 52.0),
        "hiv_test": flows[:, m.assembly.process("coordination").code("hiv_test")],
        "legal_aid": flows[:, m.assembly.process("coordination").code("legal_aid")],
        "family_support": weekly["families_supported"][1:] / 52.0,
    }


def run_costs(m: DiversionModel, weekly: dict[str, np.ndarray]) -> dict[str, float]:
    """Discounted costs by component, payer and perspective (VND of the price year), and the
    net monetary benefit at each willingness-to-pay threshold, of one run."""
    cp = m.cfg.params.costs
    use = weekly_use(m, weekly)
    n = m.metrics.states.shape[0] - 1
    disc = discount_factors(cp.rate_discount, n)
    unit = unit_costs(cp)
    out: dict[str, float] = {}
    payer = dict.fromkeys(PAYERS, 0.0)
    for c in COMPONENTS:
        total = float(np.sum(use[c] * disc) * unit[c])
        out[f"cost_{c}_vnd"] = total
        share = getattr(cp, c).share_client
        payer["client"] += total * share
        payer["government"] += total * (1.0 - share)
    out["cost_government_vnd"] = payer["government"]
    out["cost_client_vnd"] = payer["client"]
    out["cost_total_vnd"] = payer["government"] + payer["client"]
    out["cost_societal_vnd"] = out["cost_total_vnd"]
    out["cost_total_usd"] = out["cost_total_vnd"] / cp.vnd_per_usd
    out["cost_per_person_vnd"] = out["cost_total_vnd"] / max(m.pop.n, 1)
    n_fam = int(m.pop.has_family.sum())
    out["cost_client_per_family_vnd"] = out["cost_client_vnd"] / n_fam if n_fam else float("nan")
    qalys = float(np.sum(run_qalys(m, weekly) * disc) / 52.0)
    for t, w in wtp_per_qaly(cp).items():
        out[f"wtp_{t}_vnd"] = w
        out[f"net_benefit_{t}_vnd"] = w * qalys - out["cost_total_vnd"]
    out["hiv_tests"] = float(use["hiv_test"].sum())
    return out


RESULTS = tuple(
    [Result(f"cost_{c}_vnd", f"Cost: {LABELS[c].lower()}", "VND") for c in COMPONENTS]
    + [
        Result("cost_government_vnd", "Cost to the government", "VND"),
        Result("cost_client_vnd", "Cost to clients and families (out of pocket)", "VND"),
        Result("cost_total_vnd", "Total cost", "VND"),
        Result("cost_societal_vnd", "Cost, societal perspective (government + clients and families)", "VND"),
        Result("cost_total_usd", "Total cost", "USD"),
        Result("cost_per_person_vnd", "Total cost per person on the register", "VND"),
        Result("cost_client_per_family_vnd", "Out-of-pocket cost per family (co-payments)", "VND"),
    ]
    + [Result(f"wtp_{t}_vnd", f"Willingness to pay per QALY, {t} threshold", "VND") for t in THRESHOLDS]
    + [
        Result(f"net_benefit_{t}_vnd", f"Net monetary benefit (QALYs), {t} willingness to pay", "VND")
        for t in THRESHOLDS
    ]
    + [
        Result("hiv_tests", "HIV tests done", "tests"),
    ]
)

PROCESS = Process(
    name="costs", doc=__doc__, params=CostsParams, results=RESULTS, metrics=run_costs, check=check
)
