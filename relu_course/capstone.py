"""Reference statistics for notebook 07: summarising trials and comparing per-seed scores.

NumPy/pandas/SciPy only (bottom layer).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ["compare_to_baseline", "differs_beyond_noise", "summarize_trials", "welch_p_value"]


def summarize_trials(records) -> pd.DataFrame:
    """One row per activation: ``<metric>_mean`` and ``<metric>_std`` (sample std, ddof=1)
    for every numeric metric except ``seed``, sorted by ``val_accuracy_mean``, best first."""
    frame = pd.DataFrame(list(records))
    metrics = [
        c
        for c in frame.columns
        if c not in ("activation", "seed")
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]
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
    with warnings.catch_warnings():  # SciPy warns on nearly constant samples
        warnings.simplefilter("ignore")
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def differs_beyond_noise(a, b, alpha: float = 0.05) -> bool:
    """True when Welch's t-test rejects 'same mean' at level ``alpha`` (unpaired samples)."""
    return welch_p_value(a, b) < alpha


def compare_to_baseline(
    records,
    metric: str = "val_accuracy",
    baseline: str = "relu",
    test=differs_beyond_noise,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """For every activation but ``baseline``: the difference of mean ``metric`` from the
    baseline's, Welch's p-value, and ``test(scores, baseline_scores, alpha)`` (e.g. the
    learner's own function). Warnings from the test (SciPy's, on nearly constant samples)
    are silenced."""
    frame = pd.DataFrame(list(records))
    scores = {
        name: group[metric].to_numpy(dtype=np.float64)
        for name, group in frame.groupby("activation", sort=False)
    }
    base = scores[baseline]
    rows = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, values in scores.items():
            if name == baseline:
                continue
            rows[name] = {
                f"mean difference vs {baseline}": values.mean() - base.mean(),
                "Welch p-value": welch_p_value(values, base),
                "differs beyond noise": bool(test(values, base, alpha)),
            }
    return pd.DataFrame(rows).T
