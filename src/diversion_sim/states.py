"""States, event kinds, exit types and service flags: the model's vocabulary, as small integers."""

from __future__ import annotations

from enum import IntEnum, IntFlag
from typing import TYPE_CHECKING, Any

import numpy as np

NEVER = np.iinfo(np.int32).max  # "no event scheduled"


class State(IntEnum):
    """Where a person is this week; each person is in exactly one."""

    USING = 0  # using drugs in the community, not in treatment
    ABSTINENT = 1  # drug-free in the community after leaving a centre or treatment
    REFERRED = 2  # referred by police, waiting for the coordinator's assessment
    METHADONE = 3  # on methadone maintenance (opioid users only)
    RECOVERY = 4  # community recovery support: home detox, short stays, community ATS treatment
    RESIDENTIAL = 5  # voluntary residential treatment (usually 3 months, 30% co-pay)
    DETAINED = 6  # in a compulsory rehabilitation centre
    DEAD = 7
    MOVED = 8  # left the register: moved out of the area, or deregistered (the event says which)


N_STATES = len(State)
GONE = (State.DEAD, State.MOVED)  # no longer on the register
ALIVE_PRESENT = np.array([s not in GONE for s in State])
IN_TREATMENT = (State.METHADONE, State.RECOVERY, State.RESIDENTIAL)
IS_TREATMENT = np.isin(np.arange(len(State)), IN_TREATMENT)  # by state code: a treatment spell
DRUG_NAMES = ["opioid", "meth"]  # Drug codes 0, 1 by name (tables, cohort specifications)


class Event(IntEnum):
    """Kinds of event in the event table (and of the next scheduled event of a person)."""

    NONE = 0
    DETECT = 1  # police contact with a positive test
    DOSSIER = 2  # dossier compiled for compulsory admission
    ADMIT = 3  # admitted to a compulsory centre
    RELEASE = 4  # released from a compulsory centre
    REFER = 5  # referred to the ward coordinator (and screened, brief intervention)
    ASSESS = 6  # assessed with a treatment plan
    SCREEN_ONLY = 7  # left the coordinator queue without an assessment
    START_METHADONE = 8
    START_RECOVERY = 9
    START_RESIDENTIAL = 10
    COMPLETE = 11  # completed recovery support or residential treatment
    DROPOUT = 12  # left treatment early (methadone dropout, residential/recovery drop-out)
    RELAPSE = 13  # first use after leaving a centre or treatment
    DEATH = 14
    MOVE = 15
    LINKED = 16  # released person linked to services
    REFUSED_VOLUNTARY = 17  # offered voluntary care instead of detention and refused
    ENTER = 18  # newly registered (first registration in the area)
    MOVE_IN = 19  # moved into the area from elsewhere, with their own history
    REMISSION = 20  # stopped using on their own (natural remission), in the community
    DEREGISTER = 21  # left the register after sustained abstinence
    DOSSIER_DECLINED = 22  # test threshold reached, no dossier (police discretion, committee)
    DOSSIER_LAPSED = 23  # dossier lapsed: no bed within the maximum wait
    MOVE_WARD = 24  # moved to another ward within the population (national scale)


# The event vocabulary: the core kinds above, then the kinds processes declare
# (``Process(events=...)``, registered when their module is imported; the package imports every
# process of ``processes/registry.py`` first, so the vocabulary is complete before any run).
EVENT_NAMES: list[str] = [e.name.lower() for e in Event]
EVENT_MEANINGS: dict[str, str] = {}


def add_event(name: str, meaning: str) -> int:
    """Register a process's event kind ``name`` and return its code (the same code if the name
    is registered again, e.g. on re-import)."""
    name = name.lower()
    if name in EVENT_NAMES:
        return EVENT_NAMES.index(name)
    if len(EVENT_NAMES) >= 127:
        raise ValueError("at most 127 event kinds (the event table stores them as int8)")
    EVENT_NAMES.append(name)
    EVENT_MEANINGS[name] = meaning
    return len(EVENT_NAMES) - 1


def n_events() -> int:
    """Number of event kinds, core and registered."""
    return len(EVENT_NAMES)


def event_code(name: str) -> int:
    """The code of an event kind by name (core or registered by a process)."""
    try:
        return EVENT_NAMES.index(name.lower())
    except ValueError:
        raise KeyError(f"no event kind {name!r}; kinds: {', '.join(EVENT_NAMES[1:])}") from None


class Exit(IntEnum):
    """How a person left a centre or treatment; starts the relapse clock."""

    NONE = 0
    RELEASE = 1  # release from compulsory detention
    RESIDENTIAL = 2  # completed voluntary residential treatment
    RECOVERY = 3  # completed a recovery support episode
    REMISSION = 4  # stopped using on their own
    RELEASE_METHADONE = 5  # released from compulsory detention straight onto methadone (linked)


class Tolerance(IntEnum):
    """The last exit that lowered opioid tolerance: it sets the excess overdose risk of the
    following weeks (``params.mortality.mult_after_*``)."""

    NONE = 0
    RELEASE = 1  # release from compulsory detention (Merrall et al. 2010)
    DETOX = 2  # completed voluntary residential treatment or recovery support (Strang et al. 2003)
    METHADONE = 3  # left methadone (Cornish et al. 2010)


class Service(IntFlag):
    """Services a person has ever used during the run (bit flags in one uint16 column)."""

    REFERRED = 1
    ASSESSED = 2
    METHADONE = 4
    HIV_TEST = 8
    LEGAL = 16
    MENTAL = 32
    VOCATIONAL = 64
    RECOVERY = 128
    RESIDENTIAL = 256
    ATS = 512
    PEER = 1024
    LINKED = 2048
    DETAINED = 4096
    HIV_TESTED = 8192  # tested for HIV after a coordinator's referral (not only referred)


class Drug:
    OPIOID = 0
    METH = 1


def _codes(enum: Any) -> type:
    """A plain class holding ``enum``'s members as ints: attribute access on an Enum class costs
    ~1-2 us on Python 3.11, on a plain class ~30 ns; the weekly step uses these."""
    return type(f"{enum.__name__}Code", (), {m.name: int(m) for m in enum})


if TYPE_CHECKING:  # to a type checker the plain classes are the enums they copy
    StateCode = State
    EventCode = Event
    ExitCode = Exit
    ServiceCode = Service
else:
    StateCode, EventCode, ExitCode, ServiceCode = (_codes(e) for e in (State, Event, Exit, Service))
