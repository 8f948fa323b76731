"""Competing-risk scheduling: when a person enters a state, draw the week of their next event.

Every state has a short list of events that can end it: the competing risks the processes
declare (:class:`~diversion_sim.processes.base.Risk`, assembled in ``processes/registry.py``).
Each is drawn as a waiting time from the person's own keyed draw for that event and
week (:mod:`diversion_sim.streams`), so it does not depend on who else is rescheduled; the
earliest wins and is
stored in ``next_week`` / ``next_event``. Processes only mark people as changed
(:func:`mark`); all of them are scheduled in one batch at the end of the week, so the cost is
a handful of numpy calls per week whatever the population size, and a weekly step touches only
people whose event is due.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import hazards as hz
from ..states import NEVER
from .base import Batch

if TYPE_CHECKING:
    from ..model import DiversionModel


def mark(m: DiversionModel, idx: np.ndarray) -> None:
    """Queue ``idx`` for scheduling at the end of this week (their old event is cancelled)."""
    if idx.size:
        m.pop.next_week[idx] = NEVER
        m.pop.pending[idx] = True


def flush(m: DiversionModel) -> None:
    """Schedule everyone marked this week, in one batch.

    A boolean mark column scanned once a week is cheaper than de-duplicating the marked rows
    (``np.unique`` hashing cost a third of a national week)."""
    idx = m.order(np.flatnonzero(m.pop.pending))
    if idx.size:
        m.pop.pending[idx] = False
        schedule(m, idx)


def schedule(m: DiversionModel, idx: np.ndarray) -> None:
    """Draw the next event of each person in ``idx`` (unique) from their current state: every
    risk of the assembly that applies to their state samples a waiting time for the whole group
    at once; the earliest wins (ties go to the earlier risk)."""
    if idx.size == 0:
        return
    p, asm = m.pop, m.assembly
    st = p.state[idx].astype(np.intp)
    k = idx.size
    wait = np.full((len(asm.risks), k), np.inf)
    kind = np.zeros((len(asm.risks), k), np.int8)
    elapsed = (m.week - p.since[idx]).astype(float)
    fixed_end = (p.treat_end[idx] - m.week).astype(float)
    for row, risk in enumerate(asm.risks):
        g = np.flatnonzero(asm.at_risk[row][st])
        if g.size == 0:
            continue
        out = risk.sample(m, Batch(idx[g], st[g], elapsed[g], fixed_end[g]))
        if isinstance(out, tuple):
            wait[row, g], kind[row, g] = out
        else:
            wait[row, g] = out
            kind[row, g] = risk.event
    j = np.argmin(wait, axis=0)
    cols = np.arange(k)
    best = wait[j, cols]
    week = hz.to_week(m.week, best, NEVER)
    week[~np.isfinite(best)] = NEVER
    p.next_week[idx] = week
    p.next_event[idx] = kind[j, cols]
