"""Figures for notebook 07 (capstone ablation)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["ablation_panels", "overfitting_curves"]


def ablation_panels(
    records: list[dict], metrics=("val_accuracy", "sparsity", "dead_fraction", "activation_us")
) -> Figure:
    """One panel per metric: every seed as a dot, the mean as a bar, per activation."""
    frame = pd.DataFrame(records)
    order = list(
        frame.groupby("activation")["val_accuracy"].mean().sort_values(ascending=False).index
    )
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(4 * len(metrics), 3.6), constrained_layout=True
    )
    for ax, metric in zip(np.atleast_1d(axes), metrics, strict=True):
        for i, name in enumerate(order):
            values = frame.loc[frame["activation"] == name, metric].to_numpy()
            ax.bar(i, values.mean(), color="tab:blue", alpha=0.35)
            ax.plot(np.full(values.shape, i), values, "o", color="tab:blue", ms=4)
        ax.set_xticks(range(len(order)), order, rotation=60, ha="right")
        ax.set_title(metric)
    return fig


def overfitting_curves(history: dict[str, np.ndarray], labels: list[str]) -> Figure:
    """Training vs validation loss per epoch for each variant (columns of the history)."""
    fig, ax = plt.subplots(figsize=(7, 3.8), constrained_layout=True)
    epochs = np.arange(1, history["loss"].shape[0] + 1)
    for i, label in enumerate(labels):
        (line,) = ax.plot(epochs, history["val_loss"][:, i], label=f"{label} (validation)")
        ax.plot(epochs, history["loss"][:, i], ls=":", color=line.get_color())
    ax.set(
        title="training (dotted) vs validation loss",
        xlabel="epoch",
        ylabel="cross-entropy",
        yscale="log",
    )
    ax.legend(fontsize=8)
    return fig
