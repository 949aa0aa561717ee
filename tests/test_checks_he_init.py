"""Checks of notebook 05 accept several correct implementations and reject a catalogue of
wrong ones, each named for its misconception, with a message that names the problem."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from relu_course.checks import (
    check_expected_initial_loss,
    check_he_std,
    check_HeNormalInit,
    check_propagate_rms,
)
from relu_course.he_init import UntruncatedHeNormal


def _stub(*args, **kwargs):
    raise NotImplementedError()


# ---------------------------------------------------------------- he_std
HE_STD_CORRECT = {
    "numpy": lambda fan_in: float(np.sqrt(2 / fan_in)),
    "math": lambda fan_in: math.sqrt(2.0 / fan_in),
    "power": lambda fan_in: (2 / fan_in) ** 0.5,
    "numpy_scalar": lambda fan_in: np.sqrt(np.float64(2) / fan_in),
}

HE_STD_WRONG = {
    "one_over_n": (lambda fan_in: math.sqrt(1 / fan_in), "lecun"),
    "no_square_root": (lambda fan_in: 2 / fan_in, "variance"),
    "sqrt2_over_n": (lambda fan_in: math.sqrt(2) / fan_in, "whole ratio"),
    "tensor": (lambda fan_in: tf.sqrt(2.0 / fan_in), "not a float"),
    "returns_none": (lambda fan_in: None, "not a float"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", HE_STD_CORRECT)
def test_he_std_accepts(name):
    check_he_std(HE_STD_CORRECT[name])


@pytest.mark.parametrize("name", HE_STD_WRONG)
def test_he_std_rejects(name, rejected):
    candidate, fragment = HE_STD_WRONG[name]
    rejected(check_he_std, candidate, fragment)


# ---------------------------------------------------------------- HeNormalInit
def _initializer(sample, fan=lambda shape: shape[0], config=True, seeded=True):
    """An Initializer class whose draws come from ``sample(shape, std, seed, dtype)``."""

    class Init(keras.initializers.Initializer):
        def __init__(self, seed=None):
            self.seed = seed

        def __call__(self, shape, dtype=None):
            std = math.sqrt(2.0 / fan(shape))
            return sample(shape, std, self.seed if seeded else None, dtype or "float32")

    if config:
        Init.get_config = lambda self: {"seed": self.seed}
    return Init


def _keras_normal(shape, std, seed, dtype):
    return keras.random.normal(shape, stddev=std, seed=seed, dtype=dtype)


def _tf_stateless(shape, std, seed, dtype):
    return tf.random.stateless_normal(shape, seed=[seed or 0, 17], stddev=std, dtype=dtype)


def _numpy_generator(shape, std, seed, dtype):
    return np.random.default_rng(seed).normal(0.0, std, size=shape).astype(dtype)


def _numpy_unseeded(shape, std, seed, dtype):
    return np.random.normal(0.0, std, size=shape).astype(dtype)


def _truncated(shape, std, seed, dtype):
    # Keras HeNormal: truncated at 2σ of a normal rescaled so that the variance is 2/fan_in
    return keras.random.truncated_normal(
        shape, stddev=std / 0.87962566103423978, seed=seed, dtype=dtype
    )


def _uniform(shape, std, seed, dtype):
    limit = std * math.sqrt(3)
    return keras.random.uniform(shape, -limit, limit, seed=seed, dtype=dtype)


class KerasHeNormalSubclass(keras.initializers.HeNormal):
    """Keras's own HeNormal: a truncated normal."""


class SubclassesVarianceScaling(keras.initializers.VarianceScaling):
    """The correct law through Keras: VarianceScaling with an untruncated normal."""

    def __init__(self, seed=None):
        super().__init__(scale=2.0, mode="fan_in", distribution="untruncated_normal", seed=seed)

    def get_config(self):
        return {"seed": self.seed}


HE_INIT_CORRECT = {
    "reference": UntruncatedHeNormal,
    "keras_random_normal": _initializer(_keras_normal),
    "tf_stateless_normal": _initializer(_tf_stateless),
    "numpy_generator": _initializer(_numpy_generator),
    "variance_scaling_untruncated": SubclassesVarianceScaling,
}

HE_INIT_WRONG = {
    "keras_henormal_truncated": (KerasHeNormalSubclass, "truncated"),
    "truncated_normal": (_initializer(_truncated), "truncated"),
    "uniform_same_variance": (_initializer(_uniform), "uniform"),
    "fan_out": (_initializer(_keras_normal, fan=lambda shape: shape[-1]), "fan_out"),
    "one_over_fan_in": (
        _initializer(lambda s, std, seed, d: _keras_normal(s, std / math.sqrt(2), seed, d)),
        "lecun",
    ),
    "variance_as_std": (
        _initializer(lambda s, std, seed, d: _keras_normal(s, std**2, seed, d)),
        "variance",
    ),
    "glorot": (_initializer(_keras_normal, fan=lambda shape: shape[0] + shape[1]), "glorot"),
    "ignores_seed": (_initializer(_numpy_unseeded), "same seed"),
    "seed_never_used": (_initializer(_keras_normal, seeded=False), "same seed"),
    "no_get_config": (_initializer(_keras_normal, config=False), "get_config"),
    "not_an_initializer": (
        type("Plain", (), {"__init__": lambda self, seed=None: None}),
        "initializer subclass",
    ),
    "stub": (_initializer(_stub), "not implemented yet"),
}


@pytest.mark.parametrize("name", HE_INIT_CORRECT)
def test_he_normal_init_accepts(name):
    check_HeNormalInit(HE_INIT_CORRECT[name])


@pytest.mark.parametrize("name", HE_INIT_WRONG)
def test_he_normal_init_rejects(name, rejected):
    candidate, fragment = HE_INIT_WRONG[name]
    rejected(check_HeNormalInit, candidate, fragment)


# ---------------------------------------------------------------- propagate_rms
def _propagate(
    measure="rms", redraw=True, first_fan="input", seeded=True, include_input=False, as_list=False
):
    def propagate_rms(init_std, depth, width, x, seed=0):
        rng = np.random.default_rng(seed if seeded else None)
        h = np.asarray(x, dtype=np.float64)
        values = [np.sqrt(np.mean(h**2))] if include_input else []
        shared = None
        for layer in range(depth):
            fan_in = h.shape[1] if first_fan == "input" else width
            if redraw or layer < 2 or shared is None:
                w = rng.normal(0.0, init_std(fan_in), size=(h.shape[1], width))
                if layer == 1:
                    shared = w
            else:
                w = shared
            pre = h @ w
            h = np.maximum(pre, 0.0)
            values.append(
                {
                    "rms": np.sqrt(np.mean(h**2)),
                    "std": h.std(),
                    "pre": np.sqrt(np.mean(pre**2)),
                    "mean_abs": np.mean(np.abs(h)),
                }[measure]
            )
        return values if as_list else np.array(values)

    return propagate_rms


def _propagate_float32(init_std, depth, width, x, seed=0):
    rng = np.random.default_rng(seed)
    h = np.asarray(x, dtype=np.float32)
    out = []
    for _ in range(depth):
        std = init_std(h.shape[1])
        h = np.maximum(h @ (std * rng.standard_normal((h.shape[1], width), dtype=np.float32)), 0)
        out.append(float(np.linalg.norm(h) / np.sqrt(h.size)))
    return np.array(out)


PROPAGATE_CORRECT = {
    "normal_with_scale": _propagate(),
    "standard_normal_times_std_float32": _propagate_float32,
}

PROPAGATE_WRONG = {
    "std_instead_of_rms": (_propagate(measure="std"), "standard deviation"),
    "pre_activation": (_propagate(measure="pre"), "pre-activations"),
    "mean_abs": (_propagate(measure="mean_abs"), "mean(|h|)"),
    "weights_not_redrawn": (_propagate(redraw=False), "new weight matrix"),
    "width_as_first_fan_in": (_propagate(first_fan="width"), "off at layer 1"),
    "ignores_seed": (_propagate(seeded=False), "same seed"),
    "includes_input": (_propagate(include_input=True), "shape"),
    "list": (_propagate(as_list=True), "not a numpy array"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", PROPAGATE_CORRECT)
def test_propagate_rms_accepts(name):
    check_propagate_rms(PROPAGATE_CORRECT[name])


@pytest.mark.parametrize("name", PROPAGATE_WRONG)
def test_propagate_rms_rejects(name, rejected):
    candidate, fragment = PROPAGATE_WRONG[name]
    rejected(check_propagate_rms, candidate, fragment)


# ---------------------------------------------------------------- expected_initial_loss
INITIAL_LOSS_CORRECT = {
    "numpy_log": lambda k: float(np.log(k)),
    "minus_log_probability": lambda k: -math.log(1 / k),
    "tf_float32": lambda k: float(-tf.math.log(tf.constant(1.0 / k, tf.float32))),
    "keras_loss_of_equal_logits": lambda k: float(
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
            np.array([0]), np.zeros((1, k), np.float32)
        )
    ),
    "numpy_scalar": lambda k: np.log(np.float64(k)),
}

INITIAL_LOSS_WRONG = {
    "log10": (lambda k: math.log10(k), "natural logarithm"),
    "log2_bits": (lambda k: math.log2(k), "bits"),
    "probability": (lambda k: 1 / k, "probability"),
    "sign": (lambda k: math.log(1 / k), "sign"),
    "sum_over_classes": (lambda k: k * math.log(k), "only the true class"),
    "one_class_too_few": (lambda k: math.log(k - 1) if k > 1 else 0.0, "C − 1"),
    "hard_coded_ln10": (lambda k: 2.302585092994046, "num_classes = 2"),
    "tensor": (lambda k: tf.math.log(tf.constant(float(k))), "not a number"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", INITIAL_LOSS_CORRECT)
def test_expected_initial_loss_accepts(name):
    check_expected_initial_loss(INITIAL_LOSS_CORRECT[name])


@pytest.mark.parametrize("name", INITIAL_LOSS_WRONG)
def test_expected_initial_loss_rejects(name, rejected):
    candidate, fragment = INITIAL_LOSS_WRONG[name]
    message = rejected(check_expected_initial_loss, candidate, fragment)
    lines = [line.strip() for line in message.splitlines()]
    shown = {line.split(":")[0]: line.split(":", 1)[1].strip() for line in lines if ":" in line}
    if "expected" in shown and "got" in shown:
        assert shown["expected"] != shown["got"], message


# ---------------------------------------------------------------- grading probes
PROBE_MISCONCEPTIONS = {
    "HeNormalInit": (
        "class HeNormalInit(keras.initializers.Initializer):\n"
        "    def __init__(self, seed=None):\n"
        "        self.seed = seed\n"
        "    def __call__(self, shape, dtype=None):\n"
        "        return keras.initializers.HeNormal(seed=self.seed)(shape, dtype=dtype)\n"
        "    def get_config(self):\n"
        "        return {'seed': self.seed}\n"
    ),
    "expected_initial_loss": (
        "def expected_initial_loss(num_classes):\n    return float(np.log10(num_classes))\n"
    ),
    "propagate_rms": (
        "def propagate_rms(init_std, depth, width, x, seed=0):\n"
        "    g = np.random.default_rng(seed)\n"
        "    h = np.asarray(x, dtype=np.float64)\n"
        "    out = []\n"
        "    for _ in range(depth):\n"
        "        w = g.normal(0.0, init_std(h.shape[1]), size=(h.shape[1], width))\n"
        "        h = np.maximum(h @ w, 0.0)\n"
        "        out.append(h.std())\n"
        "    return np.array(out)\n"
    ),
}


def _run_probe_in_process(probe, candidate):
    from relu_course.checks import _probe_functions
    from relu_course.checks._registry import compare_structures

    def value(arg):
        if arg.kind == "function":
            return getattr(_probe_functions, str(arg.value).partition(":")[2])
        return arg.value

    args = [value(a) for a in probe.args]
    kwargs = {k: value(a) for k, a in probe.kwargs.items()}
    result = candidate(*args, **kwargs)
    if probe.mode == "call_result":
        result = result(*[value(a) for a in probe.call_args])
    result = np.asarray(result)
    if probe.judge is not None:
        return probe.judge(result)
    return compare_structures(
        probe.expected, result, atol=probe.atol, rtol=probe.rtol, same_dtype=probe.same_dtype
    )


@pytest.mark.parametrize(
    "name, right",
    [
        ("HeNormalInit", UntruncatedHeNormal),
        ("expected_initial_loss", lambda k: float(np.log(k))),
        ("propagate_rms", None),
    ],
)
def test_probes_accept_the_reference_and_reject_the_misconception(name, right):
    """In-process: the probes' expectations and judges pass the reference and reject the
    wrong cell above (the grader's clean-process run is tests/test_verify_probes.py)."""
    from relu_course.checks import he_init
    from relu_course.he_init import propagate_rms

    right = propagate_rms if right is None else right
    probes_of = {
        "HeNormalInit": he_init.probes_HeNormalInit,
        "expected_initial_loss": he_init.probes_expected_initial_loss,
        "propagate_rms": he_init.probes_propagate_rms,
    }[name]
    probes = probes_of(np.random.default_rng(0))
    assert all(_run_probe_in_process(p, right) is None for p in probes)
    namespace = {"np": np, "keras": keras}
    exec(PROBE_MISCONCEPTIONS[name], namespace)
    assert any(_run_probe_in_process(p, namespace[name]) for p in probes)
