"""Runners for notebook 07 (capstone): a fair activation ablation and an overfitting demo.

All trainings use the vectorised ensemble of :mod:`relu_course.ensemble` (many small MLPs
trained at once, each exactly as if alone, same seed → same start and batch order for
every activation: a paired design). ``MLPEnsemble``, ``NetSpec``, ``train_ensemble`` and
``hidden_statistics`` are re-exported here for the notebooks that import them from this
module.
"""

from __future__ import annotations

import timeit

import numpy as np
import tensorflow as tf

from relu_course.data import Split
from relu_course.ensemble import (
    MLPEnsemble,
    NetSpec,
    apply_activation,
    hidden_statistics,
    train_ensemble,
)

__all__ = [
    "ABLATION_ACTIVATIONS",
    "MLPEnsemble",
    "hidden_statistics",
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


def activation_cost(spec: str, shape=(2048, 256), repeat: int = 5) -> float:
    """Microseconds for forward + backward of one activation on a float32 tensor (eager,
    best of ``repeat``); compare activations by ratios measured in one process."""
    x = tf.random.normal(shape)
    alpha = tf.fill((1, shape[-1]), 0.25)

    def once():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = apply_activation(spec, x, alpha)
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
    small = Split(
        data.x_train[:train_size],
        data.y_train[:train_size],
        data.x_val,
        data.y_val,
        data.x_test,
        data.y_test,
    )
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
