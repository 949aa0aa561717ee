"""Reading training curves (the runners train vectorised ensembles: relu_course.ensemble)."""

from __future__ import annotations

import numpy as np

__all__ = ["epochs_to_reach"]


def epochs_to_reach(values, threshold: float) -> float:
    """1-based index of the first epoch whose value is ≥ threshold; inf if never reached."""
    values = np.asarray(values, dtype=np.float64)
    hits = np.flatnonzero(values >= threshold)
    return float(hits[0] + 1) if hits.size else float("inf")
