"""Figures for notebook 06 (batch normalization)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["accuracy_curves", "bn_histograms", "moving_average_lag"]


def accuracy_curves(runs: dict[str, dict], title: str, threshold: float | None = None) -> Figure:
    """Validation accuracy per epoch of each run (``runs[label]["history"]["val_accuracy"]``)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6), constrained_layout=True)
    for label, run in runs.items():
        values = run["history"]["val_accuracy"]
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", ms=3, label=label)
    if threshold is not None:
        ax.axhline(threshold, color="0.6", ls="--", lw=1, label=f"{threshold:.0%}")
    ax.set(title=title, xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1.02))
    ax.legend()
    return fig


def bn_histograms(before: np.ndarray, after: np.ndarray, feature: int = 0) -> Figure:
    """One feature's values across a batch before and after batch normalization."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2), constrained_layout=True)
    left.hist(np.asarray(before)[:, feature], bins=30, color="tab:gray")
    left.set(title=f"feature {feature} before BN", xlabel="value")
    right.hist(np.asarray(after)[:, feature], bins=30, color="tab:blue")
    right.set(title="after BN (γ = 1, β = 0): mean 0, variance ≈ 1", xlabel="value")
    return fig


def moving_average_lag(batch_means: np.ndarray, momenta=(0.9, 0.99)) -> Figure:
    """How the moving mean follows a stream of batch means for several momenta (from 0)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4), constrained_layout=True)
    steps = np.arange(1, len(batch_means) + 1)
    ax.plot(steps, batch_means, color="0.7", lw=0.8, label="batch mean")
    for momentum in momenta:
        moving, trace = 0.0, []
        for value in batch_means:
            moving = momentum * moving + (1 - momentum) * value
            trace.append(moving)
        ax.plot(steps, trace, label=f"moving mean, momentum {momentum}")
    ax.set(title="moving averages start at 0 and lag behind", xlabel="training step")
    ax.legend()
    return fig
