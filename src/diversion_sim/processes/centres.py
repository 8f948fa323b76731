"""Centres and services with capacity: admission is granted in order of waiting, per centre.

Each ward is served by one centre of each kind (wards are split into contiguous blocks per
centre). Occupancy is counted from the population columns, so it cannot drift from the states;
capacity is applied by ranking applicants within their centre (vectorised, no per-centre loop).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..hazards import grouped_rank
from ..states import StateCode as State

if TYPE_CHECKING:
    from ..model import DiversionModel

KIND_STATE = {
    "compulsory": State.DETAINED,
    "residential": State.RESIDENTIAL,
    "methadone": State.METHADONE,
    "services": State.RECOVERY,
}


def ward_centres(n_wards: int, n_centres: int) -> np.ndarray:
    """Centre index serving each ward: contiguous blocks of wards per centre."""
    return (np.arange(n_wards, dtype=np.int64) * n_centres // n_wards).astype(np.int32)


STATE_KIND: dict[int, str] = {int(state): kind for kind, state in KIND_STATE.items()}


def count_occupancy(m: DiversionModel, kind: str) -> np.ndarray:
    """People in each centre of ``kind``, counted from the state column (O(population))."""
    p = m.pop
    inside = p.state == KIND_STATE[kind]
    return np.bincount(m.ward_centre[kind][p.ward[inside]], minlength=m.n_centres[kind])


def occupancy(m: DiversionModel, kind: str) -> np.ndarray:
    """People currently in each centre of ``kind`` (kept up to date by every state change in
    :func:`~diversion_sim.processes.transitions.enter`; recounting cost a quarter of a national
    week). A read-only view: do not modify."""
    return m.occupancy[kind]


def reset_occupancy(m: DiversionModel) -> None:
    m.occupancy = {kind: count_occupancy(m, kind) for kind in KIND_STATE}


IN_CENTRE = np.zeros(16, bool)
IN_CENTRE[list(STATE_KIND)] = True


def move_occupancy(m: DiversionModel, idx: np.ndarray, old: np.ndarray, new: int) -> None:
    """Update the centre counts for ``idx`` moving from states ``old`` to state ``new``."""
    ward = m.pop.ward
    was = IN_CENTRE[old]
    if was.any():
        li, lo = idx[was], old[was]
        states = (lo[0],) if (lo == lo[0]).all() else np.unique(lo)
        for state in states:
            kind = STATE_KIND[int(state)]
            leaving = li if len(states) == 1 else li[lo == state]
            m.occupancy[kind] -= np.bincount(m.ward_centre[kind][ward[leaving]], minlength=m.n_centres[kind])
    entering = STATE_KIND.get(new)
    if entering is not None:
        m.occupancy[entering] += np.bincount(
            m.ward_centre[entering][ward[idx]], minlength=m.n_centres[entering]
        )


def change_ward(m: DiversionModel, idx: np.ndarray, new_ward: np.ndarray) -> None:
    """Move ``idx`` to ``new_ward``, carrying their centre places (methadone clinic, services)
    to the centre of the new ward."""
    p = m.pop
    st = p.state[idx]
    inside = IN_CENTRE[st]
    for state in np.unique(st[inside]):  # at most the four centre states
        g = idx[st == state]
        kind = STATE_KIND[int(state)]
        c = m.ward_centre[kind]
        m.occupancy[kind] -= np.bincount(c[p.ward[g]], minlength=m.n_centres[kind])
        m.occupancy[kind] += np.bincount(c[new_ward[st == state]], minlength=m.n_centres[kind])
    p.ward[idx] = new_ward


def admit(m: DiversionModel, idx: np.ndarray, kind: str, priority: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask over ``idx``: who gets a place this week at their centre of ``kind``.

    Applicants are ranked within their centre by ``priority`` (lower first), ties by row (so
    the outcome does not depend on the order of ``idx``); places are the centre's capacity minus
    its occupancy. Unlimited centres admit all.
    """
    cap = m.capacity[kind]
    if cap is None or idx.size == 0:
        return np.ones(idx.size, bool)
    free = np.maximum(cap - occupancy(m, kind), 0)
    centre = m.ward_centre[kind][m.pop.ward[idx]]
    key = np.zeros(idx.size, np.int8) if priority is None else priority
    return grouped_rank(centre, key, idx) < free[centre]
