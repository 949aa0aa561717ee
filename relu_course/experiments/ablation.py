"""Runners for notebook 07 (capstone): a fair activation ablation and an overfitting demo.

Many small MLPs are trained *at once* as one vectorised ensemble: every network has its own
weights (a slice of shape ``(networks, fan_in, fan_out)``), its own activation, seed, L2
coefficient and dropout rate, and its own mini-batch order. The summed loss has no shared
parameters, and Adam is elementwise, so each network gets exactly the updates it would get
if trained alone; only TensorFlow's tracing cost is paid once instead of per network (which
is what makes 8 activations × several seeds fit into seconds on 2 CPU cores).

Conventions match ``relu_course.models.build_mlp``: Glorot-uniform kernels, zero biases,
``"leaky_relu"`` slope 0.01, ``"leaky_relu:0.2"`` slope 0.2, PReLU alpha starting at 0.25
(trainable per unit), exact GELU, linear logits, sparse cross-entropy from logits.
"""

from __future__ import annotations

import timeit
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from relu_course.data import Split

__all__ = [
    "ABLATION_ACTIVATIONS",
    "MLPEnsemble",
    "NetSpec",
    "activation_cost",
    "ablation_records",
    "overfitting_demo",
    "train_ensemble",
]

# label -> activation spec (as in relu_course.models.activation_layer)
ABLATION_ACTIVATIONS: dict[str, str] = {
    "relu": "relu",
    "leaky_relu_0.01": "leaky_relu:0.01",
    "leaky_relu_0.2": "leaky_relu:0.2",
    "prelu": "prelu",
    "elu": "elu",
    "gelu": "gelu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
}


@dataclass(frozen=True)
class NetSpec:
    """One network of an ensemble: activation spec, init/data-order seed, L2, dropout."""

    activation: str = "relu"
    seed: int = 0
    l2: float = 0.0
    dropout: float = 0.0
    label: str = ""


def _apply(spec: str, h, alpha=None):
    """The activation ``spec`` on ``h`` with TF ops (``alpha``: PReLU's slopes)."""
    base, _, arg = spec.partition(":")
    if base == "relu":
        return tf.nn.relu(h)
    if base == "leaky_relu":
        return tf.nn.leaky_relu(h, alpha=float(arg or 0.01))
    if base == "prelu":
        return tf.nn.relu(h) + alpha * tf.minimum(h, 0.0)
    if base == "elu":
        return tf.nn.elu(h)
    if base == "gelu":
        return tf.nn.gelu(h, approximate=False)
    if base == "tanh":
        return tf.tanh(h)
    if base == "sigmoid":
        return tf.sigmoid(h)
    if base == "linear":
        return h
    raise ValueError(f"unknown activation {spec!r}")


class MLPEnsemble:
    """``len(specs)`` independent MLPs with ``depth`` hidden layers of ``width`` units.

    ``kernels[l]`` has shape (networks, fan_in, fan_out), ``biases[l]`` (networks, 1,
    fan_out), ``alphas[l]`` (networks, 1, width) (used by PReLU networks only). Network
    ``n`` draws its initial weights from ``np.random.default_rng(specs[n].seed)``, so
    networks with the same seed start from identical weights whatever their activation.
    """

    def __init__(
        self,
        specs: list[NetSpec],
        depth: int = 2,
        width: int = 64,
        input_dim: int = 64,
        num_classes: int = 10,
        prelu_alpha: float = 0.25,
    ):
        self.specs = list(specs)
        self.depth, self.width = depth, width
        sizes = [input_dim] + [width] * depth + [num_classes]
        kernels = [[] for _ in range(depth + 1)]
        for spec in self.specs:
            rng = np.random.default_rng(spec.seed)
            for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
                limit = np.sqrt(6.0 / (fan_in + fan_out))  # Keras's Glorot-uniform
                kernels[i].append(rng.uniform(-limit, limit, size=(fan_in, fan_out)))
        n = len(self.specs)
        self.kernels = [
            keras.Variable(np.stack(k).astype(np.float32), name=f"kernel_{i}")
            for i, k in enumerate(kernels)
        ]
        self.biases = [
            keras.Variable(np.zeros((n, 1, s), np.float32), name=f"bias_{i}")
            for i, s in enumerate(sizes[1:])
        ]
        self.alphas = [
            keras.Variable(np.full((n, 1, width), prelu_alpha, np.float32), name=f"alpha_{i}")
            for i in range(depth)
        ]
        self.l2 = tf.constant([s.l2 for s in self.specs], tf.float32)
        self.keep = tf.constant([1.0 - s.dropout for s in self.specs], tf.float32)[:, None, None]
        self.any_dropout = any(s.dropout > 0 for s in self.specs)
        self.groups: list[tuple[str, int, int]] = []  # runs of equal activation
        for i, spec in enumerate(self.specs):
            if self.groups and self.groups[-1][0] == spec.activation:
                self.groups[-1] = (spec.activation, self.groups[-1][1], i + 1)
            else:
                self.groups.append((spec.activation, i, i + 1))

    @property
    def trainable_variables(self) -> list:
        uses_prelu = any(s.activation.startswith("prelu") for s in self.specs)
        return self.kernels + self.biases + (self.alphas if uses_prelu else [])

    def network_weights(self, n: int) -> list[np.ndarray]:
        """Network ``n``'s weights as a Keras ``Dense`` stack would hold them (kernel, bias)."""
        out = []
        for k, b in zip(self.kernels, self.biases, strict=True):
            out += [np.asarray(k)[n], np.asarray(b)[n, 0]]
        return out

    def forward(self, x, training: bool = False, return_hidden: bool = False):
        """Logits (networks, batch, classes); ``x`` is (batch, features) or per network
        (networks, batch, features). With ``return_hidden`` also the per-layer
        (pre-activation, activation) pairs."""
        h = tf.convert_to_tensor(x, tf.float32)
        hidden = []
        for i, (kernel, bias) in enumerate(zip(self.kernels, self.biases, strict=True)):
            equation = "bi,nio->nbo" if h.shape.rank == 2 else "nbi,nio->nbo"
            pre = tf.einsum(equation, h, kernel) + bias
            if i == self.depth:
                return (pre, hidden) if return_hidden else pre
            h = tf.concat(
                [_apply(act, pre[a:b], self.alphas[i][a:b]) for act, a, b in self.groups], axis=0
            )
            hidden.append((pre, h))
            if training and self.any_dropout:
                mask = tf.cast(tf.random.uniform(tf.shape(h)) < self.keep, h.dtype)
                h = h * mask / self.keep
        raise AssertionError("unreachable")

    def losses(self, logits, y):
        """Per-network mean cross-entropy (networks,); ``y`` is (batch,) or (networks, batch)."""
        if y.shape.rank == 1:
            y = tf.broadcast_to(y, tf.shape(logits)[:2])
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits), axis=1)

    def penalty(self):
        """Per-network L2 penalty l2 · Σ‖kernel‖² (as keras.regularizers.L2)."""
        squares = tf.add_n([tf.reduce_sum(tf.square(k), axis=(1, 2)) for k in self.kernels])
        return self.l2 * squares


def _evaluate(ensemble: MLPEnsemble, x, y) -> tuple[np.ndarray, np.ndarray]:
    logits = ensemble.forward(x)
    loss = ensemble.losses(logits, tf.constant(y)).numpy()
    accuracy = np.mean(np.argmax(np.asarray(logits), axis=-1) == y[None, :], axis=1)
    return loss, accuracy


def train_ensemble(
    ensemble: MLPEnsemble,
    data: Split,
    *,
    epochs: int,
    learning_rate=3e-3,
    batch_size: int = 64,
    progress: str | None = None,
) -> dict[str, np.ndarray]:
    """Adam on every network at once; each network shuffles with its own seed.

    Returns arrays of shape (epochs, networks): ``loss``, ``accuracy``, ``val_loss``,
    ``val_accuracy`` (evaluated on the full sets at each epoch end, inference mode).
    """
    optimizer = keras.optimizers.Adam(learning_rate)
    variables = ensemble.trainable_variables
    optimizer.build(variables)
    x = tf.constant(data.x_train)
    y = tf.constant(data.y_train)
    n = len(data.x_train)
    steps = max(1, n // batch_size)
    rngs = [np.random.default_rng(1000 + spec.seed) for spec in ensemble.specs]

    @tf.function
    def run_epoch(order):
        for i in tf.range(steps):
            index = order[:, i * batch_size : (i + 1) * batch_size]
            with tf.GradientTape() as tape:
                logits = ensemble.forward(tf.gather(x, index), training=True)
                total = tf.reduce_sum(
                    ensemble.losses(logits, tf.gather(y, index)) + ensemble.penalty()
                )
            optimizer.apply_gradients(zip(tape.gradient(total, variables), variables, strict=True))

    history = {key: [] for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
    epoch_iter = range(epochs)
    if progress is not None:
        from tqdm.auto import tqdm

        epoch_iter = tqdm(epoch_iter, desc=progress, leave=False)
    for _ in epoch_iter:
        run_epoch(tf.constant(np.stack([r.permutation(n) for r in rngs]), tf.int32))
        for prefix, (xs, ys) in (
            ("", (data.x_train, data.y_train)),
            ("val_", (data.x_val, data.y_val)),
        ):
            loss, accuracy = _evaluate(ensemble, xs, ys)
            history[prefix + "loss"].append(loss)
            history[prefix + "accuracy"].append(accuracy)
    return {key: np.array(values) for key, values in history.items()}


def hidden_statistics(ensemble: MLPEnsemble, x) -> tuple[np.ndarray, np.ndarray]:
    """Per network: (fraction of exact-zero hidden activations, fraction of hidden units whose
    pre-activation is ≤ 0 on every example of ``x``), averaged over hidden layers.

    For ReLU the second is the dead-unit fraction; for leaky variants and ELU those units
    still pass a (small) gradient, for tanh/sigmoid it means 'always in the lower half'.
    """
    _, hidden = ensemble.forward(x, return_hidden=True)
    zeros = np.mean([np.mean(np.asarray(h) == 0, axis=(1, 2)) for _, h in hidden], axis=0)
    dead = np.mean(
        [np.mean(np.all(np.asarray(pre) <= 0, axis=1), axis=1) for pre, _ in hidden], axis=0
    )
    return zeros, dead


def activation_cost(spec: str, shape=(2048, 256), repeat: int = 5) -> float:
    """Microseconds for forward + backward of one activation on a float32 tensor (eager,
    best of ``repeat``); compare activations by ratios measured in one process."""
    x = tf.random.normal(shape)
    alpha = tf.fill((1, shape[-1]), 0.25)

    def once():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = _apply(spec, x, alpha)
        return tape.gradient(y, x)

    once()
    return 1e6 * min(timeit.repeat(once, number=3, repeat=repeat)) / 3


def ablation_records(
    data: Split,
    activations: dict[str, str] | None = None,
    seeds=(0, 1, 2),
    *,
    depth: int = 2,
    width: int = 64,
    epochs: int = 8,
    learning_rate: float = 3e-3,
    batch_size: int = 64,
    progress: str | None = None,
) -> tuple[list[dict], dict]:
    """Train every (activation, seed) under the same budget; one record per trial.

    Each record: ``activation``, ``seed``, ``val_accuracy``, ``train_accuracy``,
    ``val_loss``, ``sparsity``, ``dead_fraction``, ``activation_us`` (timed for that trial).
    Also returns the training history (arrays of shape (epochs, trials)).
    """
    activations = activations or ABLATION_ACTIVATIONS
    specs = [
        NetSpec(spec, seed, label=label) for label, spec in activations.items() for seed in seeds
    ]
    ensemble = MLPEnsemble(
        specs, depth=depth, width=width, input_dim=data.num_features, num_classes=data.num_classes
    )
    history = train_ensemble(
        ensemble,
        data,
        epochs=epochs,
        learning_rate=learning_rate,
        batch_size=batch_size,
        progress=progress,
    )
    sparsity, dead = hidden_statistics(ensemble, data.x_val)
    records = []
    for n, spec in enumerate(specs):
        records.append(
            {
                "activation": spec.label,
                "seed": spec.seed,
                "val_accuracy": float(history["val_accuracy"][-1, n]),
                "train_accuracy": float(history["accuracy"][-1, n]),
                "val_loss": float(history["val_loss"][-1, n]),
                "sparsity": float(sparsity[n]),
                "dead_fraction": float(dead[n]),
                "activation_us": activation_cost(spec.activation, repeat=3),
            }
        )
    return records, history


def overfitting_demo(
    data: Split,
    variants: dict[str, NetSpec],
    *,
    train_size: int = 150,
    depth: int = 2,
    width: int = 128,
    epochs: int = 40,
    learning_rate: float = 3e-3,
    batch_size: int = 32,
    progress: str | None = None,
) -> dict[str, np.ndarray]:
    """Train ``variants`` on the first ``train_size`` training examples; return the history
    (arrays (epochs, variants), in the order of ``variants``)."""
    small = Split(data.x_train[:train_size], data.y_train[:train_size], data.x_val, data.y_val)
    ensemble = MLPEnsemble(
        list(variants.values()),
        depth=depth,
        width=width,
        input_dim=data.num_features,
        num_classes=data.num_classes,
    )
    return train_ensemble(
        ensemble,
        small,
        epochs=epochs,
        learning_rate=learning_rate,
        batch_size=batch_size,
        progress=progress,
    )
