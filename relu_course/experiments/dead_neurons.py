"""Runners for notebook 04 (dead neurons): dead units at init, "kill it, then revive it"."""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from relu_course.data import Split
from relu_course.dead_neurons import DeadFractionMonitor, quiet_input_structure_warning
from relu_course.models import build_mlp
from relu_course.probes import dead_fraction_per_layer, layer_outputs, relu_layers
from relu_course.runtime import set_seed

__all__ = [
    "ReviveConfig",
    "ReviveResult",
    "dead_fraction_at_init",
    "inactive_fraction",
    "kill_and_revive",
    "run_revive",
    "summary_table",
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


def _pre_activation_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """For each ``act_i`` layer of a :func:`build_mlp` model, the layer that feeds it."""
    layers = model.layers
    return [layers[i - 1] for i, layer in enumerate(layers) if layer.name.startswith("act_")]


def inactive_fraction(model: keras.Model, x) -> float:
    """Fraction of hidden units whose pre-activation is ≤ 0 on every example of ``x``.

    For ReLU this is exactly the dead fraction. For leaky ReLU, PReLU and ELU such units are
    *not* dead (a small gradient still flows), but they sit in the negative regime for all
    data: the quantity that is comparable across activations.
    """
    with quiet_input_structure_warning():
        outputs = layer_outputs(model, x, _pre_activation_layers(model))
    masks = [np.all(a <= 0, axis=0) for a in outputs.values()]
    return float(np.mean(np.concatenate(masks)))


@dataclass(frozen=True)
class ReviveConfig:
    """One arm of the kill-and-revive comparison."""

    label: str
    activation: str = "relu"
    learning_rate: float = 3e-2
    batch_norm: str | None = None


@dataclass
class ReviveResult:
    config: ReviveConfig
    seed: int
    inactive: float  # fraction of hidden units ≤ 0 on all training inputs, after training
    val_accuracy: float
    dead_history: list[float] = field(default_factory=list)  # mean dead fraction per epoch


def run_revive(
    config: ReviveConfig,
    data: Split,
    *,
    depth: int = 8,
    width: int = 64,
    epochs: int = 8,
    batch_size: int = 64,
    seed: int = 0,
    monitor_cls=DeadFractionMonitor,
) -> ReviveResult:
    """Train one arm with Adam and He-normal init; measure dead units and accuracy.

    ``monitor_cls(x)`` must be a callback with a ``history`` dict of per-epoch dead
    fractions of every ReLU layer (the learner's ``DeadUnitMonitor`` fits here).
    """
    set_seed(seed)
    model = build_mlp(
        depth,
        width,
        config.activation,
        input_dim=data.num_features,
        num_classes=data.num_classes,
        kernel_initializer="he_normal",
        batch_norm=config.batch_norm,
        name=f"mlp_{depth}x{width}",
    )
    # The learner's monitor only needs to handle models that have ReLU layers.
    monitor = monitor_cls(data.x_train) if relu_layers(model) else None
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    # Tracing the train step costs more than the epochs themselves on these small nets, so
    # validate once, at the end, with a plain forward pass (no second traced function).
    model.fit(
        data.x_train,
        data.y_train,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=[monitor] if monitor else [],
        verbose=0,
    )
    logits = np.asarray(model(data.x_val, training=False))
    val_accuracy = float(np.mean(np.argmax(logits, axis=1) == data.y_val))
    per_epoch = (
        np.mean([monitor.history[k] for k in monitor.history], axis=0).tolist()
        if monitor and monitor.history
        else []
    )
    return ReviveResult(
        config=config,
        seed=seed,
        inactive=inactive_fraction(model, data.x_train),
        val_accuracy=float(val_accuracy),
        dead_history=per_epoch,
    )


def kill_and_revive(
    configs, data: Split, *, seeds=(0,), progress: str | None = None, **kwargs
) -> list[ReviveResult]:
    """:func:`run_revive` for every config and seed, with an optional progress bar."""
    from tqdm.auto import tqdm

    jobs = [(c, s) for c in configs for s in seeds]
    bar = tqdm(jobs, desc=progress, leave=False, disable=progress is None)
    return [run_revive(c, data, seed=s, **kwargs) for c, s in bar]


def summary_table(results: list[ReviveResult]):
    """A pandas DataFrame: one row per arm, means over seeds (and the worst seed if several)."""
    import pandas as pd

    rows = []
    for label in dict.fromkeys(r.config.label for r in results):
        group = [r for r in results if r.config.label == label]
        inactive = np.array([r.inactive for r in group])
        accuracy = np.array([r.val_accuracy for r in group])
        row = {
            "arm": label,
            "learning rate": group[0].config.learning_rate,
            "units ≤ 0 on all data": inactive.mean(),
            "val accuracy": accuracy.mean(),
        }
        if len(group) > 1:
            row["worst seed accuracy"] = accuracy.min()
            row["seeds"] = len(group)
        rows.append(row)
    return pd.DataFrame(rows).set_index("arm")
