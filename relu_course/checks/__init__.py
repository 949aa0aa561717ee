"""Self-checks for every exercise: ``check_<exercise>(candidate)``.

Pass the learner's function or class itself (``check_relu_np(relu_np)``). A check returns
quietly after printing one success line, or raises :class:`CheckFailed` (an
``AssertionError``) whose message says what is wrong, on which input, and a hint.

Each notebook's checks live in their own module and load on first use, so
``import relu_course.checks`` stays cheap.
"""

from __future__ import annotations

import importlib

from relu_course.checks._framework import CheckFailed

# exercise -> module (one module per notebook), in curriculum order.
EXERCISES: dict[str, str] = {
    "add_one": "welcome",
    "relu_np": "relu",
    "relu_tf": "relu",
    "relu_grad": "relu",
    "hat_network": "relu",
    "sigmoid_grad": "vanishing_gradients",
    "tanh_grad": "vanishing_gradients",
    "layer_gradient_norms": "vanishing_gradients",
    "activation_sparsity": "sparsity",
    "relu_activations": "sparsity",
    "hoyer_sparsity": "sparsity",
    "skippable_macs": "sparsity",
    "dead_units": "dead_neurons",
    "dead_fraction": "dead_neurons",
    "leaky_relu": "dead_neurons",
    "DeadUnitMonitor": "dead_neurons",
    "born_dead_probability": "dead_neurons",
    "he_std": "he_init",
    "HeNormalInit": "he_init",
    "propagate_rms": "he_init",
    "batchnorm_forward": "batch_norm",
    "update_moving_average": "batch_norm",
    "bn_relu_block": "batch_norm",
    "summarize_trials": "capstone",
    "differs_beyond_noise": "capstone",
}

__all__ = ["CheckFailed", "EXERCISES", *(f"check_{name}" for name in EXERCISES)]


def __getattr__(attr: str):
    if attr.startswith("check_") and attr[6:] in EXERCISES:
        module = importlib.import_module(f"relu_course.checks.{EXERCISES[attr[6:]]}")
        return getattr(module, attr)
    raise AttributeError(f"module 'relu_course.checks' has no attribute {attr!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
