"""Figures of notebook 08 (after ReLU): smooth activations and their derivatives, exact vs
near-zero fractions, per-seed paired comparisons, ReLU-fication."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "paired_seeds_figure",
    "relufication_figure",
    "smooth_activations_figure",
    "zero_fractions_figure",
]


def smooth_activations_figure(
    x, curves: dict[str, np.ndarray], derivatives: dict[str, np.ndarray], gap=None
) -> Figure:
    """Activations and derivatives on shared x (two panels); with ``gap`` (an array on ``x``)
    a third panel shows it, e.g. exact − tanh-approximate GELU."""
    x = np.ravel(x)
    panels = 3 if gap is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 3.6), constrained_layout=True)
    for label, y in curves.items():
        axes[0].plot(x, np.ravel(y), label=label)
    for label, y in derivatives.items():
        axes[1].plot(x, np.ravel(y), label=label)
    axes[0].set(title="activation f(x)", xlabel="x", ylim=(-1.0, max(1.0, float(x.max()))))
    axes[1].set(title="derivative f'(x)", xlabel="x", ylim=(-0.3, 1.3))
    for ax in axes[:2]:
        ax.axhline(0, color="0.7", lw=0.8)
        ax.axvline(0, color="0.7", lw=0.8)
        ax.legend(fontsize=8)
    if gap is not None:
        axes[2].plot(x, np.ravel(gap), color="tab:red")
        axes[2].axhline(0, color="0.7", lw=0.8)
        axes[2].set(title="GELU: exact − tanh approximation", xlabel="x")
        axes[2].ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    return fig


def zero_fractions_figure(
    fractions: dict[str, dict[str, float]], title: str = "", eps: float | None = None
) -> Figure:
    """Grouped bars: for each activation (rows of ``fractions``), one bar per measurement
    (e.g. {"exact zeros": 0.5, "near zeros": 0.51})."""
    labels = list(fractions)
    kinds = list(next(iter(fractions.values())))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(labels) + 2), 3.6), constrained_layout=True)
    width = 0.8 / len(kinds)
    for j, kind in enumerate(kinds):
        values = [fractions[label][kind] for label in labels]
        ax.bar(
            np.arange(len(labels)) + (j - (len(kinds) - 1) / 2) * width, values, width, label=kind
        )
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set(ylabel="fraction of activations", ylim=(0, 1), title=title)
    if eps is not None:
        ax.text(
            0.99, 0.97, f"near zero: |a| < {eps:g}", transform=ax.transAxes, ha="right", va="top"
        )
    ax.legend(fontsize=8, loc="upper center")
    return fig


def paired_seeds_figure(values: dict[str, np.ndarray], ylabel: str, title: str = "") -> Figure:
    """One column per arm, one dot per seed, a grey line joining the arms of each seed (the
    pairing), and the arm's mean as a short black bar."""
    arms = list(values)
    data = np.array([np.asarray(values[arm], dtype=float) for arm in arms])  # (arms, seeds)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.3 * len(arms) + 1.5), 3.8), constrained_layout=True)
    positions = np.arange(len(arms))
    for seed in range(data.shape[1]):
        ax.plot(positions, data[:, seed], color="0.75", lw=0.8, zorder=1)
    for i in range(len(arms)):
        ax.plot(np.full(data.shape[1], i), data[i], "o", ms=4, zorder=2, label=None)
        ax.hlines(data[i].mean(), i - 0.25, i + 0.25, color="k", lw=2, zorder=3)
    ax.set_xticks(positions, arms)
    ax.set(ylabel=ylabel, title=title)
    return fig


def relufication_figure(
    accuracy: dict[str, np.ndarray],
    zeros: dict[str, np.ndarray],
    stages=("before", "swapped", "relufied"),
    control: str | None = "gelu_finetuned",
) -> Figure:
    """Two panels, test accuracy and exact-zero fraction, over the ``stages`` of
    ReLU-fication (one line per seed, means as black bars); ``control`` (the unchanged
    network fine-tuned alike) is drawn at the end, joined to ``before`` by dashed lines."""
    stages = list(stages)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    for ax, values, label in (
        (axes[0], accuracy, "test accuracy"),
        (axes[1], zeros, "fraction of exact zeros"),
    ):
        data = np.array([np.asarray(values[s], dtype=float) for s in stages])
        x = np.arange(len(stages))
        ax.plot(x, data, "o-", color="tab:blue", alpha=0.5, ms=4)
        ax.hlines(data.mean(axis=1), x - 0.2, x + 0.2, color="k", lw=2)
        names = stages
        if control is not None:
            c = np.asarray(values[control], dtype=float)
            at = len(stages)
            for before, after in zip(data[0], c, strict=True):
                ax.plot([0, at], [before, after], ls="--", color="tab:orange", alpha=0.35, lw=0.8)
            ax.plot(np.full(c.shape, at), c, "s", color="tab:orange", ms=4)
            ax.hlines(c.mean(), at - 0.2, at + 0.2, color="k", lw=2)
            names = [*stages, f"{control}\n(control)"]
        ax.set_xticks(range(len(names)), names)
        ax.set(ylabel=label)
    axes[1].set_ylim(-0.02, 1.0)
    fig.suptitle("ReLU-fication: one line per seed; black bars are means")
    return fig
