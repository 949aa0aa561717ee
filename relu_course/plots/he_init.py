"""Figures for notebook 05 (He initialization)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "kernel_images",
    "rms_by_layer",
    "seed_loss_curves",
    "weight_histograms",
]


def rms_by_layer(
    profiles: dict[str, np.ndarray], theory: dict[str, np.ndarray] | None = None
) -> Figure:
    """RMS of each layer's output (log scale), one line per initialization."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    for name, values in profiles.items():
        values = np.asarray(values, dtype=np.float64)
        layers = np.arange(1, len(values) + 1)
        shown = np.where(values > 0, values, np.nan)  # zero init: nothing to draw on a log axis
        line = ax.semilogy(layers, shown, marker="o", ms=3, label=name)[0]
        if theory and name in theory:
            ax.semilogy(layers, theory[name], ls=":", color=line.get_color())
    ax.set(
        xlabel="layer",
        ylabel="RMS of the ReLU output",
        title="signal scale through depth (dotted: variance recursion)",
    )
    ax.legend(fontsize=8)
    return fig


def weight_histograms(samples: dict[str, np.ndarray], std: float) -> Figure:
    """Histograms of weight samples in units of ``std`` (log counts show the tails)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.5), constrained_layout=True)
    bins = np.linspace(-4.5, 4.5, 91)
    for name, w in samples.items():
        ax.hist(np.ravel(w) / std, bins=bins, histtype="step", density=True, label=name)
    z = np.linspace(-4.5, 4.5, 400)
    ax.plot(z, np.exp(-(z**2) / 2) / np.sqrt(2 * np.pi), color="k", lw=0.8, ls=":", label="N(0, 1)")
    ax.set(yscale="log", ylim=(1e-4, 1), xlabel="weight / √(2/fan_in)", ylabel="density")
    ax.legend(fontsize=8)
    return fig


def seed_loss_curves(runs: dict, labels: dict[str, str] | None = None) -> Figure:
    """Training loss per epoch over seeds: one panel per depth, per init the mean (line) and
    every seed (thin lines). ``runs``: depth → an object with ``loss`` (init → (epochs,
    seeds)) and ``inits`` (e.g. :class:`relu_course.experiments.he_init.InitRuns`)."""
    labels = labels or {}
    depths = sorted(runs)
    fig, axes = plt.subplots(
        1,
        len(depths),
        figsize=(5 * len(depths), 3.6),
        sharey=True,
        constrained_layout=True,
        squeeze=False,
    )
    for ax, depth in zip(axes[0], depths, strict=True):
        run = runs[depth]
        for k, init in enumerate(run.inits):
            loss = np.asarray(run.loss[init])
            epochs = np.arange(1, loss.shape[0] + 1)
            color = f"C{k}"
            ax.plot(epochs, loss, color=color, lw=0.6, alpha=0.5)
            ax.plot(
                epochs,
                loss.mean(axis=1),
                color=color,
                lw=2,
                marker="o",
                ms=3,
                label=f"{labels.get(init, init)} (mean of {loss.shape[1]} seeds)",
            )
        ax.axhline(math.log(10), color="0.6", ls="--", lw=0.8, label="ln 10 (chance)")
        ax.set(title=f"{depth} hidden layers", xlabel="epoch", yscale="log")
        ax.legend(fontsize=8)
    axes[0][0].set(ylabel="training loss (log scale)")
    return fig


def kernel_images(kernels: dict[str, np.ndarray]) -> Figure:
    """Each kernel (fan_in × units) as an image: identical units are identical columns."""
    n = len(kernels)
    fig, axes = plt.subplots(1, n, figsize=(3.3 * n, 3.3), constrained_layout=True, squeeze=False)
    for ax, (name, w) in zip(axes[0], kernels.items(), strict=True):
        w = np.asarray(w, dtype=np.float64)
        bound = float(np.abs(w).max()) or 1.0
        ax.imshow(w, cmap="coolwarm", vmin=-bound, vmax=bound, aspect="auto")
        ax.set(title=name, xlabel="unit (column)", ylabel="input (row)")
    return fig
