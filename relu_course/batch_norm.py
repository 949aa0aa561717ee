"""NumPy references for batch normalization (notebook 06; bottom layer: NumPy only).

Conventions are Keras's: the training-mode transform normalises over the batch axis with
the *biased* variance (divide by n), eps (default 1e-3) inside the square root; the moving
statistics follow ``moving = momentum · moving + (1 − momentum) · batch_value`` with
momentum 0.99 by default (PyTorch writes the same update with momentum 0.1 weighting the
*new* value, and uses eps 1e-5 and the unbiased variance for its running estimate).
"""

from __future__ import annotations

import numpy as np

__all__ = ["batchnorm_forward", "batchnorm_inference", "update_moving_average"]


def batchnorm_forward(x, gamma, beta, eps: float = 1e-3) -> np.ndarray:
    """Training-mode BN of ``x`` (batch, features) [or (batch, ..., features)] over every axis
    but the last; ``gamma``/``beta`` have shape (features,). Keeps a floating dtype."""
    x = np.asarray(x)
    axes = tuple(range(x.ndim - 1))
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)  # biased (ddof=0), as Keras
    return ((x - mean) / np.sqrt(var + eps) * gamma + beta).astype(x.dtype, copy=False)


def batchnorm_inference(x, gamma, beta, moving_mean, moving_var, eps: float = 1e-3) -> np.ndarray:
    """Inference-mode BN: the stored moving statistics replace the batch's."""
    x = np.asarray(x)
    return ((x - moving_mean) / np.sqrt(moving_var + eps) * gamma + beta).astype(
        x.dtype, copy=False
    )


def update_moving_average(moving, batch_value, momentum: float = 0.99) -> np.ndarray:
    """Keras's update: momentum · moving + (1 − momentum) · batch_value (a new array)."""
    return momentum * np.asarray(moving) + (1.0 - momentum) * np.asarray(batch_value)
