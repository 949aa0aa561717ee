"""Backpropagation by hand and gradient checking, in NumPy (notebook 01's references).

The layout follows CS231n's layer pairs: a forward function returns its output and a
*cache* of what the backward pass needs; the backward function maps the upstream gradient
``dout`` and the cache to the gradients of the inputs. Shapes: a batch ``x`` of shape
``(n, d)``, weights ``W`` of shape ``(d, m)``, bias ``b`` of shape ``(m,)``.

ReLU's derivative at exactly 0 is taken as 0 (TensorFlow's convention); ``prime_at_zero``
lets notebook 01 measure what the other choice changes. NumPy only (bottom layer).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "dense_relu_backward",
    "dense_relu_forward",
    "numerical_gradient",
    "relative_error",
    "relu_backward",
]


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5):
    """Centred-difference gradient of a scalar function ``f`` at ``x``.

    Each entry is ``(f(x + h·e_i) − f(x − h·e_i)) / (2h)``; its error is O(h²) where ``f``
    is smooth (a one-sided difference's is O(h)). Entries of ``x`` are perturbed in place
    one at a time and put back exactly (the saved value, not ``x_i + h − h``, which need
    not round back to ``x_i``), so ``x`` is unchanged on return.

    Args:
        f: maps an array of ``x``'s shape to a scalar.
        x: float64 array of any shape.
        h: the step.

    Returns:
        float64 array of ``x``'s shape.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = float(f(x))
        x[i] = old - h
        down = float(f(x))
        x[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


def relative_error(a, b) -> float:
    """max over elements of |a − b| / max(1e-8, |a| + |b|) (0 where both are 0)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0 and b.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def dense_relu_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray):
    """``relu(x @ W + b)`` and the cache ``(x, W, b, z)`` with ``z = x @ W + b``.

    Shapes: x (n, d), W (d, m), b (m,) → out (n, m), z (n, m).
    """
    z = x @ W + b
    return np.maximum(z, 0), (x, W, b, z)


def relu_backward(dout: np.ndarray, z: np.ndarray, prime_at_zero: float = 0.0) -> np.ndarray:
    """Gradient through ReLU: ``dout`` where z > 0, ``prime_at_zero·dout`` where z == 0,
    0 where z < 0. The mask comes from the forward input ``z``, not from ``dout``."""
    local = (z > 0).astype(dout.dtype)
    if prime_at_zero:
        local = local + prime_at_zero * (z == 0)
    return dout * local


def dense_relu_backward(dout: np.ndarray, cache: tuple, prime_at_zero: float = 0.0):
    """Gradients of ``dense_relu_forward``: returns ``(dx, dW, db)``.

    Args:
        dout: upstream gradient ∂L/∂out, shape (n, m).
        cache: ``(x, W, b, z)`` from :func:`dense_relu_forward`.
        prime_at_zero: the value used for ReLU′(0) (0, as TensorFlow, by default).

    Returns:
        dx (n, d) = dz @ Wᵀ, dW (d, m) = xᵀ @ dz, db (m,) = dz summed over the batch, where
        dz = dout masked by where z > 0.
    """
    x, W, _, z = cache
    dz = relu_backward(dout, z, prime_at_zero)
    return dz @ W.T, x.T @ dz, dz.sum(axis=0)
