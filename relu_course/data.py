"""Offline data: scikit-learn's digits (ships with the package) and synthetic sets.

Nothing here downloads anything. All splits are seeded and stratified, so every notebook
sees the same examples run after run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Split", "gaussian_inputs", "load_digits_split", "two_moons", "regression_1d"]


@dataclass(frozen=True)
class Split:
    """Train/validation arrays: ``x_*`` float32 (n, features), ``y_*`` int32 (n,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray

    @property
    def num_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_val.max()) + 1)


def load_digits_split(val_fraction: float = 0.25, seed: int = 0) -> Split:
    """The 8x8 digits (1,797 images, 10 classes), standardised with training statistics.

    Features are scaled to zero mean and unit variance per pixel (constant pixels stay 0),
    so that the variance arguments of notebooks 02 and 05 apply to the input layer too.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=val_fraction, random_state=seed, stratify=y
    )
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0
    return Split(
        x_train=((x_train - mean) / std).astype(np.float32),
        y_train=y_train.astype(np.int32),
        x_val=((x_val - mean) / std).astype(np.float32),
        y_val=y_val.astype(np.int32),
    )


def gaussian_inputs(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Standard normal inputs of shape (n, dim), float32."""
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def two_moons(n: int = 1000, noise: float = 0.15, seed: int = 0) -> Split:
    """scikit-learn's two interleaving half-circles, split 75/25."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    cut = int(0.75 * n)
    x = x.astype(np.float32)
    y = y.astype(np.int32)
    return Split(x[:cut], y[:cut], x[cut:], y[cut:])


def regression_1d(fn, n: int = 512, low: float = -3.0, high: float = 3.0, seed: int = 0):
    """(x, y) with x uniform in [low, high], shape (n, 1), and y = fn(x), float32."""
    x = np.random.default_rng(seed).uniform(low, high, size=(n, 1)).astype(np.float32)
    return x, np.asarray(fn(x), dtype=np.float32)
