"""Checks of notebook 03 accept several correct implementations and reject a catalogue of
wrong ones, each named for its misconception, with a message that names the problem."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from relu_course.checks import (
    check_activation_sparsity,
    check_hoyer_sparsity,
    check_relu_activations,
    check_skippable_macs,
)


def _stub(*args):
    raise NotImplementedError()


# ---------------------------------------------------------------- activation_sparsity
SPARSITY_CORRECT = {
    "mean_of_mask": lambda a: float(np.mean(np.asarray(a) == 0)),
    "count_nonzero": lambda a: 1 - np.count_nonzero(a) / np.size(a),
    "tf_ops": lambda a: float(tf.reduce_mean(tf.cast(tf.equal(a, 0), tf.float64))),
    # float32 all the way: off from the exact fraction by rounding only (a learner's report:
    # it was once rejected with "expected 0.40678, got 0.40678")
    "tf_ops_float32": lambda a: float(tf.reduce_mean(tf.cast(tf.equal(a, 0), tf.float32))),
    "numpy_float32_mean": lambda a: np.mean(np.asarray(a) == 0, dtype=np.float32),
    "float32_division": lambda a: (
        np.float32(np.count_nonzero(np.asarray(a) == 0)) / np.float32(np.size(a))
    ),
    "numpy_scalar": lambda a: np.sum(np.asarray(a) == 0) / np.asarray(a).size,
}

SPARSITY_WRONG = {
    "counts_negatives": (lambda a: float(np.mean(np.asarray(a) <= 0)), "negative"),
    "near_zeros": (lambda a: float(np.mean(np.abs(np.asarray(a)) < 1e-6)), "tiny"),
    "near_zeros_isclose": (lambda a: float(np.mean(np.isclose(a, 0))), "tiny"),
    "percentage": (lambda a: 100 * float(np.mean(np.asarray(a) == 0)), "percentage"),
    "non_zero_fraction": (lambda a: float(np.mean(np.asarray(a) != 0)), "non-zeros"),
    "count_not_fraction": (lambda a: int(np.sum(np.asarray(a) == 0)), "number of zeros"),
    "tensor_result": (lambda a: tf.reduce_mean(tf.cast(tf.equal(a, 0), tf.float32)), "float("),
    "first_row_only": (
        lambda a: float(np.mean(np.asarray(a).reshape(len(a), -1)[0] == 0)),
        "wrong fraction",
    ),
    "returns_none": (lambda a: None, "return"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", SPARSITY_CORRECT)
def test_activation_sparsity_accepts(name):
    check_activation_sparsity(SPARSITY_CORRECT[name])


@pytest.mark.parametrize("name", SPARSITY_WRONG)
def test_activation_sparsity_rejects(name, rejected):
    candidate, fragment = SPARSITY_WRONG[name]
    message = rejected(check_activation_sparsity, candidate, fragment)
    _expected_and_got_differ(message)


def _expected_and_got_differ(message: str) -> None:
    lines = {
        line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip()
        for line in message.splitlines()
        if line.strip().startswith(("expected:", "got:"))
    }
    if "expected" in lines and "got" in lines:
        shown = lines["expected"].split(" (")[0]  # the count in brackets is extra
        assert shown != lines["got"], f"two equal numbers shown as a mismatch:\n{message}"


@pytest.mark.parametrize("off_by", [1, -1])
def test_activation_sparsity_one_zero_off_is_rejected_with_distinct_numbers(off_by, rejected):
    """One zero too many or too few (the smallest possible error) fails, and the message
    shows two different numbers, however close."""

    def one_off(a):
        values = np.asarray(a)
        return float((np.count_nonzero(values == 0) + off_by) / values.size)

    message = rejected(check_activation_sparsity, one_off, "wrong fraction", "entries")
    _expected_and_got_differ(message)


# ---------------------------------------------------------------- relu_activations
def _is_relu(layer):
    if isinstance(layer, keras.layers.ReLU):
        return True
    return getattr(getattr(layer, "activation", None), "__name__", "") == "relu"


def _probe(model, x, chosen, use_input=False):
    if not chosen:
        return {}
    wanted = [(layer.input if use_input else layer.output) for layer in chosen]
    outs = keras.Model(model.inputs, wanted)(x)
    outs = outs if isinstance(outs, list | tuple) else [outs]
    return {layer.name: np.asarray(o) for layer, o in zip(chosen, outs, strict=True)}


def _relu_acts_loop(model, x):
    """A layer-by-layer loop (works for Sequential only when every layer is chained)."""
    chosen = [layer for layer in model.layers if _is_relu(layer)]
    return _probe(model, x, chosen)


def _relu_acts_by_class(model, x):
    chosen = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.ReLU | keras.layers.Activation | keras.layers.Dense)
        and (isinstance(layer, keras.layers.ReLU) or layer.activation is keras.activations.relu)
    ]
    return {name: value.copy() for name, value in _probe(model, x, chosen).items()}


def _relu_acts_tensors(model, x):
    chosen = [layer for layer in model.layers if _is_relu(layer)]
    outs = keras.Model(model.inputs, [layer.output for layer in chosen])(x)
    outs = outs if isinstance(outs, list) else [outs]
    return {layer.name: o for layer, o in zip(chosen, outs, strict=True)}


def _pre_activations(model, x):
    """Dense(relu): recompute x @ W + b; ReLU layers: their input."""
    chosen = [layer for layer in model.layers if _is_relu(layer)]
    result = {}
    for layer in chosen:
        if isinstance(layer, keras.layers.Dense):
            inp = _probe(model, x, [layer], use_input=True)[layer.name]
            result[layer.name] = inp @ layer.kernel.numpy() + layer.bias.numpy()
        else:
            result[layer.name] = _probe(model, x, [layer], use_input=True)[layer.name]
    return result


RELU_ACTS_CORRECT = {
    "activation_name": _relu_acts_loop,
    "by_class_and_identity": _relu_acts_by_class,
}

RELU_ACTS_WRONG = {
    "every_layer_with_activation": (
        lambda m, x: _probe(
            m,
            x,
            [
                layer
                for layer in m.layers
                if hasattr(layer, "activation")
                or isinstance(layer, keras.layers.ReLU | keras.layers.LeakyReLU)
            ],
        ),
        "not plain relus",
    ),
    "includes_leaky": (
        lambda m, x: _probe(
            m,
            x,
            [
                layer
                for layer in m.layers
                if _is_relu(layer) or isinstance(layer, keras.layers.LeakyReLU)
            ],
        ),
        "not plain relus",
    ),
    "relu_layers_only": (
        lambda m, x: _probe(
            m,
            x,
            [
                layer
                for layer in m.layers
                if isinstance(layer, keras.layers.ReLU | keras.layers.Activation)
            ],
        ),
        "dense(..., activation='relu')",
    ),
    "wrong_order": (
        lambda m, x: dict(reversed(list(_relu_acts_loop(m, x).items()))),
        "out of order",
    ),
    "pre_activations": (_pre_activations, "pre-activations"),
    "tensor_values": (_relu_acts_tensors, "not a numpy array"),
    "list_not_dict": (lambda m, x: list(_relu_acts_loop(m, x).values()), "not a dict"),
    "keyed_by_index": (lambda m, x: dict(enumerate(_relu_acts_loop(m, x).values())), "layer.name"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", RELU_ACTS_CORRECT)
def test_relu_activations_accepts(name):
    check_relu_activations(RELU_ACTS_CORRECT[name])


@pytest.mark.parametrize("name", RELU_ACTS_WRONG)
def test_relu_activations_rejects(name, rejected):
    candidate, fragment = RELU_ACTS_WRONG[name]
    rejected(check_relu_activations, candidate, fragment)


# ---------------------------------------------------------------- hoyer_sparsity
def _hoyer_direct(v):
    v = np.asarray(v, dtype=np.float64)
    n = v.size
    return float((np.sqrt(n) - np.sum(np.abs(v)) / np.sqrt(np.sum(v * v))) / (np.sqrt(n) - 1))


HOYER_CORRECT = {
    "direct": _hoyer_direct,
    "linalg_norms": lambda v: (
        (np.sqrt(len(v)) - np.linalg.norm(v, 1) / np.linalg.norm(v)) / (np.sqrt(len(v)) - 1)
    ),
    "tf_ops": lambda v: float(
        (
            tf.sqrt(tf.constant(len(v), tf.float64))
            - tf.norm(tf.constant(v, tf.float64), 1) / tf.norm(tf.constant(v, tf.float64))
        )
        / (tf.sqrt(tf.constant(len(v), tf.float64)) - 1)
    ),
}

HOYER_WRONG = {
    "no_normalisation": (
        lambda v: float(np.sqrt(len(v)) - np.abs(v).sum() / np.linalg.norm(v)),
        "√n − 1",
    ),
    "no_abs": (
        lambda v: float((np.sqrt(len(v)) - np.sum(v) / np.linalg.norm(v)) / (np.sqrt(len(v)) - 1)),
        "absolute",
    ),
    "one_minus_hoyer": (lambda v: 1 - _hoyer_direct(v), "1 − hoyer"),
    "l2_over_l1": (
        lambda v: float(
            (np.sqrt(len(v)) - np.linalg.norm(v) / np.abs(v).sum()) / (np.sqrt(len(v)) - 1)
        ),
        "wrong value",
    ),
    "zero_fraction_instead": (lambda v: float(np.mean(np.asarray(v) == 0)), "wrong value"),
    "tensor_result": (lambda v: tf.constant(_hoyer_direct(v)), "float("),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", HOYER_CORRECT)
def test_hoyer_sparsity_accepts(name):
    check_hoyer_sparsity(HOYER_CORRECT[name])


@pytest.mark.parametrize("name", HOYER_WRONG)
def test_hoyer_sparsity_rejects(name, rejected):
    candidate, fragment = HOYER_WRONG[name]
    rejected(check_hoyer_sparsity, candidate, fragment)


# ---------------------------------------------------------------- skippable_macs
def _dense(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def _inputs(model, x):
    return _probe(model, x, _dense(model), use_input=True)


def _macs(model, x, *, skip_input=False, width=True, batch=True):
    total = skippable = 0
    for i, layer in enumerate(_dense(model)):
        a = _inputs(model, x)[layer.name]
        total += (a.shape[0] if batch else 1) * a.shape[1] * layer.units
        if i == 0 and skip_input:
            continue
        skippable += int(np.sum(a == 0)) * (layer.units if width else 1)
    return total, skippable


def _macs_by_hooks(model, x):
    """Walk the layers by hand: relies on every layer taking the previous one's output."""
    chosen = _dense(model)
    outs = keras.Model(model.inputs, [layer.input for layer in chosen])(x)
    outs = outs if isinstance(outs, list) else [outs]
    pairs = [(np.asarray(o), layer.kernel.shape) for o, layer in zip(outs, chosen, strict=True)]
    total = sum(int(a.shape[0]) * int(k[0]) * int(k[1]) for a, k in pairs)
    skippable = sum(int(np.count_nonzero(a == 0)) * int(k[1]) for a, k in pairs)
    return int(total), np.int64(skippable)


def _zero_weights(model, x):
    total = _macs(model, x)[0]
    skippable = sum(int(np.sum(layer.kernel.numpy() == 0)) * len(x) for layer in _dense(model))
    return total, skippable


MACS_CORRECT = {
    "per_layer_inputs": _macs,
    "kernel_shapes_numpy_int": _macs_by_hooks,
}

MACS_WRONG = {
    "ignores_model_input_zeros": (lambda m, x: _macs(m, x, skip_input=True), "model input"),
    "ignores_layer_width": (lambda m, x: _macs(m, x, width=False), "layer.units"),
    "counts_zero_weights": (_zero_weights, "zero weights"),
    "total_without_batch": (lambda m, x: _macs(m, x, batch=False), "ignores the batch"),
    "float_counts": (lambda m, x: tuple(float(v) for v in _macs(m, x)), "not an integer"),
    "list_not_tuple": (lambda m, x: list(_macs(m, x)), "tuple"),
    "ratio_instead": (lambda m, x: (lambda t, s: s / t)(*_macs(m, x)), "tuple"),
    "stub": (_stub, "not implemented yet"),
}


@pytest.mark.parametrize("name", MACS_CORRECT)
def test_skippable_macs_accepts(name):
    check_skippable_macs(MACS_CORRECT[name])


@pytest.mark.parametrize("name", MACS_WRONG)
def test_skippable_macs_rejects(name, rejected):
    candidate, fragment = MACS_WRONG[name]
    rejected(check_skippable_macs, candidate, fragment)


# ---------------------------------------------------------------- grading probes
# Wrong answer cells the clean-process re-verification must reject (tests/test_verify_probes.py).
PROBE_MISCONCEPTIONS = {
    "relu_activations": (
        "def relu_activations(model, x):\n"
        "    chosen = [l for l in model.layers if hasattr(l, 'activation')]\n"
        "    outs = keras.Model(model.inputs[0], [l.output for l in chosen])(np.asarray(x))\n"
        "    outs = outs if isinstance(outs, (list, tuple)) else [outs]\n"
        "    return {l.name: np.asarray(o) for l, o in zip(chosen, outs)}\n"
    ),
    "skippable_macs": (
        "def skippable_macs(model, x):\n"
        "    dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)]\n"
        "    probe = keras.Model(model.inputs[0], [l.input for l in dense])\n"
        "    ins = probe(np.asarray(x))\n"
        "    ins = ins if isinstance(ins, (list, tuple)) else [ins]\n"
        "    total = sum(int(np.size(a)) * l.units for l, a in zip(dense, ins))\n"
        "    skip = sum(int(np.sum(np.asarray(a) == 0)) * l.units\n"
        "               for l, a in zip(dense[1:], ins[1:]))\n"
        "    return int(total), int(skip)\n"
    ),
}


def test_probes_accept_the_references_and_reject_the_misconceptions():
    """In-process: each probe's expectation matches the reference on the model it builds, and
    the wrong cells above give different results on at least one probe."""
    from relu_course.checks._registry import compare_structures
    from relu_course.checks.sparsity import probes_relu_activations, probes_skippable_macs
    from relu_course.probes import relu_outputs
    from relu_course.sparsity import skippable_macs

    rng = np.random.default_rng(0)
    namespace = {"keras": keras, "np": np}
    for name, probes, reference in (
        ("relu_activations", probes_relu_activations(rng), relu_outputs),
        ("skippable_macs", probes_skippable_macs(rng), skippable_macs),
    ):
        exec(PROBE_MISCONCEPTIONS[name], namespace)
        wrong = namespace[name]
        problems = []
        for probe in probes:
            model, x = probe.args[0].value.build(), probe.args[1].value

            def plain(result):
                if isinstance(result, dict):
                    return {k: np.asarray(v) for k, v in result.items()}
                return np.asarray(result)

            ok = compare_structures(
                probe.expected,
                plain(reference(model, x)),
                atol=probe.atol,
                rtol=probe.rtol,
                same_dtype=probe.same_dtype,
            )
            assert ok is None, ok
            problems.append(
                compare_structures(
                    probe.expected,
                    plain(wrong(model, x)),
                    atol=probe.atol,
                    rtol=probe.rtol,
                    same_dtype=probe.same_dtype,
                )
            )
        assert any(problems), f"no probe of {name} rejects the wrong answer"
