"""relu_course.stats against SciPy's own tests and hand-checkable cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from relu_course.stats import (
    equivalent,
    holm,
    mean_interval,
    paired_difference,
    ratio_interval,
    sign_flip_pvalue,
)


def test_paired_difference_matches_scipy_paired_t():
    rng = np.random.default_rng(1)
    a = rng.normal(size=7)
    b = a - 0.3 + 0.1 * rng.normal(size=7)
    result = paired_difference(a, b)
    reference = scipy_stats.ttest_rel(a, b)
    assert result.p == pytest.approx(reference.pvalue, rel=1e-9)
    ci = reference.confidence_interval(0.95)
    assert result.ci == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert result.mean == pytest.approx(np.mean(a - b))
    assert result.n == 7 and result.excludes(0.0)


def test_pairing_matters():
    """A shared per-seed offset hides the effect from an unpaired view but not a paired one."""
    offsets = np.array([0.0, 5.0, -3.0, 8.0, -6.0, 2.0])
    a, b = offsets + 1.0, offsets
    assert paired_difference(a, b).excludes(0.0)
    assert scipy_stats.ttest_ind(a, b, equal_var=False).pvalue > 0.5


def test_mean_interval_edge_cases():
    one = mean_interval([2.0])
    assert one.mean == 2.0 and math.isinf(one.low) and math.isnan(one.p)
    flat = mean_interval([3.0, 3.0, 3.0])
    assert flat.ci == (3.0, 3.0) and flat.p == 0.0
    with pytest.raises(ValueError):
        mean_interval([])
    with pytest.raises(ValueError):
        mean_interval([1.0, float("nan")])
    with pytest.raises(ValueError):
        paired_difference([1, 2], [1, 2, 3])


def test_ratio_interval_is_symmetric_on_the_log_scale():
    num = np.array([2.0, 4.0, 2.0, 4.0])
    den = np.ones(4)
    r = ratio_interval(num, den)
    assert r.mean == pytest.approx(math.sqrt(8.0))
    assert r.low * r.high == pytest.approx(r.mean**2)
    inverse = ratio_interval(den, num)
    assert inverse.mean == pytest.approx(1 / r.mean)
    with pytest.raises(ValueError):
        ratio_interval([1.0, -1.0], [1.0, 1.0])


def test_equivalence_needs_the_whole_interval_inside_the_margin():
    tight = paired_difference([0.90, 0.91, 0.90, 0.92, 0.91], [0.905, 0.90, 0.91, 0.915, 0.905])
    assert equivalent(tight, 0.02)
    assert not equivalent(tight, 0.001)
    wide = paired_difference([0.9, 0.7, 0.95, 0.6, 0.9], [0.8, 0.9, 0.85, 0.9, 0.7])
    assert not equivalent(wide, 0.02)  # a wide interval is "no evidence", not "no difference"
    with pytest.raises(ValueError):
        equivalent(tight, 0.0)


def test_holm_step_down():
    # m = 4: thresholds 0.0125, 0.0167, 0.025, 0.05 in p order
    assert holm([0.01, 0.04, 0.03, 0.005]) == [True, False, False, True]
    assert holm([0.01, 0.02, 0.024, 0.005]) == [True, True, True, True]
    assert holm([0.01, 0.04, 0.03, 0.02]) == [True, False, False, False]
    assert holm([0.2, 0.001]) == [False, True]
    assert holm([]) == []
    # stops at the first non-rejection even if a later p would pass its own threshold
    assert holm([0.012, 0.013, 0.049, 0.049], alpha=0.05) == [True, True, False, False]
    assert holm([0.03, 0.013, 0.001, 0.049], alpha=0.05) == [False, True, True, False]
    # a p below every single threshold is not rejected once the procedure has stopped
    assert holm([0.001, 0.03, 0.03, 0.011], alpha=0.05) == [True, False, False, True]


def test_holm_nan_pvalues_go_last_and_block_nothing():
    # a NaN p-value (zero-variance difference) is never rejected, wherever it sits, and it
    # must not stop the smaller p-values before it in the step-down from being rejected
    nan = float("nan")
    assert holm([nan, 0.001, 0.01]) == [False, True, True]
    assert holm([0.001, nan, 0.01]) == [True, False, True]
    assert holm([0.01, 0.001, nan]) == [True, True, False]
    assert holm([nan, nan]) == [False, False]
    # the thresholds still count the NaN hypotheses: 0.02 > 0.05 / 2 is not rejected
    assert holm([nan, 0.001, 0.02]) == [False, True, True]
    assert holm([nan, 0.001, 0.03]) == [False, True, False]


def test_sign_flip_floor_is_two_over_two_to_the_n():
    assert sign_flip_pvalue(np.ones(5)) == pytest.approx(2 / 2**5)
    assert sign_flip_pvalue(np.ones(10)) == pytest.approx(2 / 2**10)
    assert sign_flip_pvalue([1.0, -1.0, 1.0, -1.0]) == 1.0
    with pytest.raises(ValueError):
        sign_flip_pvalue(np.ones(21))
