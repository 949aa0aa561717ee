"""Experiments of notebook 03 (sparsity): zeros at init, after training, with an L1 activity
penalty, and the dense-vs-sparse matmul timing behind the "sparsity makes it faster" myth.

Introduced in notebook 03.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from relu_course.data import Split
from relu_course.probes import relu_outputs, zero_fraction
from relu_course.runtime import set_seed

__all__ = [
    "build_relu_mlp",
    "init_zero_fractions",
    "sparse_matmul_speedups",
    "sparsity_per_layer",
    "train_relu_mlp",
]


def init_zero_fractions(
    x,
    width: int = 512,
    initializers=("he_normal", "glorot_uniform", "random_uniform"),
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Per initializer, each example's fraction of zeros after a fresh Dense(width, relu) on ``x``.

    Biases start at 0 and the weight distributions are symmetric about 0, so each
    pre-activation is positive or negative with probability 1/2, whatever the scale.
    """
    x = np.asarray(x, dtype=np.float32)
    fractions = {}
    for i, init in enumerate(initializers):
        set_seed(seed + i)
        layer = keras.layers.Dense(width, activation="relu", kernel_initializer=init)
        a = np.asarray(layer(x))
        fractions[init] = np.mean(a == 0, axis=1)
    return fractions


def build_relu_mlp(
    depth: int = 3, width: int = 256, *, l1: float = 0.0, input_dim: int = 64, num_classes: int = 10
) -> keras.Sequential:
    """He-initialised ``Dense(width, activation="relu")`` layers ``dense_1``… then ``logits``.

    ``l1 > 0`` adds an L1 activity penalty ``l1 · Σ|a|`` on each hidden layer's output
    (Glorot, Bordes & Bengio 2011 used one to make rectifier codes sparser).
    """
    stack: list = [keras.Input((input_dim,), name="inputs")]
    for i in range(1, depth + 1):
        stack.append(
            keras.layers.Dense(
                width,
                activation="relu",
                kernel_initializer="he_normal",
                name=f"dense_{i}",
                activity_regularizer=keras.regularizers.L1(l1) if l1 else None,
            )
        )
    stack.append(keras.layers.Dense(num_classes, name="logits"))
    return keras.Sequential(stack, name=f"relu_mlp_{depth}x{width}_l1_{l1:g}")


def sparsity_per_layer(model: keras.Model, x) -> dict[str, float]:
    """Fraction of exact zeros in every plain-ReLU output of ``model`` on ``x``."""
    return {name: zero_fraction(a) for name, a in relu_outputs(model, x).items()}


def train_relu_mlp(
    data: Split,
    *,
    l1: float = 0.0,
    depth: int = 3,
    width: int = 256,
    epochs: int = 20,
    learning_rate: float = 1e-3,
    seed: int = 0,
    progress: str | None = None,
):
    """Train :func:`build_relu_mlp` with Adam on ``data``; return (model, history)."""
    from relu_course.training import fit_classifier

    set_seed(seed)
    model = build_relu_mlp(
        depth, width, l1=l1, input_dim=data.num_features, num_classes=data.num_classes
    )
    history = fit_classifier(
        model,
        data,
        epochs=epochs,
        optimizer=keras.optimizers.Adam(learning_rate),
        progress=progress,
    )
    return model, history


def _best_time(function, number: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def sparse_matmul_speedups(
    sparsities,
    *,
    batch: int = 256,
    n_in: int = 1024,
    n_out: int = 1024,
    number: int = 3,
    repeats: int = 5,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Dense ``tf.matmul`` time / ``tf.sparse.sparse_dense_matmul`` time, per sparsity.

    For each sparsity s, a (batch, n_in) activation matrix with a fraction s of exact zeros
    (at random positions) multiplies a dense (n_in, n_out) weight matrix, once as a dense
    tensor and once as a ``tf.SparseTensor`` (built beforehand: the conversion is *not*
    timed, which favours the sparse side). Dense and sparse runs alternate, and the best of
    ``repeats`` rounds is kept, so that load from other processes hits both alike. Returns
    ``sparsity``, ``speedup`` (> 1: sparse is faster) and ``max_error`` (the two products agree).
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    w = tf.constant(rng.standard_normal((n_in, n_out)).astype(np.float32))
    sparsities = np.asarray(sparsities, dtype=np.float64)
    speedups, errors = [], []
    levels = sparsities
    if progress:
        from tqdm.auto import tqdm

        levels = tqdm(sparsities, desc="timing matmuls", leave=False)
    for s in levels:
        a = np.abs(rng.standard_normal((batch, n_in))).astype(np.float32)
        a[rng.random((batch, n_in)) < s] = 0.0
        dense_a = tf.constant(a)
        sparse_a = tf.sparse.from_dense(dense_a)
        dense_out = tf.matmul(dense_a, w)  # warm-up of both kernels, and the accuracy check
        sparse_out = tf.sparse.sparse_dense_matmul(sparse_a, w)
        errors.append(float(tf.reduce_max(tf.abs(dense_out - sparse_out))))
        dense_best = sparse_best = float("inf")

        # Eager TensorFlow ops on the CPU run synchronously: no .numpy() copy in the timing.
        def dense_product(a=dense_a):
            return tf.matmul(a, w)

        def sparse_product(a=sparse_a):
            return tf.sparse.sparse_dense_matmul(a, w)

        for _ in range(repeats):
            dense_best = min(dense_best, _best_time(dense_product, number, 1))
            sparse_best = min(sparse_best, _best_time(sparse_product, number, 1))
        speedups.append(dense_best / sparse_best)
    return {"sparsity": sparsities, "speedup": np.array(speedups), "max_error": np.array(errors)}
