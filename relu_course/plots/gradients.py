"""Figures of notebook 02 (vanishing gradients): gradient norms per layer and saturation."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["chain_bound_figure", "gradient_norm_figure", "saturation_figure"]


def gradient_norm_figure(profiles: dict[str, np.ndarray], title: str = "") -> Figure:
    """‖∂L/∂W_l‖ against layer l (input side first) on a log scale, one line per activation."""
    fig, ax = plt.subplots(figsize=(6.5, 4), constrained_layout=True)
    for name, norms in profiles.items():
        norms = np.asarray(norms)
        ax.semilogy(np.arange(1, len(norms) + 1), norms, marker="o", label=name)
    ax.set(
        xlabel="Dense layer (1 = input side; last = logits)",
        ylabel="‖∂L/∂W‖ (log scale)",
        title=title or "gradient norm per layer at initialization",
    )
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return fig


def chain_bound_figure(max_depth: int = 20) -> Figure:
    """The largest possible product of L local derivatives: 0.25^L (sigmoid) vs 1 (tanh, ReLU)."""
    depth = np.arange(0, max_depth + 1)
    fig, ax = plt.subplots(figsize=(6.5, 3.6), constrained_layout=True)
    ax.semilogy(depth, 0.25**depth, marker=".", label="sigmoid: (1/4)^L")
    ax.semilogy(
        depth,
        np.ones_like(depth, dtype=float),
        marker=".",
        label="tanh (at 0) and ReLU (active path): 1^L",
    )
    ax.set(
        xlabel="number of layers L",
        ylabel="upper bound on ∏ f'(z) (log scale)",
        title="best case of the chain rule's product of activation derivatives",
    )
    ax.legend()
    return fig


def saturation_figure(runs: dict[str, dict[str, np.ndarray]], watch: str = "sigmoid") -> Figure:
    """Left: mean activation of each hidden layer of the ``watch`` run over training;
    right: validation accuracy per epoch of every run (as in Glorot & Bengio 2010, Fig. 2)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    means = np.asarray(runs[watch]["layer_means"])
    for i, row in enumerate(means, start=1):
        left.plot(
            np.arange(len(row)),
            row,
            marker=".",
            label=f"hidden layer {i}" + (" (top)" if i == len(means) else ""),
        )
    left.set(
        xlabel="epoch (0 = at initialization)",
        ylabel="mean activation",
        title=f"{watch}: mean output of each hidden layer",
        ylim=(-0.02, 1.0),
    )
    left.legend(fontsize=8)
    for name, run in runs.items():
        acc = np.asarray(run["val_accuracy"])
        right.plot(np.arange(1, len(acc) + 1), acc, marker=".", label=name)
    right.axhline(0.1, color="0.6", ls="--", lw=1, label="chance (10 classes)")
    right.set(
        xlabel="epoch",
        ylabel="validation accuracy",
        ylim=(0, 1),
        title="validation accuracy, plain SGD",
    )
    right.legend()
    return fig
