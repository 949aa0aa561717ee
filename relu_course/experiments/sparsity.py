"""Experiments of notebook 03 (sparsity): zeros at init, after training, with an L1 activity
penalty (over paired seeds), the dense-vs-sparse matmul timing behind the "sparsity makes
it faster" myth, and batch-1 inference that skips the weight rows of zero activations.

Introduced in notebook 03.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras
import numpy as np

from relu_course.data import Split
from relu_course.ensemble import MLPEnsemble, NetSpec, train_ensemble
from relu_course.runtime import set_seed
from relu_course.sparsity import gather_matvec, weight_bytes_fraction
from relu_course.stats import Interval, mean_interval, paired_difference, ratio_interval

__all__ = [
    "Batch1Timing",
    "L1Comparison",
    "batch1_gather_timing",
    "break_even_sparsity",
    "build_relu_mlp",
    "compare_l1_over_seeds",
    "init_zero_fractions",
    "sparse_matmul_speedups",
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


def _seconds(function, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        function()
    return (time.perf_counter() - start) / number


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
    timed, which favours the sparse side). After one warm-up call of each, every one of
    ``repeats`` rounds times ``number`` dense products then ``number`` sparse ones, back to
    back, so that load from other processes hits both alike; each round gives one ratio.

    Returns arrays over the sparsities: ``sparsity``; ``speedup`` (geometric mean of the
    per-round ratios, > 1: sparse is faster), ``ci_low``/``ci_high`` (its 95% interval,
    :func:`relu_course.stats.ratio_interval`), ``dense_seconds``/``sparse_seconds``
    (sparsities, repeats) and ``max_error`` (the two products agree); ``repeats`` (int).
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    w = tf.constant(rng.standard_normal((n_in, n_out)).astype(np.float32))
    sparsities = np.asarray(sparsities, dtype=np.float64)
    dense_seconds, sparse_seconds, errors = [], [], []
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

        # Eager TensorFlow ops on the CPU run synchronously: no .numpy() copy in the timing.
        def dense_product(a=dense_a):
            return tf.matmul(a, w)

        def sparse_product(a=sparse_a):
            return tf.sparse.sparse_dense_matmul(a, w)

        rounds = [
            (_seconds(dense_product, number), _seconds(sparse_product, number))
            for _ in range(repeats)
        ]
        dense_seconds.append([d for d, _ in rounds])
        sparse_seconds.append([t for _, t in rounds])
    intervals = [
        ratio_interval(d, t) if repeats > 1 else None
        for d, t in zip(dense_seconds, sparse_seconds, strict=True)
    ]
    ratios = np.array(dense_seconds) / np.array(sparse_seconds)
    speedup = np.exp(np.mean(np.log(ratios), axis=1))
    return {
        "sparsity": sparsities,
        "speedup": speedup,
        "ci_low": np.array([i.low if i else np.nan for i in intervals]),
        "ci_high": np.array([i.high if i else np.nan for i in intervals]),
        "dense_seconds": np.array(dense_seconds),
        "sparse_seconds": np.array(sparse_seconds),
        "max_error": np.array(errors),
        "repeats": int(repeats),
    }


def break_even_sparsity(timing: dict[str, np.ndarray]) -> float:
    """The lowest measured sparsity from which on the sparse product is faster at every
    higher level (geometric-mean speed-up > 1); NaN when it never is."""
    faster = np.asarray(timing["speedup"]) > 1.0
    for i in range(len(faster)):
        if faster[i:].all():
            return float(np.asarray(timing["sparsity"])[i])
    return float("nan")


# ---------------------------------------------------------------- L1 over paired seeds
@dataclass
class L1Comparison:
    """Plain and L1-penalised ReLU MLPs trained in pairs: seed ``seeds[i]`` gives both
    networks of pair i the same initial weights and the same mini-batch order.

    Per variant (``"plain"``, ``"l1"``), arrays over the seeds: ``accuracy`` (validation
    accuracy after the last epoch; no epoch is selected, so the validation set is not used
    for any choice), ``sparsity`` (fraction of exact zeros in all hidden ReLU outputs on the
    validation set), ``layer_sparsity`` (seeds, depth) and ``bytes_fraction`` (mean over
    validation examples of :func:`relu_course.sparsity.weight_bytes_fraction`).
    """

    seeds: list[int]
    l1: float
    depth: int
    width: int
    ensemble: MLPEnsemble
    history: dict[str, np.ndarray]
    accuracy: dict[str, np.ndarray]
    sparsity: dict[str, np.ndarray]
    layer_sparsity: dict[str, np.ndarray]
    bytes_fraction: dict[str, np.ndarray]

    def sparsity_gain(self) -> Interval:
        """Seed-wise sparsity with L1 minus without: mean and paired 95% interval."""
        return paired_difference(self.sparsity["l1"], self.sparsity["plain"])

    def accuracy_cost(self) -> Interval:
        """Seed-wise validation accuracy without L1 minus with (> 0: L1 costs accuracy)."""
        return paired_difference(self.accuracy["plain"], self.accuracy["l1"])

    def mean(self, metric: str, variant: str) -> Interval:
        """Mean over seeds of ``metric`` ("accuracy", "sparsity", "bytes_fraction")."""
        return mean_interval(getattr(self, metric)[variant])

    def keras_model(self, variant: str, index: int = 0) -> keras.Sequential:
        """The trained network of ``variant`` for seed ``seeds[index]`` as a Keras model
        (:func:`build_relu_mlp`'s layers ``dense_1``…, ``logits``, with its weights)."""
        n = index + (len(self.seeds) if variant == "l1" else 0)
        model = build_relu_mlp(
            self.depth,
            self.width,
            l1=self.l1 if variant == "l1" else 0.0,
            input_dim=self.ensemble.input_dim,
            num_classes=self.ensemble.num_classes,
        )
        model.set_weights(self.ensemble.network_weights(n))
        return model


def compare_l1_over_seeds(
    data: Split,
    *,
    seeds=(0, 1, 2, 3, 4),
    l1: float = 1e-3,
    depth: int = 3,
    width: int = 256,
    epochs: int = 12,
    learning_rate: float = 1e-3,
    batch_size: int = 64,
    progress: str | None = None,
) -> L1Comparison:
    """Train, as one vectorised ensemble, a He-initialised ``depth``×``width`` ReLU MLP with
    and without an L1 activity penalty ``l1 · Σ|a|`` per hidden layer, for every seed
    (Adam; :func:`build_relu_mlp` is the same network as a Keras model)."""
    seeds = [int(s) for s in seeds]
    specs = [NetSpec("relu", s, init="he_normal", label="plain") for s in seeds] + [
        NetSpec("relu", s, init="he_normal", l1_activity=l1, label="l1") for s in seeds
    ]
    ensemble = MLPEnsemble(
        specs, depth=depth, width=width, input_dim=data.num_features, num_classes=data.num_classes
    )
    history = train_ensemble(
        ensemble,
        data,
        epochs=epochs,
        optimizer="adam",
        learning_rate=learning_rate,
        batch_size=batch_size,
        progress=progress,
    )
    _, hidden = ensemble.forward(data.x_val, return_hidden=True)
    activations = [np.asarray(a) for _, a in hidden]  # each (networks, examples, width)
    zeros = np.stack([np.mean(a == 0, axis=(1, 2)) for a in activations], axis=1)
    units = [width] * depth + [data.num_classes]
    fractions = np.array(
        [
            weight_bytes_fraction([data.x_val] + [a[n] for a in activations], units).mean()
            for n in range(len(specs))
        ]
    )
    n = len(seeds)
    split = {"plain": slice(0, n), "l1": slice(n, 2 * n)}
    final_accuracy = history["val_accuracy"][-1]
    return L1Comparison(
        seeds=seeds,
        l1=float(l1),
        depth=depth,
        width=width,
        ensemble=ensemble,
        history=history,
        accuracy={k: final_accuracy[v] for k, v in split.items()},
        # every hidden layer has the same width: the mean over layers is the mean over units
        sparsity={k: zeros[v].mean(axis=1) for k, v in split.items()},
        layer_sparsity={k: zeros[v] for k, v in split.items()},
        bytes_fraction={k: fractions[v] for k, v in split.items()},
    )


# ---------------------------------------------------------------- batch-1 inference
@dataclass
class Batch1Timing:
    """Dense vs row-gathering matrix-vector products at one sparsity, timed in pairs.

    ``dense_seconds``/``gather_seconds``: per repeat, the summed time over the same
    examples (each example timed dense then gather, back to back); ``speedup``: their
    per-repeat ratios summarised on the log scale (> 1: the gather is faster);
    ``bytes_fraction``: mean fraction of the weight rows the gather reads.
    """

    sparsity: float
    dense_seconds: np.ndarray
    gather_seconds: np.ndarray
    bytes_fraction: float
    max_error: float

    @property
    def speedup(self) -> Interval:
        return ratio_interval(self.dense_seconds, self.gather_seconds)

    @property
    def repeats(self) -> int:
        return len(self.dense_seconds)


def batch1_gather_timing(
    sparsity: float,
    *,
    fan_in: int = 4096,
    units: int = 4096,
    examples: int = 8,
    repeats: int = 7,
    threads: int = 1,
    seed: int = 0,
    weights=None,
) -> Batch1Timing:
    """Batch-1 inference through one Dense layer: ``a @ W`` (BLAS matrix-vector product,
    every weight read) vs :func:`relu_course.sparsity.gather_matvec` (only the rows of W for
    the non-zero entries of ``a``).

    Each example is a ReLU-like vector (|N(0, 1)| values) with a fraction ``sparsity`` of
    exact zeros at random positions. A float32 W of ``fan_in × units`` (64 MiB at the
    default 4096 × 4096) is far larger than a core's private caches, so each product
    streams the weights it reads from the shared cache or from memory: the work is
    memory-bound, the case where skipping rows can pay. Both products run on ``threads``
    BLAS threads (1: one core, as on a small device; SciPy's kernel is single-threaded).
    One warm-up round is not counted; each of ``repeats`` rounds times every example dense
    then gather, back to back, so load from other processes hits both alike.
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    if weights is None:
        weights = rng.standard_normal((fan_in, units), dtype=np.float32) / np.sqrt(fan_in)
    weights = np.ascontiguousarray(weights, dtype=np.float32)
    fan_in = weights.shape[0]
    acts = np.abs(rng.standard_normal((examples, fan_in), dtype=np.float32))
    acts[rng.random(acts.shape) < sparsity] = 0.0
    dense_seconds, gather_seconds = [], []
    max_error = 0.0
    with threadpool_limits(limits=threads, user_api="blas"):
        for round_ in range(repeats + 1):
            dense_total = gather_total = 0.0
            for a in acts:
                start = time.perf_counter()
                dense = a @ weights
                middle = time.perf_counter()
                gathered = gather_matvec(a, weights)
                end = time.perf_counter()
                dense_total += middle - start
                gather_total += end - middle
                if round_ == 0:
                    max_error = max(max_error, float(np.max(np.abs(dense - gathered))))
            if round_:
                dense_seconds.append(dense_total)
                gather_seconds.append(gather_total)
    return Batch1Timing(
        sparsity=float(sparsity),
        dense_seconds=np.array(dense_seconds),
        gather_seconds=np.array(gather_seconds),
        bytes_fraction=float(np.mean(np.count_nonzero(acts, axis=1) / fan_in)),
        max_error=max_error,
    )
