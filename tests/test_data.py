"""Offline data sets of relu_course.data that no other test file covers (the digits split:
tests/test_package.py; two_moons: tests/test_experiments_relu.py)."""

from __future__ import annotations

import numpy as np

from relu_course.data import regression_1d


def test_regression_1d_samples_the_interval_and_applies_the_function():
    """Kept for the next notebooks (issue 10: fitting a 1-D function with ReLU pieces)."""
    x, y = regression_1d(np.abs, n=300, low=-2.0, high=1.0, seed=3)
    assert x.shape == y.shape == (300, 1)
    assert x.dtype == y.dtype == np.float32
    assert x.min() >= -2.0 and x.max() <= 1.0 and x.min() < -1.5 and x.max() > 0.5
    np.testing.assert_array_equal(y, np.abs(x))
    again, _ = regression_1d(np.abs, n=300, low=-2.0, high=1.0, seed=3)
    np.testing.assert_array_equal(x, again)
    other, _ = regression_1d(np.abs, n=300, low=-2.0, high=1.0, seed=4)
    assert not np.array_equal(x, other)
