"""Figures for notebook 04 (dead neurons)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "born_dead_curves",
    "noisy_label_figure",
    "revive_seeds",
]


def born_dead_curves(
    depths, estimates: dict[int, np.ndarray], bounds: dict[int, np.ndarray], trials: int
) -> Figure:
    """Born-dead probability against depth, one line per width, with the single-input bound.

    ``estimates[width]`` and ``bounds[width]`` are arrays over ``depths``; error bars are
    ±2 binomial standard errors of a ``trials``-draw estimate.
    """
    depths = np.asarray(depths)
    fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    for width, p in estimates.items():
        p = np.asarray(p)
        err = 2 * np.sqrt(p * (1 - p) / trials)
        line = ax.errorbar(
            depths, p, yerr=err, marker="o", ms=4, capsize=2, label=f"width {width}: Monte Carlo"
        )
        ax.plot(
            depths,
            bounds[width],
            ls="--",
            color=line[0].get_color(),
            alpha=0.7,
            label=f"width {width}: 1 − (1 − 2⁻ᴺ)ᴸ bound",
        )
    ax.set(
        xlabel="depth L (hidden ReLU layers)",
        ylabel="P(born dead)",
        ylim=(-0.02, 1.02),
        title="a freshly initialised 1-input ReLU net is a constant",
    )
    ax.legend(fontsize=8, ncol=2)
    return fig


def revive_seeds(result, *, reference: str = "ReLU, lr 3e-2") -> Figure:
    """Kill and revive, every seed shown: per arm, the fraction of hidden units stuck ≤ 0 on
    all training data (left) and the validation accuracy (right); one dot per seed, a bar at
    the mean, the same seed joined across arms (the design is paired). ``result`` is a
    :class:`~relu_course.experiments.dead_neurons.ReviveResult`."""
    arms = result.arms
    y = np.arange(len(arms))
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(10.5, 0.5 * len(arms) + 1.6), sharey=True, constrained_layout=True
    )
    for ax, values, xlabel in (
        (left, result.inactive, "hidden units ≤ 0 on every training input (dead, for ReLU)"),
        (right, result.val_accuracy, f"validation accuracy after {result.epochs} epochs"),
    ):
        table = np.array([values[a] for a in arms])  # (arms, seeds)
        ax.barh(y, table.mean(axis=1), color="0.85", label="mean over seeds")
        for s in range(table.shape[1]):
            ax.plot(table[:, s], y, color="tab:blue", alpha=0.35, lw=0.8, marker="o", ms=3)
        ax.axvline(values[reference].mean(), color="tab:red", ls="--", lw=1, label=reference)
        ax.set(xlabel=xlabel, xlim=(0, 1))
    left.set(yticks=y, yticklabels=arms)
    left.invert_yaxis()
    right.legend(fontsize=8, loc="lower left")
    fig.suptitle(
        f"kill and revive: {len(result.seeds)} seeds, each arm from the same initial weights"
    )
    return fig


def noisy_label_figure(result, comparisons, *, baseline: str = "ReLU") -> Figure:
    """Left: clean test accuracy against the fraction of flipped training labels, mean and
    one dot per seed for each activation. Right: the seed-wise difference to ``baseline``
    with its 95% interval, per noise level (``comparisons`` from
    :func:`~relu_course.experiments.dead_neurons.noisy_label_comparisons`)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    noise = np.asarray(result.noise)
    offsets = np.linspace(-0.01, 0.01, len(result.activations))
    for offset, label in zip(offsets, result.activations, strict=True):
        values = np.array([result.test_accuracy[(label, p)] for p in result.noise])
        (line,) = left.plot(noise + offset, values.mean(axis=1), marker="o", label=label)
        for i, p in enumerate(noise):
            left.scatter(
                np.full(values.shape[1], p + offset),
                values[i],
                s=8,
                color=line.get_color(),
                alpha=0.4,
            )
    left.set(
        xlabel="fraction of training labels flipped",
        ylabel="test accuracy (clean labels)",
        title="accuracy under label noise",
    )
    left.legend(fontsize=8)
    others = [a for a in result.activations if a != baseline]
    offsets = np.linspace(-0.01, 0.01, max(len(others), 1))
    for offset, label in zip(offsets, others, strict=True):
        rows = [comparisons.loc[(label, p)] for p in result.noise]
        mean = np.array([r["difference"] for r in rows])
        low = np.array([r["_interval"].low for r in rows])
        high = np.array([r["_interval"].high for r in rows])
        right.errorbar(
            noise + offset, mean, yerr=[mean - low, high - mean], marker="o", capsize=3, label=label
        )
    right.axhline(0, color="0.5", lw=1)
    right.set(
        xlabel="fraction of training labels flipped",
        ylabel=f"accuracy minus {baseline} (same seed)",
        title="paired difference, 95% interval",
    )
    right.legend(fontsize=8)
    return fig
