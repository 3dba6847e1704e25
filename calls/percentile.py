"""The one percentile rule of the project: linear interpolation, like numpy.percentile's default.

The latency report computes the same figures in the database (calls.persistence.latency_stats),
the dashboard computes them here for its small windows, and the benches use this function for
what they print, so every p95 anywhere in the project means the same thing. Pure Python with no
Django import: any layer, the benches and the tests may import it.
"""
from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float, *, presorted: bool = False) -> float:
    """The q-th percentile (0-100) with linear interpolation, like numpy.percentile."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, not {q}")
    ordered = values if presorted else sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
