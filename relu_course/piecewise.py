"""Piecewise-linear functions: where a sampled 1-D function changes slope (NumPy only)."""

from __future__ import annotations

import numpy as np

__all__ = ["kinks"]


def kinks(x, y, tol: float = 1e-4) -> np.ndarray:
    """Approximate x positions where the slope of y(x) changes, for sorted samples ``x``.

    A ReLU network of one input is piecewise linear; its number of linear pieces is
    ``len(kinks(...)) + 1`` (up to the sampling resolution).
    """
    x = np.ravel(np.asarray(x, dtype=np.float64))
    y = np.ravel(np.asarray(y, dtype=np.float64))
    slopes = np.diff(y) / np.diff(x)
    scale = max(1.0, float(np.abs(slopes).max(initial=0.0)))
    change = np.abs(np.diff(slopes)) > tol * scale
    idx = np.flatnonzero(change) + 1
    if idx.size == 0:
        return idx.astype(np.float64)
    # one kink can straddle two sample intervals: merge neighbours
    keep = np.concatenate([[True], np.diff(idx) > 1])
    return x[idx[keep]]


def pattern_changes(active) -> np.ndarray:
    """Indices i where the on/off pattern of units differs between samples i-1 and i.

    ``active`` is a boolean (samples, units) matrix, e.g. ``hidden_output > 0`` along a
    sorted 1-D grid. In a ReLU network the function is linear wherever the pattern is
    constant, so ``len(pattern_changes(active)) + 1`` counts its linear regions exactly
    (up to the grid resolution), with none of the round-off that slope differences suffer.
    """
    active = np.asarray(active, dtype=bool).reshape(len(active), -1)
    return np.flatnonzero(np.any(active[1:] != active[:-1], axis=1)) + 1
