"""Families: the levers that reach them under a scenario (family support services, insisting on
detention) and the burden they carry, accumulated spell by spell in units weighted by the
relative's state (``params.family.rel_burden_*``: using, in treatment, detained). Which
families monitor or help with employment is drawn with the person's other attributes
(:func:`~diversion_sim.population.draw_attributes`); their effect on relapse is in
:func:`~diversion_sim.processes.relapse.relapse_hr`. Parameters: ``params.family`` and the
scenario's ``p_family_support_reach``, ``hr_family_support``, ``rel_family_insists``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..population import family_levers
from ..states import ALIVE_PRESENT, N_STATES
from ..states import StateCode as State
from .base import Process, Result

if TYPE_CHECKING:
    from ..model import DiversionModel


def burden_weights(m: DiversionModel) -> np.ndarray:
    """Burden units per week of a relative in each state."""
    fam = m.cfg.params.family
    w = np.zeros(N_STATES, np.float32)
    w[[State.USING, State.REFERRED]] = fam.rel_burden_using
    w[[State.METHADONE, State.RECOVERY, State.RESIDENTIAL]] = fam.rel_burden_treatment
    w[State.DETAINED] = fam.rel_burden_detained
    return w


def open_burden(m: DiversionModel, rows: np.ndarray | int) -> np.ndarray:
    """Family burden of the current spell, not yet added to ``pop.family_burden``."""
    p = m.pop
    return (m.week - p.since[rows]) * burden_weights(m)[p.state[rows]] * p.has_family[rows]


def on_enter(m: DiversionModel, idx: np.ndarray, old: np.ndarray, state: int) -> None:
    """Close the family's burden of the spell that ends (before the state changes)."""
    m.pop.family_burden[idx] += open_burden(m, idx)


def on_switch(m: DiversionModel) -> None:
    """Week 0: the scenario's family levers reach families; burden counts from week 0."""
    rows = np.arange(m.pop.n)
    family_levers(m, rows)
    m.pop.family_burden[:] = -open_burden(m, rows)


def _metrics(m: DiversionModel, weekly: dict[str, np.ndarray]) -> dict[str, float]:
    p = m.pop
    total = p.family_burden + open_burden(m, np.arange(p.n))  # open spells end at the horizon
    fam = int(p.has_family.sum())
    return {"family_burden_per_family": float(total.sum() / fam) if fam else float("nan")}


def _record(m: DiversionModel) -> tuple[float]:
    """Families reached by family support services whose relative is on the register."""
    p = m.pop
    return (float(np.count_nonzero(p.family_supported & ALIVE_PRESENT[p.state])),)


PROCESS = Process(
    name="family", doc=__doc__,
    weekly=("families_supported",), record=_record,
    columns={"family_burden": ("f4", 0.0)},  # burden units accumulated this run
    on_enter=on_enter, on_switch=on_switch,
    results=(Result("family_burden_per_family", "Family burden units per family", "units"),),
    metrics=_metrics,
)
