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

KIND_STATE = {"compulsory": State.DETAINED, "residential": State.RESIDENTIAL,
              "methadone": State.METHADONE, "services": State.RECOVERY}


def ward_centres(n_wards: int, n_centres: int) -> np.ndarray:
    """Centre index serving each ward: contiguous blocks of wards per centre."""
    return (np.arange(n_wards, dtype=np.int64) * n_centres // n_wards).astype(np.int32)


def occupancy(m: DiversionModel, kind: str) -> np.ndarray:
    """People currently in each centre of ``kind``."""
    p = m.pop
    inside = p.state == KIND_STATE[kind]
    return np.bincount(m.ward_centre[kind][p.ward[inside]], minlength=m.n_centres[kind])


def admit(m: DiversionModel, idx: np.ndarray, kind: str, priority: np.ndarray | None = None
          ) -> np.ndarray:
    """Boolean mask over ``idx``: who gets a place this week at their centre of ``kind``.

    Applicants are ranked within their centre by ``priority`` (lower first; default: order of
    ``idx``); places are the centre's capacity minus its occupancy. Unlimited centres admit all.
    """
    cap = m.capacity[kind]
    if cap is None or idx.size == 0:
        return np.ones(idx.size, bool)
    free = np.maximum(cap - occupancy(m, kind), 0)
    centre = m.ward_centre[kind][m.pop.ward[idx]]
    key = np.arange(idx.size) if priority is None else priority
    return grouped_rank(centre, key) < free[centre]
