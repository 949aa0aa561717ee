"""Figures for notebook 04 (dead neurons)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["born_dead_curves", "dead_fraction_curves", "revive_bars"]


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


def dead_fraction_curves(histories: dict[str, list[float]], title: str = "") -> Figure:
    """Dead fraction (mean over ReLU layers) against epoch, one line per run."""
    fig, ax = plt.subplots(figsize=(6.5, 3.5), constrained_layout=True)
    for label, values in histories.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", ms=3, label=label)
    ax.set(xlabel="epoch", ylabel="dead fraction of ReLU units", ylim=(-0.02, 1.0), title=title)
    ax.legend(fontsize=8)
    return fig


def revive_bars(labels, inactive, accuracy) -> Figure:
    """Two bar panels per arm: units ≤ 0 on all data after training, and validation accuracy."""
    y = np.arange(len(labels))
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(10, 0.45 * len(labels) + 1.4), sharey=True, constrained_layout=True
    )
    left.barh(y, inactive, color="tab:red")
    left.set(
        xlabel="fraction of hidden units ≤ 0 on every training input",
        xlim=(0, 1),
        yticks=y,
        yticklabels=labels,
    )
    right.barh(y, accuracy, color="tab:blue")
    right.set(xlabel="validation accuracy", xlim=(0, 1))
    left.invert_yaxis()
    return fig
