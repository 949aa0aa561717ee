"""Runners for notebook 06 (batch normalization): the measurements behind each section.

Every comparison trains its arms as one vectorised :class:`relu_course.ensemble.MLPEnsemble`
over several seeds: networks with the same seed start from identical weights (same
``init``) and see identical mini-batches, so with/without BN and before/after are *paired*
per seed, and the notebook reports seed-wise differences with 95% intervals
(:mod:`relu_course.stats`). BN ``"before"`` is Dense(no bias) → BN → activation,
``"after"`` Dense → activation → BN; momentum 0.9 unless a runner says otherwise.

Results are plain dicts of NumPy arrays whose last axis runs over seeds (in the order of
``seeds``), so a notebook cell can pass them straight to ``paired_difference``.
"""

from __future__ import annotations

import contextlib
import logging
import timeit
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from relu_course.batch_norm import batchnorm_forward, fold_batchnorm
from relu_course.data import Split
from relu_course.ensemble import MLPEnsemble, NetSpec, hidden_statistics, train_ensemble
from relu_course.models import build_mlp
from relu_course.training import epochs_to_reach

__all__ = [
    "batch_size_sweep",
    "batch_statistics_noise",
    "bn_rescue_run",
    "bn_speedup_run",
    "count_graph_ops",
    "ensemble_to_keras",
    "fold_bn_model",
    "folding_demo",
    "initial_outputs",
    "placement_run",
    "training_mode_accuracy",
    "unit_zero_fractions",
    "weight_scale_sweep",
]

WITHOUT, WITH = "without BN", "with BN"


@contextlib.contextmanager
def _quiet_retracing():
    """Hide TensorFlow's "N out of the last M calls triggered retracing" warning: every
    ensemble gets its own traced epoch function on purpose, so the warning is noise here."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _train(ensemble: MLPEnsemble, data: Split, **kwargs) -> dict[str, np.ndarray]:
    kwargs.setdefault("evaluate_train", False)  # the training-set pass costs time we lack
    with _quiet_retracing():
        return train_ensemble(ensemble, data, **kwargs)


def _split_by(values: np.ndarray, groups: int) -> np.ndarray:
    """(..., groups · seeds) → (groups, ..., seeds): networks are laid out group by group."""
    values = np.asarray(values)
    return np.moveaxis(values.reshape(*values.shape[:-1], groups, -1), -2, 0)


def training_mode_accuracy(ensemble: MLPEnsemble, x, y) -> np.ndarray:
    """Per-network accuracy with BN using the batch statistics of the whole of ``x`` (as in
    training) instead of the moving averages; the moving averages are left as they were."""
    saved = [np.asarray(v).copy() for v in ensemble.moving_means + ensemble.moving_variances]
    logits = ensemble.forward(x, training=True)
    for variable, value in zip(
        ensemble.moving_means + ensemble.moving_variances, saved, strict=True
    ):
        variable.assign(value)
    return np.mean(np.argmax(np.asarray(logits), axis=-1) == np.asarray(y)[None, :], axis=1)


def initial_outputs(ensemble: MLPEnsemble, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Per network, before any training: (mean cross-entropy on ``x``, RMS of the logits).

    BN layers normalise with the statistics of ``x`` (training mode: their moving averages
    still hold their initial 0 and 1, which would describe no data); the moving averages
    are restored afterwards, so the ensemble is left as it was."""
    moving = ensemble.moving_means + ensemble.moving_variances
    saved = [np.asarray(v).copy() for v in moving]
    logits = ensemble.forward(x, training=True)
    for variable, value in zip(moving, saved, strict=True):
        variable.assign(value)
    loss = np.asarray(ensemble.losses(logits, np.asarray(y)))
    return loss, np.sqrt(np.mean(np.square(np.asarray(logits)), axis=(1, 2)))


def unit_zero_fractions(ensemble: MLPEnsemble, x) -> np.ndarray:
    """Per network and hidden unit: the fraction of the examples of ``x`` on which the unit's
    ReLU output is exactly 0 (inference mode), shape (networks, depth · width), hidden
    layers one after the other. A unit at 0.5 is off for half the examples; 1.0 is dead,
    0.0 never switches off (it acts as a linear unit on this data)."""
    _, hidden = ensemble.forward(x, return_hidden=True)
    return np.concatenate([np.mean(np.asarray(h) == 0, axis=1) for _, h in hidden], axis=1)


def bn_speedup_run(
    data: Split,
    seeds: Sequence[int] = range(5),
    *,
    epochs: int = 25,
    learning_rate: float = 0.5,
    batch_size: int = 60,
    threshold: float = 0.9,
    progress: bool = True,
) -> dict:
    """Ioffe & Szegedy's MNIST set-up, scaled down: a 3×100 sigmoid MLP with plain SGD,
    mini-batches of 60, without BN and with BN (before the sigmoid), one pair per seed.

    Returns ``seeds``, ``threshold`` and per variant (``"without BN"``, ``"with BN"``):
    ``val_accuracy`` (epochs, seeds) in inference mode and ``epochs_to_threshold`` (seeds,)
    (1-based epoch of the first validation accuracy ≥ ``threshold``; inf if never).
    """
    seeds = list(seeds)
    specs = [NetSpec("sigmoid", s, batch_norm=bn) for bn in (None, "before") for s in seeds]
    ensemble = MLPEnsemble(specs, depth=3, width=100, input_dim=data.num_features)
    history = _train(
        ensemble,
        data,
        epochs=epochs,
        optimizer="sgd",
        learning_rate=learning_rate,
        batch_size=batch_size,
        progress="3×100 sigmoid, with and without BN" if progress else None,
    )
    result = {"seeds": seeds, "threshold": threshold}
    for label, curves in zip((WITHOUT, WITH), _split_by(history["val_accuracy"], 2), strict=True):
        result[label] = {
            "val_accuracy": curves,
            "epochs_to_threshold": np.array(
                [epochs_to_reach(curves[:, i], threshold) for i in range(len(seeds))]
            ),
        }
    return result


def bn_rescue_run(
    data: Split,
    seeds: Sequence[int] = range(5),
    *,
    depth: int = 10,
    width: int = 64,
    high_learning_rate: float = 0.2,
    bad_init_std: float = 0.01,
    bad_init_learning_rate: float = 0.1,
    momentum: float = 0.9,
    epochs: int = 5,
    batch_size: int = 64,
    progress: bool = True,
) -> dict:
    """Two failures of a deep plain ReLU MLP that BN (before each ReLU) prevents, trained as
    one ensemble with SGD + ``momentum``:

    * ``"high learning rate"``: Glorot-uniform weights (Keras's default) at
      ``high_learning_rate``;
    * ``"bad initialization"``: weights N(0, ``bad_init_std``²) at ``bad_init_learning_rate``.

    Returns ``seeds`` and, per experiment and variant (``"without BN"``, ``"with BN"``):
    ``val_accuracy`` and ``val_loss`` (epochs, seeds) at epoch ends, ``final`` (seeds,)
    (last validation accuracy), ``initial_logit_rms`` (seeds,) (RMS of the validation
    logits before training, :func:`initial_outputs`), ``finite`` (seeds,) (the validation loss stayed finite), ``dead_fraction`` (seeds,) (hidden units whose pre-activation is ≤ 0 on
    every validation example; BN's output counts for BN networks).
    """
    seeds = list(seeds)
    experiments = {
        "high learning rate": ("glorot_uniform", high_learning_rate),
        "bad initialization": (f"normal:{bad_init_std!r}", bad_init_learning_rate),
    }
    specs = [
        NetSpec("relu", s, init=init, batch_norm=bn, learning_rate=lr)
        for init, lr in experiments.values()
        for bn in (None, "before")
        for s in seeds
    ]
    ensemble = MLPEnsemble(specs, depth=depth, width=width, input_dim=data.num_features)
    _, logit_rms = initial_outputs(ensemble, data.x_val, data.y_val)
    history = _train(
        ensemble,
        data,
        epochs=epochs,
        optimizer="sgd",
        momentum=momentum,
        batch_size=batch_size,
        progress=f"{depth}×{width} ReLU, with and without BN" if progress else None,
    )
    _, dead = hidden_statistics(ensemble, data.x_val)
    groups = len(experiments) * 2
    val = _split_by(history["val_accuracy"], groups)
    loss = _split_by(history["val_loss"], groups)
    dead = _split_by(dead, groups)
    logit_rms = _split_by(logit_rms, groups)
    result: dict = {"seeds": seeds}
    for e, name in enumerate(experiments):
        result[name] = {}
        for v, label in enumerate((WITHOUT, WITH)):
            g = 2 * e + v
            result[name][label] = {
                "val_accuracy": val[g],
                "val_loss": loss[g],
                "final": val[g][-1],
                "finite": np.all(np.isfinite(loss[g]), axis=0),
                "dead_fraction": dead[g],
                "initial_logit_rms": logit_rms[g],
            }
    return result


PLACEMENTS = {"no BN": None, "before": "before", "after": "after"}


def placement_run(
    data: Split,
    seeds: Sequence[int] = range(10),
    *,
    depth: int = 3,
    width: int = 100,
    epochs: int = 3,
    learning_rate: float = 1e-2,
    batch_size: int = 64,
    slow_momentum: float = 0.99,
    progress: bool = True,
) -> dict:
    """3×100 ReLU MLPs trained briefly with Adam: no BN, BN before and BN after the ReLU
    (momentum 0.9), and BN before with ``slow_momentum`` (Keras's default 0.99).

    The momentum of the moving averages does not enter training (training mode uses batch
    statistics), so the ``"before, momentum 0.99"`` networks end with exactly the weights of
    the ``"before"`` ones: only their moving statistics differ.

    Returns ``seeds``, ``ensemble`` (the momentum-0.9 ensemble, networks ordered no BN,
    before, after; seeds within each) and per variant: ``inference_accuracy`` (seeds,)
    (moving statistics), ``training_mode_accuracy`` (seeds,) (batch statistics of the whole
    validation set), ``sparsity`` (seeds,) (exact zeros among ReLU outputs on the
    validation set, inference mode), ``unit_zero_fractions`` (units, seeds) (the same per
    hidden unit, :func:`unit_zero_fractions`) and ``distance_from_half`` (seeds,) (the mean
    over units of |unit zero fraction − 0.5|: how far units sit from being off half the
    time; small when BN pins every unit near 50%).
    """
    seeds = list(seeds)
    result: dict = {"seeds": seeds}
    runs = {
        0.9: {label: order for label, order in PLACEMENTS.items()},
        slow_momentum: {f"before, momentum {slow_momentum:g}": "before"},
    }
    for momentum, variants in runs.items():
        specs = [NetSpec("relu", s, batch_norm=order) for order in variants.values() for s in seeds]
        ensemble = MLPEnsemble(
            specs, depth=depth, width=width, input_dim=data.num_features, bn_momentum=momentum
        )
        _train(
            ensemble,
            data,
            epochs=epochs,
            optimizer="adam",
            learning_rate=learning_rate,
            batch_size=batch_size,
            progress=f"BN momentum {momentum:g}" if progress else None,
        )
        groups = len(variants)
        logits = ensemble.forward(data.x_val)
        inference = np.mean(np.argmax(np.asarray(logits), -1) == data.y_val[None, :], axis=1)
        training = training_mode_accuracy(ensemble, data.x_val, data.y_val)
        zeros, _ = hidden_statistics(ensemble, data.x_val)
        units = unit_zero_fractions(ensemble, data.x_val).T  # (units, networks)
        for label, a, b, z, u in zip(
            variants,
            _split_by(inference, groups),
            _split_by(training, groups),
            _split_by(zeros, groups),
            _split_by(units, groups),
            strict=True,
        ):
            result[label] = {
                "inference_accuracy": a,
                "training_mode_accuracy": b,
                "sparsity": z,
                "unit_zero_fractions": u,
                "distance_from_half": np.mean(np.abs(u - 0.5), axis=0),
            }
        if momentum == 0.9:
            result["ensemble"] = ensemble
    return result


def weight_scale_sweep(
    data: Split,
    scales: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0),
    seeds: Sequence[int] = range(5),
    *,
    depth: int = 6,
    width: int = 50,
    epochs: int = 4,
    learning_rate: float = 1e-3,
    batch_size: int = 50,
    progress: bool = True,
) -> dict:
    """CS231n's experiment: ReLU MLPs whose weights are drawn N(0, scale²) for each scale,
    with and without BN before each ReLU, Adam, all trained as one ensemble.

    Returns ``scales``, ``seeds`` and per variant (``"without BN"``, ``"with BN"``):
    ``val_accuracy`` of shape (scales, seeds) after the last epoch and ``initial_loss``
    (scales, seeds), the validation cross-entropy before training (:func:`initial_outputs`).
    """
    seeds, scales = list(seeds), [float(s) for s in scales]
    specs = [
        NetSpec("relu", s, init=f"normal:{scale!r}", batch_norm=bn)
        for scale in scales
        for bn in (None, "before")
        for s in seeds
    ]
    ensemble = MLPEnsemble(specs, depth=depth, width=width, input_dim=data.num_features)
    initial_loss, _ = initial_outputs(ensemble, data.x_val, data.y_val)
    history = _train(
        ensemble,
        data,
        epochs=epochs,
        optimizer="adam",
        learning_rate=learning_rate,
        batch_size=batch_size,
        progress="weight-scale sweep" if progress else None,
    )
    result: dict = {"scales": scales, "seeds": seeds}
    # networks are laid out scale, variant, seed
    values = history["val_accuracy"][-1].reshape(len(scales), 2, len(seeds))
    initial_loss = initial_loss.reshape(len(scales), 2, len(seeds))
    for v, label in enumerate((WITHOUT, WITH)):
        result[label] = {"val_accuracy": values[:, v, :], "initial_loss": initial_loss[:, v, :]}
    return result


def batch_size_sweep(
    data: Split,
    batch_sizes: Sequence[int] = (2, 16, 64),
    seeds: Sequence[int] = range(5),
    *,
    depth: int = 3,
    width: int = 100,
    epochs: int = 1,
    learning_rate: float = 2e-3,
    progress: bool = True,
) -> dict:
    """The same 3×100 ReLU MLP trained with and without BN (before the ReLU) at several
    mini-batch sizes, for the same number of epochs (so smaller batches take more steps; the
    plain network is the control for that).

    Returns ``batch_sizes``, ``seeds`` and per variant (``"without BN"``, ``"with BN"``):
    ``val_accuracy`` (inference mode) of shape (batch sizes, seeds).
    """
    seeds = list(seeds)
    result: dict = {"batch_sizes": list(batch_sizes), "seeds": seeds}
    for label in (WITHOUT, WITH):
        result[label] = {"val_accuracy": []}
    for batch_size in batch_sizes:
        specs = [NetSpec("relu", s, batch_norm=bn) for bn in (None, "before") for s in seeds]
        ensemble = MLPEnsemble(specs, depth=depth, width=width, input_dim=data.num_features)
        history = _train(
            ensemble,
            data,
            epochs=epochs,
            optimizer="adam",
            learning_rate=learning_rate,
            batch_size=batch_size,
            progress=f"batch size {batch_size}" if progress else None,
        )
        for label, values in zip(
            (WITHOUT, WITH), _split_by(history["val_accuracy"][-1], 2), strict=True
        ):
            result[label]["val_accuracy"].append(values)
    for label in (WITHOUT, WITH):
        result[label] = {k: np.array(v) for k, v in result[label].items()}
    return result


def batch_statistics_noise(
    x: np.ndarray, batch_sizes: Sequence[int], draws: int = 200, seed: int = 0
) -> dict[int, np.ndarray]:
    """How far BN's training-mode output moves away from what the data's true statistics give,
    because it normalises with the statistics of one small batch.

    For each batch size ``b``: ``draws`` random batches of ``b`` rows of ``x`` (n, features)
    are normalised (γ = 1, β = 0) with their own statistics, and compared with the same rows
    normalised with the mean and variance of all of ``x``. Returns ``{b: rms}`` where ``rms``
    (features,) is the root-mean-square difference: the noise BN injects, which shrinks
    roughly as 1/√b. (At b = 2 every normalised value is close to ±1 whatever the input.)
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=np.float64)
    features = x.shape[1]
    gamma, beta = np.ones(features), np.zeros(features)
    exact = batchnorm_forward(x, gamma, beta)
    out = {}
    for b in batch_sizes:
        squares = np.zeros(features)
        for _ in range(draws):
            rows = rng.choice(len(x), size=b, replace=False)
            squares += np.mean((batchnorm_forward(x[rows], gamma, beta) - exact[rows]) ** 2, axis=0)
        out[int(b)] = np.sqrt(squares / draws)
    return out


# ------------------------------------------------------------------ folding BN for inference
def ensemble_to_keras(ensemble: MLPEnsemble, n: int) -> keras.Sequential:
    """Network ``n`` of a ReLU ensemble as a Keras model from ``build_mlp`` (same weights,
    BN moving statistics included), e.g. to fold or export it."""
    spec = ensemble.specs[n]
    model = build_mlp(
        ensemble.depth,
        ensemble.width,
        spec.activation,
        input_dim=ensemble.input_dim,
        num_classes=ensemble.num_classes,
        batch_norm=spec.batch_norm,
        bn_momentum=ensemble.bn_momentum,
    )
    dense = ensemble.network_weights(n)
    for i in range(ensemble.depth):
        kernel, bias = dense[2 * i], dense[2 * i + 1]
        model.get_layer(f"dense_{i + 1}").set_weights(
            [kernel] if spec.batch_norm == "before" else [kernel, bias]
        )
        if spec.batch_norm is not None:
            bn = model.get_layer(f"bn_{i + 1}")
            bn.epsilon = ensemble.bn_epsilon
            bn.set_weights(ensemble.network_bn_weights(n, i))
    model.get_layer("logits").set_weights(dense[-2:])
    return model


def fold_bn_model(model: keras.Sequential) -> keras.Sequential:
    """An inference-only copy of ``model`` in which every BatchNormalization directly after
    a Dense layer is folded into that layer (:func:`relu_course.batch_norm.fold_batchnorm`);
    other layers (a BN after a ReLU included) are copied with their weights. Same outputs in
    inference mode, fewer operations."""
    new_layers: list[tuple[keras.layers.Layer, list[np.ndarray]]] = []
    layers = list(model.layers)
    i = 0
    while i < len(layers):
        layer = layers[i]
        following = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(layer, keras.layers.Dense) and isinstance(
            following, keras.layers.BatchNormalization
        ):
            weights = layer.get_weights()
            gamma, beta, mean, var = following.get_weights()
            kernel, bias = fold_batchnorm(
                weights[0],
                weights[1] if layer.use_bias else None,
                gamma,
                beta,
                mean,
                var,
                following.epsilon,
            )
            folded = keras.layers.Dense(
                layer.units, activation=layer.activation, name=f"{layer.name}_folded"
            )
            new_layers.append((folded, [kernel, bias]))
            i += 2
        else:
            new_layers.append(
                (layer.__class__.from_config(layer.get_config()), layer.get_weights())
            )
            i += 1
    folded_model = keras.Sequential(
        [keras.Input(model.inputs[0].shape[1:]), *(layer for layer, _ in new_layers)],
        name=f"{model.name}_folded",
    )
    for layer, weights in new_layers:
        if weights:
            layer.set_weights(weights)
    return folded_model


def count_graph_ops(model: keras.Model, input_dim: int) -> int:
    """Number of TensorFlow operations in the inference graph of ``model`` (traced once)."""
    function = tf.function(lambda x: model(x, training=False))
    graph = function.get_concrete_function(tf.TensorSpec((None, input_dim), tf.float32)).graph
    return len(graph.get_operations())


def folding_demo(
    model: keras.Sequential, x: np.ndarray, repeats: int = 7, number: int = 20
) -> dict:
    """Fold ``model``'s BN layers and compare: ``max_abs_difference`` of the logits on
    ``x`` (inference mode), ``ops`` and ``folded_ops`` (graph operations), ``layers`` and
    ``folded_layers``, and ``time`` / ``folded_time`` (best of ``repeats`` timings of
    ``number`` traced calls on ``x``, seconds per call; compare them as a ratio)."""
    folded = fold_bn_model(model)
    x = tf.constant(np.asarray(x, np.float32))
    original_out = np.asarray(model(x, training=False))
    folded_out = np.asarray(folded(x, training=False))
    functions = {}
    for key, m in (("time", model), ("folded_time", folded)):
        functions[key] = tf.function(lambda v, m=m: m(v, training=False))
        functions[key](x)  # trace once, outside the timing
    timings = {key: np.inf for key in functions}
    for _ in range(repeats):  # alternate the two, so that a busy spell hits both alike
        for key, function in functions.items():
            elapsed = timeit.timeit(lambda f=function: f(x), number=number) / number
            timings[key] = min(timings[key], elapsed)
    input_dim = int(x.shape[1])
    return {
        "folded_model": folded,
        "max_abs_difference": float(np.max(np.abs(original_out - folded_out))),
        "ops": count_graph_ops(model, input_dim),
        "folded_ops": count_graph_ops(folded, input_dim),
        "layers": len(model.layers),
        "folded_layers": len(folded.layers),
        "repeats": repeats,
        **timings,
    }
