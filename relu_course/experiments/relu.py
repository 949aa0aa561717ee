"""Runners for notebook 01 (ReLU is max(0, x)).

* :func:`kink_trap` — the gradient-check trap: a centred difference straddling ReLU's kink.
* :func:`relu_prime0_training` — Bertoin et al. (2021) at small scale: MLPs on digits
  trained with plain SGD, once with ReLU′(0) = 0 and once with ReLU′(0) = 1 (a
  ``tf.custom_gradient``), same seed → same initial weights and batch order (a paired
  design), in float32 or 16-bit compute; counts the pre-activations that are exactly 0.
* :func:`relu_interpolant`, :func:`approximation_errors` — universal approximation made
  visible: k ReLU units drawing a function, and the max error as k grows.
* :func:`train_region_net`, :func:`activation_regions` — the linear regions of a small
  trained 2-D ReLU network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from relu_course.backprop import numerical_gradient, relative_error
from relu_course.data import Split

__all__ = [
    "PrimeZeroRun",
    "activation_regions",
    "approximation_errors",
    "kink_trap",
    "loglog_slope",
    "relu_interpolant",
    "relu_prime0_training",
    "train_region_net",
]


# --------------------------------------------------------------------- the kink trap
def kink_trap(
    offsets: Sequence[float],
    h: float = 1e-5,
    gradient: Callable = numerical_gradient,
    derivative: Callable = lambda x: (x > 0).astype(x.dtype),
    error: Callable = relative_error,
) -> np.ndarray:
    """Relative error of the analytic ReLU derivative against a numerical one, per offset.

    For each offset ``t`` the check is done at the single input ``x = [t]`` on
    ``f(x) = sum(relu(x))``. A centred difference with step ``h`` straddles the kink when
    ``|t| < h`` and then reports a large "error" although the analytic derivative is right;
    at ``|t| > h`` the two agree to rounding. The functions are parameters so a notebook
    can pass the learner's ``numerical_gradient``, ``relu_grad`` and ``relative_error``.

    Returns:
        float64 array of relative errors, one per offset.
    """

    def f(v):
        return float(np.sum(np.maximum(v, 0.0)))

    errors = []
    for t in offsets:
        x = np.array([float(t)])
        errors.append(float(error(gradient(f, x, h=h), derivative(x))))
    return np.asarray(errors, dtype=np.float64)


# --------------------------------------------------------------------- ReLU'(0) and SGD
@dataclass(frozen=True)
class PrimeZeroRun:
    """Results of :func:`relu_prime0_training`; arrays are indexed ``[seed, arm]``, where
    arm ``j`` trained with ReLU′(0) = ``prime0[j]``."""

    dtype: str
    seeds: tuple[int, ...]
    prime0: tuple[float, ...]
    val_accuracy: np.ndarray
    zero_fraction: np.ndarray  # hidden pre-activations exactly 0, over all training steps
    batches_with_zero: np.ndarray  # fraction of steps with at least one exact 0
    identical: np.ndarray  # final weights bit-identical to arm 0's (same seed)
    steps: int
    pre_activations: int  # hidden pre-activations one network computes over its training

    def accuracy(self, prime: float) -> np.ndarray:
        """Validation accuracy per seed of the arm trained with ReLU′(0) = ``prime``."""
        return self.val_accuracy[:, self.prime0.index(prime)]


def relu_prime0_training(
    data: Split,
    *,
    dtype: str = "float32",
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    prime0: Sequence[float] = (0.0, 1.0),
    depth: int = 3,
    width: int = 64,
    epochs: int = 10,
    batch_size: int = 32,
    learning_rate: float = 0.05,
) -> PrimeZeroRun:
    """Train ``len(seeds) × len(prime0)`` ReLU MLPs with plain SGD, all at once.

    Every network is ``depth`` hidden layers of ``width`` ReLU units (Glorot-uniform
    kernels, zero biases, as Keras's ``Dense``) and a linear output. Networks of the same
    seed share their initial weights and their batch order, and differ only in the value
    their ReLUs use for the derivative at exactly 0 (a ``tf.custom_gradient``), so the
    arms are paired. ``dtype`` is the compute precision: ``"float32"``, or ``"float16"``
    / ``"bfloat16"`` as in mixed-precision training (float32 master weights, cast to the
    compute dtype for the forward and backward pass; no loss scaling).

    Each step counts the hidden pre-activations z = h @ W + b that are exactly 0 in the
    compute dtype: only there does ReLU′(0) enter backpropagation.
    """
    import tensorflow as tf

    from relu_course.runtime import no_tf32

    seeds = tuple(int(s) for s in seeds)
    prime0 = tuple(float(p) for p in prime0)
    compute = tf.as_dtype(dtype)
    n_seeds = len(seeds)
    sizes = [data.num_features] + [width] * depth + [data.num_classes]

    # One group of variables per arm, each stacked over seeds: the arms run as separate ops
    # of identical shapes, so network i of every arm sits at the same position and gets
    # bit-identical arithmetic unless ReLU'(0) itself changes a number.
    initial = []
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        w = [np.random.default_rng([s, layer]).uniform(-limit, limit, (fan_in, fan_out))
             for s in seeds]  # fmt: skip
        initial.append(np.stack(w).astype(np.float32))
    arms = [
        (
            [tf.Variable(w) for w in initial],
            [tf.Variable(np.zeros((n_seeds, 1, w.shape[2]), np.float32)) for w in initial],
        )
        for _ in prime0
    ]

    n = len(data.x_train)
    per_epoch = n // batch_size
    order = np.stack(
        [
            np.concatenate(
                [
                    np.random.default_rng([s, 1000 + e]).permutation(n)[: per_epoch * batch_size]
                    for e in range(epochs)
                ]
            )
            for s in seeds
        ]
    ).reshape(n_seeds, epochs * per_epoch, batch_size)
    order = tf.constant(order.transpose(1, 0, 2), tf.int32)  # (steps, seeds, batch)
    steps = int(order.shape[0])
    x_train = tf.constant(data.x_train)
    y_train = tf.constant(data.y_train)

    def relu_with_derivative_at_zero(slope: float):
        @tf.custom_gradient
        def relu(z):
            def grad(dy):
                local = tf.cast(z > 0, dy.dtype)
                if slope:
                    local += slope * tf.cast(tf.equal(z, 0), dy.dtype)
                return dy * local

            return tf.nn.relu(z), grad

        return relu

    relus = [relu_with_derivative_at_zero(p) for p in prime0]

    def forward(arm: int, x):
        kernels, biases = arms[arm]
        h, zeros = x, tf.zeros((n_seeds,), tf.float32)
        for i, (w, b) in enumerate(zip(kernels, biases, strict=True)):
            z = tf.matmul(h, tf.cast(w, compute)) + tf.cast(b, compute)
            if i == len(kernels) - 1:
                return tf.cast(z, tf.float32), zeros
            zeros += tf.reduce_sum(tf.cast(tf.equal(z, 0), tf.float32), axis=[1, 2])
            h = relus[arm](z)

    @tf.function
    def train():
        zero_counts = tf.TensorArray(tf.float32, size=steps)
        for t in tf.range(steps):
            idx = order[t]
            xb = tf.cast(tf.gather(x_train, idx), compute)
            yb = tf.gather(y_train, idx)
            counts = []
            for arm, (kernels, biases) in enumerate(arms):
                variables = kernels + biases
                with tf.GradientTape() as tape:
                    logits, zeros = forward(arm, xb)
                    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(yb, logits)
                    # sum over networks of each one's mean loss: independent gradients
                    loss = tf.reduce_sum(tf.reduce_mean(losses, axis=1))
                for v, g in zip(variables, tape.gradient(loss, variables), strict=True):
                    v.assign_sub(learning_rate * tf.cast(g, tf.float32))
                counts.append(zeros)
            zero_counts = zero_counts.write(t, tf.stack(counts, axis=1))
        return zero_counts.stack()

    with no_tf32():
        counts = train().numpy()  # (steps, seeds, arms)
        x_val = tf.cast(tf.constant(data.x_val)[None], compute)
        logits = [forward(arm, x_val)[0].numpy() for arm in range(len(prime0))]
    accuracy = np.stack(
        [np.mean(np.argmax(lg, axis=-1) == data.y_val[None], axis=1) for lg in logits], axis=1
    )
    final = [
        np.concatenate([v.numpy().reshape(n_seeds, -1) for v in kernels + biases], axis=1)
        for kernels, biases in arms
    ]
    identical = np.stack([np.all(f == final[0], axis=1) for f in final], axis=1)
    units = batch_size * width * depth
    return PrimeZeroRun(
        dtype=str(dtype),
        seeds=seeds,
        prime0=prime0,
        val_accuracy=accuracy,
        zero_fraction=counts.sum(axis=0) / (units * steps),
        batches_with_zero=np.mean(counts > 0, axis=0),
        identical=identical,
        steps=steps,
        pre_activations=units * steps,
    )


# --------------------------------------------------------------------- approximation
def relu_interpolant(fn: Callable, k: int, low: float, high: float, method: str = "interpolate"):
    """Weights of a 1-input ``Dense(k, relu) → Dense(1)`` network approximating ``fn``.

    The k kinks sit at the equally spaced knots ``low + i·(high − low)/k``, i = 0…k−1
    (unit i computes relu(x − knotᵢ)). ``method="interpolate"``: output weights so that
    the network joins the points (knot, fn(knot)) of k + 1 knots with straight lines (the
    first unit sets the first slope, each later one the change of slope); ``"lstsq"``:
    output weights and bias by least squares on a fine grid, same kinks.

    Returns:
        ``(kernel (1, k), bias (k,), out_kernel (k, 1), out_bias (1,))``, float64 — the
        weights of the two Dense layers, in Keras's layout.
    """
    if k < 1:
        raise ValueError("need at least one unit")
    knots = np.linspace(low, high, k + 1)
    kernel = np.ones((1, k))
    bias = -knots[:-1]
    if method == "interpolate":
        values = np.asarray(fn(knots), dtype=np.float64)
        slopes = np.diff(values) / np.diff(knots)
        out = np.concatenate([[slopes[0]], np.diff(slopes)])
        out_bias = np.array([values[0]])
    elif method == "lstsq":
        grid = np.linspace(low, high, 20 * k + 1)
        features = np.maximum(grid[:, None] - knots[None, :-1], 0.0)
        design = np.concatenate([features, np.ones((len(grid), 1))], axis=1)
        coef = np.linalg.lstsq(design, np.asarray(fn(grid), dtype=np.float64), rcond=None)[0]
        out, out_bias = coef[:-1], coef[-1:]
    else:
        raise ValueError(f"method must be 'interpolate' or 'lstsq', got {method!r}")
    return kernel, bias, out.reshape(k, 1), out_bias


def evaluate_units(weights, x) -> np.ndarray:
    """The network of :func:`relu_interpolant`'s ``weights`` at ``x`` (NumPy, float64)."""
    kernel, bias, out, out_bias = weights
    x = np.asarray(x, dtype=np.float64).reshape(-1, 1)
    return (np.maximum(x @ kernel + bias, 0.0) @ out + out_bias).ravel()


def approximation_errors(
    fn: Callable,
    ks: Sequence[int],
    low: float,
    high: float,
    method: str = "interpolate",
    points: int = 20001,
) -> np.ndarray:
    """Max |network(x) − fn(x)| on a fine grid of [low, high], for each number of units."""
    grid = np.linspace(low, high, points)
    target = np.asarray(fn(grid), dtype=np.float64)
    return np.asarray(
        [
            np.max(
                np.abs(evaluate_units(relu_interpolant(fn, k, low, high, method), grid) - target)
            )
            for k in ks
        ]
    )


def loglog_slope(ks, errors) -> float:
    """Least-squares slope of log(error) against log(k): −2 for an error ∝ 1/k²."""
    return float(np.polyfit(np.log(np.asarray(ks, float)), np.log(np.asarray(errors, float)), 1)[0])


# --------------------------------------------------------------------- linear regions
def train_region_net(
    data: Split,
    width: int = 8,
    depth: int = 2,
    steps: int = 400,
    learning_rate: float = 0.03,
    seed: int = 0,
):
    """A ``depth × width`` ReLU classifier of 2-D points, trained full-batch with Adam.

    Returns the Keras model (``Dense(width, relu)`` layers, then a linear ``Dense(classes)``).
    Full-batch steps inside one ``tf.function`` keep this to about a second.
    """
    import keras
    import tensorflow as tf

    from relu_course.models import build_mlp
    from relu_course.runtime import set_seed

    set_seed(seed)
    model = build_mlp(
        depth,
        width,
        "relu",
        input_dim=data.num_features,
        num_classes=data.num_classes,
        kernel_initializer="he_normal",
        name=f"regions_{depth}x{width}",
    )
    optimizer = keras.optimizers.Adam(learning_rate)
    x = tf.constant(data.x_train)
    y = tf.constant(data.y_train)

    @tf.function
    def train():
        for _ in tf.range(steps):
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    train()
    return model


def activation_regions(model, points) -> tuple[np.ndarray, int]:
    """Linear-region label of each point: the on/off pattern of every ReLU unit.

    Two points with the same pattern lie in the same linear region of the network (where
    it is one affine map); the pattern changes exactly where a unit's pre-activation
    crosses 0.

    Returns:
        ``(labels, count)``: an int array of region ids, one per point (0…count−1, in
        order of first appearance), and the number of distinct patterns among the points.
    """
    from relu_course.probes import relu_outputs

    outputs = relu_outputs(model, np.asarray(points, dtype=np.float32))
    pattern = np.concatenate([a.reshape(len(a), -1) > 0 for a in outputs.values()], axis=1)
    _, first, labels = np.unique(pattern, axis=0, return_index=True, return_inverse=True)
    # renumber by first appearance so colours do not depend on np.unique's sort order
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[labels.ravel()], int(len(first))
