"""Small statistics for seeded experiments: paired differences, intervals, Holm.

Every verdict the course draws from training compares runs that share their seeds (same
initial weights and batch order for every arm of an experiment), so the natural unit is the
*seed-wise difference*. These helpers turn per-seed results into a mean with a 95%
interval and a p-value, test equivalence against a margin stated before the run, and
correct several comparisons with Holm's step-down procedure.

NumPy and SciPy only (bottom layer): no TensorFlow.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Interval",
    "equivalent",
    "holm",
    "mean_interval",
    "paired_difference",
    "ratio_interval",
    "sign_flip_pvalue",
]


@dataclass(frozen=True)
class Interval:
    """A mean with a two-sided confidence interval over ``n`` seeds (or repeats).

    ``p`` is the two-sided p-value of the t-test of the mean against 0 (for a ratio
    interval: of the log-ratio against 0, i.e. of the ratio against 1); NaN with one value.
    """

    mean: float
    low: float
    high: float
    n: int
    p: float
    level: float = 0.95

    @property
    def ci(self) -> tuple[float, float]:
        return (self.low, self.high)

    def excludes(self, value: float = 0.0) -> bool:
        """Whether the interval lies entirely on one side of ``value``."""
        return self.low > value or self.high < value

    def __str__(self) -> str:
        pct = round(100 * self.level)
        return f"{self.mean:.4g} ({pct}% CI {self.low:.4g} to {self.high:.4g}, n = {self.n})"


def _values(values, name: str = "values") -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size == 0:
        raise ValueError(f"{name}: need at least one value")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: non-finite values {array}")
    return array


def mean_interval(values, level: float = 0.95) -> Interval:
    """Mean of ``values`` with a one-sample t interval (and the t-test p-value against 0)."""
    from scipy import stats

    x = _values(values)
    n, mean = x.size, float(x.mean())
    if n == 1:
        return Interval(mean, -math.inf, math.inf, 1, math.nan, level)
    sem = float(x.std(ddof=1) / math.sqrt(n))
    if sem == 0.0:
        p = 1.0 if mean == 0.0 else 0.0
        return Interval(mean, mean, mean, n, p, level)
    half = float(stats.t.ppf(0.5 + level / 2, df=n - 1)) * sem
    p = float(2 * stats.t.sf(abs(mean) / sem, df=n - 1))
    return Interval(mean, mean - half, mean + half, n, p, level)


def paired_difference(a, b, level: float = 0.95) -> Interval:
    """Seed-wise differences ``a[i] - b[i]`` (same seed at the same index): mean, paired t
    interval and the paired t-test's two-sided p-value."""
    x, y = _values(a, "a"), _values(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"paired samples need the same length, got {x.size} and {y.size}")
    return mean_interval(x - y, level)


def ratio_interval(numerators, denominators, level: float = 0.95) -> Interval:
    """Per-seed ratios ``numerators[i] / denominators[i]`` summarised on the log scale: the
    geometric mean ratio with an interval (a t interval of the log-ratios, exponentiated).
    Suited to speed-ups and epochs-to-target ratios, which are positive and skewed."""
    num, den = _values(numerators, "numerators"), _values(denominators, "denominators")
    if num.shape != den.shape:
        raise ValueError("ratios need paired values of the same length")
    if np.any(num <= 0) or np.any(den <= 0):
        raise ValueError("ratios need positive values")
    logs = mean_interval(np.log(num) - np.log(den), level)
    return Interval(
        math.exp(logs.mean), math.exp(logs.low), math.exp(logs.high), logs.n, logs.p, level
    )


def equivalent(interval: Interval, margin: float) -> bool:
    """Whether the whole interval lies inside (−margin, +margin): the only honest way to
    say "no difference" (the margin must be chosen before the run)."""
    if margin <= 0:
        raise ValueError("the equivalence margin must be positive")
    return -margin < interval.low and interval.high < margin


def holm(pvalues, alpha: float = 0.05) -> list[bool]:
    """Holm–Bonferroni step-down: which of the hypotheses are rejected at family-wise
    level ``alpha`` (in the order given)."""
    p = [float(v) for v in pvalues]
    # NaN p-values (e.g. a zero-variance difference) go last, so they never block the rest
    order = sorted(range(len(p)), key=lambda i: (math.isnan(p[i]), p[i]))
    rejected = [False] * len(p)
    m = len(p)
    for rank, i in enumerate(order):
        if math.isnan(p[i]) or p[i] > alpha / (m - rank):
            break
        rejected[i] = True
    return rejected


def sign_flip_pvalue(differences) -> float:
    """Exact two-sided sign-flip permutation p-value of the mean of paired differences.

    Enumerates all 2ⁿ sign patterns (n ≤ 20). Its smallest possible value is 2/2ⁿ: with 5
    pairs it can never go below 0.0625, so it cannot reject at 0.05.
    """
    d = _values(differences, "differences")
    if d.size > 20:
        raise ValueError("exact enumeration is for at most 20 pairs")
    observed = abs(d.mean())
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
    means = np.abs(signs @ d) / d.size
    return float(np.mean(means >= observed - 1e-12 * max(1.0, observed)))
