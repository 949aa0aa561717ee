"""Probes on the wire: the grader encodes :class:`~relu_course.checks._registry.Probe`
objects as JSON plus one ``.npz`` of input arrays; the clean process that holds the
learner's code decodes them, calls the learner's object as each probe's mode says, and
writes every result as plain arrays (``.npz``, never pickles) plus a JSON description of
its structure; the grader reads them back and compares in its own process.

Both halves live here so that they cannot drift apart. The child half
(:func:`run_probe`) imports TensorFlow and Keras only when a probe needs them.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from relu_course.checks import _probe_functions
from relu_course.checks._registry import FUNCTION_MODULES, Arg, ModelSpec, Probe, frame_to_plain

__all__ = ["decode_result", "encode_probe", "run_probe"]

_GRADER_FUNCTIONS = {name: getattr(_probe_functions, name) for name in _probe_functions.__all__}


# ------------------------------------------------------------------ grader side: encode
def _encode_model(spec: ModelSpec, key: str, arrays: dict) -> dict:
    weights = []
    for i, w in enumerate(spec.weights):
        arrays[f"{key}_w{i}"] = np.asarray(w)
        weights.append(f"{key}_w{i}")
    return {
        "input_dim": int(spec.input_dim),
        "layers": [[int(u), str(a)] for u, a in spec.layers],
        "names": list(spec.layer_names()),
        "weights": weights,
    }


def _encode_arg(arg: Arg, key: str, arrays: dict) -> dict:
    if arg.kind in ("array", "tensor"):
        arrays[key] = np.asarray(arg.value)
        return {"kind": arg.kind, "key": key}
    if arg.kind == "model":
        return {"kind": "model", "model": _encode_model(arg.value, key, arrays)}
    if arg.kind == "shape":
        return {"kind": "shape", "value": [int(v) for v in arg.value]}
    if arg.kind == "function":
        return {"kind": "function", "value": str(arg.value)}
    if arg.kind == "tuple":
        return {
            "kind": "tuple",
            "items": [_encode_arg(a, f"{key}_{i}", arrays) for i, a in enumerate(arg.value)],
        }
    value = arg.value
    if isinstance(value, np.generic):
        value = value.item()
    json.dumps(value)  # scalars must be JSON: fail here, in the grader, not in the child
    return {"kind": "scalar", "value": value}


def encode_probe(probe: Probe, probe_id: str, exercise: str, arrays: dict) -> dict:
    """The JSON description of ``probe``; its arrays are added to ``arrays`` (npz keys)."""
    spec: dict[str, Any] = {
        "id": probe_id,
        "exercise": exercise,
        "mode": probe.mode,
        "wrap": probe.wrap,
        "args": [_encode_arg(a, f"{probe_id}_a{i}", arrays) for i, a in enumerate(probe.args)],
        "kwargs": {k: _encode_arg(a, f"{probe_id}_k_{k}", arrays) for k, a in probe.kwargs.items()},
        "call_args": [
            _encode_arg(a, f"{probe_id}_c{i}", arrays) for i, a in enumerate(probe.call_args)
        ],
        "input_index": probe.input_index,
        "training": bool(probe.training),
    }
    if probe.layer_input is not None:
        arrays[f"{probe_id}_li"] = np.asarray(probe.layer_input)
        spec["layer_input"] = f"{probe_id}_li"
    if probe.weights is not None:
        spec["weights"] = []
        for i, w in enumerate(probe.weights):
            arrays[f"{probe_id}_lw{i}"] = np.asarray(w)
            spec["weights"].append(f"{probe_id}_lw{i}")
    if probe.model is not None:
        spec["model"] = _encode_model(probe.model, f"{probe_id}_m", arrays)
    spec["epoch_weights"] = []
    for e, weights in enumerate(probe.epoch_weights):
        keys = []
        for i, w in enumerate(weights):
            arrays[f"{probe_id}_e{e}_{i}"] = np.asarray(w)
            keys.append(f"{probe_id}_e{e}_{i}")
        spec["epoch_weights"].append(keys)
    return spec


def decode_result(structure, arrays) -> Any:
    """The plain result (nested dicts/lists of arrays) from the child's description."""
    if isinstance(structure, dict) and "array" in structure:
        return np.asarray(arrays[structure["array"]])
    if isinstance(structure, dict) and "dict" in structure:
        return {k: decode_result(v, arrays) for k, v in structure["dict"].items()}
    if isinstance(structure, dict) and "list" in structure:
        return [decode_result(v, arrays) for v in structure["list"]]
    raise ValueError(f"unreadable result structure {structure!r}")


# ------------------------------------------------------------------ child side: call
def _build_model(spec: dict, inputs):
    import keras

    x = keras.Input(shape=(spec["input_dim"],))
    h = x
    for (units, activation), name in zip(spec["layers"], spec["names"], strict=True):
        h = keras.layers.Dense(units, activation=activation, name=name)(h)
    model = keras.Model(x, h)
    model.set_weights([np.asarray(inputs[k], np.float32) for k in spec["weights"]])
    return model


def _decode_arg(spec: dict, inputs):
    kind = spec["kind"]
    if kind == "array":
        return np.array(inputs[spec["key"]], copy=True)
    if kind == "tensor":
        import tensorflow as tf

        return tf.constant(inputs[spec["key"]])
    if kind == "model":
        return _build_model(spec["model"], inputs)
    if kind == "shape":
        return tuple(int(v) for v in spec["value"])
    if kind == "function":
        # bound when this module was imported, before any learner code ran
        module, _, name = spec["value"].partition(":")
        if module not in FUNCTION_MODULES or name not in _GRADER_FUNCTIONS:
            raise ValueError(f"not a grader function: {spec['value']!r}")
        return _GRADER_FUNCTIONS[name]
    if kind == "tuple":
        return tuple(_decode_arg(item, inputs) for item in spec["items"])
    return spec["value"]


def _is_scalar(value) -> bool:
    if isinstance(value, bool | int | float | np.generic):
        return True
    shape = getattr(value, "shape", None)
    return shape is not None and tuple(shape) == ()


def _plain(value, leaves: list, depth: int = 0):
    """Learner results as nested dicts/lists of arrays (dict keys as strings); every leaf
    must become a numeric or boolean array (objects are refused, never pickled)."""
    if depth > 6:
        raise ValueError("result nested too deeply")
    if type(value).__name__ == "DataFrame" and type(value).__module__.startswith("pandas"):
        value = frame_to_plain(value)
    if isinstance(value, dict):
        return {"dict": {str(k): _plain(v, leaves, depth + 1) for k, v in value.items()}}
    if isinstance(value, tuple | list) and not all(_is_scalar(v) for v in value):
        # a sequence of arrays/containers stays a list; a flat sequence of numbers (Python,
        # NumPy or 0-d tensors) becomes one 1-D array
        return {"list": [_plain(v, leaves, depth + 1) for v in value]}
    array = np.asarray(value)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype.kind in "bUS"
    ):
        raise TypeError(f"result of type {type(value).__name__} is not numeric")
    leaves.append(array)
    return {"array": str(len(leaves) - 1)}


def run_probe(spec: dict, f, inputs, out_dir: str, save=np.savez) -> dict:
    """Call the learner's object ``f`` as ``spec`` says; write ``<id>.npz`` of the result's
    leaves into ``out_dir``; return the result's structure (JSON)."""
    args = [_decode_arg(a, inputs) for a in spec["args"]]
    kwargs = {k: _decode_arg(a, inputs) for k, a in spec["kwargs"].items()}
    mode = spec["mode"]
    if f is None:
        raise NameError(f"{spec['exercise']} is not defined")
    if spec.get("wrap") == "tf.function":
        import tensorflow as tf

        f = tf.function(f)
    if mode == "return":
        result = f(*args, **kwargs)
    elif mode == "input_after":
        f(*args, **kwargs)
        result = args[spec["input_index"]]
    elif mode == "call_result":
        made = f(*args, **kwargs)
        result = made(*[_decode_arg(a, inputs) for a in spec["call_args"]])
    elif mode == "layers_output":
        import keras

        layers = f(*args, **kwargs)
        if isinstance(layers, keras.layers.Layer):
            layers = [layers]
        x = np.asarray(inputs[spec["layer_input"]], np.float32)
        model = keras.Sequential([keras.Input(shape=x.shape[1:]), *list(layers)])
        if spec.get("weights") is not None:
            model.set_weights([np.asarray(inputs[k], np.float32) for k in spec["weights"]])
        result = model(x, training=bool(spec["training"]))
    elif mode == "callback_epochs":
        callback = f(*args, **kwargs)
        model = _build_model(spec["model"], inputs)
        callback.set_model(model)
        for epoch, keys in enumerate(spec["epoch_weights"]):
            model.set_weights([np.asarray(inputs[k], np.float32) for k in keys])
            callback.on_epoch_end(epoch, {})
        result = callback.history
    else:
        raise ValueError(f"unknown probe mode {mode!r}")
    leaves: list[np.ndarray] = []
    structure = _plain(result, leaves)
    save(os.path.join(out_dir, spec["id"] + ".npz"), **{str(i): a for i, a in enumerate(leaves)})
    return structure
