"""Functions the grader's probes may hand to a learner's code (``Arg("module:name",
"function")``): scalar functions with known gradients for ``numerical_gradient``. They live
in the grader's package and are imported by the verifier before any learner code runs."""

from __future__ import annotations

import numpy as np

__all__ = ["glorot_std", "he_std", "smooth_scalar", "smooth_scalar_gradient"]


def smooth_scalar(x: np.ndarray) -> float:
    """sum(sin(x) * x²) + 0.5 · (Σx)²: smooth everywhere, coupled across entries."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.sum(np.sin(x) * x**2) + 0.5 * np.sum(x) ** 2)


def smooth_scalar_gradient(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return np.cos(x) * x**2 + 2 * x * np.sin(x) + np.sum(x)


def he_std(fan_in: int) -> float:
    """√(2 / fan_in), for ``propagate_rms(init_std, ...)`` probes."""
    return float(np.sqrt(2.0 / fan_in))


def glorot_std(fan_in: int) -> float:
    """√(1 / fan_in) (Glorot's with fan_in = fan_out), for ``propagate_rms`` probes."""
    return float(np.sqrt(1.0 / fan_in))
