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
    """Train/validation (and optional test) arrays: ``x_*`` float32 (n, features), ``y_*``
    int32 (n,). The test part, when present, is held out: model selection (early stopping,
    tuning) uses the validation part only, and results are reported on the test part."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def num_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def num_classes(self) -> int:
        parts = [self.y_train, self.y_val] + ([] if self.y_test is None else [self.y_test])
        return int(max(int(p.max()) for p in parts if len(p)) + 1)


def load_digits_split(
    val_fraction: float = 0.25, seed: int = 0, test_fraction: float = 0.0
) -> Split:
    """The 8x8 digits (1,797 images, 10 classes), standardised with training statistics.

    Features are scaled to zero mean and unit variance per pixel (constant pixels stay 0),
    so that the variance arguments of notebooks 02 and 05 apply to the input layer too.
    ``val_fraction`` and ``test_fraction`` are fractions of the whole set. With
    ``test_fraction > 0`` a stratified test part is split off first and returned as
    ``x_test``/``y_test`` (never used for training or for early stopping); the
    validation part is then split, stratified, from the rest. ``test_fraction=0`` gives
    exactly the train/validation split of earlier versions.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 <= test_fraction < 1.0 or not 0.0 < val_fraction < 1.0 - test_fraction:
        raise ValueError("need 0 <= test_fraction and 0 < val_fraction < 1 - test_fraction")
    x, y = load_digits(return_X_y=True)
    x_test = y_test = None
    if test_fraction > 0:
        x, x_test, y, y_test = train_test_split(
            x, y, test_size=test_fraction, random_state=seed, stratify=y
        )
        val_fraction = val_fraction / (1.0 - test_fraction)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=val_fraction, random_state=seed, stratify=y
    )
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0

    def scale(a):
        return ((a - mean) / std).astype(np.float32)

    return Split(
        x_train=scale(x_train),
        y_train=y_train.astype(np.int32),
        x_val=scale(x_val),
        y_val=y_val.astype(np.int32),
        x_test=None if x_test is None else scale(x_test),
        y_test=None if y_test is None else y_test.astype(np.int32),
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
