"""Training diagnostics: watch every layer of a Keras model while it trains (notebook 04 on).

What a practitioner looks at to tell a healthy network from a sick one (Karpathy's
"makemore part 3"; CS231n's "babysitting the learning process"):

* per activation layer, on a fixed probe batch: the mean and standard deviation of the
  activations, the fraction of exact zeros, and the fraction of *dead* units (0 on every
  probe example);
* per weight layer (every layer with a ``kernel``): the standard deviation of the gradient
  of the loss with respect to the kernel, on the same probe batch, and the
  **update-to-data ratio** ‖W_after − W_before‖ / ‖W_before‖ of the kernel over one
  optimizer step. A rule of thumb says ≈ 1e-3 is healthy; far above it, each step rewrites
  a large part of the weights (a learning rate too high), far below it, the layer barely
  learns.

Stable API (other notebooks import it):

``update_to_data_ratio(before, after) -> float``
    the reference for the notebook-04 exercise of the same name.
``TrainingDiagnostics(x, y=None, *, every=1, snapshot_steps=(), ratio=update_to_data_ratio)``
    a ``keras.callbacks.Callback``. After ``fit`` it holds

    * ``steps``: list[int], the optimizer steps at which a record was taken (0 = before
      the first step, then every ``every``-th step);
    * ``epoch_ends``: list[int], the step count at each epoch end;
    * ``history[metric][layer_name]``: list[float] aligned with ``steps``, for ``metric`` in
      :data:`ACTIVATION_METRICS` (keys: activation layers) and :data:`WEIGHT_METRICS`
      (keys: weight layers). The update ratio at step 0 is NaN (no step taken yet), and
      ``gradient_std`` is only recorded when ``y`` is given;
    * ``snapshots[step][layer_name]``: the activations (probe examples × units) of every
      activation layer at each step in ``snapshot_steps`` that was recorded (step 0
      included), for histograms;
    * ``series(metric) -> dict[str, np.ndarray]``: the same as arrays.

Measurements use inference mode (``training=False``) on the probe batch, so a
``BatchNormalization`` layer uses its moving statistics here and its moving averages are
never touched by the diagnostics. Gradients use the model's compiled loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "ACTIVATION_METRICS",
    "WEIGHT_METRICS",
    "TrainingDiagnostics",
    "activation_layers",
    "update_to_data_ratio",
    "weight_layers",
]

ACTIVATION_METRICS = ("activation_mean", "activation_std", "zero_fraction", "dead_fraction")
WEIGHT_METRICS = ("gradient_std", "update_ratio")

_ACTIVATION_LAYER_TYPES = (
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.PReLU,
    keras.layers.ELU,
    keras.layers.Activation,
)


def update_to_data_ratio(before, after) -> float:
    """‖after − before‖ / ‖before‖ for one weight array (Frobenius norm over all entries).

    Args:
        before: the weights before an optimizer step, any shape, float dtype, not all zero.
        after: the weights after the step, same shape.

    Returns:
        The relative size of the step, a Python float (≈ 1e-3 is the rule of thumb for a
        healthy learning rate). Computed in float64; the inputs are not modified.
    """
    before = np.asarray(before, dtype=np.float64)
    after = np.asarray(after, dtype=np.float64)
    return float(np.linalg.norm(after - before) / np.linalg.norm(before))


def _has_nonlinear_activation(layer: keras.layers.Layer) -> bool:
    activation = getattr(layer, "activation", None)
    return activation is not None and getattr(activation, "__name__", "linear") != "linear"


def activation_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Layers whose output is a hidden activation, in model order.

    Activation layers (``ReLU``, ``LeakyReLU``, ``PReLU``, ``ELU``, ``Activation``) and
    layers with a built-in non-linear activation (``Dense(..., activation="relu")``), except
    the model's last layer (its output is not a hidden activation).
    """
    chosen = [
        layer
        for layer in model.layers
        if isinstance(layer, _ACTIVATION_LAYER_TYPES) or _has_nonlinear_activation(layer)
    ]
    last = model.layers[-1] if model.layers else None
    return [layer for layer in chosen if layer is not last]


def weight_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Layers with a trainable ``kernel`` (Dense, convolutions), input side first."""
    return [
        layer
        for layer in model.layers
        if getattr(layer, "kernel", None) is not None and layer.kernel.trainable
    ]


class TrainingDiagnostics(keras.callbacks.Callback):
    """Record per-layer activation, gradient and update statistics while a model trains.

    Args:
        x: probe inputs, shape (examples, features); the statistics are taken on them at
            every recorded step (keep it small: a few hundred examples).
        y: probe labels for the gradient statistics (None: no ``gradient_std``).
        every: record every ``every``-th optimizer step (and step 0, before training).
        snapshot_steps: steps at which to keep the full activations for histograms.
        ratio: ``f(before, after) -> float`` used for the update-to-data ratio (the
            learner's ``update_to_data_ratio`` plugs in here).

    See the module docstring for the attributes filled in by ``fit``.
    """

    def __init__(
        self,
        x,
        y=None,
        *,
        every: int = 1,
        snapshot_steps: Iterable[int] = (),
        ratio: Callable[[np.ndarray, np.ndarray], float] = update_to_data_ratio,
    ):
        super().__init__()
        if every < 1:
            raise ValueError("every must be a positive number of steps")
        self.x = np.asarray(x, dtype=np.float32)
        self.y = None if y is None else np.asarray(y)
        self.every = int(every)
        self.snapshot_steps = {int(s) for s in snapshot_steps}
        self.ratio = ratio
        self.steps: list[int] = []
        self.epoch_ends: list[int] = []
        self.history: dict[str, dict[str, list[float]]] = {
            metric: {} for metric in ACTIVATION_METRICS + WEIGHT_METRICS
        }
        self.snapshots: dict[int, dict[str, np.ndarray]] = {}
        self._step = 0
        self._before: list[np.ndarray] | None = None

    # ------------------------------------------------------------------ Keras hooks
    def on_train_begin(self, logs=None):
        self._activation_layers = activation_layers(self.model)
        self._weight_layers = weight_layers(self.model)
        inputs = self.model.inputs[0] if len(self.model.inputs) == 1 else self.model.inputs
        outputs = [layer.output for layer in self._activation_layers] + list(self.model.outputs)
        self._probe = keras.Model(inputs, outputs)
        self._traced = None
        if not self.steps:  # a second fit() continues the same record
            self._record(ratios=None)

    def on_train_batch_begin(self, batch, logs=None):
        if (self._step + 1) % self.every == 0:
            self._before = [np.array(layer.kernel) for layer in self._weight_layers]

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._before is None:
            return
        after = [np.array(layer.kernel) for layer in self._weight_layers]
        ratios = [float(self.ratio(b, a)) for b, a in zip(self._before, after, strict=True)]
        self._before = None
        self._record(ratios)

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_ends.append(self._step)

    # ------------------------------------------------------------------ measuring
    def _measure(self, x, y):
        """Activation outputs and kernel gradients on the probe batch (traced once)."""
        kernels = [layer.kernel for layer in self._weight_layers]
        with tf.GradientTape() as tape:
            outputs = self._probe(x, training=False)
            if not isinstance(outputs, list | tuple):
                outputs = [outputs]
            loss = None
            if y is not None:
                loss = self.model.compute_loss(x=x, y=y, y_pred=outputs[-1], training=False)
        if loss is None:
            return list(outputs[:-1]), []
        return list(outputs[:-1]), [tf.math.reduce_std(g) for g in tape.gradient(loss, kernels)]

    def _record(self, ratios: list[float] | None) -> None:
        if self._traced is None:
            # Eager probing costs ~0.1 s a step on 2 cores; one trace makes it ~10x cheaper.
            self._traced = tf.function(self._measure)
        y = None if self.y is None else tf.convert_to_tensor(self.y)
        outputs, gradient_stds = self._traced(tf.convert_to_tensor(self.x), y)
        gradients = gradient_stds or [None] * len(self._weight_layers)

        self.steps.append(self._step)
        keep = self._step in self.snapshot_steps
        if keep:
            self.snapshots[self._step] = {}
        for layer, out in zip(self._activation_layers, outputs, strict=True):
            a = np.asarray(out).reshape(len(self.x), -1)
            values = {
                "activation_mean": float(a.mean()),
                "activation_std": float(a.std()),
                "zero_fraction": float(np.mean(a == 0)),
                "dead_fraction": float(np.mean(np.all(a == 0, axis=0))),
            }
            for metric, value in values.items():
                self.history[metric].setdefault(layer.name, []).append(value)
            if keep:
                self.snapshots[self._step][layer.name] = a
        for i, layer in enumerate(self._weight_layers):
            ratio = math.nan if ratios is None else ratios[i]
            self.history["update_ratio"].setdefault(layer.name, []).append(ratio)
            if gradients[i] is not None:
                self.history["gradient_std"].setdefault(layer.name, []).append(float(gradients[i]))

    # ------------------------------------------------------------------ reading
    def series(self, metric: str) -> dict[str, np.ndarray]:
        """``history[metric]`` as arrays aligned with ``np.array(steps)``."""
        if metric not in self.history:
            raise KeyError(f"unknown metric {metric!r}; choose from {', '.join(self.history)}")
        return {name: np.asarray(values) for name, values in self.history[metric].items()}
