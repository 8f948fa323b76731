"""Results: the result registry (name, label, unit), compact logs, weekly counts, run metrics.

Events are stored as typed column buffers (week int16, person int32, kind int8, info int8:
8 bytes an event), grown by doubling, never as Python objects. Weekly counts come from the
state column (``bincount``), not from per-agent reporters.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import states
from .processes.base import Result
from .processes.outcomes import drug_free_weeks
from .processes.registry import ASSEMBLY
from .states import DRUG_NAMES, N_STATES, Event, Exit, Service, State


class ColumnLog:
    """Append-only typed columns with amortised O(1) appends of whole arrays."""

    def __init__(self, dtypes: dict[str, str], capacity: int = 1024) -> None:
        self._cols = {k: np.empty(capacity, dt) for k, dt in dtypes.items()}
        self._cap = capacity
        self.n = 0

    def add(self, **cols: np.ndarray | int) -> None:
        k = 0
        for v in cols.values():
            if isinstance(v, np.ndarray) and v.ndim:
                k = v.shape[0]
                break
        if k == 0:
            return
        need = self.n + k
        if need > self._cap:
            new = max(need, 2 * self._cap)
            for name, arr in self._cols.items():
                grown = np.empty(new, arr.dtype)
                grown[: self.n] = arr[: self.n]
                self._cols[name] = grown
            self._cap = new
        n, c = self.n, self._cols
        for name, v in cols.items():
            c[name][n:need] = v
        self.n = need

    def column(self, name: str) -> np.ndarray:
        return self._cols[name][: self.n]

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._cols.values())

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({k: v[: self.n] for k, v in self._cols.items()})


# The registry of run-level results: one place for names, labels and units (used by reports):
# the core results below, then those the processes declare (``Process.results``).
CORE_RESULTS = [
    Result("cum_admissions", "Compulsory admissions", "people"),
    Result("admissions_per_1000", "Compulsory admissions per 1,000 registered", "per 1,000"),
    Result("person_years_detained", "Person-years detained", "person-years"),
    Result("releases", "Releases from compulsory centres", "people"),
    Result("relapse_26w_release", "Relapsed within 26 weeks of release (KM)", "share"),
    Result("relapse_52w_release", "Relapsed within 52 weeks of release (KM)", "share"),
    Result(
        "relapse_26w_release_methadone", "Relapsed within 26 weeks of release onto methadone (KM)", "share"
    ),
    Result(
        "relapse_52w_release_methadone", "Relapsed within 52 weeks of release onto methadone (KM)", "share"
    ),
    Result("median_weeks_to_relapse_release", "Median weeks from release to relapse (KM)", "weeks"),
    Result("relapse_26w_residential", "Relapsed within 26 weeks of voluntary residential (KM)", "share"),
    Result("relapse_52w_residential", "Relapsed within 52 weeks of voluntary residential (KM)", "share"),
    Result("relapse_26w_recovery", "Relapsed within 26 weeks of recovery support (KM)", "share"),
    Result("relapse_52w_recovery", "Relapsed within 52 weeks of recovery support (KM)", "share"),
    Result("relapse_52w_any", "Relapsed within 52 weeks of any exit (KM)", "share"),
    Result("share_referred", "Ever referred to a coordinator", "share"),
    Result("share_assessed", "Ever assessed with a treatment plan", "share"),
    Result("share_methadone", "Ever on methadone", "share"),
    Result("share_hiv_test", "Ever referred to HIV testing", "share"),
    Result("share_hiv_tested", "Ever tested for HIV after a referral", "share"),
    Result("share_legal", "Ever given legal aid", "share"),
    Result("share_recovery", "Ever in recovery support", "share"),
    Result("share_residential", "Ever in voluntary residential treatment", "share"),
    Result("share_ats", "Ever in community ATS treatment", "share"),
    Result("share_detained", "Ever detained during the run", "share"),
    Result(
        "drug_free_weeks_per_person", "Weeks not using drugs, in any state (centres too), per person", "weeks"
    ),
    Result("detained_weeks_per_person", "Weeks detained per person", "weeks"),
    Result("deaths", "Deaths", "people"),
    Result("moved", "Moved away", "people"),
    Result("coordinator_caseload_mean", "Mean active clients per coordinator", "clients"),
    Result("coordinator_caseload_ratio", "Caseload over caseload capacity", "ratio"),
    Result("coordinator_weeks_at_capacity", "Share of ward-weeks at caseload capacity", "share"),
    Result("queue_mean", "People waiting for assessment (weekly mean)", "people"),
    Result("share_in_centres_mean", "Share of the register in compulsory centres (weekly mean)", "share"),
    Result("share_on_methadone_mean", "Share of the register on methadone (weekly mean)", "share"),
    Result("register_growth_per_year", "Growth of the register per year (log-linear)", "per year"),
    Result("entries", "Newly registered or moved in", "people"),
    Result("deregistered", "Left the register after sustained abstinence", "people"),
    Result("dossiers_declined", "Third positive tests without a dossier", "tests"),
    Result("dossiers_lapsed", "Dossiers lapsed for want of a bed", "dossiers"),
    Result("share_prior_detention", "Ever detained, of people using at the switch", "share"),
    Result("mean_prior_detentions", "Times detained, of those ever detained (at the switch)", "times"),
]
RESULTS = CORE_RESULTS + list(ASSEMBLY.results)
RESULT_NAMES = [r.name for r in RESULTS]

STATE_COLUMNS = [f"n_{s.name.lower()}" for s in State]


class Recorder:
    """Weekly counts and flows, plus the event and episode logs of one run."""

    def __init__(
        self, n_weeks: int, keep_events: bool, weekly: tuple[str, ...] = (), first_week: int = 0
    ) -> None:
        self.first_week = first_week  # the week of row 0 (negative for the burn-in)
        self.states = np.zeros((n_weeks + 1, N_STATES), np.int32)
        self.flows = np.zeros((n_weeks + 1, states.n_events()), np.int32)
        self.weekly_names = tuple(weekly)  # the processes' weekly columns (``Process.weekly``)
        self.extra = np.zeros((n_weeks + 1, len(self.weekly_names)), np.float64)
        self.keep_events = keep_events
        self.events = ColumnLog({"week": "i2", "person": "i4", "kind": "i1", "info": "i1"})
        self.episodes = ColumnLog(
            {
                "person": "i4",
                "exit_type": "i1",
                "exit_week": "i4",
                "weeks": "i4",
                "observed": "?",
                "linked": "?",
                "drug": "i1",
            },
            256,
        )
        # treatment spells (methadone, recovery support, residential) started in this table's
        # period: how long each lasted and how it ended (``end``: the state entered next)
        self.spells = ColumnLog(
            {"person": "i4", "state": "i1", "start_week": "i4", "weeks": "i4", "end": "i1"}, 256
        )

    def log(self, week: int, kind: int, idx: np.ndarray, info: np.ndarray | int = 0) -> None:
        if idx.size == 0:
            return
        self.flows[week - self.first_week, kind] += idx.size
        if self.keep_events:
            self.events.add(week=week, person=idx, kind=int(kind), info=info)

    def weekly(self, name: str) -> np.ndarray:
        """One of the processes' weekly columns (``Process.weekly``), by name."""
        return self.extra[:, self.weekly_names.index(name)]

    def weekly_frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.states, columns=STATE_COLUMNS)
        flows = pd.DataFrame(self.flows[:, 1:], columns=[f"new_{e}" for e in states.EVENT_NAMES[1:]])
        df = pd.concat([df, flows, pd.DataFrame(self.extra, columns=list(self.weekly_names))], axis=1)
        df.insert(0, "week", np.arange(len(df), dtype=np.int32))
        return df

    def events_frame(self) -> pd.DataFrame:
        df = self.events.frame()
        df["kind"] = pd.Categorical.from_codes(df["kind"], list(states.EVENT_NAMES))
        return df

    def episodes_frame(self) -> pd.DataFrame:
        df = self.episodes.frame()
        df["exit_type"] = pd.Categorical.from_codes(df["exit_type"], [e.name.lower() for e in Exit])
        df["drug"] = pd.Categorical.from_codes(df["drug"], DRUG_NAMES)
        return df

    def spells_frame(self) -> pd.DataFrame:
        """Treatment spells: ``end`` is the state entered at the end (``open`` if still running
        at the end of the run; ``moved`` is censoring, every other end is leaving treatment)."""
        df = self.spells.frame()
        names = [s.name.lower() for s in State]
        df["state"] = pd.Categorical.from_codes(df["state"], names)
        df["end"] = pd.Categorical.from_codes(df["end"], names + ["open"])
        return df


SPELL_OPEN = len(State)  # ``end`` code of a spell still running at the end of the run


def retention(
    spells: pd.DataFrame | None,
    times: list[float],
    state: str = "methadone",
    leave: tuple[str, ...] = ("using", "dead", "detained"),
) -> np.ndarray:
    """Kaplan-Meier share still in ``state`` at ``times`` (weeks since the spell started):
    a spell ending in one of ``leave`` is an event (dropout: ``using``; death; arrest), any
    other end (moving away, still running) censors it."""
    if spells is None or spells.empty:
        return np.full(len(times), np.nan)
    sp = spells[spells["state"].astype(str) == state]
    return kaplan_meier(sp["weeks"].to_numpy(float), sp["end"].astype(str).isin(leave).to_numpy(), times)[0]


def km_fit(durations, observed, label: str | None = None, alpha: float = 0.05):
    """The one Kaplan-Meier estimator of the package (lifelines' ``KaplanMeierFitter``): run
    metrics, the report's curves and the dashboard all use it."""
    from lifelines import KaplanMeierFitter

    return KaplanMeierFitter(alpha=alpha).fit(
        np.asarray(durations, float), np.asarray(observed, bool), label=label
    )


def kaplan_meier(
    durations: np.ndarray, observed: np.ndarray, times: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, float]:
    """Kaplan-Meier survival at ``times`` and the median survival time (the first time the curve
    is at or below 0.5; inf if never); NaN without data and past the last follow-up (no
    extrapolation).

    The product-limit estimate in numpy: every run computes it, and importing lifelines costs
    about 2 s in every worker process. It equals lifelines' ``KaplanMeierFitter`` (tested); the
    report's curves with confidence bands use lifelines (:func:`km_fit`)."""
    t = np.asarray(durations, float)
    if t.size == 0:
        return np.full(len(times), np.nan), float("nan")
    e = np.asarray(observed, bool)
    when, inv = np.unique(t, return_inverse=True)
    died = np.bincount(inv, weights=e, minlength=when.size)
    left = np.bincount(inv, minlength=when.size)
    at_risk = t.size - np.concatenate([[0], np.cumsum(left)[:-1]])
    with np.errstate(divide="ignore"):  # everyone left at risk died: log 0, survival 0
        curve = np.exp(np.cumsum(np.log(at_risk - died) - np.log(at_risk)))  # lifelines' arithmetic
    q = np.asarray(times, float)
    i = np.searchsorted(when, q, side="right") - 1
    surv = np.where(i >= 0, curve[np.clip(i, 0, None)], 1.0)
    surv = np.where(q <= when[-1], surv, np.nan)  # no extrapolation past follow-up
    below = np.flatnonzero(curve <= 0.5)
    return surv, float(when[below[0]]) if below.size else float("inf")


def growth_per_year(years, counts) -> float:
    """Log-linear growth rate per year of ``counts`` observed at ``years`` (NaN with < 3 points)."""
    years, counts = np.asarray(years, float), np.asarray(counts, float)
    if years.size < 3:
        return float("nan")
    return float(np.polyfit(years, np.log(np.maximum(counts, 1.0)), 1)[0])


def run_metrics(model) -> dict[str, float]:
    """The run-level table (see :data:`RESULTS`)."""
    rec, p, cfg = model.metrics, model.pop, model.cfg
    n = p.n
    weeks = rec.states.shape[0] - 1
    flows = rec.flows.sum(axis=0)
    s = rec.states[1:]
    py_det = s[:, State.DETAINED].sum() / 52.0
    out: dict[str, float] = {
        "cum_admissions": float(flows[Event.ADMIT]),
        "admissions_per_1000": 1000.0 * flows[Event.ADMIT] / n,
        "person_years_detained": float(py_det),
        "releases": float(flows[Event.RELEASE]),
    }
    ep = rec.episodes
    ex, dur, obs = ep.column("exit_type"), ep.column("weeks"), ep.column("observed")
    for name, code in (
        ("release", Exit.RELEASE),
        ("release_methadone", Exit.RELEASE_METHADONE),
        ("residential", Exit.RESIDENTIAL),
        ("recovery", Exit.RECOVERY),
    ):
        sel = ex == code
        surv, med = kaplan_meier(dur[sel], obs[sel], [26.0, 52.0])
        out[f"relapse_26w_{name}"] = float(1 - surv[0])
        out[f"relapse_52w_{name}"] = float(1 - surv[1])
        if name == "release":
            out["median_weeks_to_relapse_release"] = med
    treated = ex != Exit.REMISSION  # exits from a centre or treatment
    surv, _ = kaplan_meier(dur[treated], obs[treated], [52.0])
    out["relapse_52w_any"] = float(1 - surv[0])
    for name, flag in (
        ("referred", Service.REFERRED),
        ("assessed", Service.ASSESSED),
        ("methadone", Service.METHADONE),
        ("hiv_test", Service.HIV_TEST),
        ("hiv_tested", Service.HIV_TESTED),
        ("legal", Service.LEGAL),
        ("recovery", Service.RECOVERY),
        ("residential", Service.RESIDENTIAL),
        ("ats", Service.ATS),
        ("detained", Service.DETAINED),
    ):
        out[f"share_{name}"] = float(np.count_nonzero(p.services & np.uint16(flag)) / n)
    # weeks not using, whatever the state: use on methadone is not drug-free, and a week in a
    # compulsory centre is drug-free with probability 1 - params.outcomes.p_use_detained
    weekly = {name: rec.weekly(name) for name in rec.weekly_names}
    out["drug_free_weeks_per_person"] = float(drug_free_weeks(model, weekly).sum() / n)
    out["detained_weeks_per_person"] = float(s[:, State.DETAINED].sum() / n)
    out["deaths"] = float(flows[Event.DEATH])
    out["moved"] = float(flows[Event.MOVE])
    n_coord = float(model.wards.n_coordinators.sum())
    cap = n_coord * cfg.params.coordination.n_caseload_max
    case = rec.weekly("caseload")[1:]
    out["coordinator_caseload_mean"] = float(case.mean() / n_coord) if n_coord else float("nan")
    out["coordinator_caseload_ratio"] = float(case.mean() / cap) if cap else float("nan")
    out["coordinator_weeks_at_capacity"] = (
        float(rec.weekly("wards_at_capacity")[1:].sum() / (weeks * model.wards.n))
        if n_coord
        else float("nan")
    )
    out["queue_mean"] = float(rec.weekly("queue")[1:].mean())
    present = np.delete(rec.states, [State.DEAD, State.MOVED], axis=1).sum(axis=1)
    live = np.maximum(present, 1)
    out["share_in_centres_mean"] = float(np.mean(rec.states[:, State.DETAINED] / live))
    out["share_on_methadone_mean"] = float(np.mean(rec.states[:, State.METHADONE] / live))
    out["register_growth_per_year"] = growth_per_year(np.arange(present.size) / 52.0, live)
    out["entries"] = float(flows[Event.ENTER] + flows[Event.MOVE_IN])
    out["deregistered"] = float(flows[Event.DEREGISTER])
    out["dossiers_declined"] = float(flows[Event.DOSSIER_DECLINED])
    out["dossiers_lapsed"] = float(flows[Event.DOSSIER_LAPSED])
    hist = model.history_at_switch
    out["share_prior_detention"] = float(np.mean(hist > 0)) if hist.size else float("nan")
    out["mean_prior_detentions"] = float(hist[hist > 0].mean()) if np.any(hist > 0) else float("nan")
    for metrics in ASSEMBLY.metrics:  # the processes' own results
        out.update(metrics(model, weekly))
    missing = set(RESULT_NAMES) ^ set(out)
    assert not missing, f"result registry and run_metrics disagree on {sorted(missing)}"
    return out
