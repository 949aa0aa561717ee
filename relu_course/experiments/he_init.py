"""Runners for notebook 05 (He initialization): RMS through depth, deep-net training curves
over paired seeds, symmetry (zero and constant init) and the loss at initialization."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np

from relu_course.data import Split
from relu_course.ensemble import MLPEnsemble, NetSpec, train_ensemble
from relu_course.he_init import propagate_rms
from relu_course.models import build_mlp
from relu_course.runtime import set_seed
from relu_course.stats import Interval, mean_interval, paired_difference

__all__ = [
    "InitRuns",
    "init_seed_runs",
    "kernel_ranks",
    "rms_profiles",
    "symmetry_runs",
    "train_deep_mlp",
]


def rms_profiles(
    init_stds: dict[str, Callable[[int], float]],
    depth: int,
    width: int,
    x,
    seed: int = 0,
    propagate=propagate_rms,
) -> dict[str, np.ndarray]:
    """Per-layer output RMS for each named ``fan_in → std`` rule (same seed for each)."""
    return {
        name: np.asarray(propagate(std, depth, width, x, seed=seed), dtype=np.float64)
        for name, std in init_stds.items()
    }


def train_deep_mlp(
    depth: int,
    initializer: keras.initializers.Initializer,
    data: Split,
    *,
    width: int = 128,
    epochs: int = 10,
    learning_rate: float = 0.003,
    momentum: float = 0.9,
    batch_size: int = 64,
    seed: int = 0,
    name: str = "mlp",
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> dict[str, list[float] | float]:
    """Train a ``depth``×``width`` ReLU MLP with SGD + momentum (He et al. 2015's setting).

    Every Dense kernel (hidden and output) starts from ``initializer``; a seeded initializer
    gets a different seed per layer (see :func:`relu_course.models.build_mlp`). ``callbacks``
    go to ``fit`` (e.g. a :class:`relu_course.diagnostics.TrainingDiagnostics`).

    Returns:
        ``{"loss": per-epoch training loss (Keras's mean over the epoch's batches),
        "final_loss": the last epoch's}``. The last epoch's mean is steadier than one
        forward pass at the end, which momentum SGD on a 30-layer net can catch mid-bounce.
    """
    set_seed(seed)
    model = build_mlp(
        depth,
        width,
        "relu",
        input_dim=data.num_features,
        num_classes=data.num_classes,
        kernel_initializer=initializer,
        name=f"{name}_{depth}x{width}",
    )
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate, momentum=momentum), loss=loss_fn)
    history = model.fit(
        data.x_train,
        data.y_train,
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        callbacks=list(callbacks),
    )
    losses = [float(v) for v in history.history["loss"]]
    return {"loss": losses, "final_loss": losses[-1]}


# ---------------------------------------------------------------- paired seeds
@dataclass
class InitRuns:
    """Networks of one depth trained in pairs: seed ``seeds[i]`` gives every initialization
    the same mini-batch order (a paired design; the weights differ by design, since the
    initialization is what is compared).

    ``loss``: training loss after each epoch on the whole training set, per init an array
    (epochs, seeds); ``initial_loss``: per init (seeds,) before any step;
    ``val_accuracy``: per init, after the last epoch (seeds,).
    """

    depth: int
    width: int
    seeds: list[int]
    inits: list[str]
    loss: dict[str, np.ndarray]
    initial_loss: dict[str, np.ndarray]
    val_accuracy: dict[str, np.ndarray]

    def final_loss(self, init: str) -> Interval:
        """Mean over seeds of the last epoch's training loss, with a 95% t interval."""
        return mean_interval(self.loss[init][-1])

    def loss_difference(self, a: str, b: str, epoch: int = -1) -> Interval:
        """Seed-wise training loss of ``a`` minus ``b`` after ``epoch`` (paired interval)."""
        return paired_difference(self.loss[a][epoch], self.loss[b][epoch])


def init_seed_runs(
    data: Split,
    depth: int,
    inits: Sequence[str] = ("glorot_uniform", "he_normal"),
    *,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    width: int = 128,
    epochs: int = 10,
    learning_rate: float = 0.003,
    momentum: float = 0.9,
    batch_size: int = 64,
    progress: str | None = None,
) -> InitRuns:
    """Train a ``depth``×``width`` ReLU MLP (zero biases, every kernel from the init, as
    :func:`train_deep_mlp`) for every (init, seed) as one vectorised ensemble, with SGD +
    momentum (He et al. 2015's optimizer) at ``learning_rate``. Inits are
    :mod:`relu_course.ensemble` names ("glorot_uniform" is Keras's default, "he_normal" the
    untruncated N(0, 2/fan_in) of the paper)."""
    inits, seeds = list(inits), [int(s) for s in seeds]
    specs = [NetSpec("relu", s, init=i, label=i) for i in inits for s in seeds]
    ensemble = MLPEnsemble(
        specs, depth=depth, width=width, input_dim=data.num_features, num_classes=data.num_classes
    )
    initial = ensemble.losses(ensemble.forward(data.x_train), data.y_train).numpy()
    history = train_ensemble(
        ensemble,
        data,
        epochs=epochs,
        optimizer="sgd",
        learning_rate=learning_rate,
        momentum=momentum,
        batch_size=batch_size,
        progress=progress,
    )
    n = len(seeds)
    part = {init: slice(k * n, (k + 1) * n) for k, init in enumerate(inits)}
    return InitRuns(
        depth=depth,
        width=width,
        seeds=seeds,
        inits=inits,
        loss={i: history["loss"][:, p] for i, p in part.items()},
        initial_loss={i: initial[p] for i, p in part.items()},
        val_accuracy={i: history["val_accuracy"][-1, p] for i, p in part.items()},
    )


# ---------------------------------------------------------------- symmetry
def kernel_ranks(kernel: np.ndarray, rtol: float = 1e-4) -> int:
    """Numerical rank of one kernel (fan_in, units): the number of singular values above
    ``rtol`` times the largest (0 for an all-zero matrix). Units that are copies of each
    other are equal columns, so a layer whose units all stayed identical has rank ≤ 1."""
    s = np.linalg.svd(np.asarray(kernel, dtype=np.float64), compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return 0
    return int(np.sum(s > rtol * s[0]))


def symmetry_runs(
    data: Split,
    inits: Sequence[str] = ("zeros", "constant:0.02", "he_normal"),
    *,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    depth: int = 2,
    width: int = 32,
    epochs: int = 5,
    learning_rate: float = 0.003,
    momentum: float = 0.9,
) -> dict[str, dict[str, np.ndarray]]:
    """Train ReLU MLPs (zero biases) from each init for every seed and measure, after
    training, the numerical rank of every hidden kernel (:func:`kernel_ranks`) and the
    largest difference between two units of a hidden layer (columns of its kernel).

    Returns per init: ``ranks`` (seeds, depth), ``spread`` (seeds, depth): max over units of
    ‖W[:, j] − W[:, 0]‖ / ‖W‖ (0: all units identical), ``moved`` (seeds,): ‖W_after −
    W_before‖ of the first kernel (did training change the weights at all?),
    ``val_accuracy`` (seeds,) and ``example_kernel``: the first seed's last hidden kernel.
    """
    inits, seeds = list(inits), [int(s) for s in seeds]
    specs = [NetSpec("relu", s, init=i, label=i) for i in inits for s in seeds]
    ensemble = MLPEnsemble(
        specs, depth=depth, width=width, input_dim=data.num_features, num_classes=data.num_classes
    )
    before = np.asarray(ensemble.kernels[0]).copy()
    history = train_ensemble(
        ensemble,
        data,
        epochs=epochs,
        optimizer="sgd",
        learning_rate=learning_rate,
        momentum=momentum,
    )
    kernels = [np.asarray(k) for k in ensemble.kernels[:depth]]  # hidden layers only
    n = len(seeds)
    out = {}
    for k, init in enumerate(inits):
        nets = range(k * n, (k + 1) * n)
        ranks = np.array([[kernel_ranks(w[i]) for w in kernels] for i in nets])
        spread = np.array(
            [
                [
                    float(
                        np.max(np.linalg.norm(w[i] - w[i][:, :1], axis=0))
                        / max(np.linalg.norm(w[i]), 1e-30)
                    )
                    for w in kernels
                ]
                for i in nets
            ]
        )
        moved = np.array([float(np.linalg.norm(kernels[0][i] - before[i])) for i in nets])
        out[init] = {
            "ranks": ranks,
            "spread": spread,
            "moved": moved,
            "val_accuracy": history["val_accuracy"][-1, list(nets)],
            "example_kernel": kernels[-1][k * n],
        }
    return out
