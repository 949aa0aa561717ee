"""Runners for notebook 07 (capstone): a fair activation ablation, an overfitting demo, a
co-adaptation proxy (silencing hidden units at test time) and the cost of activations.

All trainings use the vectorised ensemble of :mod:`relu_course.ensemble` (many small MLPs
trained at once, each exactly as if alone, same seed → same start, batch order and dropout
masks for every activation: a paired design). ``MLPEnsemble``, ``NetSpec``,
``train_ensemble`` and ``hidden_statistics`` are re-exported here for the notebooks that
import them from this module.

Every run reports on a held-out **test** part of the data (``Split.x_test``): early
stopping picks each network's epoch by its validation loss only, and the network is
restored to that epoch before anything is measured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from relu_course import stats
from relu_course.data import Split
from relu_course.ensemble import (
    MLPEnsemble,
    NetSpec,
    _ElementwiseOptimizer,
    apply_activation,
    evaluate,
    hidden_statistics,
    history_at,
    select_epochs,
    train_ensemble,
)

__all__ = [
    "ABLATION_ACTIVATIONS",
    "COST_ACTIVATIONS",
    "AblationRun",
    "MLPEnsemble",
    "NetSpec",
    "activation_step_times",
    "activation_time_per_element",
    "hidden_statistics",
    "overfitting_demo",
    "run_ablation",
    "silencing_curves",
    "step_share",
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

# activations whose cost is timed (label -> spec); "linear" is the free baseline
COST_ACTIVATIONS: dict[str, str] = {
    "relu": "relu",
    "leaky_relu": "leaky_relu:0.01",
    "prelu": "prelu",
    "elu": "elu",
    "gelu": "gelu",
    "softplus": "softplus",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
}


def _require_test(data: Split) -> None:
    if data.x_test is None:
        raise ValueError(
            "these runners report on a held-out test part: load the data with "
            "load_digits_split(test_fraction=...)"
        )


@dataclass
class AblationRun:
    """A trained ablation: the ensemble restored to each network's early-stopping epoch.

    ``records``: one dict per network with ``activation`` (the arm's label), ``seed``,
    ``val_accuracy``, ``val_loss``, ``test_accuracy``, ``test_loss`` (all at the chosen
    epoch), ``stop_epoch`` (from 1), ``sparsity`` (fraction of exact zeros in the hidden
    layers on the test part) and ``dead_fraction`` (units ≤ 0 on every test example).
    """

    specs: list[NetSpec]
    ensemble: MLPEnsemble
    history: dict[str, np.ndarray]
    records: list[dict] = field(default_factory=list)

    def arm(self, label: str) -> list[dict]:
        """The records of one arm, ordered by seed."""
        return sorted(
            (r for r in self.records if r["activation"] == label), key=lambda r: r["seed"]
        )


def run_ablation(
    data: Split,
    activations: dict[str, str] | None = None,
    seeds=range(10),
    *,
    dropout_arms: dict[str, str] | None = None,
    dropout: float = 0.3,
    depth: int = 2,
    width: int = 64,
    epochs: int = 12,
    learning_rate: float = 3e-3,
    batch_size: int = 64,
    progress: str | None = None,
) -> AblationRun:
    """Train every (activation, seed) under the same budget, plus optional dropout arms
    (label -> activation spec, trained with ``dropout``), all in one ensemble.

    Same architecture, Glorot-uniform start (identical per seed across arms), Adam at
    ``learning_rate``, batch order per seed, ``epochs`` epochs; each network is restored
    to its epoch of lowest validation loss (early stopping) and measured on the test part.
    """
    _require_test(data)
    activations = activations or ABLATION_ACTIVATIONS
    arms = [(label, spec, 0.0) for label, spec in activations.items()]
    arms += [(label, spec, dropout) for label, spec in (dropout_arms or {}).items()]
    # networks with equal activations side by side: the ensemble applies each activation
    # once per contiguous run, so fewer runs make a cheaper step
    first = {}
    for _, spec, _ in arms:
        first.setdefault(spec, len(first))
    arms.sort(key=lambda arm: first[arm[1]])
    specs = [
        NetSpec(spec, seed, dropout=rate, label=label)
        for label, spec, rate in arms
        for seed in seeds
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
        evaluate_train=False,
        evaluate_test=False,
        restore_best="val_loss",
        progress=progress,
    )
    stop = select_epochs(history)
    measured = dict(
        zip(
            ("test_loss", "test_accuracy"),
            evaluate(ensemble, data.x_test, data.y_test),
            strict=True,
        )
    )
    sparsity, dead = hidden_statistics(ensemble, data.x_test)
    records = []
    for n, spec in enumerate(specs):
        record = {"activation": spec.label, "seed": spec.seed}
        for key in ("val_accuracy", "val_loss"):
            record[key] = float(history[key][stop[n], n])
        for key in ("test_accuracy", "test_loss"):
            record[key] = float(measured[key][n])
        record["stop_epoch"] = int(stop[n]) + 1
        record["sparsity"] = float(sparsity[n])
        record["dead_fraction"] = float(dead[n])
        records.append(record)
    return AblationRun(specs, ensemble, history, records)


def silencing_curves(
    run: AblationRun,
    data: Split,
    labels=("relu", "tanh"),
    fractions=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    draws: int = 5,
    rescale: bool = True,
) -> dict[str, np.ndarray]:
    """Co-adaptation proxy: test accuracy when a random fraction of the hidden units of
    every hidden layer is silenced (output set to 0) at test time.

    ``rescale``: multiply the surviving units by width / survivors, as inverted dropout
    does, so that the next layer's expected input does not shrink; without it, silencing
    also shifts the next layer's input for activations whose outputs are not centred on 0
    (ReLU), a confound that has nothing to do with co-adaptation.

    For each fraction and each of ``draws`` draws, network ``n`` silences units chosen by
    ``default_rng((seed, draw, fraction index))``: networks with the same seed lose the
    same units (paired). Returns label -> array (seeds, fractions) of test accuracy averaged
    over the draws, seeds in the order of :meth:`AblationRun.arm`.
    """
    _require_test(data)
    chosen = {}
    for label in labels:
        index = sorted(
            (n for n, s in enumerate(run.ensemble.specs) if s.label == label),
            key=lambda n: run.ensemble.specs[n].seed,
        )
        if not index:
            raise ValueError(f"no arm {label!r} in this run")
        chosen[label] = index
    order = [n for index in chosen.values() for n in index]
    ensemble = run.ensemble.subset(order)  # evaluate only the networks asked for
    width = ensemble.width
    seeds = np.array([spec.seed for spec in ensemble.specs])
    accuracy = np.zeros((len(fractions), ensemble.num_networks))
    for f, fraction in enumerate(fractions):
        silenced = int(round(fraction * width))
        keep = 1.0 if not rescale or silenced == width else width / (width - silenced)
        for draw in range(draws):
            masks = []
            for layer in range(ensemble.depth):
                mask = np.full((ensemble.num_networks, 1, width), keep, np.float32)
                for seed in np.unique(seeds):
                    rng = np.random.default_rng((int(seed), draw, f, layer))
                    off = rng.permutation(width)[:silenced]
                    mask[np.ix_(seeds == seed, [0], off)] = 0.0
                masks.append(mask)
            logits = np.asarray(ensemble.forward(data.x_test, unit_masks=masks))
            accuracy[f] += np.mean(np.argmax(logits, axis=-1) == data.y_test[None], axis=1)
    accuracy /= draws
    out, start = {}, 0
    for label, index in chosen.items():
        out[label] = accuracy[:, start : start + len(index)].T
        start += len(index)
    return out


def overfitting_demo(
    data: Split,
    variants: dict[str, NetSpec],
    seeds=range(5),
    *,
    train_size: int = 150,
    depth: int = 2,
    width: int = 64,
    epochs: int = 30,
    learning_rate: float = 3e-3,
    batch_size: int = 32,
    progress: str | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Train every variant (label -> NetSpec template; its seed is replaced) for every seed
    on the first ``train_size`` training examples, without early stopping.

    Returns label -> {``train_accuracy``, ``test_accuracy``, ``test_loss`` (last epoch),
    ``stopped_test_accuracy``, ``stopped_test_loss`` (at the epoch of lowest validation
    loss: early stopping), ``history`` (that variant's columns, (epochs, seeds))}; arrays
    of shape (seeds,) in the order of ``seeds``.
    """
    from dataclasses import replace

    _require_test(data)
    small = Split(
        data.x_train[:train_size],
        data.y_train[:train_size],
        data.x_val,
        data.y_val,
        data.x_test,
        data.y_test,
    )
    seeds = list(seeds)
    specs = [replace(spec, seed=seed) for spec in variants.values() for seed in seeds]
    ensemble = MLPEnsemble(
        specs, depth=depth, width=width, input_dim=data.num_features, num_classes=data.num_classes
    )
    history = train_ensemble(
        ensemble,
        small,
        epochs=epochs,
        learning_rate=learning_rate,
        batch_size=batch_size,
        progress=progress,
    )
    stop = select_epochs(history)
    out = {}
    for v, label in enumerate(variants):
        cols = slice(v * len(seeds), (v + 1) * len(seeds))
        out[label] = {
            "train_accuracy": history["accuracy"][-1, cols],
            "test_accuracy": history["test_accuracy"][-1, cols],
            "test_loss": history["test_loss"][-1, cols],
            "stopped_test_accuracy": history_at(history, "test_accuracy", stop)[cols],
            "stopped_test_loss": history_at(history, "test_loss", stop)[cols],
            "history": {key: values[:, cols] for key, values in history.items()},
        }
    return out


def _interleaved_times(
    functions: dict, *, repeats: int, number: int, rounds: int = 3, clock: str = "cpu"
):
    """Seconds per call of each function: per repeat, ``rounds`` rounds in which every
    function runs ``number`` calls in turn (the order rotating from round to round), and
    the best round kept. Interleaving makes a slow phase of a shared machine hit all of
    them alike; the minimum discards rounds disturbed by other work.

    ``clock="cpu"``: CPU time of this process (all its threads), which does not count the
    time other programs hold the cores, so timings on a busy machine stay comparable;
    ``"wall"``: elapsed time. Returns label -> array (repeats,)."""
    if clock not in ("cpu", "wall"):
        raise ValueError("clock must be 'cpu' or 'wall'")
    now = time.process_time if clock == "cpu" else time.perf_counter
    labels = list(functions)
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # tracing several similar functions on purpose: no warning
    try:
        for fn in functions.values():
            fn()  # compile and warm up
    finally:
        logger.setLevel(level)
    times = {label: [] for label in labels}
    for _ in range(repeats):
        best = dict.fromkeys(labels, np.inf)
        for round_ in range(rounds):
            shift = round_ % len(labels)
            for label in labels[shift:] + labels[:shift]:
                fn = functions[label]
                start = now()
                for _ in range(number):
                    fn()
                best[label] = min(best[label], (now() - start) / number)
        for label in labels:
            times[label].append(best[label])
    return {label: np.array(values) for label, values in times.items()}


def activation_time_per_element(
    activations: dict[str, str] | None = None,
    *,
    elements: int = 1 << 18,
    repeats: int = 7,
    number: int = 5,
) -> dict[str, np.ndarray]:
    """CPU nanoseconds per element for forward + backward of each activation under
    ``tf.function`` on a float32 tensor of ``elements`` values (compiled once; the call
    overhead is spread over a quarter million elements). All activations are timed
    interleaved (see ``_interleaved_times``); returns label -> array (repeats,). Compare
    activations by per-repeat ratios (``relu_course.stats.ratio_interval``)."""
    activations = activations or COST_ACTIVATIONS
    x = tf.random.stateless_normal((elements // 256, 256), seed=(0, 0))
    alpha = tf.fill((1, 256), 0.25)
    functions = {}
    for label, spec in activations.items():

        def forward_backward(x, spec=spec):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = apply_activation(spec, x, alpha)
            return tape.gradient(y, x)

        compiled = tf.function(forward_backward)
        functions[label] = lambda compiled=compiled: compiled(x).numpy()
    seconds = _interleaved_times(functions, repeats=repeats, number=number)
    return {label: 1e9 * values / elements for label, values in seconds.items()}


def _training_step(spec: str, depth: int, width: int, input_dim: int, classes: int, seed: int):
    """A compiled Adam training step of one plain MLP with activation ``spec``."""
    rng = np.random.default_rng(seed)
    sizes = [input_dim] + [width] * depth + [classes]
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append(tf.Variable(rng.uniform(-limit, limit, (fan_in, fan_out)).astype("f4")))
        weights.append(tf.Variable(np.zeros(fan_out, np.float32)))
    alphas = [tf.Variable(tf.fill((width,), 0.25)) for _ in range(depth)]
    variables = weights + (alphas if spec.startswith("prelu") else [])
    optimizer = _ElementwiseOptimizer(variables, [1e-3], "adam", 0.0)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            h = x
            for i in range(depth):
                h = apply_activation(spec, h @ weights[2 * i] + weights[2 * i + 1], alphas[i])
            logits = h @ weights[-2] + weights[-1]
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        optimizer.apply(tape.gradient(loss, variables))
        return loss

    return step


def activation_step_times(
    activations: dict[str, str] | None = None,
    *,
    depth: int = 2,
    width: int = 256,
    batch_size: int = 128,
    input_dim: int = 64,
    classes: int = 10,
    repeats: int = 7,
    number: int = 5,
) -> dict[str, np.ndarray]:
    """CPU seconds per training step (forward, backward and Adam update, compiled with
    ``tf.function``) of a ``depth`` × ``width`` MLP on a batch of ``batch_size``, for each
    activation and for ``"identity"``: the same step with the activation replaced by the
    identity, i.e. what the step would cost if the activation were free. Timed
    interleaved; returns label -> array (repeats,). See :func:`step_share`."""
    activations = activations or COST_ACTIVATIONS
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((batch_size, input_dim)).astype("f4"))
    y = tf.constant(rng.integers(0, classes, batch_size).astype("i4"))
    functions = {}
    for label, spec in {"identity": "linear", **activations}.items():
        step = _training_step(spec, depth, width, input_dim, classes, seed=0)
        functions[label] = lambda step=step: step(x, y).numpy()
    return _interleaved_times(functions, repeats=repeats, number=number)


def step_share(times: dict[str, np.ndarray], label: str) -> stats.Interval:
    """Share of a training step the activation ``label`` accounts for,
    1 − t(identity) / t(activation), from :func:`activation_step_times`: the per-repeat
    time ratios are summarised on the log scale (``ratio_interval``) and mapped to a share
    with its 95% interval. Near 0: a negligible part of the step (it can come out slightly
    negative when the timing noise exceeds the cost)."""
    ratio = stats.ratio_interval(times[label], times["identity"])
    return stats.Interval(
        1.0 - 1.0 / ratio.mean,
        1.0 - 1.0 / ratio.low,
        1.0 - 1.0 / ratio.high,
        ratio.n,
        ratio.p,
        ratio.level,
    )
