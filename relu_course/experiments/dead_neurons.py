"""Runners for notebook 04 (dead neurons).

* :func:`dead_fraction_at_init` — dead units of fresh wide vs narrow-deep ReLU MLPs;
* :func:`kill_and_revive` — a high learning rate kills ReLU units; which remedy keeps them
  alive, and does accuracy come back? One vectorised ensemble (:mod:`relu_course.ensemble`),
  every arm trained from the same seeds (same initial weights, same batch order): paired;
* :func:`revive_comparisons` — seed-wise differences with 95% intervals and Holm's
  correction, and the verdicts drawn from them;
* :func:`noisy_label_ablation` — ReLU vs leaky ReLU vs PReLU when a fraction of the
  training labels is flipped, test accuracy on clean labels (paired seeds and flips);
* :func:`watch_training` — one Keras run watched by the training diagnostics (and the
  learner's ``DeadUnitMonitor``), to see units die as it happens.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from relu_course.data import Split
from relu_course.dead_neurons import quiet_input_structure_warning
from relu_course.diagnostics import TrainingDiagnostics, update_to_data_ratio
from relu_course.ensemble import MLPEnsemble, NetSpec, hidden_statistics, train_ensemble
from relu_course.models import build_mlp
from relu_course.probes import dead_fraction_per_layer
from relu_course.runtime import set_seed
from relu_course.stats import Interval, holm, paired_difference

__all__ = [
    "DEAD_RELU",
    "HEALTHY_RELU",
    "NOISY_ACTIVATIONS",
    "REVIVE_ARMS",
    "NoisyLabelResult",
    "ReviveResult",
    "dead_fraction_at_init",
    "flip_labels",
    "kill_and_revive",
    "noisy_label_ablation",
    "noisy_label_comparisons",
    "revive_comparisons",
    "watch_training",
]


def dead_fraction_at_init(depth: int, width: int, x, *, seeds=range(5)) -> np.ndarray:
    """Per seed, the fraction of dead hidden units of a fresh He-normal ReLU MLP on ``x``.

    All hidden units of all layers count together. With zero biases a layer whose input is
    all-zero outputs all-zero, so one dead layer kills every layer after it.
    """
    x = np.asarray(x, dtype=np.float32)
    out = []
    for seed in seeds:
        set_seed(seed)
        model = build_mlp(
            depth,
            width,
            "relu",
            input_dim=x.shape[1],
            kernel_initializer="he_normal",
            name=f"mlp_{depth}x{width}",
        )
        with quiet_input_structure_warning():
            fractions = dead_fraction_per_layer(model, x)
        out.append(float(np.mean(list(fractions.values()))))
    return np.array(out)


# ---------------------------------------------------------------------- kill and revive
DEAD_RELU = "ReLU, lr 3e-2"
HEALTHY_RELU = "ReLU, lr 1e-3"

# label -> NetSpec fields; every arm trains at the high learning rate unless it says not
REVIVE_ARMS: dict[str, dict] = {
    DEAD_RELU: {},
    HEALTHY_RELU: {"learning_rate": 1e-3},
    "BN + ReLU": {"batch_norm": "before"},
    "LeakyReLU 0.01": {"activation": "leaky_relu:0.01"},
    "LeakyReLU 0.2": {"activation": "leaky_relu:0.2"},
    "PReLU (α₀ 0.25)": {"activation": "prelu:0.25"},
    "ELU": {"activation": "elu"},
}


@dataclass
class ReviveResult:
    """Per arm (label), arrays over ``seeds`` (same order in every arm: paired)."""

    seeds: tuple[int, ...]
    learning_rate: float
    epochs: int
    inactive: dict[str, np.ndarray]  # hidden units with pre-activation <= 0 on all training data
    zeros: dict[str, np.ndarray]  # fraction of exact-zero hidden activations
    val_accuracy: dict[str, np.ndarray]  # after the last epoch (no selection on validation)
    val_accuracy_per_epoch: dict[str, np.ndarray]  # (epochs, seeds)

    @property
    def arms(self) -> list[str]:
        return list(self.inactive)


def kill_and_revive(
    data: Split,
    *,
    arms: dict[str, dict] | None = None,
    seeds=range(5),
    learning_rate: float = 3e-2,
    epochs: int = 6,
    depth: int = 8,
    width: int = 64,
    batch_size: int = 64,
    progress: str | None = None,
) -> ReviveResult:
    """Train every arm × seed at once with Adam, He-normal init (untruncated N(0, 2/fan_in)).

    ``arms`` maps a label to :class:`~relu_course.ensemble.NetSpec` fields (default
    :data:`REVIVE_ARMS`); networks without their own ``learning_rate`` use
    ``learning_rate``. Dead/inactive fractions are measured on the training inputs after
    the last epoch, accuracy on the validation part at the last epoch.
    """
    arms = dict(REVIVE_ARMS if arms is None else arms)
    seeds = tuple(int(s) for s in seeds)
    specs = [
        NetSpec(**{"init": "he_normal", **fields}, seed=seed, label=label)
        for label, fields in arms.items()
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
        progress=progress,
    )
    zeros, inactive = hidden_statistics(ensemble, data.x_train)
    k = len(seeds)
    blocks = {label: slice(i * k, (i + 1) * k) for i, label in enumerate(arms)}
    return ReviveResult(
        seeds=seeds,
        learning_rate=learning_rate,
        epochs=epochs,
        inactive={label: inactive[s] for label, s in blocks.items()},
        zeros={label: zeros[s] for label, s in blocks.items()},
        val_accuracy={label: history["val_accuracy"][-1, s] for label, s in blocks.items()},
        val_accuracy_per_epoch={
            label: history["val_accuracy"][:, s] for label, s in blocks.items()
        },
    )


def _accuracy_verdict(gain: Interval, rejected: bool, to_healthy: Interval, margin: float) -> str:
    if rejected and gain.mean < 0:
        return "worse than the dead ReLU net"
    if not rejected:
        return "no detectable change"
    if to_healthy.low > -margin:
        return f"recovers (within {margin:.0%} of ReLU at the low learning rate)"
    return "partly: better than the dead net, not as good as the low learning rate"


def revive_comparisons(result: ReviveResult, *, margin: float = 0.02, alpha: float = 0.05):
    """One row per remedy: paired differences against the dead ReLU arm and the healthy one.

    Columns: mean inactive fraction and accuracy; ``Δ stuck`` (inactive fraction minus the
    dead ReLU's, 95% CI); ``Δ accuracy`` (accuracy minus the dead ReLU's, 95% CI, paired
    t-test p, Holm-corrected decision across the remedies at ``alpha``); ``vs low lr``
    (accuracy minus ReLU at the low learning rate, 95% CI); and two verdicts: ``keeps units
    alive`` (the Δ stuck interval lies below 0) and ``accuracy`` (better than the dead net by
    Holm, and recovered if the interval against the low learning rate lies above
    −``margin``, a margin fixed before the run).

    Returns a pandas DataFrame indexed by arm (the dead ReLU arm itself excluded).
    """
    import pandas as pd

    remedies = [a for a in result.arms if a != DEAD_RELU]
    dead_acc, dead_stuck = result.val_accuracy[DEAD_RELU], result.inactive[DEAD_RELU]
    healthy_acc = result.val_accuracy[HEALTHY_RELU]
    gains = {a: paired_difference(result.val_accuracy[a], dead_acc) for a in remedies}
    rejected = dict(zip(remedies, holm([gains[a].p for a in remedies], alpha), strict=True))
    rows = []
    for arm in remedies:
        stuck = paired_difference(result.inactive[arm], dead_stuck)
        to_healthy = paired_difference(result.val_accuracy[arm], healthy_acc)
        gain = gains[arm]
        rows.append(
            {
                "arm": arm,
                "stuck ≤ 0": result.inactive[arm].mean(),
                "accuracy": result.val_accuracy[arm].mean(),
                "Δ stuck": stuck.mean,
                "Δ stuck CI": _fmt_ci(stuck),
                "Δ accuracy": gain.mean,
                "Δ accuracy CI": _fmt_ci(gain),
                "p": gain.p,
                "Holm": bool(rejected[arm]),
                "vs low lr": to_healthy.mean if arm != HEALTHY_RELU else np.nan,
                "vs low lr CI": _fmt_ci(to_healthy) if arm != HEALTHY_RELU else "",
                "keeps units alive": bool(stuck.high < 0),
                "accuracy verdict": "the reference"
                if arm == HEALTHY_RELU
                else _accuracy_verdict(gain, rejected[arm], to_healthy, margin),
            }
        )
    return pd.DataFrame(rows).set_index("arm")


def _fmt_ci(interval: Interval) -> str:
    if not np.isfinite(interval.low):
        return "n/a"
    return f"[{interval.low:+.3f}, {interval.high:+.3f}]"


# ---------------------------------------------------------------------- noisy labels
NOISY_ACTIVATIONS: dict[str, str] = {
    "ReLU": "relu",
    "LeakyReLU 0.01": "leaky_relu:0.01",
    "PReLU": "prelu:0.25",
}


def flip_labels(
    y: np.ndarray, fraction: float, num_classes: int, rng: np.random.Generator
) -> np.ndarray:
    """A copy of ``y`` with ``round(fraction · n)`` labels, chosen at random, replaced by a
    *different* class drawn uniformly from the other ``num_classes − 1``."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must be in [0, 1]")
    y = np.asarray(y).copy()
    k = int(round(fraction * len(y)))
    index = rng.choice(len(y), size=k, replace=False)
    y[index] = (y[index] + rng.integers(1, num_classes, size=k)) % num_classes
    return y


@dataclass
class NoisyLabelResult:
    """``test_accuracy[(activation label, noise)]``: arrays over ``seeds`` (paired: the same
    seed has the same initial weights, batch order and flipped labels in every activation);
    ``*_per_epoch``: (epochs, seeds)."""

    seeds: tuple[int, ...]
    noise: tuple[float, ...]
    activations: tuple[str, ...]
    test_accuracy: dict[tuple[str, float], np.ndarray]
    test_accuracy_per_epoch: dict[tuple[str, float], np.ndarray]


def noisy_label_ablation(
    data: Split,
    *,
    noise=(0.0, 0.2, 0.4),
    activations: dict[str, str] | None = None,
    seeds=range(5),
    depth: int = 2,
    width: int = 64,
    epochs: int = 20,
    learning_rate: float = 3e-3,
    batch_size: int = 64,
    progress: str | None = None,
) -> NoisyLabelResult:
    """Each activation × noise level × seed trained at once with Adam on labels of which a
    fraction ``noise`` is flipped (:func:`flip_labels`, drawn from ``10_000 + seed``), for a
    fixed budget of ``epochs``; test accuracy on the clean held-out test part at the last
    epoch (``data`` needs a test part; nothing is selected on it).
    """
    if data.x_test is None:
        raise ValueError("noisy_label_ablation needs a Split with a test part")
    activations = dict(NOISY_ACTIVATIONS if activations is None else activations)
    noise, seeds = tuple(float(p) for p in noise), tuple(int(s) for s in seeds)
    specs, labels, keys = [], [], []
    for label, activation in activations.items():
        for p in noise:
            keys.append((label, p))
            for seed in seeds:
                rng = np.random.default_rng(10_000 + seed)
                labels.append(flip_labels(data.y_train, p, data.num_classes, rng))
                specs.append(NetSpec(activation=activation, seed=seed, init="he_normal"))
    ensemble = MLPEnsemble(
        specs, depth=depth, width=width, input_dim=data.num_features, num_classes=data.num_classes
    )
    history = train_ensemble(
        ensemble,
        data,
        epochs=epochs,
        learning_rate=learning_rate,
        batch_size=batch_size,
        y_train=np.stack(labels),
        evaluate_train=False,
        progress=progress,
    )
    k = len(seeds)
    per_epoch = {
        key: history["test_accuracy"][:, i * k : (i + 1) * k] for i, key in enumerate(keys)
    }
    return NoisyLabelResult(
        seeds=seeds,
        noise=noise,
        activations=tuple(activations),
        test_accuracy={key: values[-1] for key, values in per_epoch.items()},
        test_accuracy_per_epoch=per_epoch,
    )


def noisy_label_comparisons(
    result: NoisyLabelResult, *, baseline: str = "ReLU", margin: float = 0.02, alpha: float = 0.05
):
    """One row per (activation, noise) other than ``baseline``: test accuracy minus the
    baseline's at the same noise and seed, 95% CI, paired t p-value, Holm's decision across
    all rows, and a verdict: "gain"/"loss" (Holm), "equivalent within ±margin" (the CI lies
    inside the margin fixed before the run) or "inconclusive"."""
    import pandas as pd

    from relu_course.stats import equivalent

    rows, intervals = [], []
    for label in result.activations:
        if label == baseline:
            continue
        for p in result.noise:
            interval = paired_difference(
                result.test_accuracy[(label, p)], result.test_accuracy[(baseline, p)]
            )
            intervals.append(interval)
            rows.append({"activation": label, "noise": p, "interval": interval})
    decisions = holm([i.p for i in intervals], alpha)
    table = []
    for row, interval, rejected in zip(rows, intervals, decisions, strict=True):
        if rejected:
            verdict = "gain" if interval.mean > 0 else "loss"
        elif equivalent(interval, margin):
            verdict = f"equivalent within ±{margin:.0%}"
        else:
            verdict = "inconclusive"
        table.append(
            {
                "activation": row["activation"],
                "noise": row["noise"],
                f"{baseline} accuracy": result.test_accuracy[(baseline, row["noise"])].mean(),
                "accuracy": result.test_accuracy[(row["activation"], row["noise"])].mean(),
                "difference": interval.mean,
                "95% CI": _fmt_ci(interval),
                "p": interval.p,
                "Holm": bool(rejected),
                "verdict": verdict,
                "_interval": interval,
            }
        )
    return pd.DataFrame(table).set_index(["activation", "noise"])


# ---------------------------------------------------------------------- watching one run
def watch_training(
    data: Split,
    *,
    learning_rate: float,
    epochs: int = 2,
    depth: int = 8,
    width: int = 64,
    batch_size: int = 64,
    seed: int = 0,
    probe_examples: int = 256,
    snapshot_steps=(0, 3, 40),
    monitor_cls=None,
    ratio=update_to_data_ratio,
):
    """Train one He-normal ReLU MLP with Keras's Adam, watched every step by
    :class:`~relu_course.diagnostics.TrainingDiagnostics` (on the first ``probe_examples``
    training examples, with ``ratio`` for the update-to-data ratio) and, if given, by
    ``monitor_cls(x_probe)`` (the learner's ``DeadUnitMonitor``) at each epoch end.

    Trains on the largest multiple of ``batch_size`` training examples (whole batches).
    Returns ``(diagnostics, monitor or None, validation accuracy after the last epoch)``.
    """
    set_seed(seed)
    model = build_mlp(
        depth,
        width,
        "relu",
        input_dim=data.num_features,
        num_classes=data.num_classes,
        kernel_initializer="he_normal",
        name=f"watched_{depth}x{width}",
    )
    x_probe = data.x_train[:probe_examples]
    diagnostics = TrainingDiagnostics(
        x_probe, data.y_train[:probe_examples], snapshot_steps=snapshot_steps, ratio=ratio
    )
    monitor = monitor_cls(x_probe) if monitor_cls is not None else None
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    # whole batches only: a last, smaller batch would make Keras trace its train step twice
    n = len(data.x_train) - len(data.x_train) % batch_size or len(data.x_train)
    with quiet_input_structure_warning():
        model.fit(
            data.x_train[:n],
            data.y_train[:n],
            epochs=epochs,
            batch_size=batch_size,
            callbacks=[diagnostics] + ([monitor] if monitor is not None else []),
            verbose=0,
        )
    logits = np.asarray(model(data.x_val, training=False))
    accuracy = float(np.mean(np.argmax(logits, axis=1) == data.y_val))
    return diagnostics, monitor, accuracy
