"""Training helpers shared by the notebooks (Keras adapter layer)."""

from __future__ import annotations

import keras
import numpy as np

from relu_course.data import Split

__all__ = ["epochs_to_reach", "fit_classifier", "progress_bar"]


def progress_bar(epochs: int, description: str = "") -> keras.callbacks.Callback:
    """A tqdm progress bar over epochs (nbval-safe: no ANSI Keras progress bars)."""
    from tqdm.keras import TqdmCallback

    return TqdmCallback(epochs=epochs, verbose=0, desc=description, leave=False)


def fit_classifier(
    model: keras.Model,
    data: Split,
    *,
    epochs: int,
    optimizer: keras.optimizers.Optimizer | str = "adam",
    batch_size: int = 64,
    callbacks: list[keras.callbacks.Callback] | None = None,
    progress: str | None = None,
    shuffle: bool = True,
) -> keras.callbacks.History:
    """Compile with sparse CE from logits + accuracy, fit on ``data``, validate each epoch.

    ``progress`` (a description) shows a progress bar over epochs. ``verbose=0`` always:
    Keras's own progress bars break nbval.
    """
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    callbacks = list(callbacks or [])
    if progress is not None:
        callbacks.append(progress_bar(epochs, progress))
    return model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=shuffle,
        callbacks=callbacks,
        verbose=0,
    )


def epochs_to_reach(values, threshold: float) -> float:
    """1-based index of the first epoch whose value is ≥ threshold; inf if never reached."""
    values = np.asarray(values, dtype=np.float64)
    hits = np.flatnonzero(values >= threshold)
    return float(hits[0] + 1) if hits.size else float("inf")
