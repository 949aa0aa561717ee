"""Experiments of notebook 02 (vanishing gradients): gradient norms per layer at init, and
the saturation of a deep sigmoid network's top hidden layer during training.

Introduced in notebook 02.
"""

from __future__ import annotations

import keras
import numpy as np

from relu_course.data import Split
from relu_course.models import build_mlp
from relu_course.probes import dense_layers, gradient_norms, layer_outputs
from relu_course.runtime import set_seed

__all__ = [
    "GLOROT_BENGIO_STANDARD_INIT",
    "SaturationMonitor",
    "gradient_norm_profiles",
    "gradient_ratio",
    "saturation_run",
]

# The "standard" initialization of Glorot & Bengio (2010), eq. 1: W ~ U[-1/sqrt(n), 1/sqrt(n)]
# (n = fan_in), which is VarianceScaling(scale=1/3, fan_in, uniform): limit sqrt(3 * (1/3) / n).
GLOROT_BENGIO_STANDARD_INIT = dict(scale=1.0 / 3.0, mode="fan_in", distribution="uniform")


def gradient_norm_profiles(
    data: Split,
    activations=("sigmoid", "tanh", "relu"),
    *,
    depth: int = 10,
    width: int = 256,
    n_examples: int = 512,
    seed: int = 0,
    kernel_initializer="glorot_uniform",
) -> dict[str, np.ndarray]:
    """Per activation, ‖∂L/∂W‖ of every Dense kernel of a fresh ``depth``×``width`` MLP.

    L is the mean sparse cross-entropy from logits on the first ``n_examples`` training
    examples; the arrays hold ``depth + 1`` norms (hidden layers, then the logits layer),
    input side first. Each activation's model is built from the same seed.
    """
    x = data.x_train[:n_examples]
    y = data.y_train[:n_examples]
    profiles = {}
    for activation in activations:
        set_seed(seed)
        model = build_mlp(
            depth,
            width,
            activation,
            input_dim=data.num_features,
            num_classes=data.num_classes,
            kernel_initializer=kernel_initializer,
        )
        profiles[activation] = gradient_norms(model, x, y)
    return profiles


def gradient_ratio(norms, first: int = 1, last: int | None = None) -> float:
    """‖∇W_first‖ / ‖∇W_last‖ with 1-based layer numbers (``last`` defaults to the last hidden
    layer, i.e. the one before the logits layer)."""
    norms = np.asarray(norms, dtype=np.float64)
    last = len(norms) - 1 if last is None else last
    return float(norms[first - 1] / norms[last - 1])


class SaturationMonitor(keras.callbacks.Callback):
    """Records, before training and after every epoch, the mean output of each hidden
    activation layer on a fixed batch ``x`` (``self.means[name]``: list of floats)."""

    def __init__(self, x, layer_names):
        super().__init__()
        self.x = np.asarray(x)
        self.layer_names = list(layer_names)
        self.means: dict[str, list[float]] = {name: [] for name in self.layer_names}

    def _record(self):
        chosen = [self.model.get_layer(name) for name in self.layer_names]
        for name, a in layer_outputs(self.model, self.x, chosen).items():
            self.means[name].append(float(np.mean(a)))

    def on_train_begin(self, logs=None):
        self._record()

    def on_epoch_end(self, epoch, logs=None):
        self._record()


def saturation_run(
    data: Split,
    activation: str,
    *,
    depth: int = 5,
    width: int = 256,
    epochs: int = 20,
    learning_rate: float = 0.1,
    batch_size: int = 32,
    seed: int = 0,
    kernel_initializer=None,
    progress: str | None = None,
) -> dict[str, np.ndarray]:
    """Train a ``depth``-layer MLP with plain SGD, as Glorot & Bengio (2010) did.

    Weights start from their "standard" init U[−1/√n, 1/√n] unless ``kernel_initializer``
    is given. Returns ``layer_means`` (hidden layers × (epochs + 1)): the mean activation of
    each hidden layer on 300 validation examples before training and after each epoch,
    ``val_accuracy`` and ``loss`` (per epoch).
    """
    from relu_course.training import fit_classifier

    set_seed(seed)
    init = kernel_initializer or keras.initializers.VarianceScaling(
        **GLOROT_BENGIO_STANDARD_INIT, seed=seed
    )
    model = build_mlp(
        depth,
        width,
        activation,
        input_dim=data.num_features,
        num_classes=data.num_classes,
        kernel_initializer=init,
    )
    names = [f"act_{i}" for i in range(1, depth + 1)]
    monitor = SaturationMonitor(data.x_val[:300], names)
    history = fit_classifier(
        model,
        data,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=keras.optimizers.SGD(learning_rate),
        callbacks=[monitor],
        progress=progress,
    )
    assert len(dense_layers(model)) == depth + 1
    return {
        "layer_means": np.array([monitor.means[name] for name in names]),
        "val_accuracy": np.asarray(history.history["val_accuracy"]),
        "loss": np.asarray(history.history["loss"]),
    }
