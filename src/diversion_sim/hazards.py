"""Vectorised samplers of waiting times (in weeks) for competing-risk event scheduling.

Each person draws, on entering a state, the time to each event that can end the state; the
earliest wins. Hazards are constant or piecewise constant in time since a reference point, or
Weibull (relapse, methadone dropout), so a waiting time is one inverse-CDF draw. The samplers
are pure functions of standard exponential draws, which the caller takes from its per-person
streams (:mod:`diversion_sim.streams`).
"""

from __future__ import annotations

import numpy as np

WEEKS_PER_YEAR = 52.0


def per_week(rate_per_100py: float) -> float:
    """Convert a rate per 100 person-years to a weekly hazard."""
    return rate_per_100py / 100.0 / WEEKS_PER_YEAR


def exponential(e: np.ndarray, rate: np.ndarray | float) -> np.ndarray:
    """Waiting times for constant hazards ``rate`` (per week) from standard exponential draws
    ``e``; ``inf`` where the rate is 0."""
    with np.errstate(divide="ignore", over="ignore"):  # rate 0 (or denormal) -> never
        return e / rate


def piecewise_exponential(
    e: np.ndarray,
    rate: np.ndarray,
    since: np.ndarray,
    breaks: np.ndarray,
    mults: np.ndarray,
) -> np.ndarray:
    """Waiting times for a hazard ``rate * mults[j]`` on segment j of time-since-reference.

    The cumulative hazard is ``rate * G(x)`` with ``G`` piecewise linear in the time ``x`` since
    the reference (slope ``mults[0]`` up to ``breaks[0]``, also for x < 0, ..., ``mults[-1]``
    after the last break), so one exponential draw ``E`` gives the event time by inverting
    ``G(since + t) = G(since) + E / rate`` (inverse-CDF; one draw per person).

    Args:
        e: standard exponential draws, one per person.
        rate: base hazard per week, one per person (0 = never).
        since: time already elapsed since the reference point (weeks), one per person.
        breaks: increasing segment ends (weeks since the reference), shape (B,).
        mults: hazard multipliers >= 0, shape (B + 1,); the last applies after the last break.

    Returns:
        Time from now to the event (weeks); ``inf`` if it never happens.
    """
    b = np.asarray(breaks, dtype=float)
    m = np.asarray(mults, dtype=float)
    gk = m[0] * b[0] + np.concatenate(([0.0], np.cumsum(m[1:-1] * np.diff(b))))  # G at breaks
    x = np.asarray(since, dtype=float)
    g_now = np.where(
        x <= b[0], m[0] * x, np.where(x <= b[-1], np.interp(x, b, gk), gk[-1] + m[-1] * (x - b[-1]))
    )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        y = g_now + e / rate
        t = np.where(
            y <= gk[0], y / m[0], np.where(y <= gk[-1], np.interp(y, gk, b), b[-1] + (y - gk[-1]) / m[-1])
        )
    out = t - x
    out[~np.isfinite(y) | ~np.isfinite(out)] = np.inf
    return np.maximum(out, 0.0)


def weibull_residual(
    e: np.ndarray, shape: float, scale: float, hr: np.ndarray | float, elapsed: np.ndarray | float = 0.0
) -> np.ndarray:
    """Remaining Weibull(shape, scale) time under proportional hazards ``hr``, given ``elapsed``
    weeks already survived, from standard exponential draws ``e`` (inverse cumulative hazard)."""
    t0 = np.maximum(np.asarray(elapsed, dtype=float), 0.0)
    with np.errstate(divide="ignore"):
        return scale * np.power((t0 / scale) ** shape + e / hr, 1.0 / shape) - t0


def to_week(now: int, wait: np.ndarray, never: int) -> np.ndarray:
    """Turn waiting times into the (int32) week the event happens: at least next week."""
    w = np.ceil(np.minimum(wait, float(never - now - 1)))
    return (now + np.maximum(w, 1.0)).astype(np.int32)


def grouped_rank(groups: np.ndarray, order_key: np.ndarray, tiebreak: np.ndarray | None = None) -> np.ndarray:
    """Rank of each item within its group, by ``order_key`` (0 = first); vectorised.

    Used for capacity: item i is served this week if ``rank[i] < capacity[groups[i]]``. Ties
    in ``order_key`` are broken by ``tiebreak`` (e.g. the person's row, so that the result does
    not depend on the order of the items), else by position.
    """
    if groups.size == 0:
        return np.zeros(0, dtype=np.int64)
    keys = (order_key, groups) if tiebreak is None else (tiebreak, order_key, groups)
    order = np.lexsort(keys)
    g = groups[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, g.size]))
    rank = np.empty(groups.size, dtype=np.int64)
    rank[order] = np.arange(groups.size) - first
    return rank
