"""Typed schema of every parameter (Hydra structured config) and its validation.

The *values* live in ``configs/`` (YAML, each with its source beside it); this module only
declares names, types and domains, so a value cannot drift between code and config.
Names carry their kind (Starsim convention) and the kind decides the allowed domain:

====================  ===========================================  =================
prefix                meaning                                      allowed
====================  ===========================================  =================
``p_``, ``share_``     probability / share                          [0, 1]
``rate_``              rate per week (or per 100 person-years)      >= 0
``dur_``               duration in weeks (scalar or [min, max])     >= 0, min <= max
``n_``                 count                                        integer >= 0
``hr_``, ``mult_``     hazard ratio / multiplier                    >= 0
``rel_``               relative multiplier of a capacity            >= 0
``shape_``/``scale_``  Weibull shape / scale in weeks               > 0
====================  ===========================================  =================
"""

from __future__ import annotations

import difflib
import functools
import math
import typing
from dataclasses import dataclass, field, fields, is_dataclass, make_dataclass
from typing import TYPE_CHECKING, Any, cast

from omegaconf import MISSING

from .errors import ConfigError  # noqa: F401  (re-exported: the schema's error)
from .schema import Section


@dataclass(frozen=True)
class Regime:
    """What a regime changes in the processes' rules (``scenario.regime`` names one of
    :data:`REGIMES`); processes ask ``model.regime`` instead of comparing names."""

    police_refer: bool  # police refer to a ward coordinator instead of compiling a dossier
    coordinators: bool  # ward coordinators assess, plan and follow up clients
    description: str


REGIMES = {
    "compulsory": Regime(
        False,
        False,
        "police compile a dossier at the third positive test (Law 15/2012 art. 103); no coordinators",
    ),
    "diversion": Regime(
        True,
        True,
        "police refer to ward coordinators, who assess and plan "
        "community treatment (the Hanoi pilot, seed 004)",
    ),
}
AGENT_MODES = ("eager", "persons", "lazy")
MOVES = ("out_in", "between_wards")
CENTRE_KINDS = ("compulsory", "residential", "methadone", "services")


# --------------------------------------------------------------------------- schema


@dataclass
class CentreKindParams(Section):
    n_centres: int = MISSING
    n_capacity: int | None = MISSING  # beds/slots per centre; null = unlimited


@dataclass
class CentresParams(Section):
    compulsory: CentreKindParams = field(default_factory=CentreKindParams)
    residential: CentreKindParams = field(default_factory=CentreKindParams)
    methadone: CentreKindParams = field(default_factory=CentreKindParams)
    services: CentreKindParams = field(default_factory=CentreKindParams)


@dataclass
class PopulationParams(Section):
    name: str = MISSING
    district_names: list[str] = MISSING
    n_people_by_district: list[int] = MISSING
    n_wards_by_district: list[int] = MISSING
    shape_ward_size: float = MISSING  # gamma shape of ward weights; large = equal wards
    p_opioid: float = MISSING
    p_inject_given_opioid: float = MISSING
    p_fixed_address: float = MISSING
    p_family: float = MISSING
    p_ever_detained: float = MISSING
    n_mean_prior_detentions: float = MISSING
    share_init_using: float = MISSING
    share_init_abstinent: float = MISSING
    share_init_methadone: float = MISSING
    share_init_detained: float = MISSING
    dur_since_release_init: float = MISSING  # weeks: last release of the ever-detained at the start
    dur_init_abstinent_max: float = MISSING  # weeks abstinent at the start: uniform up to this
    dur_init_methadone_max: float = MISSING  # weeks on methadone at the start: uniform up to this
    p_engage_by_district: list[float] = MISSING  # referred clients who engage with the coordinator
    moves: str = MISSING  # "out_in": moves leave the population, others move in;
    # "between_wards": the population is closed to migration, a move changes the ward
    agents: str = MISSING  # "eager": all Person and Family agents at start; "persons": all Person
    # agents, Family agents on first access; "lazy": both on first access
    centres: CentresParams = field(default_factory=CentresParams)


@dataclass
class PoliceParams(Section):
    rate_detect: float = MISSING  # per week, for a person using drugs in the community
    rate_retest: float = MISSING  # per week, while a positive-test window is open
    dur_test_window: float = MISSING  # weeks in which positive tests count together
    n_tests_dossier: int = MISSING
    p_dossier: float = MISSING  # threshold reached -> dossier compiled and approved
    hr_detect_supervised: float = MISSING
    hr_detect_methadone: float = MISSING  # detection of patients using on methadone (clinic testing)
    dur_dossier: float = MISSING
    dur_dossier_wait_max: float = MISSING  # weeks a dossier waits for a bed before it lapses


@dataclass
class CoordinationParams(Section):
    rate_assess: float = MISSING  # assessments per coordinator per week
    n_caseload_max: int = MISSING  # active clients per coordinator
    dur_followup: float = MISSING
    rate_queue_leave: float = MISSING
    p_plan_methadone: float = MISSING  # opioid users, given a plan
    p_plan_recovery: float = MISSING
    p_plan_residential: float = MISSING
    p_plan_ats: float = MISSING  # methamphetamine users, when community ATS treatment exists
    p_refer_hiv: float = MISSING
    p_hiv_test_done: float = MISSING  # of clients referred to HIV testing, the share tested
    p_refer_legal: float = MISSING
    p_refer_mental: float = MISSING
    p_refer_vocational: float = MISSING
    p_peer_support: float = MISSING
    p_recovery_screened: float = MISSING  # screened clients not fully assessed who start recovery support


@dataclass
class TreatmentParams(Section):
    shape_methadone_dropout: float = MISSING
    scale_methadone_dropout: float = MISSING
    rate_seek_methadone: float = MISSING
    dur_residential: float = MISSING
    rate_residential_leave: float = MISSING
    share_residential_copay: float = MISSING
    dur_recovery_options: list[float] = MISSING
    p_recovery_options: list[float] = MISSING
    rate_recovery_dropout: float = MISSING


@dataclass
class RelapseParams(Section):
    shape_relapse: float = MISSING
    scale_relapse: float = MISSING  # weeks, after release from compulsory detention
    hr_after_residential: float = MISSING
    hr_after_recovery: float = MISSING
    hr_after_remission: float = MISSING
    hr_meth: float = MISSING  # methamphetamine users relative to opioid users
    hr_linked: float = MISSING
    hr_family_monitoring: float = MISSING
    hr_family_employment: float = MISSING
    hr_family_conditional: float = MISSING
    hr_coordinator_followup: float = MISSING


@dataclass
class MortalityParams(Section):
    rate_death_off_oat: float = MISSING  # per 100 person-years
    rate_death_on_oat: float = MISSING
    rate_death_detained: float = MISSING
    hr_inject: float = MISSING
    mult_post_release_w1_2: float = MISSING
    mult_post_release_w3_4: float = MISSING
    mult_after_detox_w1_2: float = MISSING  # after completed residential treatment or detox
    mult_after_detox_w3_4: float = MISSING
    mult_after_methadone_w1_2: float = MISSING  # after leaving methadone
    mult_after_methadone_w3_4: float = MISSING
    dur_excess_segments: list[float] = MISSING  # weeks: ends of the excess segments after an exit


@dataclass
class MovementParams(Section):
    rate_move: float = MISSING  # per week while in the community
    rate_move_in: float | None = (
        MISSING  # per person-year of the trended register (out_in populations); None: matched to rate_move
    )


@dataclass
class RegisterParams(Section):
    rate_register_growth: float = MISSING  # per year, the observed trend of the register
    rate_entry: float = MISSING  # new registrations per person-year of the trended register
    p_opioid_entrant: float = MISSING  # newly registered people whose primary drug is an opioid
    rate_remission_opioid: float = MISSING  # per person-year while using
    rate_remission_meth: float = MISSING
    dur_deregister: float = MISSING  # weeks abstinent in the community before leaving the register


@dataclass
class DetentionParams(Section):
    dur_supervision: float = MISSING
    # released people linked to services who are planned onto methadone (opioid users); None:
    # the coordinators' plan share, params.coordination.p_plan_methadone
    p_linked_methadone: float | None = MISSING


@dataclass
class CoreParams(Section):
    police: PoliceParams = field(default_factory=PoliceParams)
    coordination: CoordinationParams = field(default_factory=CoordinationParams)
    treatment: TreatmentParams = field(default_factory=TreatmentParams)
    relapse: RelapseParams = field(default_factory=RelapseParams)
    mortality: MortalityParams = field(default_factory=MortalityParams)
    movement: MovementParams = field(default_factory=MovementParams)
    register: RegisterParams = field(default_factory=RegisterParams)
    detention: DetentionParams = field(default_factory=DetentionParams)
    # CSV of posterior draws (one column per dotted key); replicate r uses row r mod n. null: the
    # point values above. Relative paths are relative to configs/ (params=posterior sets it).
    posterior_file: str | None = MISSING


def _process_sections() -> list[tuple[str, type, Any]]:
    """The parameter sections the processes declare (``Process.params``)."""
    from .processes.registry import PROCESSES

    return [(p.name, p.params, field(default_factory=p.params)) for p in PROCESSES if p.params is not None]


# The model's parameters: the core sections above plus one section per process that declares
# its own (``params.<process name>``), assembled from processes/registry.py.
if TYPE_CHECKING:

    class ModelParams(CoreParams):
        """To a type checker: the core sections, and any process's section by its name."""

        def __getattr__(self, name: str) -> Any: ...

else:
    ModelParams = make_dataclass("ModelParams", _process_sections(), bases=(CoreParams,))
    ModelParams.__module__ = __name__
    ModelParams.__doc__ = "Model parameters: the core sections and each process's own section."


@dataclass
class ScenarioParams(Section):
    """Policy levers; a scenario file in ``configs/scenario/`` changes only what differs."""

    name: str = MISSING
    description: str = MISSING
    regime: str = MISSING  # "compulsory" | "diversion"
    voluntary_only: bool = MISSING  # centres admit only voluntarily (seed 003)
    n_coordinators_per_ward: float = MISSING
    rel_assess_capacity: float = MISSING  # counsellors/coaches multiply assessment capacity
    n_support_staff_per_district: float = MISSING  # counsellors and peer recovery coaches (costed)
    p_assess_complete: float = MISSING  # engaged clients who get a full assessment + plan
    n_tests_refer: int = MISSING  # diversion: police refer at this positive test in the window
    dur_refer_after_release: float = MISSING  # ... or at any positive test this soon after release
    p_release_linkage: float = MISSING  # released people linked to community services
    ats_treatment: bool = MISSING  # community treatment for methamphetamine users
    hr_family_support: float = MISSING  # relapse hazard ratio with family support services
    p_family_support_reach: float = MISSING
    rel_family_insists: float = MISSING  # supported families: insisting threshold / this
    rel_family_relief: float = MISSING  # supported families: strain decays this much faster
    rel_family_hope: float = MISSING  # supported families: hope (strategy uptake) times this
    p_accept_voluntary: float = MISSING  # with voluntary_only: share accepting voluntary care
    dur_stay_first: list[float] = MISSING  # [min, max] weeks of a first compulsory stay
    dur_stay_repeat: list[float] = MISSING  # [min, max] weeks of a repeat stay


@dataclass
class OutputParams(Section):
    dir: str = MISSING
    events: bool = MISSING  # write the event table (large at national scale)
    allow_incomplete: bool = MISSING  # summarise a sweep even if some runs are missing/damaged
    resume: bool = MISSING  # write into a folder that already holds runs (finish/redo a sweep)
    report: bool = MISSING  # write the planners' report (report/report.html) after the summary
    burn_in: bool = MISSING  # also write the burn-in's weekly table (weekly_burn_in.parquet)


@dataclass
class LimitsParams(Section):
    """Upper bounds on what one configuration may ask for: a typo (years=500, replicates=1e6)
    stops before anything runs instead of running for a day or exhausting memory. Raise a bound
    on the command line when you mean it (``limits.max_people=5000000``)."""

    max_years: float = MISSING  # horizon and burn-in, each
    max_replicates: int = MISSING
    max_people: int = MISSING  # people at week 0, all districts
    max_wards: int = MISSING
    max_count: float = MISSING  # any other count (n_*): coordinators, caseload, beds, tests
    max_text_chars: int = MISSING  # any text: descriptions, names, paths (each is copied into every run)


@dataclass
class Config(Section):
    seed: int = MISSING
    replicates: int = MISSING
    years: float = MISSING
    burn_in_years: float = MISSING  # warm start: years under the status quo before week 0
    population: PopulationParams = field(default_factory=PopulationParams)
    scenario: ScenarioParams = field(default_factory=ScenarioParams)
    status_quo: ScenarioParams = field(default_factory=ScenarioParams)  # levers of the burn-in
    params: ModelParams = field(default_factory=ModelParams)
    output: OutputParams = field(default_factory=OutputParams)
    limits: LimitsParams = field(default_factory=LimitsParams)


def register_schema() -> None:
    """Register :class:`Config` as ``base_config`` in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="base_config", node=Config)
    from .paths import register_resolvers

    register_resolvers()


# --------------------------------------------------------------------------- validation


def _show(v: Any) -> Any:
    """Values as the user wrote them: 104.0 -> 104 (YAML/CLI give floats for float fields)."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, (list, tuple)):
        return [_show(x) for x in v]
    return v


def _fail(key: str, value: Any, allowed: str, hint: str = "") -> None:
    msg = f"config key '{key}' = {_show(value)!r} is not allowed: {allowed}."
    if hint:
        msg += f" {hint}"
    raise ConfigError(msg)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# Domains of keys whose name carries no kind prefix (the costs): (test, what is allowed)
_RATE = (lambda v: v > 0, "an exchange rate (VND per US$) must be > 0")
_NAMED_DOMAINS: dict[str, tuple[Any, str]] = {
    "vnd_per_usd": _RATE,
    "vnd_per_usd_history": _RATE,
    "cpi_growth": (
        lambda v: v > -1,
        "an annual CPI change is a fraction > -1 (0.03 is 3%; -1 or below would make prices zero "
        "or negative)",
    ),
}
_UNIT_COST = (lambda v: v >= 0, "a unit cost must be >= 0 (0 leaves the component uncosted)")


def _check_scalar(key: str, name: str, v: Any) -> None:
    if v is None:
        if name in (
            "n_capacity",
            "posterior_file",
            "p_linked_methadone",
            "rate_move_in",
        ):  # null has a meaning
            return
        _fail(key, v, "a value is required")
    if isinstance(v, (str, bool)):
        return
    if not _is_number(v):
        _fail(key, v, "it must be a number")
    if math.isnan(v) or math.isinf(v):
        _fail(key, v, "it must be a finite number")
    if name in _NAMED_DOMAINS or (name == "value" and key.startswith("params.costs.")):
        ok, allowed = _NAMED_DOMAINS.get(name, _UNIT_COST)
        if not ok(v):
            _fail(key, v, allowed)
    elif name.startswith(("p_", "share_")):
        if not 0.0 <= v <= 1.0:
            hint = "Did you pass a percentage? Write 0.6, not 60." if 2 <= v <= 100 else ""
            _fail(key, v, "a probability or share must be in [0, 1]", hint)
    elif name.startswith("n_"):
        if v < 0:
            _fail(key, v, "a count must be >= 0")
        if name not in (
            "n_coordinators_per_ward",
            "n_mean_prior_detentions",
            "n_hours_per_month",
            "n_support_staff_per_district",
        ) and v != int(v):
            _fail(key, v, "a count must be a whole number")
    elif name.startswith(("shape_", "scale_")):
        if v <= 0:
            _fail(key, v, "a Weibull shape or scale must be > 0")
    elif name.startswith(("rate_", "dur_", "hr_", "mult_", "rel_")):
        if v < 0:
            _fail(key, v, "rates, durations, hazard ratios and multipliers must be >= 0")


def _walk(node: Any, prefix: str) -> None:
    for f in fields(node):
        key = f"{prefix}{f.name}"
        v = getattr(node, f.name)
        if is_dataclass(v):
            _walk(v, key + ".")
        elif isinstance(v, list):
            for i, item in enumerate(v):
                _check_scalar(f"{key}[{i}]", f.name, item)
            if f.name.startswith("dur_stay") or f.name.endswith("_range"):
                if len(v) != 2:
                    _fail(key, v, "a range must be [min, max]")
                if v[0] > v[1]:
                    _fail(
                        key,
                        v,
                        "a range must be ordered [min, max] with min <= max",
                        f"Did you mean {_show([v[1], v[0]])}?",
                    )
        else:
            _check_scalar(key, f.name, v)


def validate(cfg: Config) -> Config:
    """Check every value against its domain and the cross-field rules; raise :class:`ConfigError`.

    Args:
        cfg: a fully composed config as the :class:`Config` dataclass (see :func:`to_config`).

    Returns:
        the same object, for chaining.
    """
    _walk(cfg, "")
    pop, sc, par = cfg.population, cfg.scenario, cfg.params
    if cfg.years <= 0:
        _fail("years", cfg.years, "the horizon must be > 0 years")
    if round(cfg.years * 52) < 1:
        _fail(
            "years",
            cfg.years,
            "the horizon must be at least one week (years >= 0.0096): a shorter one simulates no week at all",
        )
    if cfg.burn_in_years < 0:
        _fail("burn_in_years", cfg.burn_in_years, "the burn-in must be >= 0 years")
    if cfg.replicates < 1:
        _fail("replicates", cfg.replicates, "at least 1 replicate is needed")
    if not 0 <= cfg.seed < 2**63:
        _fail("seed", cfg.seed, "a seed is a whole number from 0 to 2**63 - 1")
    _check_limits(cfg)
    for key, regime in (("scenario.regime", sc.regime), ("status_quo.regime", cfg.status_quo.regime)):
        if regime not in REGIMES:
            _fail(
                key,
                regime,
                f"one of {list(REGIMES)} ("
                + "; ".join(f"{k}: {r.description}" for k, r in REGIMES.items())
                + ")",
            )
    if pop.moves not in MOVES:
        _fail("population.moves", pop.moves, f"one of {list(MOVES)}")
    if cfg.status_quo.regime != "compulsory":
        _fail(
            "status_quo.regime",
            cfg.status_quo.regime,
            "the status quo (the burn-in before week 0) is the compulsory regime",
        )
    if pop.agents not in AGENT_MODES:
        _fail("population.agents", pop.agents, f"one of {list(AGENT_MODES)}")
    k = len(pop.district_names)
    if not (len(pop.n_people_by_district) == k == len(pop.n_wards_by_district)) or k == 0:
        _fail(
            "population.n_people_by_district",
            pop.n_people_by_district,
            "one entry per district in population.district_names, and at least one district",
        )
    if sum(pop.n_people_by_district) < 1:
        _fail(
            "population.n_people_by_district",
            pop.n_people_by_district,
            "the population must hold at least one person",
        )
    if len(pop.p_engage_by_district) != k:
        _fail(
            "population.p_engage_by_district",
            pop.p_engage_by_district,
            f"one share per district in population.district_names ({k})",
        )
    for i, nw in enumerate(pop.n_wards_by_district):
        if nw < 1:
            _fail(f"population.n_wards_by_district[{i}]", nw, "every district needs >= 1 ward")
    shares = [
        pop.share_init_using,
        pop.share_init_abstinent,
        pop.share_init_methadone,
        pop.share_init_detained,
    ]
    if abs(sum(shares) - 1.0) > 1e-6:
        _fail("population.share_init_*", shares, "the initial state shares must sum to 1")
    opts, probs = par.treatment.dur_recovery_options, par.treatment.p_recovery_options
    if len(opts) != len(probs) or not opts:
        _fail(
            "params.treatment.p_recovery_options", probs, "one probability per entry of dur_recovery_options"
        )
    if abs(sum(probs) - 1.0) > 1e-6:
        _fail("params.treatment.p_recovery_options", probs, "the probabilities must sum to 1")
    c = par.coordination
    plan = c.p_plan_recovery + c.p_plan_residential
    if plan > 1.0 + 1e-9:
        _fail(
            "params.coordination.p_plan_recovery",
            c.p_plan_recovery,
            f"p_plan_recovery + p_plan_residential (= {plan:.3g}) must be <= 1: both are shares "
            "of the clients not sent to methadone/ATS treatment",
        )
    from .processes.registry import PROCESSES

    for proc in PROCESSES:  # each process's own cross-field rules
        if proc.check is not None and proc.params is not None:
            proc.check(getattr(par, proc.name))
    rules = REGIMES[sc.regime]
    if rules.coordinators and sc.n_coordinators_per_ward <= 0:
        _fail(
            "scenario.n_coordinators_per_ward",
            sc.n_coordinators_per_ward,
            "the diversion regime refers people to coordinators, so it needs > 0 per ward",
        )
    if rules.coordinators and (c.rate_assess * sc.rel_assess_capacity <= 0 or c.n_caseload_max <= 0):
        _fail(
            "params.coordination.rate_assess",
            c.rate_assess,
            "under diversion coordinators must be able to assess (> 0 per week, caseload > 0)",
        )
    return cfg


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _limit(key: str, value: float, bound: float, name: str) -> None:
    if value > bound:
        _fail(
            key,
            value,
            f"at most {_show(bound)} (limits.{name}, a guard against typos; raise it "
            f"with limits.{name}=... if you mean it)",
        )


def _check_limits(cfg: Config) -> None:
    """The one place that bounds what a configuration may ask for (:class:`LimitsParams`)."""
    lim, pop = cfg.limits, cfg.population
    _limit("years", cfg.years, lim.max_years, "max_years")
    _limit("burn_in_years", cfg.burn_in_years, lim.max_years, "max_years")
    _limit("replicates", cfg.replicates, lim.max_replicates, "max_replicates")
    _limit("population.n_people_by_district", sum(pop.n_people_by_district), lim.max_people, "max_people")
    _limit("population.n_wards_by_district", sum(pop.n_wards_by_district), lim.max_wards, "max_wards")

    def walk(node: Any, prefix: str) -> None:
        for f in fields(node):
            v = getattr(node, f.name)
            key = f"{prefix}{f.name}"
            if is_dataclass(v):
                walk(v, key + ".")
            elif f.name.startswith("n_") and key not in (
                "population.n_people_by_district",
                "population.n_wards_by_district",
            ):
                for i, x in enumerate(v if isinstance(v, list) else [v]):
                    if _is_number(x):
                        _limit(
                            key if not isinstance(v, list) else f"{key}[{i}]", x, lim.max_count, "max_count"
                        )

    for section in ("population", "scenario", "status_quo", "params"):
        walk(getattr(cfg, section), section + ".")

    def texts(node: Any, prefix: str) -> None:
        for f in fields(node):
            v, key = getattr(node, f.name), f"{prefix}{f.name}"
            if is_dataclass(v):
                texts(v, key + ".")
            for i, x in enumerate(v if isinstance(v, list) else [v]):
                if isinstance(x, str) and len(x) > lim.max_text_chars:
                    where = f"{key}[{i}]" if isinstance(v, list) else key
                    _fail(
                        where,
                        f"{x[:40]}...",
                        f"at most {lim.max_text_chars} characters, this text has {len(x):,} "
                        "(limits.max_text_chars, a guard against pasting a file by mistake; every "
                        "run's meta.json copies it; raise it with limits.max_text_chars=... if you mean it)",
                    )

    texts(cfg, "")


def _field_type(cls: type, f: Any) -> Any:
    """The declared type of field ``f`` of dataclass ``cls`` (annotations may be strings, also
    in the processes' own parameter dataclasses)."""
    if not isinstance(f.type, str):
        return f.type
    return _hints(cls).get(f.name, f.type)


def unknown_key_message(key: str) -> str:
    """The message for a dotted ``key`` the schema does not declare: the first unknown part, the
    valid keys at that level and the closest one."""
    node, parts = Config, key.split(".")
    for i, part in enumerate(parts):
        known = {f.name: f for f in fields(node)}
        if part not in known:
            close = difflib.get_close_matches(part, list(known), n=1)
            hint = f" Did you mean '{'.'.join(parts[:i] + close)}'?" if close else ""
            return (
                f"config key '{'.'.join(parts[: i + 1])}' is not allowed: there is no such key; "
                f"valid keys here are {sorted(known)}.{hint}"
            )
        node = _field_type(node, known[part])
        if not is_dataclass(node):
            break
    return f"config key '{key}' is not allowed: there is no such key."


def _reject_unknown(node: Any, schema: type, prefix: str) -> None:
    """Fail on any key of ``node`` (a mapping) that the dataclass ``schema`` does not declare."""
    from collections.abc import Mapping

    if not isinstance(node, Mapping):
        return
    known = {f.name: f for f in fields(schema)}
    for key in node:
        if key == "hydra" and not prefix:
            continue
        if key not in known:
            raise ConfigError(unknown_key_message(f"{prefix}{key}"))
        sub = _field_type(schema, known[key])
        if is_dataclass(sub):
            _reject_unknown(node[key], cast(type, sub), f"{prefix}{key}.")


def to_config(cfg: Any) -> Config:
    """Turn a composed DictConfig into a validated :class:`Config`, with clear errors."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    _reject_unknown(cfg, Config, "")  # `+key=value` bypasses the schema (STACK.md): check here
    try:
        merged = OmegaConf.merge(OmegaConf.structured(Config), cfg)
        obj = cast(Config, OmegaConf.to_object(merged))
    except OmegaConfBaseException as exc:  # unknown key, wrong type, missing value
        key = getattr(exc, "full_key", None) or "?"
        first = str(exc).splitlines()[0]
        raise ConfigError(
            f"config key '{key}' is not valid: {first}. "
            "Check its spelling and type against configs/ (docs/parameters.md "
            "lists every key)."
        ) from None
    return validate(obj)
