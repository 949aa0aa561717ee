"""References for notebook 08 (after ReLU): GELU, SiLU/Swish and the SwiGLU layer.

NumPy functions compute in float64 and return the input's float dtype; they are what the
checks compare learners' TensorFlow code with. :class:`SwiGLUReference` is the Keras layer
the experiments and the checks build on.

* GELU (Hendrycks & Gimpel 2016): ``x·Φ(x)`` with Φ the standard normal CDF, or the tanh
  approximation ``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))``; the two differ by at most
  :data:`GELU_APPROXIMATION_GAP` (≈ 4.7e-4, at |x| ≈ 2.7).
* SiLU (Elfwing et al. 2018), called Swish by Ramachandran et al. (2017) who added a
  slope: ``x·σ(βx)``; β = 1 is SiLU, β → ∞ tends to ReLU, β = 0 gives x/2.
* SwiGLU (Shazeer 2020): ``(silu(x·W) ⊙ (x·V))·W₂`` without biases; the SiLU "gate" acts
  on the ``x·W`` branch and multiplies the linear ``x·V`` branch elementwise.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from scipy import special

__all__ = [
    "GELU_APPROXIMATION_GAP",
    "GELU_TANH_COEFFICIENT",
    "SQRT_2_OVER_PI",
    "SwiGLUReference",
    "gelu_grad_np",
    "gelu_np",
    "mlp_parameter_count",
    "silu_grad_np",
    "silu_np",
    "swiglu_hidden_units",
    "swiglu_np",
    "swiglu_parameter_count",
]

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_TANH_COEFFICIENT = 0.044715


def _float(x) -> np.ndarray:
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _tanh_argument(x: np.ndarray) -> np.ndarray:
    return SQRT_2_OVER_PI * (x + GELU_TANH_COEFFICIENT * x**3)


def gelu_np(x, approximate: bool = False) -> np.ndarray:
    """GELU of an array of any shape, computed in float64, returned in ``x``'s float dtype.

    Exact: ``x·Φ(x) = 0.5·x·erfc(−x/√2)`` (erfc keeps the far negative tail accurate).
    ``approximate=True``: the tanh form of Hendrycks & Gimpel (2016).
    """
    x = _float(x)
    z = x.astype(np.float64)
    if approximate:
        out = 0.5 * z * (1.0 + np.tanh(_tanh_argument(z)))
    else:
        out = 0.5 * z * special.erfc(-z / math.sqrt(2.0))
    return out.astype(x.dtype)


def gelu_grad_np(x, approximate: bool = False) -> np.ndarray:
    """dGELU/dx: ``Φ(x) + x·φ(x)`` (exact) or the derivative of the tanh form."""
    x = _float(x)
    z = x.astype(np.float64)
    if approximate:
        t = np.tanh(_tanh_argument(z))
        inner = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_COEFFICIENT * z**2)
        out = 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * inner
    else:
        out = 0.5 * special.erfc(-z / math.sqrt(2.0)) + z * np.exp(-0.5 * z * z) / math.sqrt(
            2.0 * math.pi
        )
    return out.astype(x.dtype)


# Largest |exact − tanh-approximate| over the real line, computed once on a fine grid.
_GRID = np.linspace(-8.0, 8.0, 160_001)
GELU_APPROXIMATION_GAP = float(np.max(np.abs(gelu_np(_GRID) - gelu_np(_GRID, approximate=True))))
del _GRID


def silu_np(x, beta: float = 1.0) -> np.ndarray:
    """``x·σ(βx)`` in float64 (``scipy.special.expit``: no overflow), in ``x``'s dtype."""
    x = _float(x)
    z = x.astype(np.float64)
    return (z * special.expit(float(beta) * z)).astype(x.dtype)


def silu_grad_np(x, beta: float = 1.0) -> np.ndarray:
    """d(x·σ(βx))/dx = σ(βx) + βx·σ(βx)·(1 − σ(βx))."""
    x = _float(x)
    z = x.astype(np.float64)
    s = special.expit(float(beta) * z)
    return (s + float(beta) * z * s * (1.0 - s)).astype(x.dtype)


def swiglu_np(x, w, v, w2) -> np.ndarray:
    """``(silu(x·W) ⊙ (x·V))·W₂`` in float64: ``x`` (batch, d), ``w``, ``v`` (d, hidden),
    ``w2`` (hidden, out) → (batch, out)."""
    x, w, v, w2 = (np.asarray(a, dtype=np.float64) for a in (x, w, v, w2))
    return (silu_np(x @ w) * (x @ v)) @ w2


def mlp_parameter_count(input_dim: int, width: int, output_dim: int, depth: int = 1) -> int:
    """Weights and biases of an MLP with ``depth`` hidden Dense layers of ``width`` units."""
    sizes = [input_dim] + [width] * depth + [output_dim]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def swiglu_parameter_count(input_dim: int, hidden_units: int, output_dim: int) -> int:
    """Weights of a bias-free SwiGLU layer: W and V (input_dim, hidden), W₂ (hidden, out)."""
    return hidden_units * (2 * input_dim + output_dim)


def swiglu_hidden_units(parameters: int, input_dim: int, output_dim: int) -> int:
    """The hidden width whose SwiGLU parameter count is closest to ``parameters``.

    A SwiGLU has three weight matrices where a one-hidden-layer MLP has two, so at equal
    parameters it gets a narrower hidden layer (Shazeer 2020 shrinks d_ff by 2/3 for
    the same reason).
    """
    per_unit = 2 * input_dim + output_dim
    low = max(1, parameters // per_unit)
    return min(
        (low, low + 1),
        key=lambda h: abs(swiglu_parameter_count(input_dim, h, output_dim) - parameters),
    )


class SwiGLUReference(keras.layers.Layer):
    """The reference SwiGLU layer: ``(silu(x·W) ⊙ (x·V))·W₂``, no biases (Shazeer 2020).

    Input (batch, d) → output (batch, output_units). ``weights`` are [W (d, hidden),
    V (d, hidden), W₂ (hidden, output_units)], Glorot-uniform as Keras's ``Dense``.
    """

    def __init__(self, hidden_units: int, output_units: int, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = int(hidden_units)
        self.output_units = int(output_units)

    def build(self, input_shape):
        d = int(input_shape[-1])
        self.w = self.add_weight(
            shape=(d, self.hidden_units), initializer="glorot_uniform", name="w"
        )
        self.v = self.add_weight(
            shape=(d, self.hidden_units), initializer="glorot_uniform", name="v"
        )
        self.w2 = self.add_weight(
            shape=(self.hidden_units, self.output_units), initializer="glorot_uniform", name="w2"
        )

    def call(self, x):
        return tf.matmul(tf.nn.silu(tf.matmul(x, self.w)) * tf.matmul(x, self.v), self.w2)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_units)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_units": self.hidden_units,
            "output_units": self.output_units,
        }
