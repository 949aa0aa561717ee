"""Weight initialization for ReLU nets: the variance argument and its references (notebook 05).

For a bias-free layer yₗ = Wₗ xₗ with i.i.d. zero-mean weights,
Var[yₗ] = nₗ · Var[wₗ] · E[xₗ²], and after a ReLU of a symmetric pre-activation
E[x²ₗ₊₁] = Var[yₗ] / 2. Keeping the signal's scale constant needs nₗ Var[wₗ] = 2, i.e.
std = √(2 / fan_in) (He, Zhang, Ren & Sun 2015). Glorot & Bengio 2010 balanced fan-in
and fan-out for symmetric activations: std = √(2 / (fan_in + fan_out)), which for square
ReLU layers halves the signal's second moment at every layer.

NumPy maths first (:func:`he_std`, :func:`xavier_std`, :func:`propagate_rms`,
:func:`rms_theory`), then the Keras adapter :class:`UntruncatedHeNormal`.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

__all__ = [
    "UntruncatedHeNormal",
    "expected_initial_loss",
    "keras_truncation_cutoff",
    "he_std",
    "propagate_rms",
    "rms",
    "rms_theory",
    "small_normal_std",
    "tail_mass",
    "excess_kurtosis",
    "xavier_std",
    "zero_std",
]


def he_std(fan_in: int) -> float:
    """√(2 / fan_in): the He et al. (2015) standard deviation for ReLU layers."""
    return float(np.sqrt(2.0 / fan_in))


def xavier_std(fan_in: int, fan_out: int | None = None) -> float:
    """Glorot & Bengio's √(2 / (fan_in + fan_out)); square layers (fan_out = fan_in) by default."""
    fan_out = fan_in if fan_out is None else fan_out
    return float(np.sqrt(2.0 / (fan_in + fan_out)))


def small_normal_std(fan_in: int) -> float:
    """A fixed 0.01, the "small random numbers" habit from before 2010."""
    return 0.01


def zero_std(fan_in: int) -> float:
    """All-zero weights."""
    return 0.0


def rms(a) -> float:
    """Root mean square of all entries, √mean(a²) (not the standard deviation)."""
    a = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.mean(a * a)))


def propagate_rms(
    init_std: Callable[[int], float], depth: int, width: int, x, seed: int = 0
) -> np.ndarray:
    """RMS of each layer's output when ``x`` goes through ``depth`` bias-free ReLU layers.

    Layer l has a fresh weight matrix of shape (fan_in, width) drawn from
    N(0, init_std(fan_in)²), fan_in = x.shape[1] for the first layer and ``width`` after.

    Args:
        init_std: fan_in → standard deviation.
        x: inputs, shape (examples, features).
        seed: seeds a NumPy Generator; the same seed gives the same result.

    Returns:
        float64 array of shape (depth,): √mean(h_l²) of each layer's ReLU output.
    """
    rng = np.random.default_rng(seed)
    h = np.asarray(x, dtype=np.float64)
    out = np.empty(depth, dtype=np.float64)
    for layer in range(depth):
        fan_in = h.shape[1]
        w = rng.standard_normal((fan_in, width)) * init_std(fan_in)
        h = np.maximum(h @ w, 0.0)
        out[layer] = rms(h)
    return out


def rms_theory(init_std: Callable[[int], float], depth: int, width: int, x) -> np.ndarray:
    """Expected RMS per layer from the variance recursion E[h²ₗ] = ½ nₗ σₗ² E[h²ₗ₋₁].

    (Exact in expectation for the second moment; holds for the RMS up to fluctuations
    that shrink with the width and the number of examples.)
    """
    x = np.asarray(x, dtype=np.float64)
    second_moment = float(np.mean(np.sum(x * x, axis=1)))  # E[Σ x_i²] = fan_in · E[x²]
    out = np.empty(depth, dtype=np.float64)
    for layer in range(depth):
        std = init_std(x.shape[1] if layer == 0 else width)
        second_moment = 0.5 * std**2 * second_moment  # per unit of this layer
        out[layer] = np.sqrt(second_moment)
        second_moment *= width
    return out


def expected_initial_loss(num_classes: int) -> float:
    """−log(1/C) = log C: the cross-entropy of a uniform guess over C classes, which is what
    a network whose logits are all about equal (small) predicts at initialization."""
    return float(np.log(num_classes))


def keras_truncation_cutoff() -> float:
    """Where Keras's ``HeNormal`` (``VarianceScaling`` with ``truncated_normal``) cuts its
    weights, in standard deviations of the *final* weights.

    Keras draws from a normal of std σ/c truncated at ±2 of *its* standard deviations, where
    c is the standard deviation of N(0, 1) truncated to [−2, 2] (≈ 0.88, so that the
    truncated law's variance comes out as σ²). The cut therefore sits at 2/c final
    standard deviations, a bit beyond 2σ.
    """
    from scipy import stats

    c = float(stats.truncnorm(-2.0, 2.0).std())
    return 2.0 / c


def tail_mass(samples, threshold: float = 2.0) -> float:
    """Fraction of samples beyond ``threshold`` standard deviations of their mean."""
    s = np.asarray(samples, dtype=np.float64).ravel()
    z = (s - s.mean()) / s.std()
    return float(np.mean(np.abs(z) > threshold))


def excess_kurtosis(samples) -> float:
    """E[z⁴] − 3 of the standardised samples: 0 for a normal, −1.2 for a uniform law."""
    s = np.asarray(samples, dtype=np.float64).ravel()
    z = (s - s.mean()) / s.std()
    return float(np.mean(z**4) - 3.0)


class UntruncatedHeNormal(keras.initializers.Initializer):
    """N(0, 2 / fan_in) for ``Dense`` kernels of shape (fan_in, units), *not* truncated.

    Keras's own ``HeNormal`` draws from a normal truncated at two standard deviations (and
    rescaled so the variance is still 2/fan_in): lighter tails than He et al.'s Gaussian.
    Two instances with the same integer seed give the same weights.
    """

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self._generator = keras.random.SeedGenerator(seed) if seed is None else None

    def __call__(self, shape, dtype=None):
        fan_in = shape[0] if len(shape) == 2 else int(np.prod(shape[:-1]))
        seed = self.seed if self.seed is not None else self._generator
        return keras.random.normal(
            shape, stddev=he_std(fan_in), dtype=dtype or "float32", seed=seed
        )

    def get_config(self):
        return {"seed": self.seed}
