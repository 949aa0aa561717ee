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
    "error_norms",
    "gradient_and_error_norms",
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


def _chain_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers of a model that is a plain chain (Sequential, or functional without
    branches), input side first; raises ``ValueError`` for anything else."""
    chain = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not isinstance(model, keras.Sequential):
        previous = model.inputs[0] if len(model.inputs) == 1 else None
        for layer in chain:
            if previous is None or layer.input is not previous:
                raise ValueError(
                    "error norms need a model whose layers form one chain (a Sequential)"
                )
            previous = layer.output
    return chain


def gradient_and_error_norms(model: keras.Model, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Per Dense layer (input side first): ‖∂L/∂W‖ of its kernel and ‖∂L/∂z‖ of its
    pre-activation z = a·W + b, both from one forward pass in inference mode.

    L is the mean sparse categorical cross-entropy from logits over the batch, so ∂L/∂z has
    shape (batch, units) and its norm is the Frobenius norm over batch and units. z is taken
    *before* any activation a ``Dense(..., activation=...)`` applies itself. The model must
    be a chain of layers (a ``keras.Sequential``); other layers run with ``training=False``.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    kernels, pre_activations = [], []
    with tf.GradientTape() as tape:
        h = x
        for layer in _chain_layers(model):
            if isinstance(layer, keras.layers.Dense):
                z = tf.matmul(h, layer.kernel)
                if layer.bias is not None:
                    z = z + layer.bias
                kernels.append(layer.kernel)
                pre_activations.append(z)
                h = layer.activation(z)
            else:
                h = layer(h, training=False)
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(y, tf.int32), h)
        )
    kernel_grads, errors = tape.gradient(loss, [kernels, pre_activations])
    return (
        np.array([float(tf.norm(g)) for g in kernel_grads], dtype=np.float64),
        np.array([float(tf.norm(e)) for e in errors], dtype=np.float64),
    )


def error_norms(model: keras.Model, x, y) -> np.ndarray:
    """L2 norm of the back-propagated error ∂L/∂z at each Dense layer's pre-activation,
    input side first (L: mean sparse CE from logits; see :func:`gradient_and_error_norms`)."""
    return gradient_and_error_norms(model, x, y)[1]


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
