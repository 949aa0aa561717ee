"""Reference maths for notebook 03 (sparsity): counting zeros and skippable multiply-adds.

NumPy functions first; :func:`skippable_macs` is the thin Keras adapter that feeds them each
``Dense`` layer's input. Introduced in notebook 03; the checks compare learners' code with
these.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "dense_layer_inputs",
    "dense_macs",
    "skippable_macs",
    "zero_fraction_per_example",
]


def zero_fraction_per_example(a) -> np.ndarray:
    """For an activation array of shape (examples, ...): each example's fraction of exact zeros."""
    a = np.asarray(a)
    if a.ndim == 0 or len(a) == 0:
        raise ValueError("need an array of shape (examples, ...) with at least one example")
    return np.mean(a.reshape(len(a), -1) == 0, axis=1)


def dense_macs(layer_input, units: int) -> tuple[int, int]:
    """(total, skippable) multiply-accumulates of a Dense layer with ``units`` outputs on an input.

    ``layer_input`` has shape (..., fan_in): every input value is multiplied by ``units``
    weights, so there are ``layer_input.size * units`` MACs (batch · fan_in · units for a
    2-D batch), and the ``units`` MACs of each input value that is exactly 0 are skippable.
    """
    a = np.asarray(layer_input)
    units = int(units)
    return int(a.size) * units, int(np.count_nonzero(a == 0)) * units


def dense_layer_inputs(model, x) -> list[tuple[object, np.ndarray]]:
    """(layer, input on ``x``) for every ``Dense`` layer of ``model``, input side first."""
    import keras
    import tensorflow as tf

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if not dense:
        return []
    # A single input passed as itself, not as a one-element list: Keras warns about the
    # structure otherwise.
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    probe = keras.Model(inputs, [layer.input for layer in dense])
    outputs = probe(tf.convert_to_tensor(x), training=False)
    if not isinstance(outputs, list | tuple):
        outputs = [outputs]
    return [(layer, np.asarray(out)) for layer, out in zip(dense, outputs, strict=True)]


def skippable_macs(model, x) -> tuple[int, int]:
    """(total, skippable) MACs of all Dense layers of ``model`` on the batch ``x``.

    A MAC is skippable when the input value it multiplies is exactly zero: a zero of the
    model input for the first layer, a zero of the previous layer's output (e.g. a ReLU
    zero) for the others. Biases are additions, not MACs, and are not counted.
    """
    total = skippable = 0
    for layer, layer_input in dense_layer_inputs(model, x):
        t, s = dense_macs(layer_input, layer.units)
        total += t
        skippable += s
    return total, skippable
