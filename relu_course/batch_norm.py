"""NumPy references for batch normalization (notebook 06; bottom layer: NumPy only).

Conventions are Keras's: the training-mode transform normalises over the batch axis with
the *biased* variance (divide by n), eps (default 1e-3) inside the square root; the moving
statistics follow ``moving = momentum · moving + (1 − momentum) · batch_value`` with
momentum 0.99 by default (PyTorch writes the same update with momentum 0.1 weighting the
*new* value, and uses eps 1e-5 and the unbiased variance for its running estimate).

This module is the one NumPy definition of the BN transform, its backward pass and the
inference-time folding of BN into the preceding Dense layer: the checks, the grader's
probes, the runners and the tests all call it.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "batchnorm_backward",
    "batchnorm_forward",
    "batchnorm_inference",
    "fold_batchnorm",
    "update_moving_average",
]


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


def batchnorm_backward(dout, x, gamma, eps: float = 1e-3):
    """Gradients of training-mode BN, y = gamma · x̂ + beta with x̂ = (x − μ)/√(σ² + eps)
    (μ, σ² the batch mean and biased variance of each feature), in the closed form

        dx = gamma / √(σ² + eps) · (dout − mean(dout) − x̂ · mean(dout · x̂)),

    means over the batch axis. ``dout`` and ``x`` are (batch, features), ``gamma``
    (features,). Returns float64 ``(dx, dgamma, dbeta)`` with shapes (batch, features),
    (features,), (features,); beta does not enter any gradient.
    """
    dout = np.asarray(dout, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    gamma = np.asarray(gamma, dtype=np.float64)
    inv_std = 1.0 / np.sqrt(x.var(axis=0) + eps)
    x_hat = (x - x.mean(axis=0)) * inv_std
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = gamma * inv_std * (dout - dout.mean(axis=0) - x_hat * (dout * x_hat).mean(axis=0))
    return dx, dgamma, dbeta


def fold_batchnorm(kernel, bias, gamma, beta, moving_mean, moving_var, eps: float = 1e-3):
    """Fold an inference-mode BN into the Dense layer before it.

    ``kernel`` (fan_in, units), ``bias`` (units,) or None (a Dense without bias), BN
    parameters (units,). Returns ``(kernel', bias')`` such that
    ``x @ kernel' + bias' == batchnorm_inference(x @ kernel + bias, ...)`` for every x:
    each output column is scaled by s = gamma / √(moving_var + eps), and
    bias' = (bias − moving_mean) · s + beta.
    """
    kernel = np.asarray(kernel)
    bias = np.zeros(kernel.shape[1], kernel.dtype) if bias is None else np.asarray(bias)
    scale = np.asarray(gamma) / np.sqrt(np.asarray(moving_var) + eps)
    folded_kernel = (kernel * scale).astype(kernel.dtype, copy=False)
    folded_bias = ((bias - moving_mean) * scale + beta).astype(kernel.dtype, copy=False)
    return folded_kernel, folded_bias
