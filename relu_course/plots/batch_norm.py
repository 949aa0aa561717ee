"""Figures for notebook 06 (batch normalization). Every function returns a Figure."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from relu_course.stats import mean_interval

__all__ = [
    "batch_noise",
    "bn_histograms",
    "moving_average_lag",
    "paired_differences",
    "seed_curves",
    "sweep",
    "unit_sparsity",
]


def seed_curves(
    curves: Mapping[str, np.ndarray],
    title: str,
    threshold: float | None = None,
    ylabel: str = "validation accuracy",
) -> Figure:
    """Per-epoch curves of several seeds per variant: ``curves[label]`` is (epochs, seeds);
    one thin line per seed and the mean in bold, in the variant's colour."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6), constrained_layout=True)
    for colour, (label, values) in zip(plt.cm.tab10.colors, curves.items(), strict=False):
        values = np.asarray(values)
        epochs = np.arange(1, values.shape[0] + 1)
        ax.plot(epochs, values, color=colour, lw=0.7, alpha=0.45)
        ax.plot(epochs, values.mean(axis=1), color=colour, lw=2.2, marker="o", ms=3, label=label)
    if threshold is not None:
        ax.axhline(threshold, color="0.6", ls="--", lw=1, label=f"{threshold:.0%}")
    ax.set(title=title, xlabel="epoch", ylabel=ylabel, ylim=(0, 1.02))
    ax.legend(title="bold: mean over seeds", fontsize=8, title_fontsize=8)
    return fig


def paired_differences(
    differences: Mapping[str, np.ndarray],
    title: str,
    margin: float | None = None,
    xlabel: str = "seed-wise difference",
) -> Figure:
    """One row per comparison: the seed-wise differences as dots, their mean and 95% t
    interval as a bar, 0 as a line and, given ``margin``, the equivalence band (−m, m)."""
    fig, ax = plt.subplots(figsize=(6.5, 0.9 + 0.55 * len(differences)), constrained_layout=True)
    for row, values in enumerate(differences.values()):
        values = np.asarray(values, dtype=float)
        interval = mean_interval(values)
        ax.plot(values, np.full(values.shape, row) + 0.12, "o", ms=4, color="0.55", alpha=0.8)
        ax.errorbar(
            interval.mean,
            row,
            xerr=[[interval.mean - interval.low], [interval.high - interval.mean]],
            fmt="s",
            color="tab:blue",
            capsize=4,
        )
    if margin is not None:
        ax.axvspan(-margin, margin, color="tab:green", alpha=0.12, label=f"margin ±{margin:g}")
        ax.legend(loc="lower right", fontsize=8)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(range(len(differences)), list(differences))
    ax.set_ylim(-0.6, len(differences) - 0.4)
    ax.set(title=title, xlabel=xlabel + " (dots: seeds; square and bar: mean, 95% CI)")
    return fig


def sweep(
    x_values,
    variants: Mapping[str, np.ndarray],
    title: str,
    xlabel: str,
    ylabel: str = "validation accuracy",
    log_x: bool = True,
) -> Figure:
    """Mean over seeds with its 95% t interval at each setting: ``variants[label]`` is
    (settings, seeds), ``x_values`` the settings (e.g. weight scales, batch sizes)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6), constrained_layout=True)
    x = np.asarray(x_values, dtype=float)
    for label, values in variants.items():
        values = np.asarray(values, dtype=float)
        intervals = [mean_interval(row) for row in values]
        means = np.array([i.mean for i in intervals])
        low = means - np.array([i.low for i in intervals])
        high = np.array([i.high for i in intervals]) - means
        ax.errorbar(x, means, yerr=[low, high], marker="o", capsize=3, label=label)
        ax.plot(np.repeat(x, values.shape[1]), values.ravel(), ".", color="0.6", ms=3)
    if log_x:
        ax.set_xscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, ylim=(0, 1.02))
    ax.legend(title="mean, 95% CI; dots: seeds", fontsize=8, title_fontsize=8)
    return fig


def batch_noise(noise: Mapping[int, np.ndarray]) -> Figure:
    """RMS difference between training-mode BN and BN with the data's statistics, per batch size
    (``noise[b]``: one value per feature), on log-log axes with a 1/√b guide."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4), constrained_layout=True)
    sizes = np.array(sorted(noise))
    values = np.array([np.asarray(noise[b]) for b in sizes])
    for j in range(values.shape[1]):
        ax.plot(sizes, values[:, j], marker="o", label=f"feature {j}")
    guide = values[-1].max() * np.sqrt(sizes[-1] / sizes)
    ax.plot(sizes, guide, "k--", lw=1, label="∝ 1/√batch")
    ax.set(
        xscale="log",
        yscale="log",
        title="BN output with batch statistics vs the data's statistics",
        xlabel="batch size",
        ylabel="RMS difference",
    )
    ax.legend(fontsize=8)
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


def unit_sparsity(fractions: Mapping[str, np.ndarray], bins: int = 20) -> Figure:
    """Histogram of per-unit zero fractions (share of examples on which a hidden unit's
    ReLU output is 0), one panel per variant; ``fractions[label]`` is (units, seeds) and
    all units of all seeds are pooled. The dashed line marks 50%."""
    fig, axes = plt.subplots(
        1,
        len(fractions),
        figsize=(3.6 * len(fractions), 3.0),
        sharey=True,
        constrained_layout=True,
        squeeze=False,
    )
    edges = np.linspace(0.0, 1.0, bins + 1)
    for ax, (label, values) in zip(axes[0], fractions.items(), strict=True):
        values = np.asarray(values).ravel()
        ax.hist(values, bins=edges, weights=np.full(values.size, 1.0 / values.size), alpha=0.8)
        ax.axvline(0.5, color="k", ls="--", lw=0.8)
        ax.set(title=label, xlabel="unit zero fraction", xlim=(0, 1))
    axes[0][0].set_ylabel("share of units (all seeds)")
    return fig
