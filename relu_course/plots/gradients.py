"""Figures of notebook 02 (vanishing gradients): weight-gradient and error norms per layer,
epochs to a target accuracy, and saturation."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

__all__ = [
    "chain_bound_figure",
    "norm_profile_figure",
    "saturation_figure",
    "steps_to_target_figure",
]

_ACTIVATION_COLOURS = {"sigmoid": "tab:blue", "tanh": "tab:orange", "relu": "tab:green"}
_INIT_STYLES = ("-", "--", ":", "-.")


def norm_profile_figure(
    profiles: dict[str, dict[tuple[str, str], np.ndarray]],
    init_labels: dict[str, str] | None = None,
) -> Figure:
    """The plot pair of notebook 02: per Dense layer, ‖∂L/∂W_l‖ (left) and the
    back-propagated error ‖∂L/∂z_l‖ (right), log scale, input side first.

    ``profiles`` is :func:`relu_course.experiments.vanishing_gradients.norm_profiles`'s
    result: ``{"weight": {(activation, init): (seeds, layers)}, "error": {...}}``. Each
    line is the geometric mean over seeds, its band the smallest to largest seed; the
    colour is the activation, the line style the initialization.
    """
    init_labels = init_labels or {}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True, sharex=True)
    inits = list(dict.fromkeys(init for _, init in profiles["weight"]))
    titles = {
        "weight": "weight gradient ‖∂L/∂W_l‖",
        "error": "back-propagated error ‖∂L/∂z_l‖",
    }
    for ax, kind in zip(axes, ("weight", "error"), strict=True):
        for (activation, init), norms in profiles[kind].items():
            norms = np.atleast_2d(np.asarray(norms, dtype=np.float64))
            layers = np.arange(1, norms.shape[1] + 1)
            centre = np.exp(np.mean(np.log(norms), axis=0))
            colour = _ACTIVATION_COLOURS.get(activation)
            style = _INIT_STYLES[inits.index(init) % len(_INIT_STYLES)]
            (line,) = ax.semilogy(
                layers,
                centre,
                ls=style,
                marker=".",
                color=colour,
                label=f"{activation}, {init_labels.get(init, init)}",
            )
            if len(norms) > 1:
                ax.fill_between(
                    layers, norms.min(axis=0), norms.max(axis=0), color=line.get_color(), alpha=0.15
                )
        ax.set(
            xlabel="Dense layer (1 = input side; last = logits)",
            ylabel=f"{titles[kind].split(' ‖')[0]} (log scale)",
            title=titles[kind],
        )
        ax.grid(True, which="major", alpha=0.3)
    axes[1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle("per layer at initialization (line: geometric mean over seeds; band: range)")
    return fig


def steps_to_target_figure(result: dict) -> Figure:
    """Epochs to the target validation accuracy against depth, one line per activation
    (geometric mean over seeds, band: range); a hollow marker where at least one seed
    never reached the target within the budget (plotted at budget + 1, a lower bound).

    ``result`` is :func:`relu_course.experiments.vanishing_gradients.steps_to_target`'s.
    """
    fig, ax = plt.subplots(figsize=(6.5, 4.2), constrained_layout=True)
    depths = np.asarray(result["depths"])
    for activation, epochs in result["epochs"].items():
        epochs = np.asarray(epochs, dtype=np.float64)  # (depths, seeds)
        reached = np.asarray(result["reached"][activation])
        centre = np.exp(np.mean(np.log(epochs), axis=1))
        colour = _ACTIVATION_COLOURS.get(activation)
        (line,) = ax.plot(depths, centre, marker="o", color=colour, label=activation)
        ax.fill_between(
            depths, epochs.min(axis=1), epochs.max(axis=1), color=line.get_color(), alpha=0.15
        )
        censored = ~reached.all(axis=1)
        if censored.any():
            ax.plot(
                depths[censored], centre[censored], "o", mfc="white", color=line.get_color(), ms=9
            )
    ax.plot(
        depths,
        [result["budget"][d] + 1 for d in result["depths"]],
        color="black",
        ls="--",
        lw=1,
        zorder=5,
        label="budget + 1 (not reached: a lower bound)",
    )
    ax.set(
        xlabel="hidden layers",
        ylabel="epochs to target (log scale)",
        yscale="log",
        xticks=depths,
        title=f"epochs to {result['target']:.0%} validation accuracy",
    )
    ax.yaxis.set_major_locator(FixedLocator([1, 2, 3, 5, 10, 20, 50, 100]))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize=8)
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
    """Left: mean output of each hidden layer of the ``watch`` networks before and after
    training (one dot per seed, bar: mean over seeds); right: validation accuracy per epoch
    of every run, one thin line per seed (as in Glorot & Bengio 2010, Fig. 2).

    ``runs`` is :func:`relu_course.experiments.vanishing_gradients.saturation_runs`'s result.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    before = np.asarray(runs[watch]["layer_means_init"])  # (seeds, layers)
    after = np.asarray(runs[watch]["layer_means"])
    layers = np.arange(1, before.shape[1] + 1)
    for offset, values, label in (
        (-0.18, before, "at initialization"),
        (0.18, after, "after training"),
    ):
        bars = left.bar(layers + offset, values.mean(axis=0), width=0.34, alpha=0.6, label=label)
        for row in values:
            left.plot(layers + offset, row, ".", color=bars.patches[0].get_facecolor(), alpha=1.0)
    left.set(
        xlabel=f"hidden layer (1 = input side, {len(layers)} = top)",
        ylabel="mean activation",
        xticks=layers,
        title=f"{watch}: mean output of each hidden layer",
        ylim=(0, 1.0),
    )
    left.legend(fontsize=8)
    for name, run in runs.items():
        acc = np.asarray(run["val_accuracy"])  # (epochs, seeds)
        epochs = np.arange(1, acc.shape[0] + 1)
        colour = _ACTIVATION_COLOURS.get(name)
        lines = right.plot(epochs, acc, color=colour, lw=1, alpha=0.7)
        lines[0].set_label(f"{name} ({acc.shape[1]} seeds)")
    right.axhline(0.1, color="0.6", ls="--", lw=1, label="chance (10 classes)")
    right.set(
        xlabel="epoch",
        ylabel="validation accuracy",
        ylim=(0, 1),
        title="validation accuracy, plain SGD",
    )
    right.legend()
    return fig
