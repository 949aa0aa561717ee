"""Dead ReLU units: NumPy references and a Keras monitor (notebook 04).

A unit is *dead* on a dataset when its output is exactly 0 on every example: no gradient
reaches its weights, so plain gradient descent can never revive it. This module holds

* :func:`born_dead_probability` — Monte Carlo estimate of the probability that a freshly
  initialised one-input ReLU MLP (He-normal weights, zero biases) is a constant function on
  [−1, 1] (Lu, Shin, Su & Karniadakis, Commun. Comput. Phys. 28(5), 2020), and
  :func:`single_input_dead_bound`, the exact probability that such a net is dead at one
  fixed input, an upper bound;
* :class:`DeadFractionMonitor` — a Keras callback recording per-layer dead fractions at every
  epoch end (the reference for the learner's ``DeadUnitMonitor``).

NumPy first; the Keras callback only builds on :mod:`relu_course.probes`.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import keras
import numpy as np
import tensorflow as tf

from relu_course.probes import dead_unit_mask, relu_layers

__all__ = [
    "DeadFractionMonitor",
    "quiet_input_structure_warning",
    "born_dead_probability",
    "born_dead_standard_error",
    "is_born_dead",
    "single_input_dead_bound",
]


@contextlib.contextmanager
def quiet_input_structure_warning() -> Iterator[None]:
    """Silence Keras's "structure of `inputs` doesn't match" warning inside the block.

    Keras 3 warns (once, on stderr) when a probe model built from ``model.inputs`` (a list)
    is called with a single tensor. The result is right; the warning would only make a
    graded cell look failed to nbgrader.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The structure of `inputs`")
        yield


def is_born_dead(
    depth: int, width: int, trials: int, rng: np.random.Generator, grid: int = 21
) -> np.ndarray:
    """Draw ``trials`` one-input ReLU MLPs and say which are constant on a grid over [−1, 1].

    Each net has ``depth`` hidden ReLU layers of ``width`` units, He-normal weights
    N(0, 2/fan_in) and zero biases. With zero biases the output layer is linear in the last
    hidden layer, so the net is constant exactly when that layer is 0 at every grid point.

    Returns:
        Boolean array of shape (trials,).
    """
    x = np.linspace(-1.0, 1.0, grid)
    h = np.broadcast_to(x[None, :, None], (trials, grid, 1))
    fan_in = 1
    for _ in range(depth):
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(trials, fan_in, width))
        h = np.maximum(h @ w, 0.0)
        fan_in = width
    return np.all(h == 0, axis=(1, 2))


def born_dead_probability(depth: int, width: int, trials: int = 500, seed: int = 0) -> float:
    """Fraction of ``trials`` random nets (see :func:`is_born_dead`) that are born dead."""
    rng = np.random.default_rng(seed)
    return float(np.mean(is_born_dead(depth, width, trials, rng)))


def born_dead_standard_error(p: float, trials: int) -> float:
    """Binomial standard error of a Monte Carlo probability estimate from ``trials`` draws."""
    return float(np.sqrt(max(p * (1.0 - p), 0.0) / trials))


def single_input_dead_bound(depth: int, width: int) -> float:
    """1 − (1 − 2⁻ᴺ)ᴸ: probability that the net is dead at one fixed input x ≠ 0.

    For a non-zero input each layer's ``width`` pre-activations are independent symmetric
    variables, so the layer is all-zero with probability 2⁻ᴺ. Being constant on [−1, 1]
    needs the net dead at every input, so this is an upper bound on the born-dead probability.
    """
    return float(1.0 - (1.0 - 2.0**-width) ** depth)


class DeadFractionMonitor(keras.callbacks.Callback):
    """Record the dead fraction of every plain-ReLU layer on ``x`` at each epoch end.

    ``history`` maps layer name → list of fractions, one per epoch; ``at_start`` also
    records the state before the first epoch (as ``initial``).
    """

    def __init__(self, x, at_start: bool = False):
        super().__init__()
        self.x = x
        self.at_start = at_start
        self.history: dict[str, list[float]] = {}
        self.initial: dict[str, float] = {}

    def on_train_begin(self, logs=None):
        layers = relu_layers(self.model)
        # One probe model for the whole run: building it every epoch costs more than a step.
        self._names = [layer.name for layer in layers]
        self._probe = (
            keras.Model(self.model.inputs[0], [layer.output for layer in layers])
            if layers
            else None
        )
        if self.at_start:
            self.initial = self._fractions()

    def _fractions(self) -> dict[str, float]:
        if not self._names:
            return {}
        outputs = self._probe(tf.convert_to_tensor(self.x), training=False)
        if not isinstance(outputs, list | tuple):
            outputs = [outputs]
        return {
            name: float(dead_unit_mask(np.asarray(a).reshape(len(a), -1)).mean())
            for name, a in zip(self._names, outputs, strict=True)
        }

    def on_epoch_end(self, epoch, logs=None):
        for name, fraction in self._fractions().items():
            self.history.setdefault(name, []).append(fraction)
