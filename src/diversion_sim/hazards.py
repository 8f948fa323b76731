"""Vectorised samplers of waiting times (in weeks) for competing-risk event scheduling.

Each person draws, on entering a state, the time to each event that can end the state; the
earliest wins. Hazards are constant or piecewise constant in time since a reference point, or
Weibull (relapse, methadone dropout), so a waiting time is one inverse-CDF draw.
"""

from __future__ import annotations

import numpy as np

WEEKS_PER_YEAR = 52.0


def per_week(rate_per_100py: float) -> float:
    """Convert a rate per 100 person-years to a weekly hazard."""
    return rate_per_100py / 100.0 / WEEKS_PER_YEAR


def exponential(rng: np.random.Generator, rate: np.ndarray | float, n: int) -> np.ndarray:
    """Waiting times for constant hazards ``rate`` (per week); ``inf`` where the rate is 0."""
    e = rng.standard_exponential(n)
    with np.errstate(divide="ignore"):
        return e / rate


def piecewise_exponential(
    rng: np.random.Generator,
    rate: np.ndarray,
    since: np.ndarray,
    breaks: np.ndarray,
    mults: np.ndarray,
) -> np.ndarray:
    """Waiting times for a hazard ``rate * mults[j]`` on segment j of time-since-reference.

    Args:
        rate: base hazard per week, one per person.
        since: time already elapsed since the reference point (weeks), one per person.
        breaks: increasing segment ends (weeks since the reference), shape (B,).
        mults: hazard multipliers, shape (B + 1,); the last applies after the last break.

    Returns:
        Time from now to the event (weeks); ``inf`` if it never happens.
    """
    e = rng.standard_exponential(rate.shape[0])
    out = np.full(rate.shape[0], np.inf)
    left = e.copy()
    pos = since.astype(float).copy()
    done = np.zeros(rate.shape[0], dtype=bool)
    edges = np.append(breaks, np.inf)
    for j, end in enumerate(edges):
        h = rate * mults[j]
        active = ~done & (pos < end)
        if not active.any():
            break
        seg = np.clip(end - pos, 0.0, None)
        with np.errstate(invalid="ignore"):
            cap = np.where(h > 0, h * seg, 0.0)  # 0 * inf would be nan
        hit = active & (left <= cap)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[hit] = (pos[hit] - since[hit]) + left[hit] / h[hit]
        done |= hit
        move = active & ~hit
        left[move] -= cap[move]
        pos[move] = end
    return out


def weibull(
    rng: np.random.Generator, shape: float, scale: float, hr: np.ndarray | float, n: int
) -> np.ndarray:
    """Weibull waiting times with proportional-hazards ratios ``hr`` (scale * hr**(-1/shape))."""
    u = rng.standard_exponential(n)
    with np.errstate(divide="ignore"):
        return scale * np.power(np.asarray(hr, dtype=float), -1.0 / shape) * np.power(u, 1.0 / shape)


def to_week(now: int, wait: np.ndarray, never: int) -> np.ndarray:
    """Turn waiting times into the (int32) week the event happens: at least next week."""
    w = np.ceil(np.minimum(wait, float(never - now - 1)))
    return (now + np.maximum(w, 1.0)).astype(np.int32)


def grouped_rank(groups: np.ndarray, order_key: np.ndarray) -> np.ndarray:
    """Rank of each item within its group, by ``order_key`` (0 = first); vectorised.

    Used for capacity: item i is served this week if ``rank[i] < capacity[groups[i]]``.
    """
    if groups.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((order_key, groups))
    g = groups[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, g.size]))
    rank = np.empty(groups.size, dtype=np.int64)
    rank[order] = np.arange(groups.size) - first
    return rank
