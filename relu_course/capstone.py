"""Reference statistics for notebook 07: summarising trials and comparing paired per-seed
scores (same seed → same initial weights and batch order for every activation).

NumPy/pandas/SciPy only (bottom layer), built on :mod:`relu_course.stats`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from relu_course import stats

__all__ = ["differs_beyond_noise", "paired_comparisons", "paired_scores", "summarize_trials"]


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


def differs_beyond_noise(a, b, alpha: float = 0.05) -> bool:
    """Whether two *paired* samples of per-seed scores differ: the two-sided paired t-test
    on the seed-wise differences ``a[i] - b[i]`` rejects "mean difference 0" at ``alpha``.

    Differences that are all equal: no noise at all, so they differ exactly when that
    common difference is not 0.
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape or a.size < 2:
        raise ValueError("paired samples need the same length, at least 2")
    return bool(stats.paired_difference(a, b).p < alpha)


def paired_scores(records, metric: str, baseline: str) -> tuple[dict[str, np.ndarray], list]:
    """``metric`` per activation as arrays aligned on the seeds every activation shares
    with ``baseline`` (in increasing seed order), and those seeds."""
    frame = pd.DataFrame(list(records))
    table = frame.pivot_table(index="seed", columns="activation", values=metric, aggfunc="first")
    if baseline not in table.columns:
        raise ValueError(f"no records for the baseline {baseline!r}")
    table = table.dropna()
    order = list(dict.fromkeys(frame["activation"]))
    return {name: table[name].to_numpy(np.float64) for name in order}, list(table.index)


def paired_comparisons(
    records,
    metric: str = "test_accuracy",
    baseline: str = "relu",
    test=None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Every activation against ``baseline`` on ``metric``, paired by seed.

    Columns: the mean seed-wise difference (activation − baseline) with its 95% paired t
    interval, the paired t-test's p-value, the exact sign-flip p-value, ``Holm rejects``
    (Holm's correction at family-wise level ``alpha`` across all the comparisons of the
    table), and, given ``test`` (e.g. the learner's ``differs_beyond_noise``), its
    uncorrected verdict ``test(scores, baseline_scores, alpha)``.
    """
    scores, seeds = paired_scores(records, metric, baseline)
    base = scores[baseline]
    names = [name for name in scores if name != baseline]
    rows = {}
    for name in names:
        interval = stats.paired_difference(scores[name], base)
        rows[name] = {
            f"{metric} − {baseline}": interval.mean,
            "95% CI low": interval.low,
            "95% CI high": interval.high,
            "paired t p": interval.p,
            "sign-flip p": stats.sign_flip_pvalue(scores[name] - base)
            if len(seeds) <= 20
            else np.nan,
        }
    table = pd.DataFrame(rows).T
    table["Holm rejects"] = stats.holm(table["paired t p"].to_list(), alpha)
    if test is not None:
        table["test (uncorrected)"] = [bool(test(scores[n], base, alpha)) for n in names]
    table.attrs["seeds"] = seeds
    return table
