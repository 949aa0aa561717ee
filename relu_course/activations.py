"""NumPy reference activations and their derivatives (the bottom layer: NumPy only).

Every function takes an array-like ``x`` of any shape and returns a new array of the same
shape; floating inputs keep their dtype. Inputs are never modified. Derivatives follow
TensorFlow's autodiff conventions at the kinks: ``relu'(0) = 0`` and
``leaky_relu'(0) = negative_slope``.

Introduced in notebook 01 (ReLU, sigmoid, tanh, softplus) and used again in 02 and 04.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "DERIVATIVES",
    "elu",
    "elu_grad",
    "gelu",
    "gelu_grad",
    "leaky_relu",
    "leaky_relu_grad",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softplus",
    "softplus_grad",
    "tanh",
    "tanh_grad",
]


def _float(x) -> np.ndarray:
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def relu(x):
    """max(0, x) elementwise; keeps the dtype (integers included)."""
    x = np.asarray(x)
    return np.maximum(x, np.zeros((), dtype=x.dtype))


def relu_grad(x):
    """1 where x > 0, 0 elsewhere (0 at exactly 0, as TensorFlow's autodiff)."""
    x = _float(x)
    return (x > 0).astype(x.dtype)


def leaky_relu(x, negative_slope: float = 0.01):
    """x for x > 0, negative_slope * x otherwise (Maas et al. 2013 used 0.01)."""
    x = _float(x)
    return np.where(x > 0, x, x * x.dtype.type(negative_slope))


def leaky_relu_grad(x, negative_slope: float = 0.01):
    """1 for x > 0, negative_slope otherwise (at 0 too, as TensorFlow)."""
    x = _float(x)
    return np.where(x > 0, x.dtype.type(1), x.dtype.type(negative_slope))


def elu(x, alpha: float = 1.0):
    """x for x > 0, alpha * (exp(x) - 1) otherwise (Clevert et al. 2015)."""
    x = _float(x)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype)


def elu_grad(x, alpha: float = 1.0):
    """1 for x > 0, alpha * exp(x) otherwise."""
    x = _float(x)
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0))).astype(x.dtype)


def softplus(x):
    """log(1 + exp(x)), computed without overflow: a smooth ReLU."""
    x = _float(x)
    return np.logaddexp(np.zeros((), x.dtype), x).astype(x.dtype)


def softplus_grad(x):
    """The derivative of softplus is the logistic sigmoid."""
    return sigmoid(x)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow."""
    x = _float(x)
    out = np.empty_like(x)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    e = np.exp(x[~positive])
    out[~positive] = e / (1.0 + e)
    return out


def sigmoid_grad(x):
    """sigmoid(x) * (1 - sigmoid(x)); at most 1/4, reached at x = 0."""
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x):
    """Hyperbolic tangent."""
    return np.tanh(_float(x))


def tanh_grad(x):
    """1 - tanh(x)**2; at most 1, reached at x = 0."""
    t = np.tanh(_float(x))
    return 1 - t * t


def gelu(x):
    """Exact GELU, x * Phi(x) (Hendrycks & Gimpel 2016)."""
    x = _float(x)
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return (x * 0.5 * (1.0 + erf(x / math.sqrt(2.0)))).astype(x.dtype)


def gelu_grad(x):
    """Phi(x) + x * phi(x)."""
    x = _float(x)
    erf = np.vectorize(math.erf, otypes=[np.float64])
    cdf = 0.5 * (1.0 + erf(x / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * x.astype(np.float64) ** 2) / math.sqrt(2 * math.pi)
    return (cdf + x * pdf).astype(x.dtype)


ACTIVATIONS = {
    "relu": relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "gelu": gelu,
    "softplus": softplus,
    "sigmoid": sigmoid,
    "tanh": tanh,
}

DERIVATIVES = {
    "relu": relu_grad,
    "leaky_relu": leaky_relu_grad,
    "elu": elu_grad,
    "gelu": gelu_grad,
    "softplus": softplus_grad,
    "sigmoid": sigmoid_grad,
    "tanh": tanh_grad,
}
