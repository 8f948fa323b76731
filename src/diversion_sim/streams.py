"""Per-person random numbers: draws that belong to a person and an occasion, not to a batch.

Common random numbers across scenarios need more than one stream per process: with a stream
drawn in batches, a policy that changes who is rescheduled this week shifts every later draw of
everyone. Here a draw is a pure function of ::

    (seed, replicate, site, week, person, slot)

where *site* names the place in the model that draws (``"death"``, ``"relapse"``, ...; one
site draws at most once per person and week), *person* is the population row (or the ward, for
ward-level draws) and *slot* numbers several draws made together. The same person at the same
site in the same week gets the same number in every scenario and whatever else happens in the
batch, in whichever order the batch is formed (Starsim's per-agent, per-timestep slots follow
the same idea).

The function is SplitMix64 (Steele, Lea & Flood 2014; the generator that seeds numpy's and
xoshiro's states): output ``x`` of the SplitMix64 sequence seeded with the site's 64-bit key,
``mix(key + x * GAMMA)``, where ``x`` packs (person, week, slot) into 64 bits without overlap.
It is counter-based (no state to carry), a bijection of ``x`` for a fixed key (two occasions
of one site never share a number) and passes BigCrush on sequential counters; vectorised in
numpy it costs ~15 array operations per batch. Site keys come from
``numpy.random.SeedSequence([seed, replicate, crc32(site)])``, so adding a site never changes
the keys of the others. Why not numpy's own Philox: its Python API draws from one counter
at a time (no vectorised keyed access), and a 4x64-bit Philox in numpy needs 128-bit products.
"""

from __future__ import annotations

import zlib

import numpy as np

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15  # SplitMix64's increment (odd: x -> x * GAMMA is a bijection)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
PERSON_SHIFT = 32  # x = person << 32 | (week + WEEK_OFFSET) << 8 | slot
WEEK_BITS, SLOT_BITS = 24, 8
WEEK_OFFSET = 1 << (WEEK_BITS - 1)  # weeks from -8,388,608 (burn-in) to 8,388,607
MAX_PERSON = (1 << PERSON_SHIFT) - 1
MAX_SLOTS = 1 << SLOT_BITS
TO_UNIT = 2.0**-53


def mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function (Stafford's "Mix13"), elementwise on uint64 (wraps mod 2^64)."""
    z = (z ^ (z >> np.uint64(30))) * M1
    z = (z ^ (z >> np.uint64(27))) * M2
    return z ^ (z >> np.uint64(31))


def splitmix64(seed: int, n: int) -> np.ndarray:
    """The first ``n`` outputs of SplitMix64 seeded with ``seed`` (the reference sequence)."""
    k = np.arange(1, n + 1, dtype=np.uint64)
    return mix64(np.uint64(seed & MASK64) + k * np.uint64(GAMMA))


class Streams:
    """Keyed random numbers of one run (one seed and replicate).

    Each method takes a site name, the people (unique rows, any order) and the week, and returns
    one draw per person (``slots=1``) or an array of shape ``(slots, len(idx))``. With ``ids``,
    ``idx`` are rows of an id array (the model passes the population's ``uid`` column, so a person
    keeps their numbers when rows are renumbered at the switch).
    """

    def __init__(self, seed: int, replicate: int, ids=None) -> None:
        self.seed, self.replicate = int(seed), int(replicate)
        self._keys: dict[str, int] = {}
        self.ids = ids  # optional callable: the id array that ``idx`` indexes (rows -> person ids)

    def key(self, site: str) -> int:
        """The 64-bit key of ``site`` (from numpy's SeedSequence; cached)."""
        k = self._keys.get(site)
        if k is None:
            ss = np.random.SeedSequence([self.seed, self.replicate, zlib.crc32(site.encode())])
            k = self._keys[site] = int(ss.generate_state(1, np.uint64)[0])
        return k

    def bits(self, site: str, idx: np.ndarray, week: int, slots: int = 1) -> np.ndarray:
        """Raw 64-bit draws, shape ``(slots, len(idx))``."""
        if not 1 <= slots <= MAX_SLOTS:
            raise ValueError(f"slots must be in 1..{MAX_SLOTS}, got {slots}")
        w = int(week) + WEEK_OFFSET
        if not 0 <= w < (1 << WEEK_BITS):
            raise ValueError(f"week {week} is outside the range the random streams can key")
        base = (self.key(site) + ((w << SLOT_BITS) * GAMMA)) & MASK64  # scalar part of key + x*G
        per_slot = np.array([(base + s * GAMMA) & MASK64 for s in range(slots)], np.uint64)
        if self.ids is not None:
            idx = self.ids()[idx]
        person = np.asarray(idx).astype(np.uint64) * np.uint64((GAMMA << PERSON_SHIFT) & MASK64)
        return mix64(per_slot[:, None] + person[None, :])

    def uniform(self, site: str, idx: np.ndarray, week: int, slots: int = 1) -> np.ndarray:
        """Uniform draws on [0, 1) (53-bit resolution)."""
        u = (self.bits(site, idx, week, slots) >> np.uint64(11)).astype(np.float64) * TO_UNIT
        return u[0] if slots == 1 else u

    def exponential(self, site: str, idx: np.ndarray, week: int, slots: int = 1) -> np.ndarray:
        """Standard exponential draws (inverse CDF of an open-interval uniform)."""
        b = self.bits(site, idx, week, slots) >> np.uint64(11)
        e = -np.log((b.astype(np.float64) + 0.5) * TO_UNIT)
        return e[0] if slots == 1 else e
