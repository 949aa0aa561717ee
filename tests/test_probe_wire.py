"""The probe wire: every mode and argument kind round-trips through JSON + .npz, results
are plain arrays (never pickles), and the grader-side comparison names what differs."""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest

from relu_course.checks._probe_functions import smooth_scalar_gradient
from relu_course.checks._registry import Arg, ModelSpec, Probe, compare_structures
from relu_course.grading.probe_wire import decode_result, encode_probe, run_probe


def _run(probe: Probe, learner, tmp_path):
    arrays: dict = {}
    spec = json.loads(json.dumps(encode_probe(probe, "p", "exercise", arrays)))
    structure = run_probe(spec, learner, arrays, str(tmp_path))
    json.dumps(structure)
    with np.load(tmp_path / "p.npz", allow_pickle=False) as leaves:
        got = decode_result(json.loads(json.dumps(structure)), dict(leaves))
    return compare_structures(
        probe.expected, got, atol=probe.atol, rtol=probe.rtol, same_dtype=probe.same_dtype
    )


def _spec() -> ModelSpec:
    rng = np.random.default_rng(0)
    return ModelSpec(
        input_dim=3,
        layers=((4, "relu"), (2, "linear")),
        weights=(rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2)), np.zeros(2)),
    )


def test_return_and_input_after(tmp_path):
    x = np.array([[-1.0, 2.0], [3.0, -4.0]])
    good = Probe(args=(x,), expected=np.maximum(x, 0))
    assert _run(good, lambda a: np.maximum(a, 0), tmp_path) is None
    assert "wrong values" in _run(good, np.abs, tmp_path)
    assert "dtype" in _run(good, lambda a: np.maximum(a, 0).astype(np.float32), tmp_path)
    kept = Probe(args=(x,), mode="input_after", expected=x.copy())

    def mutating(a):
        a[a < 0] = 0
        return a

    assert _run(kept, mutating, tmp_path) == "wrong values"
    assert _run(kept, lambda a: np.maximum(a, 0), tmp_path) is None


def test_tensor_arguments_and_tf_function(tmp_path):
    import tensorflow as tf

    x = np.array([-2.0, 0.5], np.float32)
    probe = Probe(args=(Arg(x, "tensor"),), wrap="tf.function", expected=np.maximum(x, 0))
    assert _run(probe, tf.nn.relu, tmp_path) is None

    def eager_only(t):
        return np.maximum(t.numpy(), 0)  # .numpy() fails inside tf.function

    with pytest.raises(Exception):  # noqa: B017 - whatever TF raises, the probe records it
        _run(probe, eager_only, tmp_path)


def test_model_arguments_and_dict_results(tmp_path):
    spec = _spec()
    x = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    model = spec.build()
    hidden = np.maximum(x @ spec.weights[0] + spec.weights[1], 0)
    probe = Probe(args=(spec, x), expected={"dense_0": hidden}, atol=1e-5, same_dtype=False)

    def outputs(m, inputs):
        probe_model = keras.Model(m.input, m.get_layer("dense_0").output)
        return {"dense_0": probe_model(inputs).numpy()}

    assert _run(probe, outputs, tmp_path) is None
    assert "keys" in _run(probe, lambda m, i: {"hidden": outputs(m, i)["dense_0"]}, tmp_path)
    assert np.allclose(model(x), spec.build()(x))


def test_call_result_layers_output_and_callback_epochs(tmp_path):
    x = np.linspace(-2, 2, 9, dtype=np.float32)[:, None]
    factory = Probe(mode="call_result", call_args=(x,), expected=2 * x, atol=1e-6, same_dtype=False)

    def make():
        m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        m.set_weights([np.array([[2.0]], np.float32), np.zeros(1, np.float32)])
        return m

    assert _run(factory, make, tmp_path) is None

    w = np.array([[1.0, -1.0]], np.float32)
    layers = Probe(
        args=(2,),
        mode="layers_output",
        layer_input=x,
        weights=(w, np.zeros(2, np.float32)),
        expected=np.maximum(x @ w, 0),
        atol=1e-6,
    )
    assert (
        _run(layers, lambda units: [keras.layers.Dense(units, activation="relu")], tmp_path) is None
    )
    assert _run(layers, lambda units: [keras.layers.Dense(units)], tmp_path) == "wrong values"

    spec = _spec()
    zero = tuple(np.zeros_like(w) for w in spec.weights)

    class Zeros(keras.callbacks.Callback):
        def __init__(self, data):
            super().__init__()
            self.data, self.history = data, {"dense_0": []}

        def on_epoch_end(self, epoch, logs=None):
            h = keras.Model(self.model.input, self.model.get_layer("dense_0").output)
            self.history["dense_0"].append(float(np.mean(np.all(h(self.data) == 0, axis=0))))

    data = np.random.default_rng(2).normal(size=(6, 3)).astype(np.float32)
    callback = Probe(
        args=(data,),
        mode="callback_epochs",
        model=spec,
        epoch_weights=(spec.weights, zero),
        expected={
            "dense_0": np.array(
                [
                    np.mean(
                        np.all(np.maximum(data @ spec.weights[0] + spec.weights[1], 0) == 0, axis=0)
                    ),
                    1.0,
                ]
            )
        },
        atol=1e-9,
        same_dtype=False,
    )
    assert _run(callback, Zeros, tmp_path) is None


def test_function_tuple_json_and_frame_arguments(tmp_path):
    x = np.random.default_rng(3).normal(size=(2, 3))

    def numerical_gradient(f, a, h=1e-5):
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + h
            up = f(a)
            a[i] = old - h
            down = f(a)
            a[i] = old
            g[i] = (up - down) / (2 * h)
        return g

    grad = Probe(
        args=(Arg("relu_course.checks._probe_functions:smooth_scalar", "function"), x),
        expected=smooth_scalar_gradient(x),
        atol=1e-6,
        rtol=1e-5,
    )
    assert _run(grad, numerical_gradient, tmp_path) is None
    with pytest.raises(ValueError):
        Arg("os:system", "function")
    pair = Probe(args=((x, 2 * x),), expected=3 * x, atol=1e-12)
    assert _run(pair, lambda cache: cache[0] + cache[1], tmp_path) is None
    records = [{"activation": "relu", "seed": 0, "val_accuracy": 0.9}]
    frame = pd.DataFrame({"val_accuracy_mean": [0.9]}, index=pd.Index(["relu"], name="activation"))
    table = Probe(args=(records,), expected=frame, atol=1e-12)
    assert _run(table, lambda r: frame, tmp_path) is None
    assert "__index__" in _run(table, lambda r: frame.rename(index={"relu": "tanh"}), tmp_path)


def test_objects_are_refused_not_pickled(tmp_path):
    probe = Probe(args=(1,), expected=np.array(1.0), same_dtype=False)
    with pytest.raises(TypeError):
        _run(probe, lambda v: object(), tmp_path)
