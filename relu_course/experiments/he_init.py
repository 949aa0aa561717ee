"""Runners for notebook 05 (He initialization): RMS through depth, deep-net training curves."""

from __future__ import annotations

import re
from collections.abc import Callable

import keras
import numpy as np

from relu_course.data import Split
from relu_course.init import propagate_rms
from relu_course.models import build_mlp
from relu_course.runtime import set_seed

__all__ = ["depth_comparison", "rms_profiles", "train_deep_mlp"]


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
) -> dict[str, list[float] | float]:
    """Train a ``depth``×``width`` ReLU MLP with SGD + momentum (He et al. 2015's setting).

    Every Dense kernel (hidden and output) starts from ``initializer``; a seeded initializer
    gets a different seed per layer (see :func:`relu_course.models.build_mlp`).

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
    history = model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=batch_size, verbose=0)
    losses = [float(v) for v in history.history["loss"]]
    return {"loss": losses, "final_loss": losses[-1]}


def depth_comparison(
    depths,
    initializers: dict[str, Callable[[int], keras.initializers.Initializer]],
    data: Split,
    *,
    progress: str | None = None,
    seed: int = 0,
    **kwargs,
) -> dict[tuple[int, str], dict]:
    """:func:`train_deep_mlp` for every depth and named initializer factory (seed → init)."""
    from tqdm.auto import tqdm

    jobs = [(d, name) for d in depths for name in initializers]
    bar = tqdm(jobs, desc=progress, leave=False, disable=progress is None)
    return {
        (d, name): train_deep_mlp(
            d,
            initializers[name](seed * 1000 + 1),
            data,
            seed=seed,
            name=re.sub(r"\W+", "_", name).strip("_"),
            **kwargs,
        )
        for d, name in bar
    }
