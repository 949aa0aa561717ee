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
    "gather_matvec",
    "skippable_macs",
    "weight_bytes_fraction",
]


def dense_macs(layer_input, units: int) -> tuple[int, int]:
    """(total, skippable) multiply-accumulates of a Dense layer with ``units`` outputs on an input.

    ``layer_input`` has shape (..., fan_in): every input value is multiplied by ``units``
    weights, so there are ``layer_input.size * units`` MACs (batch · fan_in · units for a
    2-D batch), and the ``units`` MACs of each input value that is exactly 0 are skippable.
    """
    a = np.asarray(layer_input)
    units = int(units)
    return int(a.size) * units, int(np.count_nonzero(a == 0)) * units


def gather_matvec(a, weights) -> np.ndarray:
    """``a @ weights`` for one example, reading only the rows of ``weights`` where ``a`` ≠ 0.

    ``a``: shape (fan_in,); ``weights``: (fan_in, units), C-contiguous, so that row i (the
    ``units`` weights that input i multiplies) is one contiguous block of memory. Output
    unit j is Σᵢ aᵢ·W[i, j]; a zero aᵢ contributes nothing, so its row is never read. This
    is batch-1 ("one token at a time") inference with activation sparsity: the work and
    the weight bytes read scale with the number of non-zeros. The kernel is SciPy's CSR
    row-times-dense product (one pass over the non-zero rows, accumulating into the output;
    no copy of the rows), a general-purpose sparse kernel, not a hand-tuned one.

    Returns a (units,) array of ``weights``'s dtype.
    """
    import scipy.sparse

    a = np.asarray(a)
    weights = np.asarray(weights)
    if a.ndim != 1 or weights.ndim != 2 or a.shape[0] != weights.shape[0]:
        raise ValueError(
            f"need a of shape (fan_in,) and weights (fan_in, units), got "
            f"{a.shape} and {weights.shape}"
        )
    rows = np.flatnonzero(a)
    sparse_row = scipy.sparse.csr_matrix(
        (a[rows].astype(weights.dtype, copy=False), rows, np.array([0, rows.size])),
        shape=(1, a.shape[0]),
    )
    return np.asarray(sparse_row @ weights).reshape(-1)


def weight_bytes_fraction(layer_inputs, units) -> np.ndarray:
    """Per example: the fraction of all Dense weight bytes that batch-1 inference must read
    when it skips the weight rows of zero inputs.

    ``layer_inputs``: one array per Dense layer, shape (examples, fan_in) (the model input
    for the first layer, the previous activation after); ``units``: that layer's output
    count. Layer l's kernel has fan_in·units weights and a non-zero input value needs its
    row of ``units`` weights, so example e reads Σ_l nnz(input_l[e])·units_l of
    Σ_l fan_in_l·units_l weights (biases, a few bytes, are left out). Equals 1 − the
    skippable share of :func:`skippable_macs` for a batch of one.
    """
    layer_inputs = [np.asarray(a) for a in layer_inputs]
    units = [int(u) for u in units]
    if not layer_inputs or len(layer_inputs) != len(units):
        raise ValueError("need one units count per layer input (and at least one layer)")
    examples = {len(a) for a in layer_inputs}
    if len(examples) != 1:
        raise ValueError(f"every layer input needs the same number of examples, got {examples}")
    read = sum(
        np.count_nonzero(a.reshape(len(a), -1), axis=1) * u
        for a, u in zip(layer_inputs, units, strict=True)
    )
    total = sum(
        a.reshape(len(a), -1).shape[1] * u for a, u in zip(layer_inputs, units, strict=True)
    )
    return np.asarray(read, dtype=np.float64) / total


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
