"""Reference statistics for notebook 07: summarising trials and comparing per-seed scores.

NumPy/pandas/SciPy only (bottom layer).
"""

from __future__ import annotations


import numpy as np
import pandas as pd

__all__ = ["differs_beyond_noise", "summarize_trials", "welch_p_value"]


def summarize_trials(records) -> pd.DataFrame:
    """One row per activation: ``<metric>_mean`` and ``<metric>_std`` (sample std, ddof=1)
    for every numeric metric except ``seed``, sorted by ``val_accuracy_mean``, best first."""
    frame = pd.DataFrame(list(records))
    metrics = [c for c in frame.columns if c not in ("activation", "seed")
               and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    grouped = frame.groupby("activation")[metrics]
    means = grouped.mean().add_suffix("_mean")
    stds = grouped.std(ddof=1).add_suffix("_std")
    columns = [f"{m}_{s}" for m in metrics for s in ("mean", "std")]
    table = pd.concat([means, stds], axis=1)[columns]
    return table.sort_values("val_accuracy_mean", ascending=False, kind="stable")


def welch_p_value(a, b) -> float:
    """Two-sided p-value of Welch's unequal-variance t-test (scipy.stats.ttest_ind,
    equal_var=False). Two identical constant samples give 1.0; separated constants 0.0."""
    from scipy import stats

    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.size < 2 or b.size < 2:
        raise ValueError("each sample needs at least 2 scores")
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # no noise at all: t is 0/0 or ±inf
        return 1.0 if a[0] == b[0] else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def differs_beyond_noise(a, b, alpha: float = 0.05) -> bool:
    """True when Welch's t-test rejects 'same mean' at level ``alpha`` (unpaired samples)."""
    return welch_p_value(a, b) < alpha


