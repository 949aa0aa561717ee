"""Runners of notebook 08 (after ReLU): zeros vs near-zeros per activation, a paired-seed
ablation with a parameter-matched SwiGLU, lazy neurons and ReLU-fication.

Every multi-seed run is a vectorised ensemble (``relu_course.ensemble``): network ``n``
starts from ``default_rng(seed)`` weights and sees the batches of ``default_rng(1000 +
seed)``, so the arms of one seed are *paired*. :class:`SwiGLUEnsemble` has the same
interface as ``MLPEnsemble`` and is trained by the same ``train_ensemble`` (same optimizer,
same batch order for the same seed).

Introduced in notebook 08.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from relu_course.after_relu import mlp_parameter_count, swiglu_parameter_count
from relu_course.data import Split
from relu_course.ensemble import (
    MLPEnsemble,
    NetSpec,
    apply_activation,
    hidden_statistics,
    train_ensemble,
)

__all__ = [
    "SwiGLUEnsemble",
    "ZERO_ACTIVATIONS",
    "AblationResult",
    "ReluficationResult",
    "activation_zero_fractions",
    "lazy_neuron_run",
    "near_zero_fraction",
    "network_sparsity",
    "relufication",
    "swiglu_ablation",
]

# label -> activation spec (relu_course.ensemble.apply_activation)
ZERO_ACTIVATIONS: dict[str, str] = {
    "relu": "relu",
    "leaky_relu_0.01": "leaky_relu:0.01",
    "elu": "elu",
    "gelu": "gelu",
    "silu": "silu",
    "softplus": "softplus",
    "tanh": "tanh",
}


def near_zero_fraction(a, eps: float = 0.05, axis=None) -> np.ndarray:
    """Fraction of entries with ``|a| < eps`` (exact zeros included), over ``axis``.

    An absolute threshold: the inputs are standardised and the weights Glorot-scaled, so
    pre-activations are of order 1, and the threshold means the same for every activation.
    (A threshold relative to the layer's RMS would be dominated by the few huge values that
    digits' rarely-lit, standardised pixels produce.)
    """
    return np.mean(np.abs(np.asarray(a)) < eps, axis=axis)


def activation_zero_fractions(
    pre_activations,
    activations: dict[str, str] | None = None,
    eps: float = 0.05,
    dtype=np.float32,
) -> dict[str, tuple[float, float]]:
    """Per activation: (fraction of exact zeros, fraction of near-zeros) of its outputs on the
    given pre-activations, computed with TensorFlow in ``dtype``."""
    activations = activations or ZERO_ACTIVATIONS
    pre = tf.constant(np.asarray(pre_activations, dtype=dtype))
    out = {}
    for label, spec in activations.items():
        a = apply_activation(spec, pre).numpy()
        out[label] = (float(np.mean(a == 0)), float(near_zero_fraction(a, eps)))
    return out


def network_sparsity(ensemble, x, eps: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Per network (inference mode): (exact-zero fraction, near-zero fraction) of its hidden
    activations on ``x``, averaged over hidden layers; near-zero means ``|a| < eps``
    (:func:`near_zero_fraction`)."""
    _, hidden = ensemble.forward(x, return_hidden=True)
    zeros, near = [], []
    for _, h in hidden:
        h = np.asarray(h)
        zeros.append(np.mean(h == 0, axis=(1, 2)))
        near.append(near_zero_fraction(h, eps, axis=(1, 2)))
    return np.mean(zeros, axis=0), np.mean(near, axis=0)


class SwiGLUEnsemble:
    """``len(specs)`` independent SwiGLU classifiers ``(silu(x·W) ⊙ (x·V))·W₂``, no biases.

    ``w``, ``v``: (networks, input_dim, hidden); ``w2``: (networks, hidden, classes).
    Network ``n`` draws W, V, W₂ (in that order, Glorot-uniform as Keras's ``Dense``) from
    ``np.random.default_rng(specs[n].seed)``. Duck-types ``MLPEnsemble`` for
    ``train_ensemble``, ``hidden_statistics`` and :func:`network_sparsity`: the "hidden
    layer" is the gated product, its "pre-activation" the gate's ``x·W``.
    """

    depth = 1

    def __init__(
        self,
        specs: Sequence[NetSpec],
        hidden: int,
        input_dim: int = 64,
        num_classes: int = 10,
    ):
        self.specs = list(specs)
        self.width = self.hidden = int(hidden)
        self.input_dim, self.num_classes = input_dim, num_classes

        def glorot(rng, fan_in, fan_out):
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            return rng.uniform(-limit, limit, size=(fan_in, fan_out))

        draws = []
        for spec in self.specs:
            rng = np.random.default_rng(spec.seed)
            draws.append(
                (
                    glorot(rng, input_dim, hidden),
                    glorot(rng, input_dim, hidden),
                    glorot(rng, hidden, num_classes),
                )
            )
        self.w, self.v, self.w2 = (
            tf.Variable(np.stack([d[i] for d in draws]).astype(np.float32), name=name)
            for i, name in enumerate(("w", "v", "w2"))
        )

    @property
    def num_networks(self) -> int:
        return len(self.specs)

    @property
    def trainable_variables(self) -> list[tf.Variable]:
        return [self.w, self.v, self.w2]

    @property
    def state_variables(self) -> list[tf.Variable]:
        """Every per-network variable (network on axis 0): here just the weights."""
        return self.trainable_variables

    def parameter_count(self) -> int:
        """Parameters of one network."""
        return swiglu_parameter_count(self.input_dim, self.hidden, self.num_classes)

    def forward(self, x, training: bool = False, return_hidden: bool = False, **_):
        h = tf.convert_to_tensor(x, tf.float32)
        equation = "bi,nio->nbo" if h.shape.rank == 2 else "nbi,nio->nbo"
        gate = tf.einsum(equation, h, self.w)
        gated = tf.nn.silu(gate) * tf.einsum(equation, h, self.v)
        logits = tf.einsum("nbi,nio->nbo", gated, self.w2)
        return (logits, [(gate, gated)]) if return_hidden else logits

    def losses(self, logits, y):
        y = tf.convert_to_tensor(y)
        if y.shape.rank == 1:
            y = tf.broadcast_to(y, tf.shape(logits)[:2])
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits), axis=1)

    def penalty(self, activity=None):
        return tf.zeros([self.num_networks])


@dataclass
class AblationResult:
    """Per arm, per seed (in ``seeds`` order): final test/validation accuracy, exact-zero
    and near-zero fractions at init and after training; parameter counts per arm; the
    trained plain-MLP ensemble (for ReLU-fication) and the histories."""

    seeds: list[int]
    arms: list[str]
    parameters: dict[str, int]
    test_accuracy: dict[str, np.ndarray]
    val_accuracy: dict[str, np.ndarray]
    zeros_init: dict[str, np.ndarray]
    near_zeros_init: dict[str, np.ndarray]
    zeros_trained: dict[str, np.ndarray]
    near_zeros_trained: dict[str, np.ndarray]
    dead_trained: dict[str, np.ndarray]
    ensemble: MLPEnsemble
    histories: dict[str, dict[str, np.ndarray]]


def swiglu_ablation(
    data: Split,
    seeds: Sequence[int] = (0, 1, 2, 3, 4, 5, 6, 7),
    activations: Sequence[str] = ("relu", "gelu", "silu"),
    *,
    width: int = 64,
    swiglu_hidden: int | None = None,
    epochs: int = 10,
    learning_rate: float = 3e-3,
    batch_size: int = 64,
    eps: float = 0.05,
) -> AblationResult:
    """Train one-hidden-layer MLPs (``width`` units, each activation) and bias-free SwiGLU
    classifiers with about as many parameters, every arm on every seed, same budget.

    ``swiglu_hidden`` defaults to the width that matches the MLP's parameter count
    (:func:`relu_course.after_relu.swiglu_hidden_units`). Accuracies are read at the last
    epoch (no selection on any split); the test part of ``data`` is required.
    """
    from relu_course.after_relu import swiglu_hidden_units

    if data.x_test is None:
        raise ValueError("the ablation reports test accuracy: split off a test part")
    seeds = [int(s) for s in seeds]
    d, k = data.num_features, data.num_classes
    mlp_params = mlp_parameter_count(d, width, k)
    hidden = swiglu_hidden or swiglu_hidden_units(mlp_params, d, k)
    specs = [NetSpec(act, seed, label=act) for act in activations for seed in seeds]
    mlps = MLPEnsemble(specs, depth=1, width=width, input_dim=d, num_classes=k)
    swiglu = SwiGLUEnsemble([NetSpec("silu", seed, label="swiglu") for seed in seeds], hidden, d, k)
    zeros0, near0 = network_sparsity(mlps, data.x_val, eps)
    szeros0, snear0 = network_sparsity(swiglu, data.x_val, eps)
    common = dict(epochs=epochs, learning_rate=learning_rate, batch_size=batch_size)
    history = train_ensemble(mlps, data, **common)
    swiglu_history = train_ensemble(swiglu, data, **common)
    zeros1, near1 = network_sparsity(mlps, data.x_val, eps)
    szeros1, snear1 = network_sparsity(swiglu, data.x_val, eps)
    _, dead = hidden_statistics(mlps, data.x_val)
    _, sdead = hidden_statistics(swiglu, data.x_val)

    arms = [*activations, "swiglu"]
    n = len(seeds)

    def split(values, swiglu_values):
        out = {act: np.asarray(values[i * n : (i + 1) * n]) for i, act in enumerate(activations)}
        out["swiglu"] = np.asarray(swiglu_values)
        return out

    return AblationResult(
        seeds=seeds,
        arms=arms,
        parameters={
            **{act: mlp_params for act in activations},
            "swiglu": swiglu.parameter_count(),
        },
        test_accuracy=split(history["test_accuracy"][-1], swiglu_history["test_accuracy"][-1]),
        val_accuracy=split(history["val_accuracy"][-1], swiglu_history["val_accuracy"][-1]),
        zeros_init=split(zeros0, szeros0),
        near_zeros_init=split(near0, snear0),
        zeros_trained=split(zeros1, szeros1),
        near_zeros_trained=split(near1, snear1),
        dead_trained=split(dead, sdead),
        ensemble=mlps,
        histories={"mlp": history, "swiglu": swiglu_history},
    )


@dataclass
class ReluficationResult:
    """Per seed: test accuracy and exact-zero / near-zero fractions of the trained GELU nets
    (``before``), right after swapping GELU for ReLU (``swapped``), and after the same short
    fine-tune of the swapped nets (``relufied``) and of the unchanged GELU nets
    (``gelu_finetuned``, the control with the same extra training)."""

    seeds: list[int]
    accuracy: dict[str, np.ndarray]
    zeros: dict[str, np.ndarray]
    near_zeros: dict[str, np.ndarray]
    history: dict[str, np.ndarray]


def relufication(
    trained: MLPEnsemble,
    data: Split,
    *,
    source: str = "gelu",
    epochs: int = 3,
    learning_rate: float = 1e-3,
    batch_size: int = 64,
    eps: float = 0.05,
) -> ReluficationResult:
    """ReLU-fication (Mirzadeh et al. 2023), small: take the trained networks of ``trained``
    whose activation is ``source``, replace that activation by ReLU keeping every weight,
    and fine-tune for ``epochs``; as a control, fine-tune copies of the unchanged networks
    for the same epochs. ``trained`` is not modified."""
    if data.x_test is None:
        raise ValueError("ReLU-fication reports test accuracy: split off a test part")
    index = [i for i, s in enumerate(trained.specs) if s.activation == source]
    if not index:
        raise ValueError(f"no {source!r} network in the ensemble")
    seeds = [trained.specs[i].seed for i in index]
    specs = [NetSpec(source, s, label=source) for s in seeds] + [
        NetSpec("relu", s, label="relufied") for s in seeds
    ]
    pair = MLPEnsemble(
        specs,
        depth=trained.depth,
        width=trained.width,
        input_dim=trained.input_dim,
        num_classes=trained.num_classes,
    )
    rows = np.array(index + index)
    for mine, theirs in zip(
        pair.kernels + pair.biases, trained.kernels + trained.biases, strict=True
    ):
        mine.assign(tf.gather(theirs, rows))

    def measure():
        logits = np.asarray(pair.forward(data.x_test))
        accuracy = np.mean(np.argmax(logits, axis=-1) == data.y_test[None, :], axis=1)
        zeros, near = network_sparsity(pair, data.x_val, eps)
        return accuracy, zeros, near

    n = len(seeds)
    acc0, zeros0, near0 = measure()
    history = train_ensemble(
        pair, data, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size
    )
    acc1, zeros1, near1 = measure()

    def arms(before, after):
        return {
            "before": before[:n],
            "swapped": before[n:],
            "gelu_finetuned": after[:n],
            "relufied": after[n:],
        }

    return ReluficationResult(
        seeds=seeds,
        accuracy=arms(acc0, acc1),
        zeros=arms(zeros0, zeros1),
        near_zeros=arms(near0, near1),
        history=history,
    )


def lazy_neuron_run(
    data: Split,
    *,
    width: int = 256,
    depth: int = 1,
    epochs: int = 10,
    seeds: Sequence[int] = (0, 1, 2),
    learning_rate: float = 3e-3,
    batch_size: int = 64,
) -> dict[str, np.ndarray]:
    """ReLU MLPs (``depth`` hidden layers of ``width``): per seed, the exact-zero fraction of
    the hidden activations on the validation images at init and after training, and the
    final test accuracy (the lazy-neuron measurement of Li et al. 2022, small)."""
    ensemble = MLPEnsemble(
        [NetSpec("relu", int(s)) for s in seeds],
        depth=depth,
        width=width,
        input_dim=data.num_features,
        num_classes=data.num_classes,
    )
    init, _ = network_sparsity(ensemble, data.x_val)
    history = train_ensemble(
        ensemble, data, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size
    )
    trained, _ = network_sparsity(ensemble, data.x_val)
    accuracy = history["test_accuracy" if data.x_test is not None else "val_accuracy"][-1]
    return {"init": init, "trained": trained, "test_accuracy": accuracy}
