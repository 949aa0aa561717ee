"""Runners for notebook 06 (batch normalization): the measurements behind each section.

Models come from ``relu_course.models.build_mlp`` (BN ``"before"``: Dense(no bias) → BN →
activation; ``"after"``: Dense → activation → BN). Training uses :func:`train_model`, a
plain ``tf.GradientTape`` loop traced once per model: on 2 CPU cores it costs about half of
``model.fit`` for these tiny models, which keeps the notebook inside its time budget.
"""

from __future__ import annotations

import contextlib
import logging

import keras
import numpy as np
import tensorflow as tf

from relu_course.data import Split
from relu_course.models import build_mlp
from relu_course.probes import dead_fraction_per_layer, relu_outputs, zero_fraction
from relu_course.runtime import set_seed
from relu_course.training import epochs_to_reach

__all__ = [
    "accuracy",
    "bn_speedup_run",
    "high_lr_run",
    "momentum_and_placement_run",
    "train_model",
]


def accuracy(model: keras.Model, x, y, training: bool = False) -> float:
    """Classification accuracy of ``model`` on (x, y); ``training=True`` makes BN use the
    batch statistics (the whole of ``x`` is one batch) instead of its moving averages."""
    logits = model(tf.convert_to_tensor(x), training=training)
    return float(np.mean(np.argmax(np.asarray(logits), axis=1) == np.asarray(y)))


@contextlib.contextmanager
def _quiet_retracing():
    """Hide TensorFlow's "N out of the last M calls triggered retracing" warning: each model
    gets its own traced epoch function on purpose, so the warning is noise here."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def train_model(
    model: keras.Model,
    data: Split,
    *,
    epochs: int,
    optimizer,
    batch_size: int = 64,
    seed: int = 0,
    progress: str | None = None,
) -> dict[str, list[float]]:
    """Mini-batch training on sparse CE from logits; shuffles with ``seed``.

    Returns per-epoch ``loss`` (mean training loss over the epoch's batches) and
    ``val_accuracy`` (inference mode, i.e. BN with moving statistics).
    """
    x = tf.constant(data.x_train)
    y = tf.constant(data.y_train)
    n = len(data.x_train)
    steps = max(1, n // batch_size)
    variables = model.trainable_variables
    optimizer.build(variables)

    @tf.function
    def run_epoch(order):
        total = tf.constant(0.0)
        for i in tf.range(steps):
            index = order[i * batch_size : (i + 1) * batch_size]
            with tf.GradientTape() as tape:
                logits = model(tf.gather(x, index), training=True)
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(tf.gather(y, index), logits)
                )
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
            total += loss
        return total / steps

    rng = np.random.default_rng(seed)
    history = {"loss": [], "val_accuracy": []}
    epoch_iter = range(epochs)
    if progress is not None:
        from tqdm.auto import tqdm

        epoch_iter = tqdm(epoch_iter, desc=progress, leave=False)
    for _ in epoch_iter:
        with _quiet_retracing():
            loss = float(run_epoch(tf.constant(rng.permutation(n), tf.int32)))
        history["loss"].append(loss)
        history["val_accuracy"].append(accuracy(model, data.x_val, data.y_val))
    return history


def with_and_without_bn(
    data: Split,
    *,
    depth: int,
    width: int,
    optimizer_factory,
    epochs: int,
    activation: str = "relu",
    batch_size: int = 64,
    kernel_initializer="glorot_uniform",
    seed: int = 0,
    progress: str | None = None,
) -> dict[str, dict]:
    """The same MLP trained twice from the same seed: plain, and with BN (momentum 0.9)
    before each activation.

    Per variant: ``history``, ``val_accuracy`` (final), ``finite`` (loss stayed finite) and
    ``dead_fraction`` (mean over ReLU layers on the validation set; NaN without ReLUs).
    """
    results = {}
    for label, batch_norm in (("without BN", None), ("with BN", "before")):
        set_seed(seed)
        model = build_mlp(
            depth,
            width,
            activation,
            kernel_initializer=kernel_initializer,
            batch_norm=batch_norm,
            bn_momentum=0.9,
            name="bn" if batch_norm else "plain",
        )
        history = train_model(
            model,
            data,
            epochs=epochs,
            batch_size=batch_size,
            optimizer=optimizer_factory(),
            seed=seed,
            progress=f"{progress}, {label}" if progress else None,
        )
        dead = dead_fraction_per_layer(model, data.x_val)
        results[label] = {
            "history": history,
            "val_accuracy": history["val_accuracy"][-1],
            "finite": bool(np.all(np.isfinite(history["loss"]))),
            "dead_fraction": float(np.mean(list(dead.values()))) if dead else float("nan"),
        }
    return results


def bn_speedup_run(
    data: Split,
    *,
    epochs: int = 25,
    learning_rate: float = 0.5,
    batch_size: int = 60,
    seed: int = 0,
    threshold: float = 0.9,
    progress: bool = True,
) -> dict[str, dict]:
    """Ioffe & Szegedy's MNIST set-up, scaled down: 3×100 sigmoid MLP, plain SGD, with and
    without BN (momentum 0.9, before the sigmoid), mini-batches of 60 as in the paper. Per
    variant: what :func:`with_and_without_bn` returns, plus ``epochs_to_threshold`` (inf
    when never reached)."""
    results = with_and_without_bn(
        data,
        depth=3,
        width=100,
        activation="sigmoid",
        batch_size=batch_size,
        optimizer_factory=lambda: keras.optimizers.SGD(learning_rate),
        epochs=epochs,
        seed=seed,
        progress="3×100 sigmoid" if progress else None,
    )
    for run in results.values():
        run["epochs_to_threshold"] = epochs_to_reach(run["history"]["val_accuracy"], threshold)
    return results


def high_lr_run(
    data: Split,
    *,
    depth: int = 10,
    width: int = 64,
    learning_rate: float = 0.5,
    epochs: int = 6,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, dict]:
    """A deep ReLU MLP with plain SGD at a high learning rate, with and without BN."""
    return with_and_without_bn(
        data,
        depth=depth,
        width=width,
        optimizer_factory=lambda: keras.optimizers.SGD(learning_rate),
        epochs=epochs,
        seed=seed,
        progress=f"{depth}×{width} ReLU, lr {learning_rate}" if progress else None,
    )


def bad_init_run(
    data: Split,
    *,
    depth: int = 10,
    width: int = 64,
    init_std: float = 0.01,
    learning_rate: float = 0.1,
    epochs: int = 6,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, dict]:
    """A deep ReLU MLP whose weights start far too small (N(0, init_std²)), with and without
    BN, trained with SGD + momentum 0.9: the signal vanishes layer after layer unless BN
    rescales it."""
    return with_and_without_bn(
        data,
        depth=depth,
        width=width,
        optimizer_factory=lambda: keras.optimizers.SGD(learning_rate, momentum=0.9),
        epochs=epochs,
        kernel_initializer=lambda: keras.initializers.RandomNormal(stddev=init_std),
        seed=seed,
        progress=f"{depth}×{width} ReLU, init std {init_std}" if progress else None,
    )


def momentum_and_placement_run(
    data: Split,
    *,
    epochs: int = 3,
    learning_rate: float = 1e-2,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, dict]:
    """3×100 ReLU MLPs trained briefly with Adam: no BN, BN before ReLU with momentum 0.99
    (Keras's default) and 0.9, and BN after ReLU with 0.9 (all from the same seed).

    Per variant: ``inference_accuracy`` (moving statistics), ``training_mode_accuracy``
    (batch statistics of the whole validation set), ``sparsity`` (zero fraction of all
    ReLU outputs on the validation set, inference mode), ``sparsity_per_layer``.
    """
    variants = {
        "no BN": (None, 0.9),
        "before, momentum 0.99": ("before", 0.99),
        "before, momentum 0.9": ("before", 0.9),
        "after, momentum 0.9": ("after", 0.9),
    }
    results = {}
    for i, (label, (order, momentum)) in enumerate(variants.items()):
        set_seed(seed)
        model = build_mlp(
            3, 100, "relu", batch_norm=order, bn_momentum=momentum, name=f"variant_{i}"
        )
        train_model(
            model,
            data,
            epochs=epochs,
            batch_size=batch_size,
            optimizer=keras.optimizers.Adam(learning_rate),
            seed=seed,
            progress=label if progress else None,
        )
        outputs = relu_outputs(model, data.x_val)
        results[label] = {
            "inference_accuracy": accuracy(model, data.x_val, data.y_val),
            "training_mode_accuracy": accuracy(model, data.x_val, data.y_val, training=True),
            "sparsity": float(np.mean([zero_fraction(a) for a in outputs.values()])),
            "sparsity_per_layer": {k: zero_fraction(a) for k, a in outputs.items()},
        }
    return results
