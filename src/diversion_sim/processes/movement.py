"""Moving: out of an area population (``population.moves: out_in``; in-movers arrive through
the register's entrants, :mod:`.register`), or to another ward of the same district when the
population is the whole register (``between_wards``). Parameters: ``params.movement``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import hazards as hz
from ..states import EventCode as Event
from ..states import StateCode as State
from . import centres
from .base import Batch, Handler, Process, Risk
from .schedule import mark
from .transitions import close_episodes, enter

if TYPE_CHECKING:
    from ..model import DiversionModel

IN_COMMUNITY = (State.USING, State.ABSTINENT, State.REFERRED, State.METHADONE, State.RECOVERY)


def _move(m: DiversionModel, b: Batch) -> np.ndarray:
    return hz.exponential(m.streams.exponential("move", b.idx, m.week), m.cfg.params.movement.rate_move)


def on_move(m: DiversionModel, idx: np.ndarray) -> None:
    if m.cfg.population.moves == "between_wards":
        p, wards = m.pop, m.wards
        u = m.streams.uniform("move_ward", idx, m.week)
        new = np.empty(idx.size, np.int32)
        dist = wards.district[p.ward[idx]]
        for d in np.unique(dist):  # districts: a handful, not wards or people
            w = np.flatnonzero(wards.district == d)
            cum = np.cumsum(wards.weight[w])
            sel = dist == d
            new[sel] = w[np.searchsorted(cum / cum[-1], u[sel], side="right").clip(0, w.size - 1)]
        m.log(Event.MOVE_WARD, idx, p.state[idx])
        centres.change_ward(m, idx, new)
        mark(m, idx)
        return
    close_episodes(m, idx, observed=False)
    m.log(Event.MOVE, idx, m.pop.state[idx])
    enter(m, idx, State.MOVED)


PROCESS = Process(
    name="movement",
    doc=__doc__,
    risks=(Risk("move", IN_COMMUNITY, _move, Event.MOVE),),
    handlers=(Handler(Event.MOVE, on_move, 20),),
)
