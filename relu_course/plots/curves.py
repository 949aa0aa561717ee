"""Activation and function curves (notebook 01 onwards)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from relu_course.activations import ACTIVATIONS, DERIVATIVES

__all__ = ["activation_curves", "function_curves"]


def activation_curves(
    names=("relu", "sigmoid", "tanh", "softplus"), low: float = -4.0, high: float = 4.0
) -> Figure:
    """Two panels: the activations and their derivatives on [low, high]."""
    x = np.linspace(low, high, 801)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    for name in names:
        left.plot(x, ACTIVATIONS[name](x), label=name)
        right.plot(x, DERIVATIVES[name](x), label=name)
    left.set(title="activation f(x)", xlabel="x", ylim=(-1.5, high))
    right.set(title="derivative f'(x)", xlabel="x", ylim=(-0.1, 1.2))
    for ax in (left, right):
        ax.axhline(0, color="0.7", lw=0.8)
        ax.axvline(0, color="0.7", lw=0.8)
        ax.legend()
    return fig


def function_curves(
    x, curves: dict[str, np.ndarray], title: str = "", marks: np.ndarray | None = None
) -> Figure:
    """Several functions of one variable on shared axes; optional vertical marks (kinks)."""
    x = np.ravel(x)
    fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    for label, y in curves.items():
        ax.plot(x, np.ravel(y), label=label)
    if marks is not None:
        for m in np.ravel(marks):
            ax.axvline(m, color="0.8", lw=0.7, zorder=0)
    ax.set(title=title, xlabel="x")
    ax.legend()
    return fig
