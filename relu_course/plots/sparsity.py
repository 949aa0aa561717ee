"""Figures of notebook 03 (sparsity): zeros per example, activation histograms per layer,
sparsity per layer, and the dense-vs-sparse speed-up curve."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "activation_histograms",
    "layer_sparsity_figure",
    "speedup_figure",
    "zero_fraction_figure",
]


def zero_fraction_figure(fractions: dict[str, np.ndarray]) -> Figure:
    """Histogram of the per-example fraction of zeros, one per initializer."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6), constrained_layout=True)
    bins = np.linspace(0.3, 0.7, 41)
    for name, f in fractions.items():
        ax.hist(
            np.asarray(f),
            bins=bins,
            histtype="step",
            lw=1.5,
            label=f"{name} (mean {np.mean(f):.3f})",
        )
    ax.axvline(0.5, color="0.5", ls="--", lw=1)
    ax.set(
        xlabel="fraction of exact zeros in one example's ReLU output",
        ylabel="examples",
        title="zeros per example at initialization",
    )
    ax.legend(fontsize=8)
    return fig


def activation_histograms(activations: dict[str, np.ndarray], title: str = "") -> Figure:
    """One panel per layer: histogram of the non-zero outputs, the exact-zero share in the title."""
    n = len(activations)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.2), constrained_layout=True, squeeze=False)
    for ax, (name, a) in zip(axes[0], activations.items(), strict=True):
        a = np.asarray(a).ravel()
        nonzero = a[a != 0]
        ax.hist(nonzero, bins=40, color="tab:blue")
        ax.set(
            title=f"{name}: {np.mean(a == 0):.0%} exact zeros",
            xlabel="output (non-zero)",
            ylabel="count",
        )
    if title:
        fig.suptitle(title)
    return fig


def layer_sparsity_figure(results: dict[str, dict[str, float]]) -> Figure:
    """Grouped bars: fraction of zeros per ReLU layer, one group per model."""
    labels = list(results)
    layers = list(next(iter(results.values())))
    x = np.arange(len(layers))
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(6.5, 3.6), constrained_layout=True)
    for i, label in enumerate(labels):
        values = [results[label][layer] for layer in layers]
        ax.bar(x + (i - (len(labels) - 1) / 2) * width, values, width, label=label)
    ax.axhline(0.5, color="0.5", ls="--", lw=1)
    ax.set_xticks(x, layers)
    ax.set(ylabel="fraction of exact zeros", ylim=(0, 1), title="sparsity per ReLU layer")
    ax.legend(fontsize=8)
    return fig


def speedup_figure(sparsity, speedup) -> Figure:
    """Dense time / sparse time against sparsity (log scale); above 1 the sparse product wins."""
    sparsity = np.asarray(sparsity)
    speedup = np.asarray(speedup)
    fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    ax.semilogy(100 * sparsity, speedup, marker="o")
    ax.axhline(1.0, color="tab:red", ls="--", lw=1, label="break-even")
    ax.fill_between(
        100 * sparsity,
        1.0,
        np.maximum(speedup, 1.0),
        color="tab:green",
        alpha=0.2,
        label="sparse matmul faster",
    )
    ax.set(
        xlabel="sparsity of the activations (% exact zeros)",
        ylabel="dense time / sparse time (log)",
        title="tf.sparse vs dense matmul on this CPU",
    )
    ax.legend()
    return fig
