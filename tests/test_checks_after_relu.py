"""Checks of notebook 08 accept several correct implementations and reject a catalogue of
wrong ones, each named for its misconception, with a message that names the problem."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import special

from relu_course.after_relu import SwiGLUReference
from relu_course.checks import check_gelu, check_silu, check_SwiGLU


def _stub(*args, **kwargs):
    raise NotImplementedError()


def _shows_a_real_mismatch(message: str) -> None:
    """A message must never show two equal numbers as a mismatch."""
    lines = dict(
        line.strip().split(":", 1)
        for line in message.splitlines()
        if line.strip().startswith(("expected:", "got:"))
    )
    if "expected" in lines and "got" in lines:
        assert lines["expected"].strip() != lines["got"].strip(), message


SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _tanh_gelu(x, k=SQRT_2_OVER_PI, c=0.044715):
    return 0.5 * x * (1.0 + tf.tanh(k * (x + c * x * x * x)))


def _erf_gelu(x):
    return 0.5 * x * (1.0 + tf.math.erf(x / math.sqrt(2.0)))


def _gelu_with(approximate_form, exact_form=_erf_gelu):
    def gelu(x, approximate=False):
        return approximate_form(x) if approximate else exact_form(x)

    return gelu


# ---------------------------------------------------------------- gelu
GELU_CORRECT = {
    "erf_and_tanh": _gelu_with(_tanh_gelu),
    "erfc": _gelu_with(_tanh_gelu, lambda x: 0.5 * x * tf.math.erfc(-x / math.sqrt(2.0))),
    "tf_nn_gelu": lambda x, approximate=False: tf.nn.gelu(x, approximate=approximate),
    "keras_activation": lambda x, approximate=False: keras.activations.gelu(x, approximate),
    # 0.5·(1 + tanh(z)) = σ(2z): the same tanh form written with a sigmoid
    "sigmoid_of_twice": _gelu_with(
        lambda x: x * tf.sigmoid(2.0 * SQRT_2_OVER_PI * (x + 0.044715 * tf.pow(x, 3)))
    ),
    "pow_and_cdf_name": _gelu_with(
        _tanh_gelu, lambda x: x * (0.5 + 0.5 * tf.math.erf(x * (1.0 / math.sqrt(2.0))))
    ),
}

GELU_WRONG = {
    "sigmoid_instead_of_phi": (
        lambda x, approximate=False: x * tf.sigmoid(x),
        "not by the logistic",
    ),
    "sigmoid_1702_approximation": (
        lambda x, approximate=False: x * tf.sigmoid(1.702 * x),
        "1.702",
    ),
    "missing_half": (
        _gelu_with(_tanh_gelu, lambda x: x * (1.0 + tf.math.erf(x / math.sqrt(2.0)))),
        "factor ½ is missing",
    ),
    "erf_without_sqrt2": (
        _gelu_with(_tanh_gelu, lambda x: 0.5 * x * (1.0 + tf.math.erf(x))),
        "argument of erf is not scaled",
    ),
    "phi_alone": (
        _gelu_with(_tanh_gelu, lambda x: 0.5 * (1.0 + tf.math.erf(x / math.sqrt(2.0)))),
        "multiply by x",
    ),
    "tanh_cubic_coefficient_slipped": (
        _gelu_with(lambda x: _tanh_gelu(x, c=0.44715)),
        "cubic coefficient",
    ),
    "tanh_cubic_coefficient_rounded": (
        _gelu_with(lambda x: _tanh_gelu(x, c=0.0447)),
        "cubic coefficient",
    ),
    "tanh_sqrt_2pi_instead_of_sqrt_2_over_pi": (
        _gelu_with(lambda x: _tanh_gelu(x, k=math.sqrt(2.0 * math.pi))),
        "scales its argument by ≈ 2.507",
    ),
    "tanh_2_over_pi_without_root": (
        _gelu_with(lambda x: _tanh_gelu(x, k=2.0 / math.pi)),
        "scales its argument by ≈ 0.6366",
    ),
    "approximate_flag_ignored_exact": (lambda x, approximate=False: _erf_gelu(x), "approximate"),
    "approximate_flag_ignored_tanh": (
        lambda x, approximate=False: _tanh_gelu(x),
        "approximate=false",
    ),
    "approximate_flag_inverted": (
        lambda x, approximate=False: _erf_gelu(x) if approximate else _tanh_gelu(x),
        "approximate",
    ),
    "numpy_inside": (
        lambda x, approximate=False: tf.constant(
            0.5 * x.numpy() * special.erfc(-x.numpy() / math.sqrt(2.0))
            if not approximate
            else 0.5
            * x.numpy()
            * (1 + np.tanh(SQRT_2_OVER_PI * (x.numpy() + 0.044715 * x.numpy() ** 3)))
        ),
        "tf.function",
    ),
    "numpy_output": (
        lambda x, approximate=False: np.asarray(_erf_gelu(x)),
        "not a tf.tensor",
    ),
    "float32_constant_in_float64": (
        _gelu_with(_tanh_gelu, lambda x: 0.5 * x * (1.0 + tf.math.erf(x / tf.sqrt(2.0)))),
        "float64",
    ),
    "casts_to_float32": (
        lambda x, approximate=False: tf.nn.gelu(tf.cast(x, tf.float32), approximate),
        "dtype",
    ),
    "stop_gradient": (
        lambda x, approximate=False: (
            x * tf.stop_gradient(0.5 * (1 + tf.math.erf(x / math.sqrt(2.0))))
            if not approximate
            else _tanh_gelu(x)
        ),
        "gradient",
    ),
    "relu": (lambda x, approximate=False: tf.nn.relu(x), "this is relu"),
    "erf_argument_times_sqrt2": (
        _gelu_with(_tanh_gelu, lambda x: 0.5 * x * (1.0 + tf.math.erf(x * math.sqrt(2.0)))),
        "scaled the wrong way",
    ),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", GELU_CORRECT)
def test_gelu_accepts(name):
    check_gelu(GELU_CORRECT[name])


@pytest.mark.parametrize("name", GELU_WRONG)
def test_gelu_rejects(name, rejected):
    candidate, fragment = GELU_WRONG[name]
    _shows_a_real_mismatch(rejected(check_gelu, candidate, fragment))


def test_gelu_tolerance_is_far_below_the_gap_between_the_forms():
    """The two forms differ by up to ≈ 4.7e-4; the check's tolerance must separate them."""
    from relu_course.after_relu import GELU_APPROXIMATION_GAP
    from relu_course.checks.after_relu import _TOLERANCE

    assert 4.6e-4 < GELU_APPROXIMATION_GAP < 4.8e-4
    for rtol, atol in _TOLERANCE.values():
        assert atol + rtol * 2.5 < GELU_APPROXIMATION_GAP / 10


# ---------------------------------------------------------------- silu
SILU_CORRECT = {
    "sigmoid": lambda x, beta=1.0: x * tf.sigmoid(beta * x),
    "tf_nn_silu": lambda x, beta=1.0: tf.nn.silu(x, beta=beta),
    "division": lambda x, beta=1.0: x / (1.0 + tf.exp(-beta * x)),
    "tanh_identity": lambda x, beta=1.0: 0.5 * x * (1.0 + tf.tanh(0.5 * beta * x)),
}

SILU_WRONG = {
    "beta_ignored": (lambda x, beta=1.0: x * tf.sigmoid(x), "beta argument"),
    "keras_silu_ignores_beta": (lambda x, beta=1.0: keras.activations.silu(x), "beta argument"),
    "gate_alone": (lambda x, beta=1.0: tf.sigmoid(beta * x), "multiplies x"),
    "beta_outside": (lambda x, beta=1.0: beta * x * tf.sigmoid(x), "inside the sigmoid"),
    "beta_twice": (lambda x, beta=1.0: beta * x * tf.sigmoid(beta * x), "extra factor"),
    "beta_divides": (lambda x, beta=1.0: x * tf.sigmoid(x / beta), "does not divide"),
    "tanh_gate": (lambda x, beta=1.0: x * tf.tanh(beta * x), "not tanh"),
    "mish": (lambda x, beta=1.0: x * tf.tanh(tf.nn.softplus(x)), "mish"),
    "numpy_inside": (
        lambda x, beta=1.0: tf.constant(x.numpy() / (1 + np.exp(-beta * x.numpy()))),
        "tf.function",
    ),
    "casts_to_float32": (
        lambda x, beta=1.0: tf.nn.silu(tf.cast(x, tf.float32), beta=beta),
        "dtype",
    ),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", SILU_CORRECT)
def test_silu_accepts(name):
    check_silu(SILU_CORRECT[name])


@pytest.mark.parametrize("name", SILU_WRONG)
def test_silu_rejects(name, rejected):
    candidate, fragment = SILU_WRONG[name]
    _shows_a_real_mismatch(rejected(check_silu, candidate, fragment))


# ---------------------------------------------------------------- SwiGLU
def _swiglu_class(call=None, order=("w", "v", "w2"), bias=False, initializer="glorot_uniform"):
    """A SwiGLU-like layer with weights created in ``order``; ``call(layer, x)`` overrides
    the forward pass."""

    class SwiGLUVariant(keras.layers.Layer):
        def __init__(self, hidden_units, output_units, **kwargs):
            super().__init__(**kwargs)
            self.hidden_units, self.output_units = hidden_units, output_units

        def build(self, input_shape):
            d = input_shape[-1]
            shapes = {
                "w": (d, self.hidden_units),
                "v": (d, self.hidden_units),
                "w2": (self.hidden_units, self.output_units),
            }
            for name in order:
                setattr(
                    self,
                    name,
                    self.add_weight(shape=shapes[name], initializer=initializer, name=name),
                )
            if bias:
                self.b = self.add_weight(shape=(self.output_units,), initializer="zeros", name="b")

        def call(self, x):
            if call is not None:
                return call(self, x)
            out = tf.matmul(tf.nn.silu(x @ self.w) * (x @ self.v), self.w2)
            return out + self.b if bias else out

    return SwiGLUVariant


class DenseSublayersSwiGLU(keras.layers.Layer):
    """Three bias-free Dense sublayers: weights come out as [W, V, W₂]."""

    def __init__(self, hidden_units, output_units, **kwargs):
        super().__init__(**kwargs)
        self.w = keras.layers.Dense(hidden_units, use_bias=False)
        self.v = keras.layers.Dense(hidden_units, use_bias=False)
        self.w2 = keras.layers.Dense(output_units, use_bias=False)

    def build(self, input_shape):
        self.w.build(input_shape)
        self.v.build(input_shape)
        self.w2.build((*input_shape[:-1], self.w.units))

    def call(self, x):
        return self.w2(keras.activations.silu(self.w(x)) * self.v(x))


class DenseWithBiasesSwiGLU(DenseSublayersSwiGLU):
    def __init__(self, hidden_units, output_units, **kwargs):
        super().__init__(hidden_units, output_units, **kwargs)
        self.w = keras.layers.Dense(hidden_units)
        self.v = keras.layers.Dense(hidden_units)
        self.w2 = keras.layers.Dense(output_units)


class KerasOpsSwiGLU(keras.layers.Layer):
    def __init__(self, hidden_units, output_units, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units, self.output_units = hidden_units, output_units

    def build(self, input_shape):
        self.W = self.add_weight(shape=(input_shape[-1], self.hidden_units))
        self.V = self.add_weight(shape=(input_shape[-1], self.hidden_units))
        self.W2 = self.add_weight(shape=(self.hidden_units, self.output_units))

    def call(self, x):
        gate = keras.ops.silu(keras.ops.matmul(x, self.W))
        return keras.ops.matmul(gate * keras.ops.matmul(x, self.V), self.W2)


class NotALayer:
    def __init__(self, hidden_units, output_units):
        pass


class StubSwiGLU(keras.layers.Layer):
    def __init__(self, hidden_units, output_units, **kwargs):
        raise NotImplementedError()


SWIGLU_CORRECT = {
    "reference": SwiGLUReference,
    "dense_sublayers": DenseSublayersSwiGLU,
    "keras_ops": KerasOpsSwiGLU,
    "einsum": _swiglu_class(
        lambda s, x: tf.einsum(
            "bh,ho->bo",
            tf.nn.silu(tf.einsum("bd,dh->bh", x, s.w)) * tf.einsum("bd,dh->bh", x, s.v),
            s.w2,
        )
    ),
}

SWIGLU_WRONG = {
    "gate_on_wrong_branch": (
        _swiglu_class(lambda s, x: tf.matmul((x @ s.w) * tf.nn.silu(x @ s.v), s.w2)),
        "wrong branch",
    ),
    "weights_v_before_w": (_swiglu_class(order=("v", "w", "w2")), "wrong order"),
    "w2_created_first": (_swiglu_class(order=("w2", "w", "v")), "order is not"),
    "biases_added": (_swiglu_class(bias=True), "no biases"),
    "dense_sublayers_with_biases": (DenseWithBiasesSwiGLU, "no biases"),
    "sigmoid_gate_glu": (
        _swiglu_class(lambda s, x: tf.matmul(tf.sigmoid(x @ s.w) * (x @ s.v), s.w2)),
        "glu",
    ),
    "relu_gate_reglu": (
        _swiglu_class(lambda s, x: tf.matmul(tf.nn.relu(x @ s.w) * (x @ s.v), s.w2)),
        "reglu",
    ),
    "gelu_gate_geglu": (
        _swiglu_class(lambda s, x: tf.matmul(tf.nn.gelu(x @ s.w) * (x @ s.v), s.w2)),
        "geglu",
    ),
    "silu_on_both_branches": (
        _swiglu_class(lambda s, x: tf.matmul(tf.nn.silu(x @ s.w) * tf.nn.silu(x @ s.v), s.w2)),
        "stays linear",
    ),
    "sum_instead_of_product": (
        _swiglu_class(lambda s, x: tf.matmul(tf.nn.silu(x @ s.w) + (x @ s.v), s.w2)),
        "not a sum",
    ),
    "value_branch_missing": (
        _swiglu_class(lambda s, x: tf.matmul(tf.nn.silu(x @ s.w), s.w2)),
        "value branch x·v is missing",
    ),
    "activation_on_output": (
        _swiglu_class(lambda s, x: tf.nn.silu(tf.matmul(tf.nn.silu(x @ s.w) * (x @ s.v), s.w2))),
        "no activation after",
    ),
    "zero_initialization": (_swiglu_class(initializer="zeros"), "initialise"),
    "numpy_in_call": (
        _swiglu_class(
            lambda s, x: tf.constant(
                np.matmul(np.asarray(tf.nn.silu(np.matmul(x, s.w))) * np.matmul(x, s.v), s.w2)
            )
        ),
        "tf.function",
    ),
    "not_a_layer": (NotALayer, "not a keras.layers.layer"),
    "instance_not_class": (SwiGLUReference(4, 2), "class swiglu itself"),
    "stub": (StubSwiGLU, "not implemented yet"),
}


@pytest.mark.parametrize("name", SWIGLU_CORRECT)
def test_swiglu_accepts(name):
    check_SwiGLU(SWIGLU_CORRECT[name])


@pytest.mark.parametrize("name", SWIGLU_WRONG)
def test_swiglu_rejects(name, rejected):
    candidate, fragment = SWIGLU_WRONG[name]
    _shows_a_real_mismatch(rejected(check_SwiGLU, candidate, fragment))


# Wrong answer cells for the grader's clean-process re-verification (tests/test_verify_probes.py).
PROBE_MISCONCEPTIONS = {
    "gelu": "def gelu(x, approximate=False):\n    return x * tf.sigmoid(x)\n",
    "silu": "def silu(x, beta=1.0):\n    return x * tf.sigmoid(x)\n",
    "SwiGLU": (
        "class SwiGLU(keras.layers.Layer):\n"
        "    def __init__(self, hidden_units, output_units, **kwargs):\n"
        "        super().__init__(**kwargs)\n"
        "        self.h, self.o = hidden_units, output_units\n"
        "    def build(self, input_shape):\n"
        "        d = input_shape[-1]\n"
        "        self.w = self.add_weight(shape=(d, self.h))\n"
        "        self.v = self.add_weight(shape=(d, self.h))\n"
        "        self.w2 = self.add_weight(shape=(self.h, self.o))\n"
        "    def call(self, x):\n"
        "        return tf.matmul((x @ self.w) * tf.nn.silu(x @ self.v), self.w2)\n"
    ),
}
