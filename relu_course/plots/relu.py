"""Figures for notebook 01 (ReLU is max(0, x)): the gradient-check kink trap, exact zeros
and ReLU′(0) across precisions, universal approximation, linear regions in the plane."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

__all__ = ["approximation_figure", "kink_trap_figure", "prime0_figure", "regions_figure"]


def kink_trap_figure(offsets, errors, h: float) -> Figure:
    """Relative error of a gradient check against the input's distance from the kink."""
    offsets = np.asarray(offsets, dtype=np.float64)
    errors = np.asarray(errors, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6.5, 3.6), constrained_layout=True)
    shown = np.maximum(errors, 1e-17)  # exact agreement (0) drawn at the bottom of the axis
    ax.plot(offsets, shown, marker="o", ms=3, lw=1)
    ax.set_xscale("symlog", linthresh=h / 10)
    ax.set_yscale("log")
    for edge in (-h, h):
        ax.axvline(edge, color="tab:red", ls="--", lw=0.8)
    ax.axhline(1e-7, color="0.6", ls=":", lw=0.8, label="a usual pass mark (1e-7)")
    ax.set(
        xlabel="input x (symmetric log scale); dashed: ±h",
        ylabel="relative error (analytic vs numerical)",
        title="a gradient check through ReLU fails within h of the kink",
        ylim=(1e-17, 10),
    )
    ax.legend(fontsize=8, loc="center right")
    return fig


def prime0_figure(zero_fractions: dict, step_fractions: dict, differences: dict, margin) -> Figure:
    """Three panels over compute precisions (dict keys, e.g. "float32"): the fraction of
    hidden pre-activations exactly 0 during training, the fraction of training steps with
    at least one, and the seed-wise accuracy difference ReLU′(0)=1 minus ReLU′(0)=0 with
    the equivalence band ±``margin`` (a precision missing from ``differences`` is skipped).
    """
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(12, 3.6), constrained_layout=True)
    names = list(zero_fractions)
    positions = np.arange(len(names))
    floor = 1e-9
    for ax, values, label in (
        (left, zero_fractions, "pre-activations exactly 0"),
        (middle, step_fractions, "steps with at least one exact 0"),
    ):
        means = np.array([np.mean(values[n]) for n in names])
        ax.bar(positions, np.where(means > 0, means, np.nan), color="tab:blue", alpha=0.7)
        for i, n in enumerate(names):
            seen = np.asarray(values[n]) > 0
            ax.scatter(np.full(seen.sum(), i), np.asarray(values[n])[seen], color="k", s=8)
            if not seen.all():
                ax.annotate(
                    f"{int((~seen).sum())} seeds: none", (i, floor), ha="center", fontsize=8
                )
        ax.set(xticks=positions, xticklabels=names, yscale="log", title=label)
        ax.set_ylim(bottom=floor / 2)
    left.set_ylabel("fraction (dots: seeds)")
    shown = [n for n in names if n in differences]
    for i, n in enumerate(shown):
        d = 100 * np.asarray(differences[n], dtype=np.float64)
        right.scatter(np.full(len(d), i) + np.linspace(-0.1, 0.1, len(d)), d, color="k", s=12)
    right.axhspan(-100 * margin, 100 * margin, color="tab:green", alpha=0.15, label="margin")
    right.axhline(0, color="0.5", lw=0.8)
    right.set(
        xticks=np.arange(len(shown)),
        xticklabels=shown,
        xlim=(-0.5, len(shown) - 0.5),
        ylabel="accuracy points",
        title="ReLU′(0)=1 minus ReLU′(0)=0, per seed",
    )
    right.legend(fontsize=8)
    return fig


def approximation_figure(grid, target, fits: dict, ks, errors, slope: float) -> Figure:
    """Left: the target and a few ReLU approximations (label → values on ``grid``);
    right: max error against the number of units on log-log axes, with a 1/k² guide."""
    ks = np.asarray(ks, dtype=np.float64)
    errors = np.asarray(errors, dtype=np.float64)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    left.plot(grid, target, color="k", lw=2, alpha=0.3, label="target")
    for label, values in fits.items():
        left.plot(grid, values, lw=1, label=label)
    left.set(xlabel="x", title="k ReLU units, kinks at equally spaced points")
    left.legend(fontsize=8)
    right.loglog(ks, errors, marker="o", label=f"measured (fitted slope {slope:.2f})")
    right.loglog(ks, errors[0] * (ks[0] / ks) ** 2, ls="--", color="0.5", label="∝ 1/k²")
    right.set(xlabel="number of ReLU units k", ylabel="max |error|", title="error vs units")
    right.legend(fontsize=8)
    return fig


def regions_figure(grid_x, grid_y, labels, count: int, points, classes, boundary) -> Figure:
    """Linear regions of a 2-D ReLU network: one colour per activation pattern on the grid
    (``labels`` has the grid's shape), the decision boundary (``boundary``: the difference
    of the two logits on the grid, drawn at 0) and the data points."""
    labels = np.asarray(labels).reshape(np.shape(grid_x))
    rng = np.random.default_rng(0)  # a fixed shuffle so neighbouring regions differ in colour
    palette = ListedColormap(plt.cm.tab20(np.arange(20))[rng.permutation(20)])
    fig, ax = plt.subplots(figsize=(6.5, 5), constrained_layout=True)
    ax.pcolormesh(grid_x, grid_y, labels % 20, cmap=palette, shading="auto", alpha=0.55)
    ax.contour(grid_x, grid_y, np.reshape(boundary, np.shape(grid_x)), levels=[0], colors="k")
    points = np.asarray(points)
    ax.scatter(points[:, 0], points[:, 1], c=np.asarray(classes), cmap="coolwarm", s=6)
    ax.set(title=f"{count} linear regions in view (black: decision boundary)", xlabel="x₁")
    ax.set_ylabel("x₂")
    return fig
