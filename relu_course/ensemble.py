"""A vectorised ensemble of small MLPs: many independent networks trained as one.

Every network has its own weights (a slice of shape ``(networks, fan_in, fan_out)``), its
own activation, seed, initialization, learning rate, L2 and L1-activity coefficients,
dropout rate, batch-norm placement, labels and mini-batch order. The summed loss shares no
parameters, and the optimizers below are elementwise with a per-network learning rate, so
each network gets exactly the update it would get if it were trained alone (the tests
compare with separately built Keras models and ``keras.optimizers.Adam``/``SGD``); only
TensorFlow's per-step overhead is paid once instead of once per network. This is what makes
8 activations × 10 seeds fit into seconds on 2 CPU cores.

**Paired design.** Network ``n`` draws its initial weights from
``np.random.default_rng(specs[n].seed)`` and its mini-batch order from
``np.random.default_rng(1000 + specs[n].seed)``; its dropout masks depend only on its seed
and the step. Two networks with the same seed (and the same ``init``) therefore start from
identical weights and see identical batches and masks whatever their activation: per-seed
scores of two configurations are *paired* samples.

Conventions match ``relu_course.models.build_mlp``: zero biases; ``"leaky_relu"`` slope
0.01, ``"leaky_relu:0.2"`` slope 0.2; PReLU alpha per unit starting at ``prelu_alpha``
(0.25, He et al. 2015; ``"prelu:0.1"`` overrides it); exact GELU; linear logits; sparse
cross-entropy from logits. ``batch_norm="before"`` is Dense(use_bias=False) → BN →
activation, ``"after"`` is Dense → activation → BN, on every hidden layer; BN uses batch
statistics per network in training and moving averages (``bn_momentum``, Keras's
convention ``momentum·moving + (1 − momentum)·batch``, biased batch variance) in inference.
Dropout (inverted, as ``keras.layers.Dropout``) comes last in each hidden block. The L1
activity penalty is ``l1_activity · Σ|a| / batch`` on each hidden activation output (as a
Keras 3 ``activity_regularizer=L1(l1_activity)`` on ``Dense(activation=...)``), the L2
penalty ``l2 · Σ‖kernel‖²`` over all kernels (as ``kernel_regularizer=L2(l2)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from relu_course.data import Split

__all__ = [
    "INITS",
    "MLPEnsemble",
    "NetSpec",
    "apply_activation",
    "evaluate",
    "hidden_statistics",
    "history_at",
    "select_epochs",
    "train_ensemble",
]

INITS = ("glorot_uniform", "glorot_normal", "he_normal", "normal:STD", "zeros", "constant:C")

_ADAM_BETA_1, _ADAM_BETA_2, _ADAM_EPSILON = 0.9, 0.999, 1e-7  # Keras 3 defaults


@dataclass(frozen=True)
class NetSpec:
    """One network of an ensemble.

    ``activation``: "relu", "leaky_relu[:slope]", "prelu[:alpha0]", "elu[:alpha]", "gelu",
    "silu", "softplus", "tanh", "sigmoid" or "linear". ``seed``: initial weights, batch
    order and dropout masks. ``init``: one of :data:`INITS` (kernels; biases start at 0).
    ``learning_rate``: this network's rate (None: the rate given to :func:`train_ensemble`).
    ``batch_norm``: None, "before" or "after" the activation. ``label``: free text.
    """

    activation: str = "relu"
    seed: int = 0
    init: str = "glorot_uniform"
    learning_rate: float | None = None
    l2: float = 0.0
    l1_activity: float = 0.0
    dropout: float = 0.0
    batch_norm: str | None = None
    label: str = ""

    def __post_init__(self):
        if self.batch_norm not in (None, "before", "after"):
            raise ValueError("batch_norm must be None, 'before' or 'after'")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")
        _draw_kernel(self.init, np.random.default_rng(0), 1, 1)  # validates the name


def _draw_kernel(init: str, rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """One kernel of shape (fan_in, fan_out), float64."""
    base, _, arg = init.partition(":")
    shape = (fan_in, fan_out)
    if base == "glorot_uniform":  # Keras's GlorotUniform
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)
    if base == "glorot_normal":  # untruncated N(0, 2 / (fan_in + fan_out)), Glorot & Bengio
        return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)
    if base == "he_normal":  # untruncated N(0, 2 / fan_in), He et al. 2015
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
    if base == "normal" and arg:
        return rng.normal(0.0, float(arg), size=shape)
    if base == "zeros":
        return np.zeros(shape)
    if base == "constant" and arg:
        return np.full(shape, float(arg))
    raise ValueError(f"unknown init {init!r}; choose from {', '.join(INITS)}")


def apply_activation(spec: str, h, alpha=None):
    """The activation ``spec`` on ``h`` with TF ops (``alpha``: PReLU's per-unit slopes)."""
    base, _, arg = spec.partition(":")
    if base == "relu":
        return tf.nn.relu(h)
    if base == "leaky_relu":
        return tf.nn.leaky_relu(h, alpha=float(arg or 0.01))
    if base == "prelu":
        return tf.nn.relu(h) + alpha * tf.minimum(h, 0.0)
    if base == "elu":
        return tf.nn.elu(h) if not arg else tf.where(h > 0, h, float(arg) * tf.math.expm1(h))
    if base == "gelu":
        return tf.nn.gelu(h, approximate=False)
    if base == "silu":
        return tf.nn.silu(h)
    if base == "softplus":
        return tf.nn.softplus(h)
    if base == "tanh":
        return tf.tanh(h)
    if base == "sigmoid":
        return tf.sigmoid(h)
    if base == "linear":
        return h
    raise ValueError(f"unknown activation {spec!r}")


def _column(values, dtype=np.float32):
    """A (networks, 1, 1) constant from per-network values."""
    return tf.constant(np.asarray(values, dtype)[:, None, None])


class MLPEnsemble:
    """``len(specs)`` independent MLPs with ``depth`` hidden layers of ``width`` units.

    ``kernels[l]``: (networks, fan_in, fan_out); ``biases[l]``: (networks, 1, fan_out);
    ``alphas[l]``, ``gammas[l]``, ``betas[l]``, ``moving_means[l]``, ``moving_variances[l]``:
    (networks, 1, width) for hidden layer ``l`` (PReLU slopes and BN parameters; used only by
    the networks whose spec asks for them).
    """

    def __init__(
        self,
        specs: Sequence[NetSpec],
        depth: int = 2,
        width: int = 64,
        input_dim: int = 64,
        num_classes: int = 10,
        prelu_alpha: float = 0.25,
        bn_momentum: float = 0.9,
        bn_epsilon: float = 1e-3,
    ):
        self.specs = list(specs)
        if not self.specs:
            raise ValueError("an ensemble needs at least one NetSpec")
        self.depth, self.width = depth, width
        self.input_dim, self.num_classes = input_dim, num_classes
        self.bn_momentum, self.bn_epsilon = float(bn_momentum), float(bn_epsilon)
        sizes = [input_dim] + [width] * depth + [num_classes]
        n = len(self.specs)
        kernels = [[] for _ in range(depth + 1)]
        for spec in self.specs:
            rng = np.random.default_rng(spec.seed)
            for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
                kernels[i].append(_draw_kernel(spec.init, rng, fan_in, fan_out))
        self.kernels = [
            tf.Variable(np.stack(k).astype(np.float32), name=f"kernel_{i}")
            for i, k in enumerate(kernels)
        ]
        self.biases = [
            tf.Variable(np.zeros((n, 1, s), np.float32), name=f"bias_{i}")
            for i, s in enumerate(sizes[1:])
        ]
        alpha0 = [
            float(s.activation.partition(":")[2] or prelu_alpha)
            if s.activation.startswith("prelu")
            else prelu_alpha
            for s in self.specs
        ]
        self.alphas = [
            tf.Variable(
                np.tile(np.float32(alpha0)[:, None, None], (1, 1, width)), name=f"alpha_{i}"
            )
            for i in range(depth)
        ]

        def hidden(value, name):
            return [
                tf.Variable(np.full((n, 1, width), value, np.float32), name=f"{name}_{i}")
                for i in range(depth)
            ]

        self.gammas, self.betas = hidden(1.0, "gamma"), hidden(0.0, "beta")
        self.moving_means = hidden(0.0, "moving_mean")
        self.moving_variances = hidden(1.0, "moving_variance")

        placement = [s.batch_norm for s in self.specs]
        self.uses_prelu = any(s.activation.startswith("prelu") for s in self.specs)
        self.any_bn_before = "before" in placement
        self.any_bn_after = "after" in placement
        self.bn_before = tf.constant(np.array([p == "before" for p in placement])[:, None, None])
        self.bn_after = tf.constant(np.array([p == "after" for p in placement])[:, None, None])
        # BN-before networks have no hidden bias (Dense(use_bias=False)): mask it, so its
        # gradient is exactly 0 and the optimizer never moves it
        self.hidden_bias_mask = _column([p != "before" for p in placement])
        self.l2 = tf.constant([s.l2 for s in self.specs], tf.float32)
        self.l1_activity = tf.constant([s.l1_activity for s in self.specs], tf.float32)
        self.any_l2 = any(s.l2 > 0 for s in self.specs)
        self.any_l1 = any(s.l1_activity > 0 for s in self.specs)
        self.keep = _column([1.0 - s.dropout for s in self.specs])
        self.any_dropout = any(s.dropout > 0 for s in self.specs)
        seeds = sorted({s.seed for s in self.specs})
        self.distinct_seeds = seeds
        self.seed_index = tf.constant([seeds.index(s.seed) for s in self.specs], tf.int32)
        self.groups: list[tuple[str, int, int]] = []  # runs of equal activation
        for i, spec in enumerate(self.specs):
            if self.groups and self.groups[-1][0] == spec.activation:
                self.groups[-1] = (spec.activation, self.groups[-1][1], i + 1)
            else:
                self.groups.append((spec.activation, i, i + 1))

    @property
    def num_networks(self) -> int:
        return len(self.specs)

    @property
    def trainable_variables(self) -> list[tf.Variable]:
        variables = self.kernels + self.biases
        if self.uses_prelu:
            variables = variables + self.alphas
        if self.any_bn_before or self.any_bn_after:
            variables = variables + self.gammas + self.betas
        return variables

    @property
    def state_variables(self) -> list[tf.Variable]:
        """Every per-network variable (weights, PReLU slopes, BN parameters and moving
        statistics), each with the network on axis 0."""
        return (
            self.kernels
            + self.biases
            + self.alphas
            + self.gammas
            + self.betas
            + self.moving_means
            + self.moving_variances
        )

    def subset(self, networks) -> MLPEnsemble:
        """A new ensemble holding copies of the given networks (indices, in that order),
        with their current state (weights, PReLU slopes, BN parameters and statistics):
        cheaper to evaluate when only some networks are needed."""
        index = [int(n) for n in networks]
        part = MLPEnsemble(
            [self.specs[n] for n in index],
            self.depth,
            self.width,
            self.input_dim,
            self.num_classes,
            bn_momentum=self.bn_momentum,
            bn_epsilon=self.bn_epsilon,
        )
        for mine, theirs in zip(self.state_variables, part.state_variables, strict=True):
            theirs.assign(np.asarray(mine)[index])
        return part

    def network_weights(self, n: int) -> list[np.ndarray]:
        """Network ``n``'s weights as a Keras ``Dense`` stack holds them: kernel, bias, …
        (a BN-before network's hidden biases are zeros: its Dense layers have none)."""
        out = []
        for k, b in zip(self.kernels, self.biases, strict=True):
            out += [np.asarray(k)[n], np.asarray(b)[n, 0]]
        return out

    def network_bn_weights(self, n: int, layer: int) -> list[np.ndarray]:
        """[gamma, beta, moving_mean, moving_variance] of network ``n``'s hidden layer
        ``layer`` (from 0), as ``keras.layers.BatchNormalization.get_weights()`` orders them."""
        return [
            np.asarray(v[layer])[n, 0]
            for v in (self.gammas, self.betas, self.moving_means, self.moving_variances)
        ]

    def network_prelu_alphas(self, n: int, layer: int) -> np.ndarray:
        """PReLU slopes (width,) of network ``n``'s hidden layer ``layer`` (from 0)."""
        return np.asarray(self.alphas[layer])[n, 0]

    def _batch_norm(self, i: int, h, mask, training: bool):
        if training:
            mean, variance = tf.nn.moments(h, axes=[1], keepdims=True)
            momentum = self.bn_momentum
            for moving, value in (
                (self.moving_means[i], mean),
                (self.moving_variances[i], variance),
            ):
                moving.assign(tf.where(mask, moving * momentum + value * (1.0 - momentum), moving))
        else:
            mean, variance = self.moving_means[i], self.moving_variances[i]
        normed = tf.nn.batch_normalization(
            h, mean, variance, self.betas[i], self.gammas[i], self.bn_epsilon
        )
        return tf.where(mask, normed, h)

    def _dropout_mask(self, i: int, shape, step):
        """Per-network keep masks that depend only on (seed, step, layer)."""
        draws = [
            tf.random.stateless_uniform(
                shape[1:],
                seed=tf.stack([tf.constant(seed * 1009 + i, tf.int64), tf.cast(step, tf.int64)]),
            )
            for seed in self.distinct_seeds
        ]
        u = tf.gather(tf.stack(draws), self.seed_index)
        return tf.cast(u < self.keep, tf.float32)

    def forward(
        self,
        x,
        training: bool = False,
        return_hidden: bool = False,
        *,
        step=0,
        unit_masks=None,
    ):
        """Logits (networks, batch, classes); ``x`` is (batch, features) or per network
        (networks, batch, features).

        ``training``: batch statistics for BN (and moving-average updates), dropout on.
        ``step``: the optimizer step (seeds the dropout masks). ``unit_masks``: optional
        list (one per hidden layer) of arrays broadcastable to (networks, 1, width) that
        multiply the hidden outputs (0 silences a unit). ``return_hidden``: also the
        per-layer (pre-activation, activation) pairs, the activation taken before BN-after,
        dropout and masks.
        """
        h = tf.convert_to_tensor(x, tf.float32)
        hidden = []
        for i, (kernel, bias) in enumerate(zip(self.kernels, self.biases, strict=True)):
            equation = "bi,nio->nbo" if h.shape.rank == 2 else "nbi,nio->nbo"
            if i == self.depth:
                logits = tf.einsum(equation, h, kernel) + bias
                return (logits, hidden) if return_hidden else logits
            pre = tf.einsum(equation, h, kernel) + bias * self.hidden_bias_mask
            if self.any_bn_before:
                pre = self._batch_norm(i, pre, self.bn_before, training)
            h = tf.concat(
                [apply_activation(act, pre[a:b], self.alphas[i][a:b]) for act, a, b in self.groups],
                axis=0,
            )
            hidden.append((pre, h))
            if self.any_bn_after:
                h = self._batch_norm(i, h, self.bn_after, training)
            if training and self.any_dropout:
                h = h * self._dropout_mask(i, tf.shape(h), step) / self.keep
            if unit_masks is not None and unit_masks[i] is not None:
                h = h * tf.convert_to_tensor(unit_masks[i], tf.float32)
        raise AssertionError("unreachable")

    def losses(self, logits, y):
        """Per-network mean cross-entropy (networks,); ``y`` is (batch,) or (networks, batch)."""
        y = tf.convert_to_tensor(y)
        if y.shape.rank == 1:
            y = tf.broadcast_to(y, tf.shape(logits)[:2])
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits), axis=1)

    def penalty(self, activity=None):
        """Per-network regularization (networks,): ``l2 · Σ‖kernel‖²`` plus, given the hidden
        activations of a batch, ``l1_activity · Σ|a| / batch`` per hidden layer."""
        total = tf.zeros([self.num_networks])
        if self.any_l2:
            squares = tf.add_n([tf.reduce_sum(tf.square(k), axis=(1, 2)) for k in self.kernels])
            total += self.l2 * squares
        if self.any_l1 and activity:
            batch = tf.cast(tf.shape(activity[0])[1], tf.float32)
            sums = tf.add_n([tf.reduce_sum(tf.abs(a), axis=(1, 2)) for a in activity])
            total += self.l1_activity * sums / batch
        return total


class _ElementwiseOptimizer:
    """Adam or SGD(+momentum) with a per-network learning rate, written out elementwise so
    that each network's update equals ``keras.optimizers.Adam``/``SGD`` on it alone."""

    def __init__(self, variables, learning_rates, kind: str, momentum: float):
        if kind not in ("adam", "sgd"):
            raise ValueError("optimizer must be 'adam' or 'sgd'")
        self.variables, self.kind, self.momentum = variables, kind, float(momentum)
        self.lr = _column(learning_rates)
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False)
        zeros = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
        self.first = zeros
        self.second = (
            [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
            if kind == "adam"
            else []
        )

    def apply(self, gradients):
        for i, (g, var) in enumerate(zip(gradients, self.variables, strict=True)):
            if g is None:
                continue
            lr = tf.reshape(self.lr, [-1] + [1] * (var.shape.rank - 1))
            if self.kind == "adam":
                t = tf.cast(self.iterations + 1, tf.float32)
                alpha = lr * tf.sqrt(1 - _ADAM_BETA_2**t) / (1 - _ADAM_BETA_1**t)
                m, v = self.first[i], self.second[i]
                m.assign_add((g - m) * (1 - _ADAM_BETA_1))
                v.assign_add((tf.square(g) - v) * (1 - _ADAM_BETA_2))
                var.assign_sub(m * alpha / (tf.sqrt(v) + _ADAM_EPSILON))
            elif self.momentum != 0:
                m = self.first[i]
                m.assign(m * self.momentum - g * lr)
                var.assign_add(m)
            else:
                var.assign_sub(g * lr)
        self.iterations.assign_add(1)


def evaluate(ensemble: MLPEnsemble, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Per-network mean cross-entropy and accuracy (networks,) in inference mode on
    ``x`` (n, features); ``y`` is (n,) or per network (networks, n)."""
    logits = ensemble.forward(x)
    loss = ensemble.losses(logits, tf.constant(y)).numpy()
    y = np.asarray(y)
    labels = y if y.ndim == 2 else y[None, :]
    accuracy = np.mean(np.argmax(np.asarray(logits), axis=-1) == labels, axis=1)
    return loss, accuracy


def train_ensemble(
    ensemble: MLPEnsemble,
    data: Split,
    *,
    epochs: int,
    optimizer: str = "adam",
    learning_rate: float = 3e-3,
    momentum: float = 0.0,
    batch_size: int = 64,
    y_train=None,
    evaluate_train: bool = True,
    evaluate_test: bool = True,
    restore_best: str | None = None,
    progress: str | None = None,
) -> dict[str, np.ndarray]:
    """Train every network at once; each shuffles with its own seed (``1000 + seed``).

    ``optimizer``: "adam" (Keras defaults β₁ 0.9, β₂ 0.999, ε 1e-7) or "sgd" (with
    ``momentum``); a network's ``NetSpec.learning_rate`` overrides ``learning_rate``.
    ``y_train``: optional per-network training labels, int (networks, n_train) (e.g. some
    flipped); validation and test always use ``data``'s labels. Each epoch runs
    ``n_train // batch_size`` full batches (the remainder of the shuffled order is skipped).

    ``restore_best``: a history key such as "val_loss"; at the end every network gets back
    its state (weights, PReLU slopes, BN parameters and statistics) from the epoch where
    that key was lowest (the epoch :func:`select_epochs` returns), as Keras's
    ``EarlyStopping(restore_best_weights=True)`` would after the full run. Never monitor a
    test key: the test part must not take part in any choice.

    Returns arrays of shape (epochs, networks), evaluated on the full sets at each epoch end
    in inference mode: ``loss``, ``accuracy`` (against the labels trained on; skipped with
    ``evaluate_train=False``), ``val_loss``, ``val_accuracy``, and ``test_loss``,
    ``test_accuracy`` when ``data`` has a test part (skipped with ``evaluate_test=False``,
    e.g. to measure the test part once after ``restore_best``).
    """
    if restore_best is not None and restore_best.startswith("test_"):
        raise ValueError("early stopping must not look at the test part")
    n_nets, n = ensemble.num_networks, len(data.x_train)
    labels = np.broadcast_to(np.asarray(data.y_train, np.int32), (n_nets, n))
    if y_train is not None:
        labels = np.asarray(y_train, np.int32)
        if labels.shape != (n_nets, n):
            raise ValueError(f"y_train must have shape {(n_nets, n)}, got {labels.shape}")
    rates = [learning_rate if s.learning_rate is None else s.learning_rate for s in ensemble.specs]
    variables = ensemble.trainable_variables
    opt = _ElementwiseOptimizer(variables, rates, optimizer, momentum)
    x = tf.constant(data.x_train)
    y = tf.constant(np.ascontiguousarray(labels))
    steps = max(1, n // batch_size)
    rngs = [np.random.default_rng(1000 + spec.seed) for spec in ensemble.specs]

    @tf.function
    def run_epoch(order):
        for i in tf.range(steps):
            index = order[:, i * batch_size : (i + 1) * batch_size]
            with tf.GradientTape() as tape:
                logits, hidden = ensemble.forward(
                    tf.gather(x, index), training=True, return_hidden=True, step=opt.iterations
                )
                total = tf.reduce_sum(
                    ensemble.losses(logits, tf.gather(y, index, batch_dims=1))
                    + ensemble.penalty([a for _, a in hidden])
                )
            opt.apply(tape.gradient(total, variables))

    parts = [("", data.x_train, labels)] if evaluate_train else []
    parts.append(("val_", data.x_val, data.y_val))
    if data.x_test is not None and evaluate_test:
        parts.append(("test_", data.x_test, data.y_test))
    history = {prefix + key: [] for prefix, _, _ in parts for key in ("loss", "accuracy")}
    epoch_iter = range(epochs)
    if progress is not None:
        from tqdm.auto import tqdm

        epoch_iter = tqdm(epoch_iter, desc=progress, leave=False)
    if n < batch_size:
        raise ValueError(f"batch_size {batch_size} exceeds the {n} training examples")
    if restore_best is not None and restore_best not in history:
        raise ValueError(f"restore_best={restore_best!r} is not one of {sorted(history)}")
    state = ensemble.state_variables
    best_value = np.full(n_nets, np.inf)
    best_state = [np.asarray(v).copy() for v in state]
    for _ in epoch_iter:
        order = np.stack([r.permutation(n) for r in rngs])
        run_epoch(tf.constant(order, tf.int32))
        for prefix, xs, ys in parts:
            loss, accuracy = evaluate(ensemble, xs, ys)
            history[prefix + "loss"].append(loss)
            history[prefix + "accuracy"].append(accuracy)
        if restore_best is not None:
            value = np.nan_to_num(history[restore_best][-1], nan=np.inf)
            better = value < best_value
            best_value = np.where(better, value, best_value)
            for saved, variable in zip(best_state, state, strict=True):
                saved[better] = np.asarray(variable)[better]
    if restore_best is not None:
        for saved, variable in zip(best_state, state, strict=True):
            variable.assign(saved)
    return {key: np.array(values) for key, values in history.items()}


def select_epochs(history: dict[str, np.ndarray], by: str = "val_loss") -> np.ndarray:
    """Early stopping: per network, the epoch index (from 0) with the lowest ``by`` (a loss;
    NaN counts as worst) — chosen on validation data only, never on the test part."""
    if by.startswith("test_"):
        raise ValueError("early stopping must not look at the test part")
    return np.argmin(np.nan_to_num(history[by], nan=np.inf), axis=0)


def history_at(history: dict[str, np.ndarray], key: str, epochs) -> np.ndarray:
    """``history[key]`` read per network at ``epochs`` (networks,) (e.g. from select_epochs)."""
    values = history[key]
    return values[np.asarray(epochs), np.arange(values.shape[1])]


def hidden_statistics(ensemble: MLPEnsemble, x) -> tuple[np.ndarray, np.ndarray]:
    """Per network (inference mode): (fraction of exact-zero hidden activations, fraction
    of hidden units whose pre-activation is ≤ 0 on every example of ``x``), averaged over
    hidden layers.

    For ReLU the second is the dead-unit fraction; for leaky variants and ELU those units
    still pass a (small) gradient, for tanh/sigmoid it means 'always in the lower half'.
    """
    _, hidden = ensemble.forward(x, return_hidden=True)
    zeros = np.mean([np.mean(np.asarray(h) == 0, axis=(1, 2)) for _, h in hidden], axis=0)
    dead = np.mean(
        [np.mean(np.all(np.asarray(pre) <= 0, axis=1), axis=1) for pre, _ in hidden], axis=0
    )
    return zeros, dead
