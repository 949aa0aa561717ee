"""Diagnostics that look inside a Keras model: per-layer activations, gradients, zeros.

These are the reference implementations the checks compare learners' code with, and the
probes the notebooks use for their measurements.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "dead_fraction_per_layer",
    "dead_unit_mask",
    "dense_layers",
    "gradient_norms",
    "hoyer",
    "is_relu_layer",
    "layer_outputs",
    "relu_layers",
    "relu_outputs",
    "zero_fraction",
]


def is_relu_layer(layer: keras.layers.Layer) -> bool:
    """True for a plain ReLU: ``layers.ReLU()``, ``Activation("relu")`` or ``Dense(..., "relu")``.

    A ``ReLU`` layer with a negative slope, threshold or cap is not a plain ReLU.
    """
    if isinstance(layer, keras.layers.ReLU):
        config = layer.get_config()
        return (
            not config.get("negative_slope")
            and not config.get("threshold")
            and config.get("max_value") is None
        )
    activation = getattr(layer, "activation", None)
    return activation is not None and getattr(activation, "__name__", "") == "relu"


def relu_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's plain-ReLU layers, in model order."""
    return [layer for layer in model.layers if is_relu_layer(layer)]


def dense_layers(model: keras.Model) -> list[keras.layers.Dense]:
    """The model's ``Dense`` layers, input side first."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def layer_outputs(model: keras.Model, x, layers_to_probe) -> dict[str, np.ndarray]:
    """Outputs of the given layers on ``x`` (inference mode), keyed by layer name, in order."""
    layers_to_probe = list(layers_to_probe)
    if not layers_to_probe:
        return {}
    # A single input passed as a list makes Keras 3 warn on stderr about input structure
    # (and nbgrader scores a test cell that writes to stderr as failed).
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    probe = keras.Model(inputs, [layer.output for layer in layers_to_probe])
    outputs = probe(tf.convert_to_tensor(x), training=False)
    if not isinstance(outputs, list | tuple):
        outputs = [outputs]
    return {
        layer.name: np.asarray(out) for layer, out in zip(layers_to_probe, outputs, strict=True)
    }


def relu_outputs(model: keras.Model, x) -> dict[str, np.ndarray]:
    """The output of every plain ReLU in ``model`` on ``x``, keyed by layer name."""
    return layer_outputs(model, x, relu_layers(model))


def gradient_norms(model: keras.Model, x, y) -> np.ndarray:
    """L2 norm of d(mean sparse CE from logits)/d(kernel) per Dense layer, input side first."""
    kernels = [layer.kernel for layer in dense_layers(model)]
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(tf.convert_to_tensor(x), training=False))
    grads = tape.gradient(loss, kernels)
    return np.array([float(tf.norm(g)) for g in grads], dtype=np.float64)


def zero_fraction(a) -> float:
    """Fraction of entries that are exactly zero."""
    a = np.asarray(a)
    return float(np.mean(a == 0)) if a.size else 0.0


def dead_unit_mask(a) -> np.ndarray:
    """Boolean mask over units (last axis) of an (examples, units) matrix: zero everywhere."""
    a = np.asarray(a)
    return np.all(a == 0, axis=0)


def dead_fraction_per_layer(model: keras.Model, x) -> dict[str, float]:
    """Per plain-ReLU layer, the fraction of units that output 0 on every example of ``x``."""
    return {
        name: float(dead_unit_mask(a.reshape(len(a), -1)).mean())
        for name, a in relu_outputs(model, x).items()
    }


def hoyer(v) -> float:
    """Hoyer's sparsity of a 1-D vector: 0 for a constant vector, 1 for a one-hot one."""
    v = np.asarray(v, dtype=np.float64).ravel()
    n = v.size
    l2 = np.linalg.norm(v)
    if n < 2 or l2 == 0:
        raise ValueError("Hoyer sparsity needs a non-zero vector with at least 2 entries")
    return float((np.sqrt(n) - np.abs(v).sum() / l2) / (np.sqrt(n) - 1))
