"""The training-diagnostics dashboard (figures for :class:`relu_course.diagnostics.TrainingDiagnostics`)."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["diagnostics_dashboard", "update_ratio_comparison"]

RULE_OF_THUMB = 1e-3  # the update-to-data ratio usually quoted as healthy


def _layer_colors(names) -> dict[str, tuple]:
    cmap = plt.get_cmap("viridis")
    n = max(len(names) - 1, 1)
    return {name: cmap(i / n) for i, name in enumerate(names)}


def _epoch_lines(ax, epoch_ends) -> None:
    for step in epoch_ends[:-1]:
        ax.axvline(step, color="0.8", lw=0.8, zorder=0)


def diagnostics_dashboard(diagnostics, *, title: str = "", bins: int = 40) -> Figure:
    """One figure for one training run.

    Top row: a histogram of every activation layer's non-zero activations at each snapshot
    step (the exact-zero fraction in the legend). Bottom row, against the optimizer step:
    the exact-zero fraction and the dead fraction per activation layer; the update-to-data
    ratio per weight layer on a log scale, with the 1e-3 rule of thumb; the gradient std per
    weight layer on a log scale (when labels were given). Grey lines mark epoch ends.

    Args:
        diagnostics: a :class:`~relu_course.diagnostics.TrainingDiagnostics` after ``fit``
            (anything with its ``steps``, ``epoch_ends``, ``history``, ``snapshots``).
    """
    snapshot_steps = sorted(diagnostics.snapshots)
    top = max(len(snapshot_steps), 1)
    bottom = 3 if diagnostics.history["gradient_std"] else 2
    columns = int(np.lcm(top, bottom))
    fig = plt.figure(figsize=(12, 6.6), constrained_layout=True)
    grid = fig.add_gridspec(2, columns)
    steps = np.asarray(diagnostics.steps)
    act_names = list(diagnostics.history["zero_fraction"])
    weight_names = list(diagnostics.history["update_ratio"])
    act_colors, weight_colors = _layer_colors(act_names), _layer_colors(weight_names)

    width = columns // top
    shared = None
    for i, step in enumerate(snapshot_steps):
        ax = fig.add_subplot(grid[0, i * width : (i + 1) * width], sharey=shared)
        shared = shared or ax
        values = diagnostics.snapshots[step]
        nonzero = [v[v != 0] for v in values.values()]
        pooled = np.concatenate([v.ravel() for v in nonzero]) if nonzero else np.zeros(1)
        pooled = pooled if pooled.size else np.zeros(1)
        # a few outliers would squeeze every histogram into one bin: clip the range
        low, high = np.percentile(pooled, [0.5, 99.5])
        edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
        for name, v in values.items():
            counts, _ = np.histogram(v[v != 0], bins=edges, density=False)
            centres = 0.5 * (edges[1:] + edges[:-1])
            ax.plot(
                centres,
                counts / max(v.size, 1),
                color=act_colors[name],
                label=f"{name}: {np.mean(v == 0):.0%} zeros",
            )
        ax.set(title=f"step {step}", xlabel="activation value (zeros left out)")
        if i == 0:
            ax.set_ylabel("share of entries per bin")
        ax.legend(fontsize=6, loc="upper right")

    width = columns // bottom
    ax = fig.add_subplot(grid[1, 0:width])
    for name in act_names:
        ax.plot(steps, diagnostics.history["zero_fraction"][name], color=act_colors[name], lw=1)
        ax.plot(
            steps,
            diagnostics.history["dead_fraction"][name],
            color=act_colors[name],
            lw=1.6,
            ls="--",
        )
    _epoch_lines(ax, diagnostics.epoch_ends)
    ax.plot([], [], color="0.3", lw=1, label="zeros (entries)")
    ax.plot([], [], color="0.3", lw=1.6, ls="--", label="dead (units)")
    ax.set(
        xlabel="optimizer step", ylabel="fraction", ylim=(-0.02, 1.02), title="zeros and dead units"
    )
    ax.legend(fontsize=7)

    ax = fig.add_subplot(grid[1, width : 2 * width])
    for name in weight_names:
        ax.plot(
            steps, diagnostics.history["update_ratio"][name], color=weight_colors[name], label=name
        )
    ax.axhline(RULE_OF_THUMB, color="k", ls=":", lw=1, label="1e-3 rule of thumb")
    _epoch_lines(ax, diagnostics.epoch_ends)
    ax.set(yscale="log", xlabel="optimizer step", ylabel="‖ΔW‖ / ‖W‖", title="update-to-data ratio")
    ax.legend(fontsize=6, ncol=2)

    if bottom == 3:
        ax = fig.add_subplot(grid[1, 2 * width : 3 * width])
        for name in weight_names:
            if name in diagnostics.history["gradient_std"]:
                ax.plot(
                    steps,
                    diagnostics.history["gradient_std"][name],
                    color=weight_colors[name],
                    label=name,
                )
        _epoch_lines(ax, diagnostics.epoch_ends)
        ax.set(
            yscale="log", xlabel="optimizer step", ylabel="std of ∂L/∂W", title="kernel gradients"
        )
    if title:
        fig.suptitle(title)
    return fig


def update_ratio_comparison(runs: dict, *, title: str = "") -> Figure:
    """Median over weight layers of the update-to-data ratio against the step, one line per
    run (``runs``: label → TrainingDiagnostics), and the mean dead fraction of the activation
    layers below it."""
    fig, (upper, lower) = plt.subplots(2, 1, figsize=(7, 5.2), sharex=True, constrained_layout=True)
    for label, diagnostics in runs.items():
        steps = np.asarray(diagnostics.steps)
        ratios = np.array(list(diagnostics.history["update_ratio"].values()))
        with warnings.catch_warnings():  # step 0 has no ratio yet: an all-NaN column
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(ratios, axis=0) if ratios.size else np.full(steps.shape, np.nan)
        (line,) = upper.plot(steps, median, label=label)
        dead = np.array(list(diagnostics.history["dead_fraction"].values()))
        if dead.size:
            lower.plot(steps, dead.mean(axis=0), color=line.get_color(), label=label)
    upper.axhline(RULE_OF_THUMB, color="k", ls=":", lw=1, label="1e-3 rule of thumb")
    upper.set(yscale="log", ylabel="median ‖ΔW‖ / ‖W‖", title=title or "update-to-data ratio")
    lower.set(xlabel="optimizer step", ylabel="mean dead fraction", ylim=(-0.02, 1.02))
    upper.legend(fontsize=8)
    return fig
