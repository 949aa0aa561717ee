"""Figures of notebook 03 (sparsity): zeros per example, activation histograms per layer,
sparsity per layer, paired seeds with and without L1, the dense-vs-sparse speed-up curve
and batch-1 row gathering."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "activation_histograms",
    "batch1_figure",
    "layer_sparsity_figure",
    "paired_seeds_figure",
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


def speedup_figure(sparsity, speedup, ci_low=None, ci_high=None) -> Figure:
    """Dense time / sparse time against sparsity (log scale); above 1 the sparse product
    wins. ``ci_low``/``ci_high``: optional 95% interval per level, drawn as error bars."""
    sparsity = np.asarray(sparsity)
    speedup = np.asarray(speedup)
    fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    if ci_low is not None and ci_high is not None:
        err = np.vstack([speedup - np.asarray(ci_low), np.asarray(ci_high) - speedup])
        ax.errorbar(100 * sparsity, speedup, yerr=np.abs(err), marker="o", capsize=3)
        ax.set_yscale("log")
    else:
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
        title="tf.sparse vs dense matmul on this CPU (batched)",
    )
    ax.legend()
    return fig


def paired_seeds_figure(
    values: dict[str, dict[str, np.ndarray]], labels: tuple[str, str] = ("plain", "l1")
) -> Figure:
    """One panel per metric: each seed's value for the two variants joined by a line
    (a paired design: the lines, not the clouds, carry the comparison)."""
    n = len(values)
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n, 3.4), constrained_layout=True, squeeze=False)
    for ax, (metric, by_variant) in zip(axes[0], values.items(), strict=True):
        a, b = (np.asarray(by_variant[k], dtype=np.float64) for k in labels)
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            ax.plot(
                [0, 1], [u, v], marker="o", color="0.4", lw=1, label="one seed" if i == 0 else None
            )
        ax.plot([0, 1], [a.mean(), b.mean()], marker="s", color="tab:red", lw=2, label="mean")
        ax.set_xticks([0, 1], labels)
        ax.set_xlim(-0.3, 1.3)
        ax.set(title=metric)
        ax.legend(fontsize=8)
    return fig


def batch1_figure(results: dict[str, object]) -> Figure:
    """Batch-1 speed-up of row gathering over the dense product, with its 95% interval, per
    labelled sparsity level; the dotted mark is the ceiling 1 / (fraction of weight bytes
    read) that skipping rows could give if time were set by bytes alone.

    ``results`` maps a label to an object with ``speedup`` (an Interval: ``mean``, ``low``,
    ``high``), ``bytes_fraction`` and ``sparsity`` (e.g. ``Batch1Timing``)."""
    labels = list(results)
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    for i, label in enumerate(labels):
        r = results[label]
        s = r.speedup
        ax.bar(i, s.mean, color="tab:blue", alpha=0.7, label="measured" if i == 0 else None)
        ax.errorbar(i, s.mean, yerr=[[s.mean - s.low], [s.high - s.mean]], color="k", capsize=4)
        ax.plot(
            [i - 0.4, i + 0.4],
            [1 / r.bytes_fraction] * 2,
            ls=":",
            color="tab:green",
            lw=2,
            label="bytes ceiling 1/(fraction read)" if i == 0 else None,
        )
    ax.axhline(1.0, color="tab:red", ls="--", lw=1, label="break-even")
    ax.set_xticks(x, [f"{label}\n{results[label].sparsity:.0%} zeros" for label in labels])
    ax.set(ylabel="dense time / gather time", title="batch 1: skip the weight rows of zeros")
    ax.legend(fontsize=8)
    return fig
