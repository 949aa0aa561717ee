"""Figures for notebook 07 (capstone ablation)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "ablation_panels",
    "activation_cost_panels",
    "overfitting_curves",
    "paired_differences",
    "silencing_plot",
]


def ablation_panels(
    records: list[dict], metrics=("test_accuracy", "sparsity", "dead_fraction", "stop_epoch")
) -> Figure:
    """One panel per metric: every seed as a dot, the mean as a bar, per activation
    (ordered by mean test accuracy, best first)."""
    frame = pd.DataFrame(records)
    order = list(frame.groupby("activation")[metrics[0]].mean().sort_values(ascending=False).index)
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(4 * len(metrics), 3.6), constrained_layout=True
    )
    for ax, metric in zip(np.atleast_1d(axes), metrics, strict=True):
        for i, name in enumerate(order):
            values = frame.loc[frame["activation"] == name, metric].to_numpy()
            ax.bar(i, values.mean(), color="tab:blue", alpha=0.35)
            ax.plot(np.full(values.shape, i), values, "o", color="tab:blue", ms=3)
        ax.set_xticks(range(len(order)), order, rotation=60, ha="right")
        ax.set_title(metric)
    if metrics[0].endswith("accuracy"):
        axes[0].set_ylim(bottom=max(0.0, frame[metrics[0]].min() - 0.02))
    return fig


def paired_differences(table: pd.DataFrame, margin: float | None = None) -> Figure:
    """Forest plot of a :func:`relu_course.capstone.paired_comparisons` table: each
    activation's mean seed-wise difference from the baseline with its 95% interval; filled
    markers where Holm's correction rejects; the equivalence margin shaded."""
    column = table.columns[0]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(table) + 1.4), constrained_layout=True)
    y = np.arange(len(table))[::-1]
    for yi, (_name, row) in zip(y, table.iterrows(), strict=True):
        rejected = bool(row["Holm rejects"])
        ax.plot([row["95% CI low"], row["95% CI high"]], [yi, yi], color="tab:blue")
        ax.plot(
            row[column],
            yi,
            "o",
            color="tab:blue",
            mfc="tab:blue" if rejected else "white",
            label="Holm rejects 'no difference'" if rejected else "not rejected",
        )
    if margin:
        ax.axvspan(-margin, margin, color="0.9", zorder=0, label="equivalence margin")
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_yticks(y, list(table.index))
    ax.set(xlabel=f"{column} (paired by seed, 95% interval)")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize=8, loc="lower left")
    return fig


def overfitting_curves(histories: dict[str, dict], seed_index: int = 0) -> Figure:
    """Training (dotted) vs test (solid) accuracy per epoch for each variant of an
    ``overfitting_demo`` result (one seed)."""
    fig, ax = plt.subplots(figsize=(7, 3.8), constrained_layout=True)
    for label, result in histories.items():
        history = result["history"]
        epochs = np.arange(1, history["accuracy"].shape[0] + 1)
        (line,) = ax.plot(epochs, history["test_accuracy"][:, seed_index], label=label)
        ax.plot(epochs, history["accuracy"][:, seed_index], ls=":", color=line.get_color())
    ax.set(
        title="training (dotted) vs test (solid) accuracy, one seed",
        xlabel="epoch",
        ylabel="accuracy",
    )
    ax.legend(fontsize=8)
    return fig


def silencing_plot(curves: dict[str, np.ndarray], fractions) -> Figure:
    """Test accuracy against the fraction of hidden units silenced: mean over seeds with a
    band from the lowest to the highest seed."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    fractions = np.asarray(fractions)
    for label, values in curves.items():
        (line,) = ax.plot(fractions, values.mean(axis=0), "o-", ms=3, label=label)
        ax.fill_between(
            fractions, values.min(axis=0), values.max(axis=0), color=line.get_color(), alpha=0.2
        )
    ax.set(
        xlabel="fraction of hidden units silenced at test time",
        ylabel="test accuracy",
        title="co-adaptation proxy",
    )
    ax.legend(fontsize=8)
    return fig


def activation_cost_panels(per_element: dict[str, np.ndarray], shares: dict) -> Figure:
    """Left: time per element relative to ReLU (per repeat, and the geometric mean);
    right: share of a training step (the interval of each ``stats.Interval``)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), constrained_layout=True)
    labels = list(per_element)
    base = per_element["relu"]
    for i, label in enumerate(labels):
        ratios = per_element[label] / base
        left.plot(np.full(ratios.shape, i), ratios, "o", color="tab:blue", ms=3)
        left.bar(i, np.exp(np.mean(np.log(ratios))), color="tab:blue", alpha=0.35)
    left.axhline(1, color="0.4", lw=0.8)
    left.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    left.set(title="time per element / ReLU's (forward + backward)")
    names = list(shares)
    for i, label in enumerate(names):
        interval = shares[label]
        right.plot([i, i], [interval.low, interval.high], color="tab:orange")
        right.plot(i, interval.mean, "o", color="tab:orange")
    right.axhline(0, color="0.4", lw=0.8)
    right.set_xticks(range(len(names)), names, rotation=45, ha="right")
    right.set(title="share of a whole training step (95% interval)")
    return fig
